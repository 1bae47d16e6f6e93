"""The shipped checklist survey_forms/service_centre_visit.v1.yaml: it loads, has the agreed
shape, speaks four languages, and scores as the checklist says. Pure: no app, no database."""
from __future__ import annotations

from typing import Any

import pytest

from server.config import PROJECT_ROOT
from server.forms.loader import load_form_file
from server.scoring.rules import Answer, CompiledForm, score_visit

PATH = PROJECT_ROOT / "survey_forms" / "service_centre_visit.v1.yaml"
LANGS = ["kk", "ru", "en", "uz"]
SECTIONS = [("accessibility", 25), ("queue", 20), ("service", 20), ("integrity", 20),
            ("information", 10), ("comfort", 5)]
CRITICAL = {"A01": "no", "C04": "yes", "C05": "yes", "D01": "yes", "D02": "yes",
            "D03": "approached"}  # the answer that is a critical finding


@pytest.fixture(scope="module")
def definition() -> dict:
    return load_form_file(PATH)


@pytest.fixture(scope="module")
def compiled(definition) -> CompiledForm:
    return CompiledForm(definition)


def questions(definition: dict) -> dict[str, dict]:
    return {q["id"]: q for s in definition["sections"] for q in s["questions"]}


def texts(value: Any, found: list[dict]) -> list[dict]:
    """Every {lang: text} mapping in the definition."""
    if isinstance(value, dict):
        if set(value) == set(LANGS):
            found.append(value)
            return found
        for item in value.values():
            texts(item, found)
    elif isinstance(value, list):
        for item in value:
            texts(item, found)
    return found


def best_value(q: dict) -> Any:
    """The answer that earns the whole score (and some answer for unscored questions)."""
    score = q["score"]
    if q["type"] in ("integer", "decimal", "duration_min"):
        if score is None:
            return 3
        band = next(b for b in score["bands"] if b["score"] == 1)
        return band["min"] if band["min"] is not None else (band["max"] or 0)
    if q["type"] == "multi_choice":
        return [c for c, f in score.items() if f > 0]
    if score is not None:
        return max(score, key=score.get)
    return "Nothing to report." if q["type"] == "text" else None


def best_answers(definition: dict) -> dict[str, Answer]:
    return {qid: Answer(best_value(q)) for qid, q in questions(definition).items()
            if best_value(q) is not None}


# --- shape ---------------------------------------------------------------------------------------

def test_the_default_checklist_loads(definition):
    assert (definition["key"], definition["version"]) == ("service-centre-visit", 1)


def test_the_file_is_named_after_its_key_and_version(definition):
    assert PATH.name == f"{definition['key'].replace('-', '_')}.v{definition['version']}.yaml"


def test_it_has_35_to_45_questions(definition):
    assert 35 <= len(questions(definition)) <= 45


def test_it_has_the_six_sections_with_their_weights(definition):
    assert [(s["id"], s["weight"]) for s in definition["sections"]] == SECTIONS


def test_every_section_has_scored_questions(definition):
    for section in definition["sections"]:
        assert any(q["score"] for q in section["questions"]), section["id"]


def test_the_critical_cap_is_40_and_unanswered_questions_are_left_out(definition):
    assert definition["scoring"] == {"critical_cap": 40, "unanswered": "omit"}


# --- languages -----------------------------------------------------------------------------------

def test_it_is_written_in_kazakh_russian_english_and_uzbek(definition):
    assert definition["languages"] == LANGS


def test_every_label_title_and_hint_exists_in_every_language(definition):
    found = texts(definition, [])
    count = sum(1 + (q["hint"] is not None) + len(q["choices"]) + (q["constraint"] is not None)
                for q in questions(definition).values())
    count += 1 + (definition["description"] is not None) + len(definition["sections"])
    assert len(found) == count
    for localized in found:
        assert all(localized[lang].strip() for lang in LANGS), localized["en"]


def test_the_four_languages_are_not_copies_of_each_other(definition):
    for q in questions(definition).values():
        assert len(set(q["label"].values())) >= 3, q["id"]


def test_uzbek_uses_the_turned_comma_not_ascii_apostrophes(definition):
    uzbek = [t["uz"] for t in texts(definition, [])]
    wrong = [line for line in uzbek if any(ch in line for ch in "'`\u2018\u2019")]
    assert wrong == []
    assert sum("\u02bb" in line for line in uzbek) > 20  # oʻ and gʻ are frequent


def test_kazakh_and_russian_are_in_cyrillic(definition):
    for q in questions(definition).values():
        for lang in ("kk", "ru"):
            assert any("\u0400" <= ch <= "\u04ff" for ch in q["label"][lang]), (q["id"], lang)


# --- scoring -------------------------------------------------------------------------------------

def test_the_critical_items_are_a01_c04_c05_d01_d02_d03(compiled):
    assert set(compiled.critical) == set(CRITICAL)


def test_all_best_answers_score_100(definition, compiled):
    result = score_visit(compiled, best_answers(definition))
    assert result.score == 100
    assert all(score == 100 for score in result.sections.values())
    assert (result.critical, result.lost) == ((), ())


def test_informal_payment_asked_caps_the_visit_and_is_reported_as_critical(definition, compiled):
    answers = {**best_answers(definition), "D02": Answer("yes")}
    result = score_visit(compiled, answers)
    assert result.critical == ("D02",)
    assert result.score == definition["scoring"]["critical_cap"] == 40
    assert result.uncapped > 90


@pytest.mark.parametrize("qid", sorted(CRITICAL))
def test_each_critical_answer_caps_the_visit(definition, compiled, qid):
    result = score_visit(compiled, {**best_answers(definition), qid: Answer(CRITICAL[qid])})
    assert result.critical == (qid,)
    assert result.score == 40


def test_without_step_free_access_the_ramp_questions_are_not_asked(definition, compiled):
    relevance = compiled.relevance({**best_answers(definition), "A01": Answer("no")})
    assert (relevance["A02"], relevance["A03"]) == (False, False)


def test_a_ramp_with_no_ramp_marked_not_applicable_leaves_the_denominator(definition, compiled):
    answers = {**best_answers(definition), "A02": Answer(None, not_applicable=True),
               "A03": Answer(None, not_applicable=True)}
    assert score_visit(compiled, answers).score == 100


def test_a_long_wait_loses_points_in_the_queue_section(definition, compiled):
    result = score_visit(compiled, {**best_answers(definition), "B03": Answer(45)})
    assert result.sections["queue"] < 100
    assert [lost.question for lost in result.lost] == ["B03"]


def test_every_decimal_question_has_its_unit(definition):
    decimals = [q for q in questions(definition).values() if q["type"] == "decimal"]
    assert decimals and all(q["unit"] for q in decimals)


def test_b06_is_scored_with_the_checklist_weight_and_b07_is_not(definition):
    """checklist.md: B06 seats >= people waiting, weight 1; B07 open / total counters has a
    weight but no threshold, and a ratio of two answers cannot be banded (see the notes)."""
    q = questions(definition)
    assert (q["B06_waiting"]["score"], q["B06_waiting"]["weight"]) == (
        {"bands": [{"min": None, "max": 0, "score": 1}, {"min": None, "max": None, "score": 0}]}, 1)
    assert [q[i]["score"] for i in ("B06_seats", "B07_total", "B07_open")] == [None] * 3


def test_people_standing_for_want_of_a_seat_lose_b06_points(definition, compiled):
    result = score_visit(compiled, {**best_answers(definition), "B06_seats": Answer(10),
                                    "B06_waiting": Answer(4)})
    assert [lost.question for lost in result.lost] == ["B06_waiting"]
    assert result.sections["queue"] < 100


def test_the_notes_do_not_deny_the_unary_minus(definition, compiled):
    assert "no unary minus" not in definition["notes"]
    constraint = compiled.constraint["F01"]
    assert constraint.source == ". >= -30 and . <= 60"
    assert constraint.holds({}, current=-30) and not constraint.holds({}, current=-31)
