"""Form files: the normalised definition, every mistake reported at once, hostile files refused.

Pure: no app, no database. `form()` builds a minimal valid form as Python data; each test breaks
one thing and checks the path and the reason of what is reported.
"""
from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from server.forms.definition import FormInvalid, check_definition
from server.forms.loader import MAX_FILE_BYTES, load_form_file, read_yaml, to_yaml

LANGS = ["kk", "ru", "en", "uz"]


def text(en: str) -> dict:
    """A localized text in the four languages."""
    return {"kk": f"{en} (kk)", "ru": f"{en} (ru)", "en": en, "uz": f"{en} (uz)"}


def question(qid: str, qtype: str = "yes_no", **kw) -> dict:
    return {"id": qid, "type": qtype, "label": text(f"Question {qid}"), **kw}


def choice(cid: str) -> dict:
    return {"id": cid, "label": text(cid.title())}


def section(sid: str, *questions: dict, **kw) -> dict:
    return {"id": sid, "title": text(sid.title()), "weight": 1, "questions": list(questions), **kw}


def form(*questions: dict, sections: list[dict] | None = None, **top) -> dict:
    """A minimal valid form: one section, the given questions (one yes/no question if none)."""
    if sections is None:
        sections = [section("main", *(questions or [question("q1")]))]
    return {"key": "test-form", "version": 1, "languages": list(LANGS), "title": text("Test"),
            "sections": sections, **top}


def problems(data, source: str = "test.yaml") -> list[tuple[str, str]]:
    """(path, reason) of every problem check_definition reports."""
    with pytest.raises(FormInvalid) as info:
        check_definition(data, source)
    return [(p.path, p.reason) for p in info.value.problems]


def only_problem(data) -> tuple[str, str]:
    [problem] = problems(data)
    return problem


def load_text(tmp_path, content: str | bytes, name: str = "test.v1.yaml") -> dict:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return load_form_file(path)


def refusal(tmp_path, content: str | bytes) -> list[tuple[str, str]]:
    with pytest.raises(FormInvalid) as info:
        load_text(tmp_path, content)
    assert info.value.source == "test.v1.yaml"
    return [(p.path, p.reason) for p in info.value.problems]


MINIMAL_YAML = """\
key: test-form
version: 1
languages: [kk, ru, en, uz]
title: {kk: Т, ru: Т, en: T, uz: T}
sections:
  - id: main
    title: {kk: Б, ru: Р, en: S, uz: B}
    questions:
      - id: q1
        type: yes_no
        label: {kk: Сұрақ, ru: Вопрос, en: Question, uz: Savol}
        score: {yes: 1, no: 0}
"""


# --- a valid form --------------------------------------------------------------------------------

def test_a_minimal_form_is_normalised_with_every_default_filled_in():
    definition = check_definition(form(question("q1")), "test.yaml")
    assert definition == {
        "key": "test-form", "version": 1, "languages": LANGS, "title": text("Test"),
        "description": None, "notes": "",
        "scoring": {"critical_cap": 40, "unanswered": "omit"}, "min_duration_min": None,
        "sections": [{"id": "main", "title": text("Main"), "weight": 1, "questions": [{
            "id": "q1", "type": "yes_no", "label": text("Question q1"), "hint": None,
            "required": False, "not_applicable": False, "choices": [], "score": None,
            "weight": 1, "critical": None, "evidence": {}, "relevant": None,
            "constraint": None, "unit": None}]}],
    }


def test_a_section_without_a_weight_weighs_1():
    raw = form()
    del raw["sections"][0]["weight"]
    assert check_definition(raw, "test.yaml")["sections"][0]["weight"] == 1


def test_a_form_in_fewer_languages_needs_only_those():
    raw = form()
    raw["languages"] = ["ru", "kk"]
    for item in (raw, raw["sections"][0], raw["sections"][0]["questions"][0]):
        item["title" if "title" in item else "label"] = {"ru": "Текст", "kk": "Мәтін"}
    assert check_definition(raw, "test.yaml")["title"] == {"ru": "Текст", "kk": "Мәтін"}


def test_a_full_question_keeps_every_field():
    q = question("q2", "single_choice", choices=[choice("a"), choice("b")],
                 hint=text("Hint"), required=True, not_applicable=True,
                 relevant="q1 == 'yes'", score={"a": 1, "b": 0.5}, weight=2.5,
                 critical=". == 'b'", evidence={"photo": "required_when:b", "video": "none"},
                 constraint={"expr": "answered(.)", "message": text("Answer it")})
    loaded = check_definition(form(question("q1"), q), "test.yaml")["sections"][0]["questions"][1]
    assert {k: v for k, v in loaded.items() if k not in ("label", "choices")} == {
        "id": "q2", "type": "single_choice", "hint": text("Hint"), "required": True,
        "not_applicable": True, "relevant": "q1 == 'yes'", "score": {"a": 1, "b": 0.5},
        "weight": 2.5, "critical": ". == 'b'", "evidence": {"photo": "required_when:b"},
        "constraint": {"expr": "answered(.)", "message": text("Answer it")}, "unit": None}
    assert loaded["choices"] == [choice("a"), choice("b")]


def test_critical_true_on_a_scored_question_is_kept():
    q = question("q1", score={"yes": 1, "no": 0}, critical=True)
    assert check_definition(form(q), "t")["sections"][0]["questions"][0]["critical"] is True


def test_number_bands_are_normalised_with_both_ends():
    q = question("q1", "duration_min", score={"bands": [{"max": 15, "score": 1}, {"score": 0}]})
    loaded = check_definition(form(q), "t")["sections"][0]["questions"][0]
    assert loaded["score"] == {"bands": [{"min": None, "max": 15, "score": 1},
                                         {"min": None, "max": None, "score": 0}]}


def test_unquoted_yes_and_no_are_strings_as_in_yaml_1_2(tmp_path):
    definition = load_text(tmp_path, MINIMAL_YAML)
    assert definition["sections"][0]["questions"][0]["score"] == {"yes": 1, "no": 0}


def test_a_definition_written_back_as_yaml_loads_to_the_same_definition(tmp_path):
    definition = check_definition(form(question("q1", score={"yes": 1, "no": 0}, critical=True)),
                                  "t")
    assert load_text(tmp_path, to_yaml(definition)) == definition


# --- duplicates ----------------------------------------------------------------------------------

def test_a_duplicate_question_id_is_reported_where_it_repeats():
    path, reason = only_problem(form(question("q1"), question("q1")))
    assert path == "sections[0].questions[1].id"
    assert reason == "duplicate question id 'q1' (first at sections[0].questions[0])"


def test_a_question_id_repeated_in_another_section_is_a_duplicate():
    raw = form(sections=[section("a", question("q1")), section("b", question("q1"))])
    assert only_problem(raw)[0] == "sections[1].questions[0].id"


def test_a_duplicate_section_id_is_reported():
    raw = form(sections=[section("a", question("q1")), section("a", question("q2"))])
    assert only_problem(raw) == ("sections[1].id", "duplicate section id 'a'")


def test_a_duplicate_choice_id_is_reported():
    q = question("q1", "single_choice", choices=[choice("a"), choice("b"), choice("a")])
    assert only_problem(form(q)) == ("sections[0].questions[0].choices[2].id",
                                     "duplicate choice 'a'")


def test_a_duplicate_key_in_the_yaml_is_refused_not_silently_overwritten(tmp_path):
    [(path, reason)] = refusal(tmp_path, MINIMAL_YAML.replace(
        "        score: {yes: 1, no: 0}", "        score: {yes: 1, no: 0}\n        score: {}"))
    assert "duplicate key 'score'" in reason


# --- references and skip logic -------------------------------------------------------------------

@pytest.mark.parametrize("field, value, path", [
    ("relevant", "nope == 'yes'", "relevant"),
    ("constraint", {"expr": ". != nope", "message": text("m")}, "constraint.expr"),
    ("critical", "nope == 'yes'", "critical"),
])
def test_an_unknown_question_in_an_expression_is_reported(field, value, path):
    q = question("q2", score={"yes": 1, "no": 0}, **{field: value})
    assert only_problem(form(question("q1"), q)) == (f"sections[0].questions[1].{path}",
                                                     "unknown question 'nope'")


def test_the_references_of_a_duplicated_question_are_checked_too():
    raw = form(question("q1"), question("q1", relevant="nope == 'yes'"))
    assert ("sections[0].questions[1].relevant", "unknown question 'nope'") in problems(raw)


def test_a_relevance_cycle_of_two_questions_is_reported():
    raw = form(question("a", relevant="b == 'yes'"), question("b", relevant="a == 'yes'"))
    assert only_problem(raw) == ("sections[0].questions[1].relevant",
                                 "relevance cycle: a -> b -> a")


def test_a_longer_relevance_cycle_is_reported():
    raw = form(question("a", relevant="c == 'yes'"), question("b", relevant="a == 'yes'"),
               question("c", relevant="b == 'no' and answered(b)"))
    path, reason = only_problem(raw)
    assert reason == "relevance cycle: a -> c -> b -> a"
    assert path == "sections[0].questions[1].relevant"


def test_a_question_relevant_on_its_own_answer_is_reported():
    raw = form(question("q1", relevant="q1 == 'yes'"))
    assert only_problem(raw) == ("sections[0].questions[0].relevant",
                                 "a question cannot depend on its own answer to be asked")


def test_the_current_answer_cannot_decide_relevance():
    raw = form(question("q1", relevant=". == 'yes'"))
    assert only_problem(raw) == ("sections[0].questions[0].relevant",
                                 "'.' (this answer) cannot decide whether the question is asked")


def test_relevance_on_a_later_question_without_a_cycle_is_fine():
    raw = form(question("a", relevant="b == 'yes'"), question("b"))
    assert check_definition(raw, "t")["sections"][0]["questions"][0]["relevant"] == "b == 'yes'"


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_a_very_long_relevance_chain_is_refused_without_crashing(order):
    count = 1200  # deeper than Python's recursion limit
    qs = [question(f"q{i}", relevant=(f"q{i - 1} == 'yes'" if order == "forward" else
                                      f"q{i + 1} == 'yes'"))
          for i in range(count)]
    qs[0 if order == "forward" else -1].pop("relevant")
    path, reason = only_problem(form(*qs))
    assert path.endswith(".relevant") and "chain of more than 100 questions" in reason


def test_a_form_with_ten_thousand_questions_is_checked():
    """About as many as fit in 1 MiB. (Checking every reference against every question once made
    this take seconds; speed is watched in benchmarks, not asserted in tests.)"""
    qs = [question("q0")] + [question(f"q{i}", relevant=f"q{(i - 1) % 50} == 'yes'")
                             for i in range(1, 10_000)]
    assert len(check_definition(form(*qs), "t")["sections"][0]["questions"]) == 10_000


def _chain(length: int) -> dict:
    return form(question("q0"), *(question(f"q{i}", relevant=f"q{i - 1} == 'yes'")
                                  for i in range(1, length)))


def test_a_relevance_chain_of_100_questions_is_allowed():
    assert len(check_definition(_chain(100), "t")["sections"][0]["questions"]) == 100


def test_a_relevance_chain_of_101_questions_is_refused_at_its_end():
    path, reason = only_problem(_chain(101))
    assert path == "sections[0].questions[100].relevant"


# --- types, choices and scores -------------------------------------------------------------------

def test_an_unknown_type_is_reported():
    path, reason = only_problem(form(question("q1", "range")))
    assert path == "sections[0].questions[0].type"
    assert reason.startswith("unknown type 'range'; use one of yes_no, single_choice")


def test_scoring_a_choice_that_does_not_exist_is_reported():
    q = question("q1", "single_choice", choices=[choice("a"), choice("b")],
                 score={"a": 1, "b": 0, "c": 0.5})
    assert only_problem(form(q)) == ("sections[0].questions[0].score.c",
                                     "scores a choice that does not exist ('c')")


def test_scoring_maybe_on_a_yes_no_question_is_reported():
    q = question("q1", score={"yes": 1, "no": 0, "maybe": 0.5})
    assert only_problem(form(q))[0] == "sections[0].questions[0].score.maybe"


def test_a_choice_without_a_score_is_reported():
    q = question("q1", "single_choice", choices=[choice("a"), choice("b")], score={"a": 1})
    assert only_problem(form(q)) == ("sections[0].questions[0].score", "choice 'b' has no score")


def test_a_score_outside_0_to_1_is_reported():
    q = question("q1", score={"yes": 2, "no": 0})
    assert only_problem(form(q)) == ("sections[0].questions[0].score.yes",
                                     "must be between 0 and 1")


def test_a_choice_question_needs_two_choices():
    q = question("q1", "multi_choice", choices=[choice("a")])
    assert only_problem(form(q)) == ("sections[0].questions[0].choices",
                                     "give at least two choices")


def test_a_score_on_a_text_question_is_reported():
    q = question("q1", "text", score={"yes": 1, "no": 0})
    assert only_problem(form(q)) == ("sections[0].questions[0].score",
                                     "a text question cannot be scored")


def test_critical_on_a_note_is_reported():
    q = question("q1", "note", critical=True)
    assert only_problem(form(q)) == ("sections[0].questions[0].critical",
                                     "a note question cannot be critical")


def test_critical_true_without_a_score_is_reported():
    path, reason = only_problem(form(question("q1", critical=True)))
    assert path == "sections[0].questions[0].critical"
    assert "add a score" in reason


def test_a_required_note_is_reported():
    assert only_problem(form(question("q1", "note", required=True)))[0] == \
        "sections[0].questions[0].required"


def test_a_unit_on_a_yes_no_question_is_reported():
    assert only_problem(form(question("q1", unit="cm")))[0] == "sections[0].questions[0].unit"


def test_a_decimal_question_without_a_unit_is_reported():
    assert only_problem(form(question("q1", "decimal"))) == (
        "sections[0].questions[0].unit",
        'a decimal question needs its unit, e.g. "cm", "%" or "°C"')


@pytest.mark.parametrize("qtype", ["decimal", "integer", "duration_min"])
def test_a_number_question_with_a_unit_keeps_it(qtype):
    loaded = check_definition(form(question("q1", qtype, unit="cm")), "t")
    assert loaded["sections"][0]["questions"][0]["unit"] == "cm"


@pytest.mark.parametrize("qtype", ["integer", "duration_min"])
def test_a_count_or_a_duration_needs_no_unit(qtype):
    assert check_definition(form(question("q1", qtype)), "t")["sections"][0]["questions"][0][
        "unit"] is None


@pytest.mark.parametrize("where", ["section", "question"])
@pytest.mark.parametrize("weight", [0, -1])
def test_a_weight_of_zero_or_less_is_reported(where, weight):
    raw = form()
    target = raw["sections"][0] if where == "section" else raw["sections"][0]["questions"][0]
    target["weight"] = weight
    path = "sections[0].weight" if where == "section" else "sections[0].questions[0].weight"
    assert only_problem(raw) == (path, "must be greater than 0")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "3"])
def test_a_weight_must_be_a_finite_number(value):
    raw = form()
    raw["sections"][0]["weight"] = value
    assert only_problem(raw) == ("sections[0].weight", "must be a (finite) number")


def test_nan_cannot_slip_through_a_range_check(tmp_path):
    refused = refusal(tmp_path, MINIMAL_YAML.replace("score: {yes: 1, no: 0}",
                                                     "score: {yes: .nan, no: 0}"))
    assert refused == [("sections[0].questions[0].score.yes", "must be a (finite) number")]


@pytest.mark.parametrize("band, path, reason", [
    ({"min": 10, "max": 5, "score": 1}, "bands[0]", "min is greater than max"),
    ({"max": 5, "score": 1.5}, "bands[0].score", "must be between 0 and 1"),
    ({"max": "five", "score": 1}, "bands[0].max", "must be a number"),
])
def test_a_bad_band_is_reported(band, path, reason):
    q = question("q1", "integer", score={"bands": [band, {"score": 0}]})
    got_path, got_reason = only_problem(form(q))
    assert got_path == f"sections[0].questions[0].score.{path}"
    assert got_reason.startswith(reason)


# --- expressions ---------------------------------------------------------------------------------

def test_a_bad_expression_is_reported_with_its_position():
    raw = form(question("q1"), question("q2", relevant="q1 = 'yes'"))
    assert only_problem(raw) == ("sections[0].questions[1].relevant",
                                 "bad expression: unexpected character '=' (use '==' to compare) "
                                 "at 3")


def test_an_expression_that_would_run_code_is_a_bad_expression():
    raw = form(question("q1", "text",
                        constraint={"expr": "__import__('os').system('x')", "message": text("m")}))
    assert only_problem(raw) == ("sections[0].questions[0].constraint.expr",
                                 "bad expression: unknown function '__import__' at 0")


def test_a_deeply_nested_expression_is_refused():
    raw = form(question("q1"), question("q2", relevant="(" * 500 + "q1 == 'yes'" + ")" * 500))
    path, reason = only_problem(raw)
    assert path == "sections[0].questions[1].relevant"
    assert reason.startswith("bad expression: nesting deeper than")


def test_an_expression_that_is_not_a_string_is_reported():
    assert only_problem(form(question("q1", relevant=["q1"])))[1] == \
        "must be an expression (a string)"


# --- languages and translations ------------------------------------------------------------------

def _full_form() -> dict:
    q = question("q1", "single_choice", hint=text("Hint"), choices=[choice("a"), choice("b")],
                 constraint={"expr": "answered(.)", "message": text("Message")})
    return form(q, description=text("About"))


@pytest.mark.parametrize("path", [
    "title", "description", "sections[0].title", "sections[0].questions[0].label",
    "sections[0].questions[0].hint", "sections[0].questions[0].choices[1].label",
    "sections[0].questions[0].constraint.message",
])
def test_a_missing_translation_is_reported_for_every_localized_field(path):
    raw = _full_form()
    target = raw
    for step in path.replace("]", "").replace("[", ".").split("."):
        target = target[int(step)] if step.isdigit() else target[step]
    del target["uz"]
    assert only_problem(raw) == (f"{path}.uz", "missing translation")


def test_an_empty_translation_is_missing():
    raw = form()
    raw["title"]["kk"] = "  "
    assert only_problem(raw) == ("title.kk", "missing translation")


def test_a_plain_string_instead_of_translations_is_reported():
    raw = form()
    raw["sections"][0]["questions"][0]["label"] = "Question"
    path, reason = only_problem(raw)
    assert path == "sections[0].questions[0].label"
    assert reason == "give the text in each language: kk, ru, en, uz"


def test_texts_in_a_language_the_form_does_not_declare_are_reported_everywhere():
    raw = form()
    raw["languages"] = ["kk", "ru", "en"]
    reason = "language not declared in the form's languages"
    assert problems(raw) == [("title.uz", reason), ("sections[0].title.uz", reason),
                             ("sections[0].questions[0].label.uz", reason)]


def test_an_extra_language_in_a_label_is_reported():
    raw = form()
    raw["sections"][0]["questions"][0]["label"]["de"] = "Frage"
    assert only_problem(raw) == ("sections[0].questions[0].label.de",
                                 "language not declared in the form's languages")


@pytest.mark.parametrize("languages", [["kk", "de"], [], "kk", ["kk", "kk"], ["KK"]])
def test_languages_must_be_listed_once_from_kk_ru_en_uz(languages):
    raw = form(languages=languages)
    assert ("languages", "list each language once, from kk, ru, en, uz") in problems(raw)


# --- unknown fields, evidence --------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "", "scoring", "sections[0]", "sections[0].questions[0]",
    "sections[0].questions[0].choices[0]", "sections[0].questions[0].constraint",
    "sections[0].questions[1].score", "sections[0].questions[1].score.bands[0]",
    "sections[0].questions[0].evidence",
])
def test_an_unknown_field_is_reported_at_every_level(path):
    raw = _full_form()
    raw["scoring"] = {"critical_cap": 40}
    raw["sections"][0]["questions"][0]["evidence"] = {"photo": "optional"}
    raw["sections"][0]["questions"].append(
        question("n", "integer", score={"bands": [{"score": 1}]}))
    target = raw
    for step in filter(None, path.replace("]", "").replace("[", ".").split(".")):
        target = target[int(step)] if step.isdigit() else target[step]
    target["colour"] = "red"
    assert only_problem(raw) == (f"{path}.colour" if path else "colour", "unknown field")


@pytest.mark.parametrize("rule", ["sometimes", "required_when", 1])
def test_a_bad_evidence_rule_is_reported(rule):
    raw = form(question("q1", evidence={"photo": rule}))
    assert only_problem(raw) == ("sections[0].questions[0].evidence.photo",
                                 "use none, optional, required or required_when:<answer>")


def test_required_when_naming_something_that_is_not_an_answer_is_reported():
    raw = form(question("q1", evidence={"video": "required_when:maybe"}))
    assert only_problem(raw) == (
        "sections[0].questions[0].evidence.video",
        "'required_when' names 'maybe', which is not an answer of this question")


# --- the form's own fields -----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["Service", "a_b", "", "-x", "x" * 65, 5])
def test_a_bad_key_is_reported(key):
    assert only_problem(form(key=key))[0] == "key"


@pytest.mark.parametrize("version", [0, -1, 1.5, "1", True, 2**31])
def test_a_bad_version_is_reported(version):
    assert only_problem(form(version=version)) == ("version",
                                                   "must be a whole number from 1 to 2147483647")


def test_a_critical_cap_outside_0_to_100_is_reported():
    assert only_problem(form(scoring={"critical_cap": 140})) == ("scoring.critical_cap",
                                                                 "must be between 0 and 100")


def test_an_unknown_unanswered_mode_is_reported():
    assert only_problem(form(scoring={"unanswered": "half"}))[0] == "scoring.unanswered"


def test_a_form_without_sections_is_reported():
    assert only_problem(form(sections=[])) == ("sections", "give at least one section")


def test_a_file_that_is_not_a_mapping_is_reported_not_crashed_on(tmp_path):
    assert refusal(tmp_path, "- just\n- a list\n")[0] == ("", "must be a mapping")


# --- every mistake at once -----------------------------------------------------------------------

FIVE_MISTAKES = """\
key: test-form
version: 1
languages: [kk, ru, en, uz]
title: {kk: Т, ru: Т, en: T, uz: T}
sections:
  - id: main
    title: {kk: Б, ru: Р, en: S}
    weight: 0
    questions:
      - id: q1
        type: yes_no
        label: {kk: С, ru: В, en: Q, uz: S}
        score: {yes: 1, no: 0, maybe: 0.5}
      - id: q2
        type: text
        label: {kk: С, ru: В, en: Q, uz: S}
        relevant: "q9 == 'yes'"
      - id: q3
        type: slider
        label: {kk: С, ru: В, en: Q, uz: S}
"""


def test_five_different_mistakes_are_all_reported_at_once_with_their_paths(tmp_path):
    assert sorted(path for path, _ in refusal(tmp_path, FIVE_MISTAKES)) == sorted([
        "sections[0].title.uz",
        "sections[0].weight",
        "sections[0].questions[0].score.maybe",
        "sections[0].questions[1].relevant",
        "sections[0].questions[2].type",
    ])


def test_the_error_message_names_the_file_and_counts_the_problems(tmp_path):
    with pytest.raises(FormInvalid) as info:
        load_text(tmp_path, FIVE_MISTAKES)
    assert str(info.value).startswith("test.v1.yaml: 5 problem(s): ")


# --- hostile files -------------------------------------------------------------------------------

def test_a_billion_laughs_bomb_is_refused_before_expanding(tmp_path):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    [(path, reason)] = refusal(tmp_path, "\n".join(lines) + "\n")
    assert "anchors and aliases are not allowed" in reason


def test_an_anchor_alone_is_refused(tmp_path):
    [(_, reason)] = refusal(tmp_path, MINIMAL_YAML.replace("title: {kk: Т", "title: &t {kk: Т"))
    assert "anchors and aliases are not allowed" in reason


def test_a_10_mb_file_is_refused_at_the_1_mib_limit(tmp_path):
    content = MINIMAL_YAML.encode() + b"# padding\n" * (1024 * 1024)
    assert len(content) > 10 * 1024 * 1024
    assert refusal(tmp_path, content) == [("", f"the file is {len(content)} bytes; "
                                               f"the limit is {MAX_FILE_BYTES}")]
    assert MAX_FILE_BYTES == 1024 * 1024


def test_a_file_just_under_the_limit_is_read(tmp_path):
    content = MINIMAL_YAML.encode()
    content += b"#" * (MAX_FILE_BYTES - len(content) - 1) + b"\n"
    assert len(content) == MAX_FILE_BYTES
    assert load_text(tmp_path, content)["key"] == "test-form"


def test_non_utf8_bytes_are_refused(tmp_path):
    content = MINIMAL_YAML.replace("Вопрос", "Vopros").encode().replace(b"Vopros", b"\xc2\xff")
    [(path, reason)] = refusal(tmp_path, content)
    assert reason.startswith("not UTF-8 (byte ")


def test_a_python_tag_is_refused_and_runs_nothing(tmp_path, capfd):
    hostile = 'key: !!python/object/apply:os.system ["echo hi"]\n'
    [(path, reason)] = refusal(tmp_path, hostile)
    assert "could not determine a constructor for the tag" in reason
    assert "hi" not in capfd.readouterr().out


@pytest.mark.parametrize("content", ["[" * 10000, "[" * 10000 + "]" * 10000,
                                     "a: " + "{b: " * 10000 + "1" + "}" * 10000])
def test_yaml_nested_10000_deep_is_refused_without_crashing(tmp_path, content):
    [(path, reason)] = refusal(tmp_path, content)
    assert "nested deeper than 64 levels" in reason


def test_read_yaml_refuses_oversized_bytes_too():
    with pytest.raises(FormInvalid) as info:
        read_yaml(b" " * (MAX_FILE_BYTES + 1), "big.yaml")
    assert info.value.source == "big.yaml"


# --- any shape of mistake is a problem, never a crash --------------------------------------------

@pytest.mark.parametrize("bad", [["a"], {"a": 1}, [["a"]], 5, None, True])
def test_a_section_id_that_is_not_text_is_a_problem_not_a_crash(bad):
    raw = form(sections=[section("main", question("q1")), section("other", question("q2"))])
    raw["sections"][0]["id"] = bad
    raw["sections"][1]["id"] = bad
    reason = "use letters, digits and '_', starting with a letter"
    assert problems(raw) == [("sections[0].id", reason), ("sections[1].id", reason)]


def test_a_section_id_that_is_a_yaml_list_is_a_problem_not_a_crash(tmp_path):
    assert refusal(tmp_path, MINIMAL_YAML.replace("  - id: main", "  - id: [a]")) == [
        ("sections[0].id", "use letters, digits and '_', starting with a letter")]


def _fuzz_fields() -> list[str]:
    from server.forms.definition import FORM_KEYS, QUESTION_KEYS, SECTION_KEYS
    return sorted(FORM_KEYS | SECTION_KEYS | QUESTION_KEYS
                  | {"expr", "message", "bands", "min", "max", "critical_cap", "unanswered",
                     "photo", "video", "audio", *LANGS, "yes", "no", "a", "b"})


_SCALARS = (st.none() | st.booleans() | st.integers(-3, 2**40) | st.floats()
            | st.text(max_size=6)
            | st.sampled_from(["yes", "no", "q1", "a", "main", "kk", "yes_no", "integer",
                               "single_choice", "multi_choice", "required_when:a", ".",
                               "q1 == 'yes'", "answered(.)", "required", "zero"]))
_ANYTHING = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(_fuzz_fields()) | st.text(max_size=3) | st.integers(0, 3),
                      inner, max_size=4),
    max_leaves=12)


def _paths(value, prefix=()):
    """Every place in a parsed form where a value sits: (path of keys and indexes)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replaced(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    return [_replaced(item, rest, new) if i == head else item for i, item in enumerate(value)]


def _rich_form() -> dict:
    raw = _full_form()
    raw["scoring"] = {"critical_cap": 40, "unanswered": "zero"}
    raw["sections"][0]["questions"] += [
        question("n", "integer", unit="min", score={"bands": [{"max": 5, "score": 1}]},
                 relevant="q1 == 'a'", critical=". > 3"),
        question("y", score={"yes": 1, "no": 0}, critical=True,
                 evidence={"photo": "required_when:no"}, not_applicable=True)]
    return raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_value_anywhere_in_a_form_is_a_problem_or_fine_never_a_crash(data):
    """Hypothesis puts arbitrary YAML-like values (lists, mappings, numbers, NaN, text) at one
    to three places of a valid form: the loader returns a definition or raises FormInvalid."""
    raw = _rich_form()
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(raw))))
        raw = _replaced(raw, path, data.draw(_ANYTHING))
    try:
        check_definition(raw, "fuzz.yaml")
    except FormInvalid as exc:
        assert exc.problems and all(isinstance(p.reason, str) for p in exc.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_yaml_document_is_a_problem_or_fine_never_a_crash(data):
    """The same through YAML text: what read_yaml accepts, the checker never crashes on."""
    raw = _rich_form()
    path = data.draw(st.sampled_from(list(_paths(raw))))
    raw = _replaced(raw, path, data.draw(_ANYTHING))
    document = yaml.safe_dump(raw, allow_unicode=True)
    try:
        check_definition(read_yaml(document.encode("utf-8"), "fuzz.yaml"), "fuzz.yaml")
    except FormInvalid as exc:
        assert exc.problems


def test_a_file_read_again_is_parsed_once_and_each_reader_gets_its_own_copy(monkeypatch):
    raw = yaml.safe_dump(form()).encode()
    expected = yaml.safe_load(raw)
    first = read_yaml(raw, "f.yaml")
    first["sections"][0]["questions"][0]["id"] = "CHANGED"   # a caller changing what it got

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again")
    monkeypatch.setattr(yaml, "load", no_parsing)
    again = read_yaml(raw, "f.yaml")
    assert again == expected and again is not first
    assert again["sections"][0]["questions"][0]["id"] == "q1"
    with pytest.raises(AssertionError, match="parsed again"):  # other bytes: parsed, not kept
        read_yaml(raw + b"\n# another file\n", "g.yaml")
