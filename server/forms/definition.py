"""Check a parsed form whole: every mistake is reported at once, with its path.

The result is the normalised definition (every optional field present, defaults filled in) that
is stored with the version and served by the API. Reading the file is loader.py's job; nothing
here touches Flask, the database or YAML.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..config import LANGUAGES
from . import expressions
from .expressions import ExpressionError

MAX_VERSION = 2**31 - 1      # form_versions.version is a 32-bit integer column
MAX_RELEVANCE_DEPTH = 100    # questions asked only if ... only if ...: the scoring engine recurses
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

CHOICE_TYPES = ("single_choice", "multi_choice")
NUMBER_TYPES = ("integer", "decimal", "duration_min")
MEDIA_TYPES = ("photo", "video", "audio")
SCORED_TYPES = ("yes_no", *CHOICE_TYPES, *NUMBER_TYPES)
TYPES = (*SCORED_TYPES, "time", "text", *MEDIA_TYPES, "geopoint", "note")
EVIDENCE_RULES = ("none", "optional", "required")
UNANSWERED_MODES = ("omit", "zero")

FORM_KEYS = {"key", "version", "languages", "title", "description", "notes", "scoring",
             "min_duration_min", "sections"}
SECTION_KEYS = {"id", "title", "weight", "questions"}
QUESTION_KEYS = {"id", "type", "label", "hint", "required", "not_applicable", "relevant",
                 "constraint", "evidence", "score", "weight", "critical", "unit", "choices"}


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class FormInvalid(ValueError):
    """A form file that cannot be published; `problems` lists every mistake found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s): "
                         + "; ".join(str(p) for p in problems[:5]))


def _is_number(value: Any) -> bool:
    """A finite int or float: YAML's .nan and .inf would pass every range check (NaN compares
    false) and are not JSON."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and (isinstance(value, int) or math.isfinite(value)))


class _Checker:
    """Walks a parsed form, collecting problems and building the normalised definition."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.languages: list[str] = list(LANGUAGES)

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping")
            return {}
        for key in value:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else str(key), "unknown field")
        return value

    def localized(self, value: Any, path: str, *, required: bool = True) -> dict | None:
        if value is None:
            if required:
                self.fail(path, "missing")
            return None
        if isinstance(value, str):
            self.fail(path, f"give the text in each language: {', '.join(self.languages)}")
            return None
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping of language to text")
            return None
        for lang in self.languages:
            text = value.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.fail(f"{path}.{lang}", "missing translation")
        for lang in value:
            if lang not in self.languages:
                self.fail(f"{path}.{lang}", "language not declared in the form's languages")
        return {lang: value.get(lang) for lang in self.languages}

    def number(self, value: Any, path: str, *, positive: bool = False, low=None, high=None):
        if not _is_number(value):
            self.fail(path, "must be a (finite) number")
            return None
        if positive and value <= 0:
            self.fail(path, "must be greater than 0")
        if low is not None and value < low or high is not None and value > high:
            self.fail(path, f"must be between {low} and {high}")
        return value

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if value in ("allowed", "not_allowed"):  # the DESIGN sketch's spelling
            return value == "allowed"
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return default
        return value

    def expression(self, value: Any, path: str) -> expressions.Expression | None:
        if not isinstance(value, str):
            self.fail(path, "must be an expression (a string)")
            return None
        try:
            return expressions.parse(value)
        except ExpressionError as exc:
            self.fail(path, f"bad expression: {exc}")
            return None


def check_definition(data: Any, source: str) -> dict:
    """Check a parsed form whole; the normalised definition, or FormInvalid listing every problem."""
    c = _Checker()
    data = c.mapping(data, "", FORM_KEYS)
    form: dict[str, Any] = {}
    key = data.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        c.fail("key", "use 1-64 lower-case letters, digits and '-'")
    form["key"] = key
    version = data.get("version")
    if (not isinstance(version, int) or isinstance(version, bool)
            or not 1 <= version <= MAX_VERSION):
        c.fail("version", f"must be a whole number from 1 to {MAX_VERSION}")
    form["version"] = version
    languages = data.get("languages")
    if (not isinstance(languages, list) or not languages
            or any(lang not in LANGUAGES for lang in languages)
            or len(set(languages)) != len(languages)):
        c.fail("languages", f"list each language once, from {', '.join(LANGUAGES)}")
    else:
        c.languages = list(languages)
    form["languages"] = c.languages
    form["title"] = c.localized(data.get("title"), "title")
    form["description"] = c.localized(data.get("description"), "description", required=False)
    notes = data.get("notes", "")
    if not isinstance(notes, str):
        c.fail("notes", "must be text")
    form["notes"] = notes if isinstance(notes, str) else ""
    scoring = c.mapping(data.get("scoring", {}), "scoring", {"critical_cap", "unanswered"})
    form["scoring"] = {
        "critical_cap": c.number(scoring.get("critical_cap", 40), "scoring.critical_cap",
                                 low=0, high=100),
        "unanswered": scoring.get("unanswered", "omit"),
    }
    if form["scoring"]["unanswered"] not in UNANSWERED_MODES:
        c.fail("scoring.unanswered", f"must be one of {', '.join(UNANSWERED_MODES)}")
    min_duration = data.get("min_duration_min")
    form["min_duration_min"] = (None if min_duration is None else
                                c.number(min_duration, "min_duration_min", low=0, high=1440))

    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        c.fail("sections", "give at least one section")
        sections = []
    form["sections"] = []
    section_ids: set[str] = set()
    questions: dict[str, tuple[str, dict]] = {}  # id -> (path, normalised question)
    # Every question's expressions, duplicates and bad ids included: their references are
    # checked too. (question id, path, {field: expression})
    parsed: list[tuple[Any, str, dict[str, expressions.Expression]]] = []
    for s_index, raw_section in enumerate(sections):
        s_path = f"sections[{s_index}]"
        raw_section = c.mapping(raw_section, s_path, SECTION_KEYS)
        section = {"id": raw_section.get("id"),
                   "title": c.localized(raw_section.get("title"), f"{s_path}.title"),
                   "weight": c.number(raw_section.get("weight", 1), f"{s_path}.weight",
                                      positive=True),
                   "questions": []}
        if not isinstance(section["id"], str) or not ID_RE.match(section["id"]):
            c.fail(f"{s_path}.id", "use letters, digits and '_', starting with a letter")
        elif section["id"] in section_ids:
            c.fail(f"{s_path}.id", f"duplicate section id {section['id']!r}")
        else:  # only a valid id: a list or mapping (`- id: [a]`) cannot go into a set
            section_ids.add(section["id"])
        raw_questions = raw_section.get("questions")
        if not isinstance(raw_questions, list) or not raw_questions:
            c.fail(f"{s_path}.questions", "give at least one question")
            raw_questions = []
        for q_index, raw_question in enumerate(raw_questions):
            q_path = f"{s_path}.questions[{q_index}]"
            question, exprs = _check_question(c, raw_question, q_path)
            qid = question["id"]
            parsed.append((qid, q_path, exprs))
            if isinstance(qid, str) and ID_RE.match(qid):
                if qid in questions:
                    c.fail(f"{q_path}.id", f"duplicate question id {qid!r} "
                                           f"(first at {questions[qid][0]})")
                else:
                    questions[qid] = (q_path, question)
            section["questions"].append(question)
        form["sections"].append(section)

    _check_references(c, questions, parsed)
    if c.problems:
        raise FormInvalid(source, c.problems)
    return form


def _check_question(c: _Checker, raw: Any, path: str) -> tuple[dict, dict]:
    raw = c.mapping(raw, path, QUESTION_KEYS)
    # A normalised definition written back as YAML has empty optional fields: same as absent.
    raw = {k: v for k, v in raw.items() if v is not None and v != [] and v != {}}
    qid, qtype = raw.get("id"), raw.get("type")
    if not isinstance(qid, str) or not ID_RE.match(qid):
        c.fail(f"{path}.id", "use letters, digits and '_', starting with a letter (max 64)")
    if qtype not in TYPES:
        c.fail(f"{path}.type", f"unknown type {qtype!r}; use one of {', '.join(TYPES)}")
    q: dict[str, Any] = {
        "id": qid, "type": qtype,
        "label": c.localized(raw.get("label"), f"{path}.label"),
        "hint": c.localized(raw.get("hint"), f"{path}.hint", required=False),
        "required": c.boolean(raw.get("required"), f"{path}.required", False),
        "not_applicable": c.boolean(raw.get("not_applicable"), f"{path}.not_applicable", False),
        "choices": [], "score": None, "weight": 1, "critical": None, "evidence": {},
        "relevant": None, "constraint": None, "unit": None,
    }
    exprs: dict[str, expressions.Expression] = {}
    if qtype == "note" and q["required"]:
        c.fail(f"{path}.required", "a note has no answer to require")

    choice_ids = _check_choices(c, raw, q, path)
    if "unit" in raw:
        if qtype not in NUMBER_TYPES or not isinstance(raw["unit"], str) or len(raw["unit"]) > 16:
            c.fail(f"{path}.unit", "a short text, for integer, decimal and duration_min only")
        else:
            q["unit"] = raw["unit"]
    elif qtype == "decimal":  # a measurement means nothing without its unit (cm, mm, %, °C)
        c.fail(f"{path}.unit", "a decimal question needs its unit, e.g. \"cm\", \"%\" or \"°C\"")
    if "relevant" in raw:
        expr = c.expression(raw["relevant"], f"{path}.relevant")
        if expr is not None:
            exprs["relevant"], q["relevant"] = expr, expr.source
    if "constraint" in raw:
        constraint = c.mapping(raw["constraint"], f"{path}.constraint", {"expr", "message"})
        expr = c.expression(constraint.get("expr"), f"{path}.constraint.expr")
        message = c.localized(constraint.get("message"), f"{path}.constraint.message")
        if expr is not None:
            exprs["constraint"] = expr
            q["constraint"] = {"expr": expr.source, "message": message}
    if "score" in raw:
        q["score"] = _check_score(c, raw["score"], qtype, choice_ids, f"{path}.score")
    if "weight" in raw:
        q["weight"] = c.number(raw["weight"], f"{path}.weight", positive=True)
    if "critical" in raw:
        critical = raw["critical"]
        if qtype not in SCORED_TYPES:
            c.fail(f"{path}.critical", f"a {qtype} question cannot be critical")
        elif critical is True:
            if q["score"] is None:
                c.fail(f"{path}.critical", "'true' means 'when the answer scores 0': add a score")
            q["critical"] = True
        elif critical is not False:
            expr = c.expression(critical, f"{path}.critical")
            if expr is not None:
                exprs["critical"], q["critical"] = expr, expr.source
    q["evidence"] = _check_evidence(c, raw.get("evidence"), qtype, choice_ids,
                                    f"{path}.evidence")
    return q, exprs


def _check_choices(c: _Checker, raw: dict, q: dict, path: str) -> list[str]:
    if q["type"] == "yes_no":
        return ["yes", "no"]
    if q["type"] not in CHOICE_TYPES:
        if "choices" in raw:
            c.fail(f"{path}.choices", f"a {q['type']} question has no choices")
        return []
    choices = raw.get("choices")
    if not isinstance(choices, list) or len(choices) < 2:
        c.fail(f"{path}.choices", "give at least two choices")
        return []
    ids: list[str] = []
    for i, choice in enumerate(choices):
        choice = c.mapping(choice, f"{path}.choices[{i}]", {"id", "label"})
        cid = choice.get("id")
        if not isinstance(cid, str) or not ID_RE.match(cid):
            c.fail(f"{path}.choices[{i}].id", "use letters, digits and '_', starting with a letter")
        elif cid in ids:
            c.fail(f"{path}.choices[{i}].id", f"duplicate choice {cid!r}")
        ids.append(cid)
        q["choices"].append({"id": cid,
                             "label": c.localized(choice.get("label"),
                                                  f"{path}.choices[{i}].label")})
    return ids


def _check_score(c: _Checker, score: Any, qtype: Any, choice_ids: list[str], path: str):
    if qtype not in SCORED_TYPES:
        c.fail(path, f"a {qtype} question cannot be scored")
        return None
    if not isinstance(score, dict):
        c.fail(path, "must be a mapping")
        return None
    if qtype in NUMBER_TYPES:
        c.mapping(score, path, {"bands"})
        bands = score.get("bands")
        if not isinstance(bands, list) or not bands:
            c.fail(f"{path}.bands", "give at least one band")
            return None
        out = []
        for i, band in enumerate(bands):
            band = c.mapping(band, f"{path}.bands[{i}]", {"min", "max", "score"})
            item = {"min": band.get("min"), "max": band.get("max"),
                    "score": c.number(band.get("score"), f"{path}.bands[{i}].score", low=0, high=1)}
            for end in ("min", "max"):
                if item[end] is not None and not _is_number(item[end]):
                    c.fail(f"{path}.bands[{i}].{end}", "must be a number")
                    item[end] = None
            if item["min"] is not None and item["max"] is not None and item["min"] > item["max"]:
                c.fail(f"{path}.bands[{i}]", "min is greater than max")
            out.append(item)
        return {"bands": out}
    out = {}
    for answer, fraction in score.items():
        if answer not in choice_ids:
            c.fail(f"{path}.{answer}", f"scores a choice that does not exist ({answer!r})")
            continue
        out[answer] = c.number(fraction, f"{path}.{answer}", low=0, high=1)
    for answer in choice_ids:
        if answer not in score:
            c.fail(path, f"choice {answer!r} has no score")
    return out


def _check_evidence(c: _Checker, evidence: Any, qtype: Any, choice_ids: list[str],
                    path: str) -> dict:
    if evidence is None:
        return {}
    evidence = c.mapping(evidence, path, set(MEDIA_TYPES))
    out = {}
    for kind, rule in evidence.items():
        if kind not in MEDIA_TYPES:
            continue
        if isinstance(rule, str) and rule.startswith("required_when:"):
            answer = rule.split(":", 1)[1]
            if answer not in choice_ids:
                c.fail(f"{path}.{kind}", f"'required_when' names {answer!r}, which is not an "
                                         "answer of this question")
                continue
        elif rule not in EVIDENCE_RULES:
            c.fail(f"{path}.{kind}", "use none, optional, required or required_when:<answer>")
            continue
        if rule != "none":
            out[kind] = rule
    return out


def _check_references(c: _Checker, questions: dict[str, tuple[str, dict]],
                      parsed: list[tuple[Any, str, dict[str, expressions.Expression]]]) -> None:
    """Every referenced question exists; `.` only where there is an answer; no relevance cycles;
    relevance chains no longer than MAX_RELEVANCE_DEPTH."""
    known = set(questions)  # once: a set per expression would make big forms quadratic
    for qid, q_path, exprs in parsed:
        for field, expr in exprs.items():
            where = f"{q_path}.{'constraint.expr' if field == 'constraint' else field}"
            for ref in sorted(expr.references - known):
                c.fail(where, f"unknown question {ref!r}")
            if field == "relevant" and expr.uses_current:
                c.fail(where, "'.' (this answer) cannot decide whether the question is asked")
            if field == "relevant" and isinstance(qid, str) and qid in expr.references:
                c.fail(where, "a question cannot depend on its own answer to be asked")
    # The relevance graph of the questions with a valid, unique id (the first of duplicates).
    graph = {qid: sorted((exprs["relevant"].references & known) - {qid})
             for qid, q_path, exprs in parsed
             if "relevant" in exprs and isinstance(qid, str)
             and questions.get(qid, ("",))[0] == q_path}
    # Depth-first, with an explicit stack: a hostile file may chain thousands of questions.
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    depth: dict[str, int] = {}  # done: the longest chain of relevance starting here
    for root in graph:
        if root in state:
            continue
        state[root] = 1
        trail, stack = [root], [(root, iter(graph[root]))]
        while stack:
            node, edges = stack[-1]
            nxt = next(edges, None)
            if nxt is None:
                stack.pop()
                trail.pop()
                state[node] = 2
                depth[node] = 1 + max((depth.get(n, 0) for n in graph.get(node, [])), default=0)
                continue
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [nxt]
                c.fail(f"{questions[node][0]}.relevant", f"relevance cycle: {' -> '.join(cycle)}")
            elif state.get(nxt) is None:
                state[nxt] = 1
                trail.append(nxt)
                stack.append((nxt, iter(graph.get(nxt, []))))
    deepest = next((qid for qid, chain in depth.items() if chain > MAX_RELEVANCE_DEPTH), None)
    if deepest is not None:  # one report: every question along the chain would repeat it
        c.fail(f"{questions[deepest][0]}.relevant",
               f"starts a chain of more than {MAX_RELEVANCE_DEPTH} questions, each asked "
               "depending on the next; simplify the skip logic")
