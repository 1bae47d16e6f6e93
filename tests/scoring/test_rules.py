"""The scoring rules, one behaviour per test, and properties that must hold for every form."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from server.forms.loader import check_definition
from server.scoring.rules import Answer, CompiledForm, answer_fraction, score_visit

L = {"kk": "k", "ru": "r", "en": "e", "uz": "u"}


def form(*sections, **top) -> CompiledForm:
    raw = {"key": "t", "version": 1, "languages": ["kk", "ru", "en", "uz"], "title": L,
           "sections": list(sections), **top}
    return CompiledForm(check_definition(raw, "test"))


def section(sid: str, *questions, weight=1) -> dict:
    return {"id": sid, "title": L, "weight": weight, "questions": list(questions)}


def yn(qid: str, *, weight=1, good="yes", **kw) -> dict:
    bad = "no" if good == "yes" else "yes"
    return {"id": qid, "type": "yes_no", "label": L, "score": {good: 1, bad: 0},
            "weight": weight, **kw}


def test_all_good_answers_score_100():
    f = form(section("a", yn("q1"), yn("q2")))
    assert score_visit(f, {"q1": Answer("yes"), "q2": Answer("yes")}).score == 100


def test_section_score_is_the_weighted_mean_of_its_questions():
    f = form(section("a", yn("q1", weight=3), yn("q2", weight=1)))
    result = score_visit(f, {"q1": Answer("yes"), "q2": Answer("no")})
    assert result.sections["a"] == pytest.approx(75)


def test_visit_score_is_the_weighted_mean_of_sections():
    f = form(section("a", yn("q1"), weight=3), section("b", yn("q2"), weight=1))
    assert score_visit(f, {"q1": Answer("yes"), "q2": Answer("no")}).score == pytest.approx(75)


def test_not_applicable_leaves_the_denominator():
    f = form(section("a", yn("q1"), yn("q2", not_applicable=True)))
    result = score_visit(f, {"q1": Answer("yes"), "q2": Answer(None, not_applicable=True)})
    assert result.score == 100


def test_unanswered_questions_are_left_out_by_default():
    f = form(section("a", yn("q1"), yn("q2")))
    assert score_visit(f, {"q1": Answer("yes")}).score == 100


def test_unanswered_questions_count_zero_when_the_form_says_so():
    f = form(section("a", yn("q1"), yn("q2")), scoring={"unanswered": "zero"})
    assert score_visit(f, {"q1": Answer("yes")}).score == pytest.approx(50)


def test_questions_that_are_not_relevant_do_not_count():
    f = form(section("a", yn("ramp"), yn("rails", relevant="ramp == 'yes'")))
    result = score_visit(f, {"ramp": Answer("no"), "rails": Answer("no")})
    assert result.sections["a"] == 0
    assert [lost.question for lost in result.lost] == ["ramp"]


def test_an_answer_to_a_question_hidden_by_skip_logic_hides_its_dependants_too():
    f = form(section("a", yn("q1"), yn("q2", relevant="q1 == 'yes'"),
                     yn("q3", relevant="q2 == 'yes'")))
    relevance = f.relevance({"q1": Answer("no"), "q2": Answer("yes"), "q3": Answer("yes")})
    assert relevance == {"q1": True, "q2": False, "q3": False}


def test_a_section_with_nothing_scorable_has_no_score_and_does_not_count():
    f = form(section("a", yn("q1")), section("b", {"id": "t", "type": "text", "label": L}))
    result = score_visit(f, {"q1": Answer("no"), "t": Answer("hello")})
    assert result.sections == {"a": 0, "b": None}
    assert result.score == 0


def test_nothing_scorable_answered_gives_no_score():
    f = form(section("a", yn("q1")))
    assert score_visit(f, {}).score is None


def test_a_critical_finding_caps_the_score_and_is_reported():
    f = form(section("a", yn("bribe", good="no", critical=". == 'yes'"), yn("q2"), yn("q3"),
                     yn("q4")), scoring={"critical_cap": 40})
    result = score_visit(f, {"bribe": Answer("yes"), "q2": Answer("yes"), "q3": Answer("yes"),
                             "q4": Answer("yes")})
    assert result.critical == ("bribe",)
    assert result.uncapped == pytest.approx(75)
    assert result.score == 40
    assert result.capped


def test_critical_true_means_the_answer_scoring_zero():
    f = form(section("a", yn("step_free", critical=True), yn("q2")))
    assert score_visit(f, {"step_free": Answer("no"), "q2": Answer("yes")}).critical == ("step_free",)
    assert score_visit(f, {"step_free": Answer("yes"), "q2": Answer("yes")}).critical == ()


def test_a_score_below_the_cap_is_not_raised_by_it():
    f = form(section("a", yn("bribe", good="no", critical=True)), scoring={"critical_cap": 40})
    result = score_visit(f, {"bribe": Answer("yes")})
    assert result.score == 0


def test_number_bands_first_match_wins_and_no_match_scores_zero():
    q = {"type": "duration_min", "score": {"bands": [
        {"min": None, "max": 15, "score": 1}, {"min": None, "max": 30, "score": 0.5}]}}
    assert answer_fraction(q, 15) == 1
    assert answer_fraction(q, 16) == 0.5
    assert answer_fraction(q, 31) == 0


def test_band_with_both_ends():
    q = {"type": "decimal", "score": {"bands": [{"min": 18, "max": 26, "score": 1}]}}
    assert answer_fraction(q, 17.9) == 0
    assert answer_fraction(q, 18) == 1
    assert answer_fraction(q, 26) == 1


def test_multi_choice_sums_selected_choices_clipped_to_one():
    q = {"type": "multi_choice", "score": {"a": 0.6, "b": 0.6, "c": 0}}
    assert answer_fraction(q, ["a"]) == 0.6
    assert answer_fraction(q, ["a", "b"]) == 1
    assert answer_fraction(q, ["a", "a"]) == 0.6


def test_lost_points_name_the_questions_and_add_up_to_what_was_lost():
    f = form(section("a", yn("q1", weight=2), yn("q2")), section("b", yn("q3")))
    result = score_visit(f, {"q1": Answer("no"), "q2": Answer("yes"), "q3": Answer("no")})
    assert {lost.question for lost in result.lost} == {"q1", "q3"}
    assert sum(lost.points for lost in result.lost) == pytest.approx(100 - result.uncapped)


# --- properties -------------------------------------------------------------------------------

@st.composite
def forms_and_answers(draw):
    """A random form of yes/no, choice and number questions, and a random set of answers."""
    sections, answers, n = [], {}, 0
    for s in range(draw(st.integers(1, 4))):
        questions = []
        for _ in range(draw(st.integers(1, 5))):
            n += 1
            qid = f"q{n}"
            kind = draw(st.sampled_from(["yes_no", "single_choice", "integer"]))
            weight = draw(st.integers(1, 5))
            if kind == "yes_no":
                q = {"id": qid, "type": "yes_no", "label": L, "weight": weight,
                     "score": {"yes": draw(st.sampled_from([0, 0.5, 1])), "no": 0}}
                value = draw(st.sampled_from(["yes", "no"]))
            elif kind == "single_choice":
                scores = draw(st.lists(st.sampled_from([0, 0.25, 0.5, 1]), min_size=2, max_size=4))
                choices = [{"id": f"c{i}", "label": L} for i in range(len(scores))]
                q = {"id": qid, "type": "single_choice", "label": L, "weight": weight,
                     "choices": choices, "score": {f"c{i}": v for i, v in enumerate(scores)}}
                value = draw(st.sampled_from([c["id"] for c in choices]))
            else:
                q = {"id": qid, "type": "integer", "label": L, "weight": weight,
                     "score": {"bands": [{"max": 10, "score": 1}, {"max": 20, "score": 0.5}]}}
                value = draw(st.integers(0, 40))
            if draw(st.booleans()):
                q["critical"] = True
            q["not_applicable"] = True
            questions.append(q)
            state = draw(st.sampled_from(["answer", "answer", "answer", "na", "skip"]))
            if state == "answer":
                answers[qid] = Answer(value)
            elif state == "na":
                answers[qid] = Answer(None, not_applicable=True)
        sections.append(section(f"s{s}", *questions, weight=draw(st.integers(1, 30))))
    cap = draw(st.integers(0, 100))
    return form(*sections, scoring={"critical_cap": cap}), answers


@settings(max_examples=150, deadline=None)
@given(forms_and_answers())
def test_score_stays_between_0_and_100(case):
    f, answers = case
    result = score_visit(f, answers)
    assert result.score is None or 0 <= result.score <= 100
    for value in result.sections.values():
        assert value is None or 0 <= value <= 100


@settings(max_examples=150, deadline=None)
@given(forms_and_answers(), st.data())
def test_a_better_answer_never_lowers_the_score(case, data):
    f, answers = case
    answered = [qid for qid, a in answers.items() if not a.not_applicable]
    if not answered:
        return
    qid = data.draw(st.sampled_from(answered))
    question = f.questions[qid]
    if question["type"] == "integer":
        options = list(range(0, 41))
    elif question["type"] == "yes_no":
        options = ["yes", "no"]
    else:
        options = [c["id"] for c in question["choices"]]
    better = data.draw(st.sampled_from(options))
    if answer_fraction(question, better) < answer_fraction(question, answers[qid].value):
        return
    before = score_visit(f, answers).score
    after = score_visit(f, {**answers, qid: Answer(better)}).score
    assert after >= before - 1e-9


@settings(max_examples=100, deadline=None)
@given(forms_and_answers())
def test_relabelling_does_not_change_the_score(case):
    f, answers = case
    definition = f.definition
    relabelled = {**definition, "title": {k: v + "!" for k, v in definition["title"].items()},
                  "sections": [{**s, "title": {k: "x" + v for k, v in s["title"].items()},
                                "questions": [{**q, "label": {k: v * 2 for k, v in q["label"].items()}}
                                              for q in s["questions"]]}
                               for s in definition["sections"]]}
    assert score_visit(CompiledForm(relabelled), answers) == score_visit(f, answers)
