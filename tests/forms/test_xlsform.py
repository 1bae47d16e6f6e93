"""XLSForm import: a workbook built here with openpyxl becomes the equivalent Adal form; what
cannot be translated is reported with its sheet, row and column."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from server.forms.loader import FormInvalid, check_definition
from server.forms.xlsform import import_xlsform, translate_expression

from .test_loader import choice, form, question, section, text

LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "kk": "Қазақша", "uz": "Oʻzbekcha"}


def _cells(row: dict) -> dict:
    """{column header: value}; a {lang: text} value becomes one `field::Name (code)` column each."""
    cells = {}
    for field, value in row.items():
        if isinstance(value, dict):
            for lang, words in value.items():
                cells[f"{field}::{LANGUAGE_NAMES[lang]} ({lang})"] = words
        else:
            cells[field] = value
    return cells


def _fill(ws, title: str, rows: list[dict]) -> None:
    ws.title = title
    header: list[str] = []
    for row in rows:
        header += [column for column in _cells(row) if column not in header]
    ws.append(header)
    for row in rows:
        cells = _cells(row)
        ws.append([cells.get(column) for column in header])


def workbook(path: Path, survey: list[dict], choices: list[dict] | None = None,
             settings: dict | None = None) -> Path:
    """An .xlsx with a survey sheet and, when given, choices and settings sheets."""
    book = openpyxl.Workbook()
    _fill(book.active, "survey", survey)
    if choices is not None:
        _fill(book.create_sheet(), "choices", choices)
    if settings is not None:
        _fill(book.create_sheet(), "settings", [settings])
    book.save(path)
    return path


def q(qtype: str, name: str, **kw) -> dict:
    """A survey row with its label in the four languages."""
    return {"type": qtype, "name": name, "label": text(f"Question {name}"), **kw}


def opt(list_name: str, name: str) -> dict:
    return {"list_name": list_name, "name": name, "label": text(name.title())}


YES_NO = [opt("yes_no", "yes"), opt("yes_no", "no")]


def refusals(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(FormInvalid) as info:
        import_xlsform(path)
    assert info.value.source == path.name
    return [(p.path, p.reason) for p in info.value.problems]


def simple(tmp_path, *rows: dict, choices: list[dict] | None = None) -> Path:
    """A workbook with the rows inside one group (row 2 begins it, row 3 is the first given)."""
    return workbook(tmp_path / "form.xlsx",
                    [{"type": "begin group", "name": "main", "label": text("Main")}, *rows,
                     {"type": "end group"}],
                    choices=choices if choices is not None else YES_NO)


# --- a whole form --------------------------------------------------------------------------------

FULL_SURVEY = [
    {"type": "start", "name": "start"},
    {"type": "end", "name": "end"},
    {"type": "deviceid", "name": "deviceid"},
    {"type": "begin group", "name": "access", "label": text("Access"), "adal_weight": 25},
    q("select_one yes_no", "ramp", hint=text("Look at the entrance"), required="yes",
      adal_weight=3, adal_score="yes:1, no:0", adal_critical=". = 'no'"),
    q("decimal", "slope", required="true", relevant="${ramp} = 'yes'",
      constraint=". >= 0 and . <= 100", constraint_message=text("Between 0 and 100"),
      adal_score="<=5:1, <=8:0.5, else:0", adal_unit="%"),
    q("image", "ramp_photo", relevant="${ramp} = 'no'"),
    {"type": "end group"},
    {"type": "begin_group", "name": "queue", "label": text("Queue"), "adal_weight": 20},
    q("integer", "wait", required="TRUE()", constraint=". >= 0",
      constraint_message=text("Not negative"), adal_score="<=15:1, <=30:0.5, else:0"),
    q("select_one ticket", "ticket", adal_score="none:0, broken:0.25, working:1",
      adal_critical="yes"),
    q("select_multiple shown", "shown", relevant="selected(${ticket}, 'working') or ${wait} > 5",
      adal_score="hours:0.5, fees:0.5"),
    q("text", "comment", relevant="not(${ticket} = 'none')"),
    q("note", "thanks"),
    q("geopoint", "where"),
    {"type": "end_group"},
]
FULL_CHOICES = [*YES_NO, opt("ticket", "none"), opt("ticket", "broken"),
                opt("ticket", "working"), opt("shown", "hours"), opt("shown", "fees")]
FULL_SETTINGS = {"form_id": "visit_check", "version": 3, "form_title": text("Visit check")}


def expected_full_form() -> dict:
    return check_definition(form(
        key="visit-check", version=3, title=text("Visit check"),
        sections=[
            section("access",
                    question("ramp", "yes_no", label=text("Question ramp"),
                             hint=text("Look at the entrance"), required=True, weight=3,
                             score={"yes": 1, "no": 0}, critical=". == 'no'"),
                    question("slope", "decimal", label=text("Question slope"), required=True,
                             relevant="ramp == 'yes'", unit="%",
                             constraint={"expr": ". >= 0 and . <= 100",
                                         "message": text("Between 0 and 100")},
                             score={"bands": [{"max": 5, "score": 1}, {"max": 8, "score": 0.5},
                                              {"score": 0}]}),
                    question("ramp_photo", "photo", label=text("Question ramp_photo"),
                             relevant="ramp == 'no'"),
                    weight=25),
            section("queue",
                    question("wait", "integer", label=text("Question wait"), required=True,
                             constraint={"expr": ". >= 0", "message": text("Not negative")},
                             score={"bands": [{"max": 15, "score": 1}, {"max": 30, "score": 0.5},
                                              {"score": 0}]}),
                    question("ticket", "single_choice", label=text("Question ticket"),
                             choices=[choice("none"), choice("broken"), choice("working")],
                             score={"none": 0, "broken": 0.25, "working": 1}, critical=True),
                    question("shown", "multi_choice", label=text("Question shown"),
                             choices=[choice("hours"), choice("fees")],
                             relevant="selected(ticket, 'working') or wait > 5",
                             score={"hours": 0.5, "fees": 0.5}),
                    question("comment", "text", label=text("Question comment"),
                             relevant="not (ticket == 'none')"),
                    question("thanks", "note", label=text("Question thanks")),
                    question("where", "geopoint", label=text("Question where")),
                    weight=20),
        ]), "expected")


@pytest.fixture
def full_workbook(tmp_path) -> Path:
    return workbook(tmp_path / "visit_check.xlsx", FULL_SURVEY, FULL_CHOICES, FULL_SETTINGS)


def test_an_xlsform_imports_into_the_equivalent_form(full_workbook):
    assert import_xlsform(full_workbook).definition == expected_full_form()


def test_groups_become_sections_with_their_weights(full_workbook):
    sections = import_xlsform(full_workbook).definition["sections"]
    assert [(s["id"], s["weight"], s["title"]["kk"]) for s in sections] == \
        [("access", 25, "Access (kk)"), ("queue", 20, "Queue (kk)")]


def test_types_are_mapped(full_workbook):
    sections = import_xlsform(full_workbook).definition["sections"]
    assert [(x["id"], x["type"]) for s in sections for x in s["questions"]] == [
        ("ramp", "yes_no"), ("slope", "decimal"), ("ramp_photo", "photo"), ("wait", "integer"),
        ("ticket", "single_choice"), ("shown", "multi_choice"), ("comment", "text"),
        ("thanks", "note"), ("where", "geopoint")]


def test_expressions_are_translated(full_workbook):
    questions = {x["id"]: x for s in import_xlsform(full_workbook).definition["sections"]
                 for x in s["questions"]}
    assert questions["slope"]["relevant"] == "ramp == 'yes'"
    assert questions["slope"]["constraint"]["expr"] == ". >= 0 and . <= 100"
    assert questions["shown"]["relevant"] == "selected(ticket, 'working') or wait > 5"
    assert questions["ramp"]["critical"] == ". == 'no'"


def test_metadata_rows_are_skipped_with_a_warning(full_workbook):
    warnings = import_xlsform(full_workbook).warnings
    assert warnings == ["survey!A2: 'start' is recorded by Adal itself; row skipped",
                        "survey!A3: 'end' is recorded by Adal itself; row skipped",
                        "survey!A4: 'deviceid' is recorded by Adal itself; row skipped"]


def test_the_imported_form_passes_the_form_check(full_workbook):
    definition = import_xlsform(full_workbook).definition
    assert check_definition(definition, "again") == definition


def test_without_settings_the_key_comes_from_the_file_name(tmp_path):
    path = workbook(tmp_path / "Branch_Audit.xlsx",
                    [{"type": "begin group", "name": "g", "label": text("G")},
                     q("text", "t"), {"type": "end group"}])
    definition = import_xlsform(path).definition
    assert (definition["key"], definition["version"]) == ("branch-audit", 1)


def test_a_label_column_in_one_language_gives_a_one_language_form(tmp_path):
    path = workbook(tmp_path / "f.xlsx", [
        {"type": "begin group", "name": "g", "label": {"ru": "Группа"}},
        {"type": "text", "name": "t", "label": {"ru": "Вопрос"}},
        {"type": "end group"}])
    definition = import_xlsform(path).definition
    assert definition["languages"] == ["ru"]
    assert definition["sections"][0]["questions"][0]["label"] == {"ru": "Вопрос"}


def test_questions_outside_groups_go_to_sections_of_their_own(tmp_path):
    path = workbook(tmp_path / "f.xlsx", [
        q("text", "a"), {"type": "begin group", "name": "g", "label": text("G")},
        q("text", "b"), {"type": "end group"}, q("text", "c")])
    result = import_xlsform(path)
    assert [(s["id"], [x["id"] for x in s["questions"]])
            for s in result.definition["sections"]] == [("main", ["a"]), ("g", ["b"]),
                                                         ("main_2", ["c"])]
    assert result.warnings == [
        "survey!A2: questions outside a group were put in a section 'main'",
        "survey!A6: questions outside a group were put in a section 'main_2'"]


def test_a_row_with_an_empty_first_cell_is_read(tmp_path):
    path = tmp_path / "f.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    sheet.append(["name", "type", *(f"label::{LANGUAGE_NAMES[c]} ({c})" for c in text("x"))])
    sheet.append(["g", "begin group", *text("G").values()])
    sheet.append(["t", "text", *text("T").values()])
    sheet.append([None, "end group"])
    book.save(path)
    assert [x["id"] for x in import_xlsform(path).definition["sections"][0]["questions"]] == ["t"]


def test_a_value_in_a_column_without_a_header_is_not_silently_dropped(tmp_path):
    path = simple(tmp_path, q("text", "t"))
    book = openpyxl.load_workbook(path)
    book["survey"]["Z3"] = "stray"
    book.save(path)
    assert "survey!Z3: a value in a column without a header was not imported" in \
        import_xlsform(path).warnings


# --- refusals, each with sheet, row and column ---------------------------------------------------

def test_a_repeat_group_is_refused(tmp_path):
    path = simple(tmp_path, {"type": "begin repeat", "name": "visits", "label": text("Visits")},
                  q("text", "t"), {"type": "end repeat"})
    assert refusals(path) == [("survey!A3", "repeat groups are not supported"),
                              ("survey!A5", "repeat groups are not supported")]


def test_an_unknown_type_is_refused(tmp_path):
    path = simple(tmp_path, q("text", "t"), q("range", "r"))
    assert refusals(path) == [("survey!A4", "type 'range' has no Adal equivalent")]


def test_a_missing_choices_list_is_refused(tmp_path):
    path = simple(tmp_path, q("select_one colours", "c"))
    assert refusals(path) == [("survey!A3",
                               "choice list 'colours' is not on the 'choices' sheet")]


def test_a_workbook_without_a_choices_sheet_refuses_a_select(tmp_path):
    path = workbook(tmp_path / "f.xlsx", [{"type": "begin group", "name": "g",
                                           "label": text("G")},
                                          q("select_one yes_no", "a"), {"type": "end group"}])
    assert refusals(path) == [("survey!A3",
                               "choice list 'yes_no' is not on the 'choices' sheet")]


def test_a_formula_cell_is_refused(tmp_path):
    path = simple(tmp_path, q("integer", "n", adal_weight="=1+1"))
    [(where, reason)] = refusals(path)
    assert reason == "a formula; type the value instead"
    book = openpyxl.load_workbook(path)
    column = next(c.column_letter for c in book["survey"][1] if c.value == "adal_weight")
    assert where == f"survey!{column}3"


def test_a_formula_on_the_choices_sheet_is_refused(tmp_path):
    path = simple(tmp_path, q("select_one yes_no", "a"),
                  choices=[opt("yes_no", "yes"), {**opt("yes_no", "no"), "name": '="no"'}])
    assert refusals(path) == [("choices!B3", "a formula; type the value instead")]


def test_an_untranslatable_expression_is_refused(tmp_path):
    path = simple(tmp_path, q("text", "t", relevant="today() > 3"))
    [(where, reason)] = refusals(path)
    assert where == "survey!G3"
    assert reason == ("cannot translate 'today() > 3': the function or name 'today' has no "
                      "Adal equivalent")


def test_an_unknown_semantic_column_is_refused(tmp_path):
    path = simple(tmp_path, q("text", "t"), q("integer", "n", calculation="${t} + 1"))
    assert refusals(path) == [("survey!G4", "column 'calculation' has no Adal equivalent")]


def test_a_display_only_column_is_a_warning(tmp_path):
    path = simple(tmp_path, q("text", "t", appearance="multiline"))
    assert import_xlsform(path).warnings == [
        "survey!G3: column 'appearance' (display only) was not imported"]


def test_every_refusal_is_reported_at_once(tmp_path):
    path = simple(tmp_path, q("range", "r"), q("select_one colours", "c"),
                  q("text", "t", relevant="today()"))
    assert [where for where, _ in refusals(path)] == ["survey!A3", "survey!A4", "survey!G5"]


def test_a_file_that_is_not_xlsx_is_a_clear_form_invalid(tmp_path):
    path = tmp_path / "form.xlsx"
    path.write_text("type,name,label\ntext,t,T\n", encoding="utf-8")
    [(where, reason)] = refusals(path)
    assert where == ""
    assert reason.startswith("not a readable .xlsx workbook")


def test_a_csv_file_is_a_clear_form_invalid(tmp_path):
    path = tmp_path / "form.csv"
    path.write_text("type,name,label\n", encoding="utf-8")
    assert refusals(path)[0][1].startswith("not a readable .xlsx workbook")


def test_a_workbook_without_a_survey_sheet_is_refused(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "questions"
    book.save(tmp_path / "f.xlsx")
    assert refusals(tmp_path / "f.xlsx") == [("", "there is no 'survey' sheet")]


def test_a_group_inside_a_group_is_refused(tmp_path):
    path = simple(tmp_path, {"type": "begin group", "name": "inner", "label": text("I")},
                  q("text", "t"), {"type": "end group"})
    assert refusals(path) == [("survey!A3", "groups inside groups are not supported; "
                                            "a group becomes one section")]


def test_a_group_without_an_end_is_refused(tmp_path):
    path = workbook(tmp_path / "f.xlsx", [{"type": "begin group", "name": "g",
                                           "label": text("G")}, q("text", "t")])
    assert refusals(path) == [("survey!A2", "this group has no 'end group'")]


def test_an_end_group_without_a_begin_is_refused(tmp_path):
    path = simple(tmp_path, q("text", "t"), {"type": "end group"})
    assert refusals(path) == [("survey!A5", "'end group' without a 'begin group' before it")]


def test_a_bad_score_is_refused_at_its_cell(tmp_path):
    path = simple(tmp_path, q("integer", "n", adal_score="about 10:1"))
    [(where, reason)] = refusals(path)
    assert where == "survey!G3"
    assert reason.startswith("unknown band 'about 10:1'")


def test_a_missing_translation_points_at_the_cell(tmp_path):
    row = q("text", "t")
    del row["label"]["uz"]
    path = simple(tmp_path, q("text", "s"), row)
    assert refusals(path) == [("survey!F4 (t.label.uz)", "missing translation")]


def test_a_question_without_a_name_points_at_its_own_row(tmp_path):
    path = simple(tmp_path, q("text", "a"), {"type": "text", "label": text("No name")})
    [(where, reason)] = refusals(path)
    assert where.startswith("survey!") and where.split(" ")[0].endswith("4")
    assert "letters, digits" in reason


# --- expressions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("xpath, ours", [
    ("${q} = 'yes'", "q == 'yes'"),
    ("${q} != 'no'", "q != 'no'"),
    ("selected(${q}, 'x')", "selected(q, 'x')"),
    ("count-selected(${q}) >= 2", "count_selected(q) >= 2"),
    ("${a} > 3 and (${b} <= 4 or not(${c} = 'z'))", "a > 3 and (b <= 4 or not (c == 'z'))"),
    (". >= 0 and . <= 100", ". >= 0 and . <= 100"),
    ("${a} div 2 > 1", "a / 2 > 1"),
    ("${a} = true()", "a == true"),
])
def test_the_common_xpath_subset_is_translated(xpath, ours):
    assert translate_expression(xpath) == ours


@pytest.mark.parametrize("xpath, ours", [
    ("${q} != ''", "answered(q)"),
    ("${q} = ''", "not answered(q)"),
    ("'' != ${q}", "answered(q)"),
    ("${a} = 'x' and ${q} != ''", "a == 'x' and answered(q)"),
    (". != ''", "answered(.)"),
])
def test_a_test_for_an_empty_answer_becomes_answered(xpath, ours):
    """An unanswered question is null in Adal; `q != ''` would hold for it too."""
    assert translate_expression(xpath) == ours


@pytest.mark.parametrize("xpath", ["today() > 3", "string-length(.) > 3", "${a} mod 2 = 0",
                                   "regex(., '[0-9]+')", "${a} = 'x' |"])
def test_xpath_beyond_the_subset_is_refused(xpath):
    with pytest.raises(ValueError):
        translate_expression(xpath)
