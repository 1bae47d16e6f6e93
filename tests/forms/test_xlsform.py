"""XLSForm import: a workbook built here with openpyxl becomes the equivalent Adal form; what
cannot be translated is reported with its sheet, row and column."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings, strategies as st

from server.forms.definition import FormInvalid, check_definition
from server.forms.xlsform import APP_YES_NO, import_xlsform, translate_expression

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


# Labelled with the app's own words for yes and no: the question becomes a yes_no.
YES_NO = [{"list_name": "yes_no", "name": answer, "label": dict(APP_YES_NO[answer])}
          for answer in ("yes", "no")]


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
    own = "Adal records when each visit starts and ends"
    assert warnings == [f"survey!A2: type 'start' was not imported: {own}",
                        f"survey!A3: type 'end' was not imported: {own}",
                        "survey!A4: type 'deviceid' was not imported: it would identify the "
                        "inspector or their phone; Adal never records it (inspectors stay "
                        "anonymous to the offices)"]


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
    assert "survey!Z3: a value in a column without a header; not imported" in \
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


def test_a_decimal_without_adal_unit_is_refused_at_its_row(tmp_path):
    path = simple(tmp_path, q("decimal", "width"))
    assert refusals(path) == [("survey!A3 (width.unit)",
                               'a decimal question needs its unit, e.g. "cm", "%" or "°C"')]


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


# --- nothing silently dropped: groups, choices, settings, labels -------------------------------

def column(path: Path, sheet: str, header: str) -> str:
    """The letter of a header's column in a workbook built here."""
    book = openpyxl.load_workbook(path)
    return next(c.column_letter for c in book[sheet][1] if c.value == header)


def questions_of(path: Path) -> dict:
    return {x["id"]: x for s in import_xlsform(path).definition["sections"]
            for x in s["questions"]}


def grouped(tmp_path, group: dict, *rows: dict, choices=None, settings=None) -> Path:
    """A workbook: row 2 begins a group with the given extra cells, then the rows, then a
    second group with one question `other` (row after the end)."""
    return workbook(tmp_path / "g.xlsx",
                    [q("select_one yes_no", "open"),
                     {"type": "begin group", "name": "g", "label": text("G"), **group}, *rows,
                     {"type": "end group"},
                     {"type": "begin group", "name": "h", "label": text("H")},
                     q("text", "other"), {"type": "end group"}],
                    choices=choices if choices is not None else YES_NO, settings=settings)


def test_a_group_relevance_is_anded_into_each_of_its_questions(tmp_path):
    path = grouped(tmp_path, {"relevant": "${open} = 'yes'"},
                   q("text", "a"), q("select_one yes_no", "b"),
                   q("text", "c", relevant="${b} = 'no'"))
    questions = questions_of(path)
    assert questions["a"]["relevant"] == "open == 'yes'"
    assert questions["b"]["relevant"] == "open == 'yes'"
    assert questions["c"]["relevant"] == "(open == 'yes') and (b == 'no')"
    assert questions["other"]["relevant"] is None  # only the group's own questions
    assert questions["open"]["relevant"] is None


def test_a_group_relevance_hides_its_questions_when_scored(tmp_path):
    from server.scoring.rules import Answer, CompiledForm
    path = grouped(tmp_path, {"relevant": "${open} = 'yes'"},
                   q("text", "a"), q("text", "c", relevant="${a} != ''"))
    compiled = CompiledForm(import_xlsform(path).definition)
    answers = {"open": Answer("no"), "a": Answer("x"), "c": Answer("y")}
    assert compiled.relevance(answers) == {"open": True, "a": False, "c": False, "other": True}
    answers["open"] = Answer("yes")
    assert compiled.relevance(answers) == {"open": True, "a": True, "c": True, "other": True}


def test_an_untranslatable_group_relevance_is_refused_at_its_cell(tmp_path):
    path = grouped(tmp_path, {"relevant": "today() > 3"}, q("text", "a"))
    [(where, reason)] = refusals(path)
    assert where == f"survey!{column(path, 'survey', 'relevant')}3"
    assert reason.startswith("cannot translate 'today() > 3'")


@pytest.mark.parametrize("header, value", [("adal_critical", "yes"), ("required", "yes"),
                                           ("constraint", ". > 1"), ("adal_score", "yes:1")])
def test_a_meaningful_column_on_a_group_row_is_refused(tmp_path, header, value):
    path = grouped(tmp_path, {header: value}, q("text", "a"))
    assert refusals(path) == [(f"survey!{column(path, 'survey', header)}3",
                               f"column {header!r} on a group row has no Adal equivalent; "
                               "put it on the group's questions")]


def test_a_hint_on_a_group_row_is_a_warning_with_its_cell(tmp_path):
    path = workbook(tmp_path / "h.xlsx", [
        {"type": "begin group", "name": "g", "label": text("G"), "hint": text("Look")},
        q("text", "a"), {"type": "end group"}])
    header = "hint::English (en)"
    assert (f"survey!{column(path, 'survey', header)}2: column 'hint::English (en)' on a group "
            "row was not imported: a section has no hint") in import_xlsform(path).warnings


def test_required_message_is_reported_on_each_row_that_has_one(tmp_path):
    path = simple(tmp_path, q("text", "a", required="yes", required_message="Please"),
                  q("text", "b"), q("text", "c", required="yes", required_message="Do"))
    letter = column(path, "survey", "required_message")
    reason = ("column 'required_message' was not imported: the app shows its own message for "
              "an unanswered required question")
    assert import_xlsform(path).warnings == [f"survey!{letter}3: {reason}",
                                             f"survey!{letter}5: {reason}"]


def test_a_constraint_message_without_a_constraint_is_reported(tmp_path):
    path = workbook(tmp_path / "c.xlsx", [
        {"type": "begin group", "name": "g", "label": text("G")},
        q("text", "a", constraint_message=text("Never shown")), {"type": "end group"}])
    letters = {lang: column(path, "survey", f"constraint_message::{name} ({lang})")
               for lang, name in LANGUAGE_NAMES.items()}
    assert sorted(import_xlsform(path).warnings) == sorted(
        f"survey!{letters[lang]}3: column 'constraint_message::{name} ({lang})' was not "
        "imported: this row has no constraint" for lang, name in LANGUAGE_NAMES.items())


def test_extra_choice_columns_are_reported_cell_by_cell(tmp_path):
    path = simple(tmp_path, q("select_one colour", "c"), choices=[
        {**opt("colour", "red"), "filter": "warm", "media::image": "red.png"},
        {**opt("colour", "blue"), "filter": "cold"}])
    filter_, image = column(path, "choices", "filter"), column(path, "choices", "media::image")
    assert import_xlsform(path).warnings == [
        f"choices!{filter_}2: column 'filter' (Adal has no choice_filter) was not imported",
        f"choices!{image}2: column 'media::image' (display only) was not imported",
        f"choices!{filter_}3: column 'filter' (Adal has no choice_filter) was not imported"]


def test_settings_adal_does_not_use_are_reported_with_their_cells(tmp_path):
    path = workbook(tmp_path / "s.xlsx", [{"type": "begin group", "name": "g",
                                           "label": text("G")}, q("text", "t"),
                                          {"type": "end group"}],
                    settings={"form_id": "s", "instance_name": "concat('v', ${t})",
                              "submission_url": "https://odk.example/submission",
                              "public_key": "MIIBIjANBg"})
    warnings = import_xlsform(path).warnings
    where = {h: f"settings!{column(path, 'settings', h)}2"
             for h in ("instance_name", "submission_url", "public_key")}
    assert warnings == [
        f"{where['instance_name']}: setting 'instance_name' was not imported (Adal names each "
        "visit itself)",
        f"{where['submission_url']}: setting 'submission_url' was not imported (visits are sent "
        "to the Adal server the app was opened from)",
        f"{where['public_key']}: setting 'public_key' was not imported (Adal does not encrypt "
        "visits with a form's key (they travel over HTTPS and are stored on the server))"]


def test_a_second_settings_row_is_reported(tmp_path):
    path = workbook(tmp_path / "s.xlsx", [{"type": "begin group", "name": "g",
                                           "label": text("G")}, q("text", "t"),
                                          {"type": "end group"}],
                    settings={"form_id": "s", "version": 2})
    book = openpyxl.load_workbook(path)
    book["settings"].append(["other", 3])
    book.save(path)
    result = import_xlsform(path)
    assert result.definition["version"] == 2
    assert result.warnings == [
        "settings!A3: only the first row of settings is read; this value was not imported",
        "settings!B3: only the first row of settings is read; this value was not imported"]


def test_app_yes_no_words_are_the_apps():
    from server.i18n import LANGUAGES, translate
    assert APP_YES_NO == {"yes": {lang: translate("app_yes", lang) for lang in LANGUAGES},
                          "no": {lang: translate("app_no", lang) for lang in LANGUAGES}}


def test_yes_no_choices_with_their_own_labels_stay_a_single_choice_with_the_labels(tmp_path):
    labels = {"yes": text("Present"), "no": text("Absent")}
    path = simple(tmp_path, q("select_one seen", "s", adal_score="yes:1, no:0",
                              adal_critical="yes"),
                  q("select_one yes_no", "plain"),
                  choices=[*YES_NO, *({"list_name": "seen", "name": n, "label": labels[n]}
                                      for n in ("yes", "no"))])
    questions = questions_of(path)
    assert questions["plain"]["type"] == "yes_no"
    s = questions["s"]
    assert s["type"] == "single_choice"
    assert s["choices"] == [{"id": "yes", "label": labels["yes"]},
                            {"id": "no", "label": labels["no"]}]
    assert (s["score"], s["critical"]) == ({"yes": 1, "no": 0}, True)


def test_yes_no_labels_differing_in_one_language_keep_the_labels(tmp_path):
    custom = [{"list_name": "yn", "name": n, "label": {**APP_YES_NO[n]}} for n in ("yes", "no")]
    custom[1]["label"]["ru"] = "Нету"
    path = simple(tmp_path, q("select_one yn", "s"), choices=custom)
    assert questions_of(path)["s"]["type"] == "single_choice"


def test_yes_no_labels_in_other_case_are_the_apps_words(tmp_path):
    lower = [{"list_name": "yn", "name": n,
              "label": {lang: w.lower() for lang, w in APP_YES_NO[n].items()}}
             for n in ("yes", "no")]
    path = simple(tmp_path, q("select_one yn", "s"), choices=lower)
    assert questions_of(path)["s"]["type"] == "yes_no"


def _plain_label_workbook(tmp_path, settings=None, extra=None) -> Path:
    survey = [{"type": "begin group", "name": "g", "label": "Group", **(extra or {})},
              {"type": "text", "name": "t", "label": "Question", **(extra or {})},
              {"type": "end group"}]
    return workbook(tmp_path / "p.xlsx", survey, settings=settings)


CLASH = ("columns 'label' and 'label::English (en)' both give the en text (a column without a "
         "language is the default_language, else English); keep one")


def test_a_plain_label_column_without_a_default_language_is_english(tmp_path):
    """As pyxform: `label` is the default language; without a default_language, English."""
    definition = import_xlsform(_plain_label_workbook(tmp_path)).definition
    assert definition["languages"] == ["en"]
    assert definition["sections"][0]["questions"][0]["label"] == {"en": "Question"}


def test_a_plain_label_column_beside_an_english_column_is_not_dropped(tmp_path):
    path = _plain_label_workbook(tmp_path, extra={"label::English (en)": "Q"})
    assert refusals(path) == [(f"survey!{column(path, 'survey', 'label')}1", CLASH)]


def test_a_plain_label_column_beside_other_languages_is_english(tmp_path):
    path = _plain_label_workbook(tmp_path, extra={"label::Русский (ru)": "В"})
    definition = import_xlsform(path).definition
    assert definition["languages"] == ["ru", "en"]
    assert definition["sections"][0]["questions"][0]["label"] == {"ru": "В", "en": "Question"}


def test_a_plain_label_column_is_the_default_language(tmp_path):
    path = _plain_label_workbook(tmp_path, settings={"default_language": "Русский (ru)"})
    definition = import_xlsform(path).definition
    assert definition["languages"] == ["ru"]
    assert definition["sections"][0]["questions"][0]["label"] == {"ru": "Question"}


def test_a_plain_label_and_the_same_language_column_clash(tmp_path):
    path = _plain_label_workbook(tmp_path, settings={"default_language": "en"},
                                 extra={"label::English (en)": "Other"})
    assert refusals(path) == [(f"survey!{column(path, 'survey', 'label')}1", CLASH)]


def test_a_default_language_adal_has_not_leaves_its_columns_out(tmp_path):
    path = _plain_label_workbook(tmp_path, settings={"default_language": "French (fr)"},
                                 extra={"label::Русский (ru)": "В"})
    result = import_xlsform(path)
    assert result.definition["languages"] == ["ru"]
    assert result.definition["sections"][0]["questions"][0]["label"] == {"ru": "В"}
    assert (f"settings!{column(path, 'settings', 'default_language')}2: default_language "
            "'French (fr)' is not one of kk, ru, en, uz: the texts of columns without a "
            "language were left out") in result.warnings


def test_a_form_in_no_language_adal_has_is_refused(tmp_path):
    path = _plain_label_workbook(tmp_path, settings={"default_language": "French (fr)"})
    assert ("survey!1", "no label in kk, ru, en or uz: name label columns like "
            "'label::English (en)' or 'label::Русский (ru)', or set default_language on the "
            "settings sheet") in refusals(path)


def test_equals_on_a_select_multiple_means_that_choice_alone(tmp_path):
    path = simple(tmp_path, q("select_multiple shown", "m"),
                  q("text", "t", relevant="${m} = 'hours'"),
                  q("text", "u", relevant="selected(${m}, 'fees')"),
                  choices=[opt("shown", "hours"), opt("shown", "fees")])
    result = import_xlsform(path)
    questions = {x["id"]: x for x in result.definition["sections"][0]["questions"]}
    assert questions["t"]["relevant"] == "(selected(m, 'hours') and count_selected(m) == 1)"
    assert questions["u"]["relevant"] == "selected(m, 'fees')"
    letter = column(path, "survey", "relevant")
    assert result.warnings == [
        f"survey!{letter}4: 'm' is a select_multiple: '=' holds when 'hours' alone is "
        "selected, and was translated so; write selected(${m}, 'hours') if any selection "
        "including it was meant"]
    from server.scoring.rules import Answer, CompiledForm
    compiled = CompiledForm(result.definition)
    assert compiled.relevance({"m": Answer(["hours"])})["t"] is True
    assert compiled.relevance({"m": Answer(["hours", "fees"])})["t"] is False
    assert compiled.relevance({"m": Answer(["fees"])})["t"] is False


@pytest.mark.parametrize("xpath", ["${m} = 'hours fees'", "${m} > 1", "${m} = ${t}",
                                   "'a' != ${m} or ${m} = ${m}"])
def test_other_comparisons_of_a_whole_selection_are_refused(tmp_path, xpath):
    path = simple(tmp_path, q("select_multiple shown", "m"), q("text", "t"),
                  q("text", "v", relevant=xpath),
                  choices=[opt("shown", "hours"), opt("shown", "fees")])
    [(where, reason)] = refusals(path)
    assert where == f"survey!{column(path, 'survey', 'relevant')}5"
    assert "select_multiple 'm'" in reason or "'m' is a select_multiple" in reason


def test_a_constraint_on_a_select_multiple_compares_its_own_selection(tmp_path):
    path = simple(tmp_path, q("select_multiple shown", "m", constraint=". != 'fees'",
                              constraint_message=text("Not fees alone")),
                  choices=[opt("shown", "hours"), opt("shown", "fees")])
    assert questions_of(path)["m"]["constraint"]["expr"] == \
        "not (selected(., 'fees') and count_selected(.) == 1)"


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


_XPATH_TOKENS = st.sampled_from(["${m}", "${q}", ".", "=", "!=", "<", ">=", "'a'", "'a b'", "''",
                                 "1", "2.5", "(", ")", ",", "and", "or", "not", "selected",
                                 "count-selected", "div", "true()", "-", "+", "today"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_XPATH_TOKENS, max_size=12), st.booleans())
def test_any_xpath_translates_or_is_refused_never_crashes(tokens, current_multi):
    """Whatever the tokens, translate_expression gives a parseable expression or a ValueError
    (ExpressionError is one)."""
    from server.forms.expressions import parse
    try:
        result = translate_expression(" ".join(tokens), {"m"}, current_multi, [])
    except ValueError:
        return
    parse(result)
