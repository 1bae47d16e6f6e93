"""XLSForms as the field writes them (ODK, KoboToolbox): language columns named in words or in
the old single-colon style, `list name`, pyxform's type aliases, `or_other`, text-like and
metadata types, languages Adal has not."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from server.forms.definition import FormInvalid
from server.forms.xlsform import import_xlsform
from server.forms.xlsform_read import language_of

from .test_xlsform import YES_NO, column, opt, q, questions_of, refusals, simple, text

# --- languages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("written, code", [
    ("English", "en"), ("english", "en"), ("ENGLISH", "en"), ("English (en)", "en"), ("en", "en"),
    ("eng", "en"), ("Russian", "ru"), ("Русский", "ru"), ("русский", "ru"), ("Russian (ru)", "ru"),
    ("ru-RU", "ru"), ("Kazakh", "kk"), ("Қазақша", "kk"), ("Қазақ тілі", "kk"),
    ("Kazakh (kk)", "kk"), ("kk-Cyrl-KZ", "kk"), ("Uzbek", "uz"), ("O'zbek", "uz"),
    ("Oʻzbek", "uz"), ("Oʼzbek", "uz"), ("O’zbek", "uz"), ("Oʻzbekcha", "uz"), ("O`zbek", "uz"),
    ("Uzbek (uz)", "uz"), ("Uzbek (uz-Latn)", "uz"), ("Oʻzbekcha (uz)", "uz"),
    ("  English  (en) ", "en"),
])
def test_language_names_and_codes_map_to_adal_languages(written, code):
    assert language_of(written) == code


@pytest.mark.parametrize("written", ["French", "French (fr)", "fr", "Uzbek (uz-Cyrl)", "Ўзбек",
                                     "Klingon", "", "default", "English (fr)"])
def test_other_languages_are_none(written):
    assert language_of(written) is None


def book(path: Path, survey: list[list], choices: list[list] | None = None,
         settings: list[list] | None = None) -> Path:
    """A workbook from rows as written, the first row being the header."""
    workbook = openpyxl.Workbook()
    workbook.active.title = "survey"
    for row in survey:
        workbook.active.append(row)
    for title, rows in (("choices", choices), ("settings", settings)):
        if rows is not None:
            sheet = workbook.create_sheet(title)
            for row in rows:
                sheet.append(row)
    workbook.save(path)
    return path


def test_a_form_with_language_columns_as_the_field_names_them(tmp_path):
    path = book(tmp_path / "field.xlsx", [
        ["type", "name", "label::English", "label:russian", "Label::Қазақша", "label::O'zbek",
         "hint::Russian (ru)", "hint::English", "hint::Kazakh", "hint::Oʻzbekcha (uz)",
         "constraint_message::English", "constraint message::Русский", "constraint_message:kazakh",
         "constraint_message::O’zbek"],
        ["begin group", "g", "Group", "Группа", "Топ", "Guruh"],
        ["select one yn", "open", "Open?", "Открыто?", "Ашық па?", "Ochiqmi?",
         "Подсказка", "Hint", "Кеңес", "Maslahat"],
        ["integer", "n", "Count", "Сколько", "Қанша", "Nechta", None, None, None, None,
         "At most 9", "Не больше 9", "9-дан аспайды", "9 dan oshmasin"],
        ["end group"],
    ], choices=[
        ["list name", "name", "label::English", "label::Русский", "label::Қазақша",
         "label::Oʻzbek"],
        ["yn", "yes", "Yes", "Да", "Иә", "Ha"],
        ["yn", "no", "No", "Нет", "Жоқ", "Yoʻq"],
    ])
    # The constraint comes in a column of its own after the texts.
    workbook = openpyxl.load_workbook(path)
    workbook["survey"]["O1"], workbook["survey"]["O4"] = "constraint", ". <= 9"
    workbook.save(path)
    result = import_xlsform(path)
    definition = result.definition
    assert definition["languages"] == ["kk", "ru", "en", "uz"]
    questions = {x["id"]: x for x in definition["sections"][0]["questions"]}
    assert questions["open"]["type"] == "yes_no"
    assert questions["open"]["hint"] == {"kk": "Кеңес", "ru": "Подсказка", "en": "Hint",
                                         "uz": "Maslahat"}
    assert questions["n"]["label"]["uz"] == "Nechta"
    assert questions["n"]["constraint"] == {
        "expr": ". <= 9", "message": {"kk": "9-дан аспайды", "ru": "Не больше 9",
                                      "en": "At most 9", "uz": "9 dan oshmasin"}}
    assert definition["sections"][0]["title"]["ru"] == "Группа"
    assert result.warnings == []


def test_a_language_adal_has_not_is_left_out_and_named(tmp_path):
    path = book(tmp_path / "fr.xlsx", [
        ["type", "name", "label::English (en)", "label::French (fr)", "hint::Français"],
        ["text", "t", "Name", "Nom", "Le nom"],
    ], settings=[["form_title::English (en)", "form_title::French (fr)"], ["Visit", "Visite"]])
    result = import_xlsform(path)
    assert result.definition["languages"] == ["en"]
    assert result.definition["title"] == {"en": "Visit"}
    assert result.definition["sections"][0]["questions"][0]["label"] == {"en": "Name"}
    assert result.warnings[:3] == [
        "survey!D1: column 'label::French (fr)' was left out: its language is not one of kk, "
        "ru, en, uz",
        "survey!E1: column 'hint::Français' was left out: its language is not one of kk, ru, "
        "en, uz",
        "settings!B1: column 'form_title::French (fr)' was left out: its language is not one of "
        "kk, ru, en, uz"]


def test_a_plain_label_with_a_default_language_in_words(tmp_path):
    path = book(tmp_path / "ru.xlsx", [["type", "name", "label", "hint"],
                                       ["text", "t", "Имя", "Полностью"]],
                settings=[["default_language"], ["Русский"]])
    question = import_xlsform(path).definition["sections"][0]["questions"][0]
    assert (question["label"], question["hint"]) == ({"ru": "Имя"}, {"ru": "Полностью"})


def test_an_empty_language_column_adds_no_language(tmp_path):
    """A template's column nobody filled (Kobo writes them) does not make the form bilingual."""
    path = book(tmp_path / "e.xlsx", [["type", "name", "label::English (en)",
                                       "label::Русский (ru)"],
                                      ["text", "t", "Name"]])
    assert import_xlsform(path).definition["languages"] == ["en"]


def test_a_partly_filled_language_column_is_a_missing_translation_at_its_cell(tmp_path):
    path = book(tmp_path / "p.xlsx", [["type", "name", "label::English (en)", "label::Русский"],
                                      ["text", "a", "A", "А"], ["text", "b", "B"]])
    assert refusals(path) == [("survey!D3 (b.label.ru)", "missing translation")]


def test_two_headers_for_one_column_are_refused(tmp_path):
    path = book(tmp_path / "d.xlsx", [["type", "name", "label::English", "label::English (en)"],
                                      ["text", "a", "A", "A"]])
    assert refusals(path) == [("survey!D1", "columns 'label::English' and 'label::English (en)' "
                                            "are the same column; keep one")]


def test_header_aliases_of_pyxform(tmp_path):
    path = book(tmp_path / "a.xlsx", [["Type", "Name", "Caption", "Relevance"],
                                      ["select_one yn", "a", "A?"],
                                      ["text", "b", "B", "${a} = 'yes'"]],
                choices=[["list name", "value", "caption"], ["yn", "yes", "Yes"],
                         ["yn", "no", "No"]])
    questions = questions_of(path)
    assert questions["a"]["type"] == "yes_no"
    assert questions["b"]["relevant"] == "a == 'yes'"


# --- types ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["select_one colour", "select one colour",
                                     "Select_One colour", "select1 colour",
                                     "select one from colour", "add select one prompt using colour",
                                     "select_one   colour"])
def test_select_one_and_its_aliases(tmp_path, written):
    path = simple(tmp_path, q(written, "c"), choices=[opt("colour", "red"), opt("colour", "blue")])
    assert questions_of(path)["c"]["type"] == "single_choice"


@pytest.mark.parametrize("written", ["select_multiple colour", "select multiple colour",
                                     "select all that apply colour",
                                     "select all that apply from colour",
                                     "add select multiple prompt using colour"])
def test_select_multiple_and_its_aliases(tmp_path, written):
    path = simple(tmp_path, q(written, "c"), choices=[opt("colour", "red"), opt("colour", "blue")])
    assert questions_of(path)["c"]["type"] == "multi_choice"


def test_a_choice_list_name_keeps_its_case(tmp_path):
    path = simple(tmp_path, q("select_one Colour", "c"), choices=[opt("colour", "red")])
    assert refusals(path) == [("survey!A3", "choice list 'Colour' is not on the 'choices' sheet")]


@pytest.mark.parametrize("written, adal", [
    ("int", "integer"), ("q int", "integer"), ("add integer prompt", "integer"),
    ("q decimal", "decimal"), ("string", "text"), ("q string", "text"),
    ("add text prompt", "text"), ("q note", "note"), ("photo", "photo"), ("q picture", "photo"),
    ("add image prompt", "photo"), ("q video", "video"), ("add audio prompt", "audio"),
    ("gps", "geopoint"), ("location", "geopoint"), ("q location", "geopoint"),
    ("Text", "text"), ("begin_group", None)])
def test_pyxform_type_aliases(tmp_path, written, adal):
    if adal is None:  # begin_group: a group as well
        path = simple(tmp_path, {"type": written, "name": "inner", "label": text("I")},
                      q("text", "t"), {"type": "end_group"})
        assert refusals(path)[0][1].startswith("groups inside groups")
        return
    row = q(written, "x", adal_unit="cm") if adal == "decimal" else q(written, "x")
    result = import_xlsform(simple(tmp_path, row))
    assert questions_of(simple(tmp_path, row))["x"]["type"] == adal
    assert result.warnings == []


@pytest.mark.parametrize("written", ["barcode", "q barcode", "add barcode prompt", "phone number"])
def test_text_like_types_become_text_with_a_note(tmp_path, written):
    path = simple(tmp_path, q(written, "code"))
    result = import_xlsform(path)
    assert result.definition["sections"][0]["questions"][0]["type"] == "text"
    [warning] = result.warnings
    assert warning.startswith(f"survey!A3: type {written!r} became a text question: ")


@pytest.mark.parametrize("written, limit", [("percentage", 100),
                                            ("number of days in last month", 31),
                                            ("number of days in last year", 365)])
def test_ranged_numbers_keep_pyxforms_check(tmp_path, written, limit):
    path = simple(tmp_path, q(written, "n"))
    result = import_xlsform(path)
    question = result.definition["sections"][0]["questions"][0]
    assert question["type"] == "integer"
    assert question["constraint"]["expr"] == f". >= 0 and . <= {limit}"
    assert question["constraint"]["message"]["ru"] == f"Целое число от 0 до {limit}"
    assert result.warnings == [f"survey!A3: type {written!r} became an integer question from 0 "
                               f"to {limit}, as pyxform checks it"]


def test_a_ranged_number_with_its_own_constraint_keeps_that_one(tmp_path):
    path = simple(tmp_path, q("percentage", "n", constraint=". <= 50",
                              constraint_message=text("At most half")))
    assert questions_of(path)["n"]["constraint"]["expr"] == ". <= 50"


@pytest.mark.parametrize("written", ["email", "phonenumber", "get phone number", "username",
                                     "imei", "simserial", "uri:email", "subscriberid"])
def test_metadata_that_would_identify_an_inspector_is_skipped_with_the_reason(tmp_path, written):
    path = simple(tmp_path, {"type": written, "name": "m"}, q("text", "t"))
    result = import_xlsform(path)
    assert [x["id"] for x in result.definition["sections"][0]["questions"]] == ["t"]
    assert result.warnings == [f"survey!A3: type {written!r} was not imported: it would "
                               "identify the inspector or their phone; Adal never records it "
                               "(inspectors stay anonymous to the offices)"]


@pytest.mark.parametrize("written, reason", [
    ("date", "Adal has no date question (each visit records its own date)"),
    ("datetime", "Adal has no date question (each visit records its own date)"),
    ("calculate", "Adal does not calculate values in a form"),
    ("acknowledge", "use a select_one with yes/no choices"),
    ("select_one_from_file towns.csv", "choices from a file or an external list are not "
                                       "supported; put them on the 'choices' sheet"),
    ("select_one", "the name of its choice list must follow, e.g. 'select_one colours'"),
    ("rank colour", "Adal has no ranking question"),
])
def test_types_adal_has_not_are_refused_with_what_to_do(tmp_path, written, reason):
    path = simple(tmp_path, q(written, "x"))
    [(where, said)] = refusals(path)
    assert where == "survey!A3"
    assert said.endswith(f"has no Adal equivalent: {reason}")


# --- or_other ------------------------------------------------------------------------------------

def test_or_other_adds_the_choice_and_the_question_pyxform_adds(tmp_path):
    path = simple(tmp_path, q("integer", "n"),
                  q("select_one colour or_other", "c", relevant="${n} > 1"),
                  choices=[opt("colour", "red"), opt("colour", "blue")])
    result = import_xlsform(path)
    questions = [x for s in result.definition["sections"] for x in s["questions"]]
    assert [x["id"] for x in questions] == ["n", "c", "c_other"]
    c, other = questions[1], questions[2]
    assert [choice["id"] for choice in c["choices"]] == ["red", "blue", "other"]
    assert c["choices"][2]["label"] == {"kk": "Басқа", "ru": "Другое", "en": "Other",
                                        "uz": "Boshqa"}
    assert (other["type"], other["label"]["en"]) == ("text", "Specify other.")
    assert other["relevant"] == "(n > 1) and selected(c, 'other')"
    assert result.warnings == [
        "survey!A4: 'select_one colour or_other': the choice 'other' and a text question "
        "'c_other' asked when it is selected were added, as pyxform does; review their labels"]


@pytest.mark.parametrize("written", ["select_multiple colour or other",
                                     "select one colour or specify other"])
def test_or_other_spellings(tmp_path, written):
    path = simple(tmp_path, q(written, "c"), choices=[opt("colour", "red")])
    questions = questions_of(path)
    assert questions["c_other"]["relevant"] == "selected(c, 'other')"
    assert [choice["id"] for choice in questions["c"]["choices"]] == ["red", "other"]


def test_or_other_with_a_list_that_has_other_keeps_its_label(tmp_path):
    path = simple(tmp_path, q("select_one colour or_other", "c"),
                  choices=[opt("colour", "red"), opt("colour", "other")])
    assert questions_of(path)["c"]["choices"][1]["label"]["en"] == "Other"  # opt(): title()


def test_or_other_in_a_group_with_relevance_is_asked_only_there(tmp_path):
    path = book(tmp_path / "g.xlsx", [
        ["type", "name", "label", "relevant"],
        ["select_one yn", "open", "Open?"],
        ["begin group", "g", "G", "${open} = 'yes'"],
        ["select_one colour or_other", "c", "Colour"],
        ["end group"]],
        choices=[["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"],
                 ["colour", "red", "Red"]])
    assert questions_of(path)["c_other"]["relevant"] == \
        "(open == 'yes') and (selected(c, 'other'))"


def test_or_other_on_a_scored_question_asks_for_the_other_choices_score(tmp_path):
    path = simple(tmp_path, q("select_one colour or_other", "c", adal_score="red:1, blue:0"),
                  choices=[opt("colour", "red"), opt("colour", "blue")])
    assert refusals(path) == [(f"survey!{column(path, 'survey', 'adal_score')}3 (c.score)",
                               "choice 'other' has no score")]


def test_or_other_whose_question_name_is_taken_is_refused(tmp_path):
    path = simple(tmp_path, q("select_one colour or_other", "c"), q("text", "c_other"),
                  choices=[opt("colour", "red")])
    assert refusals(path) == [("survey!B4 (c_other.id)", "duplicate question id 'c_other' (first "
                                                         "at sections[0].questions[1])")]


def test_yes_no_with_or_other_is_a_single_choice(tmp_path):
    path = simple(tmp_path, q("select_one yes_no or_other", "s"), choices=YES_NO)
    assert questions_of(path)["s"]["type"] == "single_choice"


# --- what pyxform forgives ------------------------------------------------------------------------

def test_smart_quotes_in_expressions_are_plain_quotes(tmp_path):
    """A phone or a word processor types ‘other’: pyxform reads it as 'other'."""
    path = simple(tmp_path, q("select_one yes_no", "a"),
                  q("text", "b", relevant="${a} = \u2018yes\u2019"),
                  q("text", "c", relevant="${a} != \u201cno\u201d"))
    questions = questions_of(path)
    assert (questions["b"]["relevant"], questions["c"]["relevant"]) == ("a == 'yes'",
                                                                        'a != "no"')


def test_a_group_without_a_label_takes_its_name_as_title(tmp_path):
    path = book(tmp_path / "g.xlsx", [["type", "name", "label"], ["begin group", "visit"],
                                      ["text", "t", "T"], ["end group"]])
    result = import_xlsform(path)
    assert result.definition["sections"][0]["title"] == {"en": "visit"}
    assert result.warnings == ["survey!A2: group 'visit' has no label; its name is the section's "
                               "title: write one in the YAML"]


def test_a_title_in_fewer_languages_than_the_form_is_filled_with_a_note(tmp_path):
    path = book(tmp_path / "t.xlsx", [["type", "name", "label::English (en)", "label::Русский"],
                                      ["text", "t", "T", "Т"]],
                settings=[["form_title"], ["Visit"]])
    result = import_xlsform(path)
    assert result.definition["title"] == {"ru": "Visit", "en": "Visit"}
    assert ("settings!A2: form_title has no ru text; 'Visit' is used there: translate it in the "
            "YAML") in result.warnings


# --- whatever the field writes, a definition or a report -----------------------------------------

_HEADERS = st.sampled_from(["type", "name", "label", "label::English", "label:russian",
                            "label::Қазақша (kk)", "label::French (fr)", "label::", "hint",
                            "list name", "list_name", "Caption", "relevant", "constraint",
                            "constraint_message::Uzbek", "required", "adal_score",
                            "adal_weight", "choice_filter", "media::image::English",
                            "jr:count", "x::y::z", "default_language", "form_title"])
_VALUES = st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False, width=32),
                    st.booleans(),
                    st.sampled_from(["text", "begin group", "end group", "select_one yn",
                                     "select one yn or_other", "integer", "percentage",
                                     "email", "barcode", "yes", "no", "yn", "g", "${a} = ‘x’",
                                     "English", "Oʻzbek", "fr", ". > 1", "", " "]),
                    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=8))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_HEADERS, min_size=1, max_size=5),
       st.lists(st.lists(_VALUES, max_size=5), max_size=5),
       st.lists(st.lists(_VALUES, max_size=4), max_size=3))
def test_any_workbook_imports_or_is_reported_never_crashes(tmp_path, header, rows, choice_rows):
    path = book(tmp_path / "any.xlsx", [header, *rows],
                choices=[["list_name", "name", "label"], *choice_rows],
                settings=[header[:2], rows[0][:2] if rows else []])
    try:
        result = import_xlsform(path)
    except FormInvalid as exc:
        assert exc.problems and all(isinstance(p.reason, str) for p in exc.problems)
        return
    assert result.definition["languages"]
