"""Check a visit's answers against the exact form version it was made with.

Every problem is collected, keyed by question id, so the app can show them all at once. Only
what the inspector can fix is refused; what a reviewer can judge becomes a flag (checks.py).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from marshmallow import ValidationError

from ..scoring.rules import Answer, CompiledForm
from ..validators import plain_text

TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d\Z")
MEDIA_TYPES = ("photo", "video", "audio")
MAX_TEXT = 5000


def _is_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # a JSON integer beyond any float (1e400 written out): not a number here
        return False


def shown(text: str) -> str:
    """Text from the request as it may be echoed in an error: lone surrogates and control
    characters escaped (the problem body is UTF-8, which cannot carry a lone surrogate)."""
    return text if text.isprintable() else json.dumps(text)[1:-1]


def value_problem(question: dict, value: Any) -> str | None:
    """Why `value` is not a valid answer to `question`, or None if it is."""
    qtype = question["type"]
    choices = [c["id"] for c in question.get("choices", [])]
    if qtype in MEDIA_TYPES:
        return None if value is None else "Attach media as evidence; the value must be null."
    if value is None:
        return None
    if qtype == "note":
        return "A note takes no answer."
    if qtype == "yes_no":
        return None if value in ("yes", "no") else "Answer 'yes' or 'no'."
    if qtype == "single_choice":
        return None if isinstance(value, str) and value in choices else \
            f"Choose one of: {', '.join(choices)}."
    if qtype == "multi_choice":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "Give a list of choice ids."
        unknown = [v for v in value if v not in choices]
        if unknown:
            return f"Unknown choice(s): {', '.join(map(shown, unknown[:5]))[:200]}."
        if len(set(value)) != len(value):
            return "A choice is selected twice."
        return None
    if qtype == "integer":
        return None if _is_number(value) and float(value).is_integer() and abs(value) < 2**53 \
            else "Give a whole number."
    if qtype == "decimal":
        return None if _is_number(value) else "Give a number."
    if qtype == "duration_min":
        return None if _is_number(value) and value >= 0 else "Give minutes, a number ≥ 0."
    if qtype == "time":
        return None if isinstance(value, str) and TIME_RE.match(value) else "Give a time as HH:MM."
    if qtype == "text":
        if not isinstance(value, str):
            return "Give text."
        if len(value) > MAX_TEXT:
            return f"Longer than {MAX_TEXT} characters."
        try:
            plain_text(value)
        except ValidationError as exc:
            return exc.messages[0]
        return None
    if qtype == "geopoint":
        if not isinstance(value, dict) or set(value) - {"lat", "lon", "accuracy"}:
            return "Give {lat, lon, accuracy}."
        if not (_is_number(value.get("lat")) and -90 <= value["lat"] <= 90
                and _is_number(value.get("lon")) and -180 <= value["lon"] <= 180):
            return "lat must be in [-90, 90] and lon in [-180, 180]."
        if value.get("accuracy") is not None and not (_is_number(value["accuracy"])
                                                      and value["accuracy"] >= 0):
            return "accuracy must be a number of metres ≥ 0."
        return None
    return f"Unknown question type {qtype!r}."


def _flat(messages, path: str = "") -> list[str]:
    """marshmallow's nested messages as "field.index: message" lines."""
    if isinstance(messages, dict):
        return [line for key, inner in messages.items()
                for line in _flat(inner, f"{path}.{key}" if path else str(key))]
    return [f"{path}: {m}" if path else str(m) for m in messages]


def answer_key(item: Any, index: int) -> str:
    """Where an answer's errors go: its question id, or its index in `answers` ("3") when the
    id itself is missing or not a possible id. Question ids start with a letter, so the two
    never collide."""
    qid = item.get("question") if isinstance(item, dict) else None
    if isinstance(qid, str) and 1 <= len(qid) <= 64 and qid.isprintable():
        return qid
    return str(index)


ANSWER_FIELDS = frozenset({"question", "value", "not_applicable", "note", "evidence"})
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")  # schemas.SHA256's pattern
MAX_NOTE, MAX_EVIDENCE = 2000, 20  # schemas.AnswerIn's limits


def _plain(text: str) -> bool:
    if text.isprintable():  # no control character, no lone surrogate: the common case, in C
        return True
    try:
        plain_text(text)
    except ValidationError:
        return False
    return True


def _loaded_as_is(item: dict) -> dict | None:
    """What AnswerIn.load gives for an answer that is plainly valid as sent (the usual case),
    without marshmallow's per-field machinery; None for anything else, which then goes through
    AnswerIn itself so its messages stay exactly marshmallow's. Every check here is one AnswerIn
    makes: a `None` here never accepts what AnswerIn refuses, it only sends it the long way."""
    if not item.keys() <= ANSWER_FIELDS:
        return None
    qid, na = item.get("question"), item.get("not_applicable", False)
    note, evidence = item.get("note", ""), item.get("evidence", [])
    if not (type(qid) is str and 1 <= len(qid) <= 64 and qid.isprintable()
            and type(na) is bool and type(note) is str and len(note) <= MAX_NOTE
            and type(evidence) is list and len(evidence) <= MAX_EVIDENCE
            and all(type(sha) is str and SHA256_RE.match(sha) for sha in evidence)
            and (not note or _plain(note))):
        return None
    return {"question": qid, "value": item.get("value"), "not_applicable": na, "note": note,
            "evidence": list(evidence)}


def load_answers(answers_in: list) -> tuple[list[dict], dict[str, list[str]]]:
    """Each answer's shape, one by one: (the answers that loaded, shape errors keyed by
    answer_key), so one malformed answer hides neither the others nor its own question."""
    from .schemas import AnswerIn  # schemas.py imports from here

    schema, loaded, errors = None, [], {}
    for index, item in enumerate(answers_in):
        if not isinstance(item, dict):
            errors.setdefault(answer_key(item, index), []).append(
                "Give each answer as an object: {question, value, not_applicable, note, "
                "evidence}.")
            continue
        quick = _loaded_as_is(item)
        if quick is not None:
            loaded.append(quick)
            continue
        schema = schema or AnswerIn()
        try:
            loaded.append(schema.load(item))
        except ValidationError as exc:
            errors.setdefault(answer_key(item, index), []).extend(_flat(exc.messages))
    return loaded, errors


def check_answers(form: CompiledForm, answers_in: list, *, lang: str
                  ) -> tuple[dict[str, Answer], dict[str, list[str]]]:
    """(valid answers by question id, errors by question id) for one submission, its answers
    as sent: shape (load_answers) and meaning (check_loaded) at once."""
    loaded, errors = load_answers(answers_in)
    return check_loaded(form, loaded, lang=lang, errors=errors)


def check_loaded(form: CompiledForm, answers_in: list[dict], *, lang: str,
                 errors: dict[str, list[str]] | None = None
                 ) -> tuple[dict[str, Answer], dict[str, list[str]]]:
    """check_answers for answers load_answers gave, merged into its shape `errors`: an answer
    whose shape was wrong counts as given (no "Required."), and what depends on it waits."""
    errors = {key: list(messages) for key, messages in (errors or {}).items()}
    answers: dict[str, Answer] = {}

    def fail(qid: str, message: str) -> None:
        errors.setdefault(shown(str(qid))[:64], []).append(message)

    for item in answers_in:
        qid = item["question"]
        question = form.questions.get(qid)
        if question is None:
            fail(qid, "Unknown question.")
            continue
        if qid in answers or qid in errors:
            fail(qid, "Answered twice.")
            continue
        value, na = item.get("value"), item.get("not_applicable", False)
        if na:
            if not question.get("not_applicable"):
                fail(qid, "This question cannot be answered 'not applicable'.")
                continue
            if value is not None:
                fail(qid, "Give a value or not_applicable, not both.")
                continue
        else:
            problem = value_problem(question, value)
            if problem:
                fail(qid, problem)
                continue
        answers[qid] = Answer(value=value, not_applicable=na)

    relevance = form.relevance(answers)
    values = form.values(answers, relevance)
    # Whether a question is asked cannot be judged while an answer it depends on is invalid:
    # report the invalid answer only, not a cascade of "not asked" / "required".
    undecided = set(errors)
    for qid in form.order:
        expr = form.relevant.get(qid)
        if expr is not None and expr.references & undecided:
            undecided.add(qid)
    for qid, question in form.questions.items():
        answer = answers.get(qid)
        given = answer is not None and (answer.value is not None or answer.not_applicable)
        if qid in undecided:
            continue
        if not relevance[qid]:
            if given:
                fail(qid, "Not asked: the condition for this question is false; leave it out.")
            continue
        constraint = form.constraint.get(qid)
        # Nor can a constraint that reads an invalid (or undecided) answer: judge it once fixed.
        if constraint is not None and given and not answer.not_applicable \
                and not constraint.references & undecided \
                and not constraint.holds(values, current=answer.value):
            message = question["constraint"]["message"] or {}
            fail(qid, message.get(lang) or message.get("en") or next(iter(message.values()),
                                                                        "Invalid answer."))
        # "" and [] are no answer, as answered() says in the form's expressions (and ODK).
        filled = given and (answer.not_applicable or answer.value not in ("", []))
        if question.get("required") and question["type"] not in MEDIA_TYPES \
                and question["type"] != "note" and not filled and qid not in errors:
            fail(qid, "Required.")
    return answers, errors
