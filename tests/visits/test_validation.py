"""Answers against a form version: value_problem per question type and check_answers (pure)."""
from __future__ import annotations

import pytest

from server.config import PROJECT_ROOT
from server.forms.definition import check_definition
from server.forms.loader import load_form_file
from server.scoring.rules import Answer, CompiledForm
from server.visits.validation import check_answers, value_problem
from tests.conftest import DEFAULT_FORM
from tests.visits.builders import answers_for

CHOICES = [{"id": "a", "label": {"en": "A"}}, {"id": "b", "label": {"en": "B"}},
           {"id": "c", "label": {"en": "C"}}]


def question(qtype: str, **kw) -> dict:
    return {"id": "Q", "type": qtype, "choices": CHOICES if "choice" in qtype else [], **kw}


@pytest.mark.parametrize("qtype,value", [
    ("yes_no", "yes"), ("yes_no", "no"),
    ("single_choice", "b"),
    ("multi_choice", ["a"]), ("multi_choice", ["a", "c"]),
    ("integer", 5), ("integer", -3), ("integer", 5.0), ("integer", 2**53 - 1),
    ("decimal", 1.5), ("decimal", 0), ("decimal", -12.25),
    pytest.param("decimal", 10**300, id="decimal-1e300"),
    ("duration_min", 0), ("duration_min", 12.5),
    ("time", "00:00"), ("time", "09:30"), ("time", "23:59"),
    ("text", "Всё спокойно.\nTabs\tand\r\nnewlines are fine."), ("text", "x" * 5000),
    ("geopoint", {"lat": 51.1, "lon": 71.4}), ("geopoint", {"lat": -90, "lon": 180, "accuracy": 0}),
    ("geopoint", {"lat": 0, "lon": 0, "accuracy": None}),
    ("photo", None), ("video", None), ("audio", None), ("note", None),
    *[(t, None) for t in ("yes_no", "single_choice", "multi_choice", "integer", "decimal",
                          "duration_min", "time", "text", "geopoint")],  # unanswered
])
def test_valid_values(qtype, value):
    assert value_problem(question(qtype), value) is None


@pytest.mark.parametrize("qtype,value,message", [
    ("yes_no", "maybe", "Answer 'yes' or 'no'."),
    ("yes_no", True, "Answer 'yes' or 'no'."),
    ("yes_no", "YES", "Answer 'yes' or 'no'."),
    ("yes_no", ["yes"], "Answer 'yes' or 'no'."),
    ("single_choice", "d", "Choose one of: a, b, c."),
    ("single_choice", ["a"], "Choose one of: a, b, c."),
    ("single_choice", 1, "Choose one of: a, b, c."),
    ("multi_choice", "a", "Give a list of choice ids."),
    ("multi_choice", ["a", 1], "Give a list of choice ids."),
    ("multi_choice", {"a": True}, "Give a list of choice ids."),
    ("multi_choice", ["a", "zz"], "Unknown choice(s): zz."),
    ("multi_choice", ["\ud800", "z\x07"], "Unknown choice(s): \\ud800, z\\u0007."),  # escaped
    ("multi_choice", ["a", "a"], "A choice is selected twice."),
    ("integer", True, "Give a whole number."),          # bool is not a number
    ("integer", False, "Give a whole number."),
    ("integer", 5.5, "Give a whole number."),
    ("integer", "5", "Give a whole number."),
    ("integer", 2**60, "Give a whole number."),         # beyond what a double holds exactly
    pytest.param("integer", 10**400, "Give a whole number.",  # beyond any double: no crash
                 id="integer-1e400"),
    ("integer", float("nan"), "Give a whole number."),
    ("integer", float("inf"), "Give a whole number."),
    ("decimal", True, "Give a number."),
    ("decimal", "1.5", "Give a number."),
    ("decimal", float("nan"), "Give a number."),
    ("decimal", float("-inf"), "Give a number."),
    pytest.param("decimal", 10**400, "Give a number.", id="decimal-1e400"),
    ("duration_min", -1, "Give minutes, a number ≥ 0."),
    ("duration_min", True, "Give minutes, a number ≥ 0."),
    pytest.param("duration_min", 10**400, "Give minutes, a number ≥ 0.", id="duration-1e400"),
    ("time", "24:00", "Give a time as HH:MM."),
    ("time", "9:30", "Give a time as HH:MM."),
    ("time", "12:60", "Give a time as HH:MM."),
    ("time", "12:30:00", "Give a time as HH:MM."),
    ("time", "12:30\n", "Give a time as HH:MM."),
    ("time", 1230, "Give a time as HH:MM."),
    ("text", 5, "Give text."),
    ("text", ["a"], "Give text."),
    ("text", "x" * 5001, "Longer than 5000 characters."),
    ("text", "a\x00b", "Control character U+0000 is not allowed."),
    ("text", "bell\x07", "Control character U+0007 is not allowed."),
    ("text", "esc\x1b[31m", "Control character U+001B is not allowed."),
    ("text", "lone \ud800", "Lone surrogate U+D800 is not valid text."),
    ("geopoint", {"lat": 51.1, "lon": 71.4, "alt": 300}, "Give {lat, lon, accuracy}."),
    ("geopoint", [51.1, 71.4], "Give {lat, lon, accuracy}."),
    ("geopoint", "51.1,71.4", "Give {lat, lon, accuracy}."),
    ("geopoint", {"lat": 91, "lon": 0}, "lat must be in [-90, 90] and lon in [-180, 180]."),
    ("geopoint", {"lat": 0, "lon": -180.5}, "lat must be in [-90, 90] and lon in [-180, 180]."),
    ("geopoint", {"lat": 0}, "lat must be in [-90, 90] and lon in [-180, 180]."),
    ("geopoint", {"lat": True, "lon": 0}, "lat must be in [-90, 90] and lon in [-180, 180]."),
    pytest.param("geopoint", {"lat": 10**400, "lon": 0},
                 "lat must be in [-90, 90] and lon in [-180, 180].", id="geopoint-1e400"),
    ("geopoint", {"lat": 0, "lon": 0, "accuracy": -1}, "accuracy must be a number of metres ≥ 0."),
    ("geopoint", {"lat": 0, "lon": 0, "accuracy": "5"},
     "accuracy must be a number of metres ≥ 0."),
    ("photo", "a" * 64, "Attach media as evidence; the value must be null."),
    ("video", [], "Attach media as evidence; the value must be null."),
    ("audio", False, "Attach media as evidence; the value must be null."),
    ("note", "hello", "A note takes no answer."),
])
def test_invalid_values(qtype, value, message):
    assert value_problem(question(qtype), value) == message


def test_an_unknown_question_type_is_a_problem_not_a_crash():
    assert value_problem(question("rating"), 3) == "Unknown question type 'rating'."


# --- check_answers -----------------------------------------------------------------------

def form(*questions: dict, languages=("en",)) -> CompiledForm:
    """A one-section form through the real loader (so its normalisation applies)."""
    def text(s: str) -> dict:
        return {lang: f"{s} ({lang})" for lang in languages}
    for q in questions:
        q.setdefault("label", text(q["id"]))
        for choice in q.get("choices", []):
            choice.setdefault("label", text(choice["id"]))
    return CompiledForm(check_definition({
        "key": "t", "version": 1, "languages": list(languages), "title": text("T"),
        "sections": [{"id": "s", "title": text("S"), "questions": list(questions)}]}, "test"))


def yes_no(qid: str, **kw) -> dict:
    return {"id": qid, "type": "yes_no", **kw}


def answers(**values) -> list[dict]:
    return [{"question": qid, "value": value} for qid, value in values.items()]


def errors_of(f: CompiledForm, items: list[dict], lang: str = "en") -> dict:
    return check_answers(f, items, lang=lang)[1]


def test_valid_answers_come_back_by_question():
    f = form(yes_no("Q1", required=True), {"id": "Q2", "type": "integer"})
    valid, errors = check_answers(f, answers(Q1="yes", Q2=3), lang="en")
    assert errors == {}
    assert valid == {"Q1": Answer("yes"), "Q2": Answer(3)}


def test_an_unknown_question_is_refused():
    f = form(yes_no("Q1"))
    assert errors_of(f, answers(Q1="yes", Z9=1)) == {"Z9": ["Unknown question."]}


def test_a_question_answered_twice_is_refused():
    f = form(yes_no("Q1"))
    items = answers(Q1="yes") + answers(Q1="no")
    assert errors_of(f, items) == {"Q1": ["Answered twice."]}


def test_a_bad_value_is_reported_under_its_question():
    f = form(yes_no("Q1"), {"id": "Q2", "type": "integer"})
    assert errors_of(f, answers(Q1="yes", Q2="three")) == {"Q2": ["Give a whole number."]}


# N/A ------------------------------------------------------------------------------------

def test_not_applicable_where_the_form_allows_it_counts_as_an_answer():
    f = form(yes_no("Q1", required=True, not_applicable=True))
    valid, errors = check_answers(f, [{"question": "Q1", "value": None,
                                       "not_applicable": True}], lang="en")
    assert errors == {}  # not "Required."
    assert valid == {"Q1": Answer(None, not_applicable=True)}


def test_not_applicable_where_the_form_does_not_allow_it_is_refused():
    f = form(yes_no("Q1", required=True))
    errors = errors_of(f, [{"question": "Q1", "value": None, "not_applicable": True}])
    assert errors == {"Q1": ["This question cannot be answered 'not applicable'."]}


def test_not_applicable_and_a_value_together_are_refused():
    f = form(yes_no("Q1", not_applicable=True))
    errors = errors_of(f, [{"question": "Q1", "value": "yes", "not_applicable": True}])
    assert errors == {"Q1": ["Give a value or not_applicable, not both."]}


# required and skip logic ----------------------------------------------------------------

@pytest.fixture
def skip_form() -> CompiledForm:
    """Q2 is asked only when Q1 is yes; Q3 only when Q2 is yes; all required."""
    return form(yes_no("Q1", required=True, not_applicable=True),
                yes_no("Q2", required=True, relevant="Q1 == 'yes'"),
                yes_no("Q3", required=True, relevant="Q2 == 'yes'"))


def test_a_required_question_left_out_is_refused(skip_form):
    assert errors_of(skip_form, answers(Q1="yes", Q2="no")) == {}
    assert errors_of(skip_form, answers(Q1="yes")) == {"Q2": ["Required."]}
    assert errors_of(skip_form, answers(Q1="yes", Q2="yes")) == {"Q3": ["Required."]}
    assert errors_of(skip_form, []) == {"Q1": ["Required."]}


def test_a_required_question_that_is_not_asked_may_be_left_out(skip_form):
    assert errors_of(skip_form, answers(Q1="no")) == {}
    assert errors_of(skip_form, [{"question": "Q1", "not_applicable": True, "value": None}]) == {}


def test_an_answer_to_a_question_that_is_not_asked_is_refused(skip_form):
    errors = errors_of(skip_form, answers(Q1="no", Q2="no"))
    assert errors == {"Q2": ["Not asked: the condition for this question is false; leave it "
                             "out."]}


def test_a_null_value_is_no_answer(skip_form):
    assert errors_of(skip_form, answers(Q1=None)) == {"Q1": ["Required."]}
    assert errors_of(skip_form, answers(Q1="no", Q2=None)) == {}  # not asked, and not given


def test_an_empty_text_or_selection_is_no_answer_to_a_required_question():
    f = form({"id": "T", "type": "text", "required": True},
             {"id": "M", "type": "multi_choice", "required": True,
              "choices": [{"id": "a"}, {"id": "b"}]},
             {"id": "O", "type": "text"})
    assert errors_of(f, answers(T="", M=[], O="")) == {"T": ["Required."], "M": ["Required."]}
    assert errors_of(f, answers(T="seen", M=["a"])) == {}


def test_media_and_note_questions_are_never_required_answers():
    f = form({"id": "P", "type": "photo", "required": True}, {"id": "N", "type": "note"})
    assert errors_of(f, []) == {}


# no cascade from an invalid answer -------------------------------------------------------

def test_an_invalid_answer_does_not_make_its_dependants_required(skip_form):
    assert errors_of(skip_form, answers(Q1="maybe")) == {"Q1": ["Answer 'yes' or 'no'."]}


def test_an_invalid_answer_does_not_make_its_dependants_not_asked(skip_form):
    errors = errors_of(skip_form, answers(Q1="maybe", Q2="yes", Q3="no"))
    assert errors == {"Q1": ["Answer 'yes' or 'no'."]}


def test_an_answer_given_twice_does_not_cascade_either(skip_form):
    errors = errors_of(skip_form, answers(Q1="yes") + answers(Q1="no"))
    assert errors == {"Q1": ["Answered twice."]}


def test_an_invalid_answer_does_not_break_the_constraints_that_read_it():
    f = form({"id": "total", "type": "integer", "required": True},
             {"id": "open", "type": "integer", "required": True,
              "constraint": {"expr": ". <= total",
                             "message": {"en": "At most the total."}}})
    assert errors_of(f, answers(total="ten", open=3)) == {"total": ["Give a whole number."]}
    assert errors_of(f, answers(total=2, open=3)) == {"open": ["At most the total."]}


# constraints and their language ----------------------------------------------------------

def test_the_constraint_message_comes_in_the_asked_language_or_falls_back():
    f = form({"id": "W", "type": "decimal", "unit": "cm",
              "constraint": {"expr": ". >= 30 and . <= 300",
                             "message": {"en": "Between 30 and 300.",
                                         "ru": "От 30 до 300."}}},
             languages=("en", "ru"))
    assert errors_of(f, answers(W=1000), lang="ru") == {"W": ["От 30 до 300."]}
    assert errors_of(f, answers(W=1000), lang="en") == {"W": ["Between 30 and 300."]}
    assert errors_of(f, answers(W=1000), lang="kk") == {"W": ["Between 30 and 300."]}  # English
    assert errors_of(f, answers(W=100), lang="ru") == {}


def test_without_english_the_constraint_message_falls_back_to_the_forms_language():
    f = form({"id": "W", "type": "decimal", "unit": "cm",
              "constraint": {"expr": ". >= 30", "message": {"ru": "Не меньше 30."}}},
             languages=("ru",))
    assert errors_of(f, answers(W=1), lang="kk") == {"W": ["Не меньше 30."]}


def test_a_constraint_is_not_checked_on_not_applicable():
    f = form({"id": "W", "type": "decimal", "unit": "cm", "not_applicable": True,
              "constraint": {"expr": ". >= 30", "message": {"en": "At least 30."}}})
    assert errors_of(f, [{"question": "W", "value": None, "not_applicable": True}]) == {}


def test_the_default_checklist_accepts_its_best_answers():
    default_form = CompiledForm(load_form_file(PROJECT_ROOT / DEFAULT_FORM))  # no app needed
    valid, errors = check_answers(default_form, answers_for(default_form), lang="en")
    assert errors == {}
    assert "A01" in valid


# shape, answer by answer ----------------------------------------------------------------

def test_a_malformed_answer_is_reported_under_its_question_with_the_others():
    f = form(yes_no("Q1", required=True), yes_no("Q2", required=True),
             yes_no("Q3", required=True))
    items = [{"question": "Q1", "value": "yes", "evidence": ["x"], "mood": "happy"},
             {"question": "Q2", "value": "maybe"},
             {"question": "Q3", "value": "no", "not_applicable": "sometimes"}]
    assert errors_of(f, items) == {
        "Q1": ["evidence.0: Not a SHA-256 (64 lower-case hex digits).", "mood: Unknown field."],
        "Q2": ["Answer 'yes' or 'no'."],
        "Q3": ["not_applicable: Not a valid boolean."],
    }  # and no "Required." for Q1 or Q3: they were given, badly


def test_without_a_usable_question_id_an_answer_is_reported_under_its_index():
    f = form(yes_no("Q1"))
    items = [{"question": "Q1", "value": "yes"}, {"value": "yes"}, "yes",
             {"question": "", "value": "no"}, {"question": 7}, {"question": "x" * 65}]
    errors = errors_of(f, items)
    assert errors["1"] == ["question: Missing data for required field."]
    assert errors["2"] == ["Give each answer as an object: {question, value, not_applicable, "
                           "note, evidence}."]
    assert errors["3"] == ["question: Length must be between 1 and 64."]
    assert errors["4"] == ["question: Not a valid string."]
    assert errors["5"] == ["question: Length must be between 1 and 64."]
    assert set(errors) == {"1", "2", "3", "4", "5"}


def test_what_depends_on_a_malformed_answer_waits_for_it():
    f = form(yes_no("Q1", required=True),
             {"id": "Q2", "type": "integer", "required": True, "relevant": "Q1 == 'yes'"})
    assert errors_of(f, [{"question": "Q1", "value": "yes", "note": 5}]) == {
        "Q1": ["note: Not a valid string."]}
