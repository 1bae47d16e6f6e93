"""The scoring rules, one behaviour per test, and properties that must hold for every form."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from server.forms.definition import check_definition
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


# --- what the mutations of the rules would break ---------------------------------------------

def test_not_applicable_leaves_the_denominator_even_when_unanswered_counts_zero():
    f = form(section("a", yn("q1"), yn("q2", not_applicable=True)),
             scoring={"unanswered": "zero"})
    result = score_visit(f, {"q1": Answer("yes"), "q2": Answer(None, not_applicable=True)})
    assert result.score == 100
    assert result.lost == ()


def test_a_not_applicable_answer_never_scores_its_stale_value():
    f = form(section("a", yn("q1"), yn("q2", not_applicable=True)))
    result = score_visit(f, {"q1": Answer("yes"), "q2": Answer("no", not_applicable=True)})
    assert result.score == 100


def test_a_critical_question_that_is_not_relevant_is_no_finding():
    f = form(section("a", yn("ramp"), yn("rails", relevant="ramp == 'yes'", critical=True),
                     yn("bribe", good="no", relevant="ramp == 'yes'", critical=". == 'yes'")))
    result = score_visit(f, {"ramp": Answer("no"), "rails": Answer("no"),
                             "bribe": Answer("yes")})
    assert result.critical == ()
    assert result.score == 0 and not result.capped


def test_a_critical_expression_sees_hidden_and_not_applicable_answers_as_null():
    f = form(section("a", yn("ramp"), yn("rails", relevant="ramp == 'yes'"),
                     yn("lift", not_applicable=True),
                     yn("access", critical="rails == 'no' or lift == 'no'"), yn("q5")),
             scoring={"critical_cap": 40})
    hidden = {"ramp": Answer("no"), "rails": Answer("no"), "lift": Answer("no",
                                                                          not_applicable=True),
              "access": Answer("yes"), "q5": Answer("yes")}
    assert score_visit(f, hidden).critical == ()
    shown = {**hidden, "ramp": Answer("yes")}
    assert score_visit(f, shown).critical == ("access",)
    applicable = {**hidden, "lift": Answer("no")}
    assert score_visit(f, applicable).critical == ("access",)


def test_lost_points_are_listed_most_costly_first():
    f = form(section("a", yn("small"), yn("big", weight=4), yn("good"), yn("mid", weight=2)),
             section("b", yn("other"), weight=2))
    result = score_visit(f, {"small": Answer("no"), "big": Answer("no"), "good": Answer("yes"),
                             "mid": Answer("no"), "other": Answer("no")})
    assert [lost.question for lost in result.lost] == ["other", "big", "mid", "small"]
    assert [round(lost.points, 6) for lost in result.lost] == [
        round(200 / 3, 6), round(400 / 24, 6), round(200 / 24, 6), round(100 / 24, 6)]


def test_equal_losses_keep_the_form_order():
    f = form(section("a", yn("q1"), yn("q2"), yn("q3")))
    result = score_visit(f, {"q3": Answer("no"), "q1": Answer("no"), "q2": Answer("yes")})
    assert [lost.question for lost in result.lost] == ["q1", "q3"]


# --- properties -------------------------------------------------------------------------------

@st.composite
def forms_and_answers(draw):
    """A random form of yes/no, choice and number questions, and a random set of answers.

    Questions may be asked only depending on an earlier question's answer (`relevant`), and may
    be critical by `true` or by an expression on their own or an earlier question's answer."""
    sections, answers, n = [], {}, 0
    earlier: list[tuple[str, str, list]] = []  # (id, type, the answers it can have)
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
                options = ["yes", "no"]
            elif kind == "single_choice":
                scores = draw(st.lists(st.sampled_from([0, 0.25, 0.5, 1]), min_size=2, max_size=4))
                choices = [{"id": f"c{i}", "label": L} for i in range(len(scores))]
                q = {"id": qid, "type": "single_choice", "label": L, "weight": weight,
                     "choices": choices, "score": {f"c{i}": v for i, v in enumerate(scores)}}
                options = [c["id"] for c in choices]
            else:
                q = {"id": qid, "type": "integer", "label": L, "weight": weight,
                     "score": {"bands": [{"max": 10, "score": 1}, {"max": 20, "score": 0.5}]}}
                options = list(range(0, 41))
            value = draw(st.sampled_from(options))
            if earlier and draw(st.booleans()):
                ref, ref_type, ref_options = draw(st.sampled_from(earlier))
                if ref_type == "integer":
                    q["relevant"] = f"{ref} {draw(st.sampled_from(['<', '>=']))} " \
                                    f"{draw(st.integers(0, 40))}"
                else:
                    picked = draw(st.lists(st.sampled_from(ref_options), min_size=1,
                                           unique=True))
                    q["relevant"] = f"{ref} in [{', '.join(repr(o) for o in picked)}]"
            critical = draw(st.sampled_from(["none", "none", "true", "own", "other"]))
            if critical == "true":
                q["critical"] = True
            elif critical == "own":
                q["critical"] = (f". > {draw(st.integers(0, 40))}" if kind == "integer"
                                 else f". == {draw(st.sampled_from(options))!r}")
            elif critical == "other" and earlier:
                ref, ref_type, ref_options = draw(st.sampled_from(earlier))
                q["critical"] = (f"{ref} > {draw(st.integers(0, 40))}" if ref_type == "integer"
                                 else f"{ref} == {draw(st.sampled_from(ref_options))!r}")
            q["not_applicable"] = True
            questions.append(q)
            earlier.append((qid, kind, options))
            state = draw(st.sampled_from(["answer", "answer", "answer", "na", "skip"]))
            if state == "answer":
                answers[qid] = Answer(value)
            elif state == "na":
                answers[qid] = Answer(None, not_applicable=True)
        sections.append(section(f"s{s}", *questions, weight=draw(st.integers(1, 30))))
    cap = draw(st.integers(0, 100))
    unanswered = draw(st.sampled_from(["omit", "zero"]))
    return form(*sections, scoring={"critical_cap": cap, "unanswered": unanswered}), answers


@settings(max_examples=150, deadline=None)
@given(forms_and_answers())
def test_score_stays_between_0_and_100(case):
    f, answers = case
    result = score_visit(f, answers)
    assert result.score is None or 0 <= result.score <= 100
    for value in result.sections.values():
        assert value is None or 0 <= value <= 100


def _options(question: dict) -> list:
    if question["type"] in ("integer", "decimal", "duration_min"):
        return list(range(0, 41)) if question["type"] == "integer" else \
            [x / 2 for x in range(0, 601)]
    if question["type"] == "yes_no":
        return ["yes", "no"]
    return [c["id"] for c in question["choices"]]


def assert_a_better_answer_never_lowers_the_score(f: CompiledForm, answers: dict, qid: str,
                                                  better) -> bool:
    """The monotonicity rule of docs/forms.md "Scoring"; False when it does not apply (the new
    answer scores less, or changes which questions are asked)."""
    question = f.questions[qid]
    if answer_fraction(question, better) < answer_fraction(question, answers[qid].value):
        return False
    changed = {**answers, qid: Answer(better)}
    if f.relevance(changed) != f.relevance(answers):
        return False
    before, after = score_visit(f, answers), score_visit(f, changed)
    assert after.uncapped >= before.uncapped - 1e-9
    if set(after.critical) <= set(before.critical):  # no new critical finding
        assert after.score >= before.score - 1e-9
    return True


@settings(max_examples=300, deadline=None)
@given(forms_and_answers(), st.data())
def test_a_better_answer_that_changes_no_relevance_never_lowers_the_score(case, data):
    f, answers = case
    relevance = f.relevance(answers)
    answered = [qid for qid, a in answers.items() if not a.not_applicable and relevance[qid]]
    if not answered:
        return
    qid = data.draw(st.sampled_from(answered))
    better = data.draw(st.sampled_from(_options(f.questions[qid])))
    assert_a_better_answer_never_lowers_the_score(f, answers, qid, better)


@settings(max_examples=200, deadline=None)
@given(forms_and_answers(), st.data())
def test_critical_true_never_fires_on_a_better_answer(case, data):
    f, answers = case
    relevance = f.relevance(answers)
    candidates = [qid for qid, a in answers.items() if not a.not_applicable and relevance[qid]
                  and f.critical.get(qid) is True]
    if not candidates:
        return
    qid = data.draw(st.sampled_from(candidates))
    question = f.questions[qid]
    better = data.draw(st.sampled_from(_options(question)))
    if answer_fraction(question, better) <= answer_fraction(question, answers[qid].value):
        return
    assert qid not in score_visit(f, {**answers, qid: Answer(better)}).critical


def _default_form() -> CompiledForm:
    from server.config import PROJECT_ROOT
    from server.forms.loader import load_form_file
    return CompiledForm(load_form_file(PROJECT_ROOT / "survey_forms"
                                       / "service_centre_visit.v1.yaml"))


DEFAULT = _default_form()
SCORED = [qid for qid, q in DEFAULT.questions.items() if q.get("score") is not None]


@st.composite
def default_form_answers(draw):
    """Answers to the shipped checklist's scored questions: some skipped, some N/A."""
    answers = {}
    for qid in SCORED:
        question = DEFAULT.questions[qid]
        state = draw(st.sampled_from(["answer", "answer", "answer", "skip"]
                                     + (["na"] if question["not_applicable"] else [])))
        if state == "na":
            answers[qid] = Answer(None, not_applicable=True)
        elif state == "answer":
            if question["type"] == "multi_choice":
                value = draw(st.lists(st.sampled_from(_options(question)), min_size=1,
                                      unique=True))
            else:
                value = draw(st.sampled_from(_options(question)))
            answers[qid] = Answer(value)
    return answers


@settings(max_examples=300, deadline=None)
@given(default_form_answers(), st.data())
def test_on_the_default_checklist_a_better_answer_that_changes_no_relevance_never_lowers_the_score(
        answers, data):
    relevance = DEFAULT.relevance(answers)
    answered = [qid for qid, a in answers.items() if not a.not_applicable and relevance[qid]
                and DEFAULT.questions[qid]["type"] != "multi_choice"]
    if not answered:
        return
    qid = data.draw(st.sampled_from(answered))
    better = data.draw(st.sampled_from(_options(DEFAULT.questions[qid])))
    assert_a_better_answer_never_lowers_the_score(DEFAULT, answers, qid, better)


def test_a_better_answer_that_asks_a_follow_up_question_may_lower_the_score():
    """Why the rule excludes changes of relevance: the call button exists but nobody came
    (better than no button) asks for its height, and 200 cm is a finding of its own."""
    answers = {"A05": Answer(0), "A06": Answer("absent"), "A07": Answer(200),
               "A08": Answer("yes"), "A09": Answer("yes")}
    before = score_visit(DEFAULT, answers)
    after = score_visit(DEFAULT, {**answers, "A06": Answer("not_working")})
    assert DEFAULT.relevance({**answers, "A06": Answer("not_working")})["A07"]
    assert after.score < before.score
    assert not assert_a_better_answer_never_lowers_the_score(DEFAULT, answers, "A06",
                                                             "not_working")


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
