"""Visit payloads for the default checklist (or any form): best, worst or chosen answers."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from server.scoring.rules import Answer, CompiledForm, answer_fraction

NUMBER_TYPES = ("integer", "decimal", "duration_min")


def _candidates(question: dict) -> list:
    if question["type"] == "yes_no":
        return ["yes", "no"]
    if question["type"] in ("single_choice",):
        return [c["id"] for c in question["choices"]]
    if question["type"] == "multi_choice":
        ids = [c["id"] for c in question["choices"]]
        return [[i] for i in ids] + [ids] + [[i for i in ids if i != left] for left in ids]
    if question["type"] in NUMBER_TYPES:
        values = {0, 1, 5, 10, 20, 50, 100}
        for band in (question.get("score") or {}).get("bands", []):
            for end in ("min", "max"):
                if band[end] is not None:
                    values |= {band[end], band[end] + 1, band[end] - 1}
            if band["min"] is not None and band["max"] is not None:
                values.add((band["min"] + band["max"]) / 2)
        values = sorted(v for v in values if v >= 0)
        return [int(v) if question["type"] != "decimal" and float(v).is_integer() else v
                for v in values if question["type"] == "decimal" or float(v).is_integer()]
    return []


def _pick(form: CompiledForm, qid: str, answers: dict, best: bool):
    question = form.questions[qid]
    qtype = question["type"]
    if qtype == "time":
        return "10:30"
    if qtype == "text":
        return "Всё спокойно. Everything calm."
    if qtype == "geopoint":
        return {"lat": 51.1283, "lon": 71.4304, "accuracy": 12}
    if qtype in ("note", "photo", "video", "audio"):
        return None
    options = []
    constraint = form.constraint.get(qid)
    values = {k: a.value for k, a in answers.items()}
    for value in _candidates(question):
        if constraint is not None and not constraint.holds(values, current=value):
            continue
        fraction = answer_fraction(question, value)
        options.append((fraction if fraction is not None else 0.5, value))
    options.sort(key=lambda o: o[0], reverse=best)
    return options[0][1]


def answers_for(form: CompiledForm, *, best: bool = True, overrides: dict | None = None) -> list[dict]:
    """An answer to every question that is asked, best (or worst) by the form's scores."""
    overrides = overrides or {}
    answers: dict[str, Answer] = {}
    for qid in form.order:
        value = overrides[qid] if qid in overrides else _pick(form, qid, answers, best)
        answers[qid] = Answer(value)
    while True:  # drop what skip logic hides, until nothing changes
        relevance = form.relevance(answers)
        hidden = [qid for qid in answers if not relevance[qid]]
        if not hidden:
            break
        for qid in hidden:
            del answers[qid]
    order = list(form.questions)
    return [{"question": qid, "value": answers[qid].value}
            for qid in order if qid in answers and form.questions[qid]["type"] != "note"
            and (answers[qid].value is not None or form.questions[qid]["type"] in
                 ("photo", "video", "audio"))]


def visit_payload(form: CompiledForm, *, assignment: int | None, best: bool = True,
                  overrides: dict | None = None, started: datetime | None = None,
                  minutes: int = 35, **extra) -> dict:
    started = started or datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    body = {
        "uuid": str(uuid.uuid4()),
        "assignment": assignment,
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=minutes)).isoformat(),
        "position_start": {"lat": 51.1283, "lon": 71.4304, "accuracy": 15},
        "position_end": {"lat": 51.1284, "lon": 71.4305, "accuracy": 20},
        "answers": answers_for(form, best=best, overrides=overrides),
        "device": {"app_version": "test", "platform": "pytest"},
    }
    body.update(extra)
    return body
