"""Demo visits: plausible answers to a form version, drawn from a seeded random generator.

Each office gets a "quality" between 0 and 1; better offices give better answers more often, so
the demo ranking has a spread. Answers respect skip logic and constraints like the real app.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from .scoring.rules import Answer, CompiledForm, answer_fraction

NUMBER_TYPES = ("integer", "decimal", "duration_min")


def _options(question: dict) -> list:
    qtype = question["type"]
    if qtype == "yes_no":
        return ["yes", "no"]
    if qtype == "single_choice":
        return [c["id"] for c in question["choices"]]
    if qtype == "multi_choice":
        ids = [c["id"] for c in question["choices"]]
        return [[i] for i in ids] + [[i for i in ids if i != "none"]]
    if qtype in NUMBER_TYPES:
        values = {1, 3, 5, 8, 12, 20, 25, 35, 45, 60, 90, 100, 120}
        for band in (question.get("score") or {}).get("bands", []):
            values |= {band[end] for end in ("min", "max") if band[end] is not None}
        return sorted(int(v) if float(v).is_integer() else v for v in values if v >= 0)
    return []


def random_answers(form: CompiledForm, rng: random.Random, quality: float) -> list[dict]:
    """Answers for every asked question, better ones with probability `quality`."""
    answers: dict[str, Answer] = {}
    for qid in form.order:
        q = form.questions[qid]
        if q["type"] in ("note", "photo", "video", "audio", "geopoint"):
            continue
        if q["type"] == "time":
            answers[qid] = Answer(f"{rng.randint(9, 17):02d}:{rng.choice(['00', '15', '30'])}")
            continue
        if q["type"] == "text":
            continue
        constraint = form.constraint.get(qid)
        values = {k: a.value for k, a in answers.items()}
        scored = []
        for value in _options(q):
            if constraint is not None and not constraint.holds(values, current=value):
                continue
            fraction = answer_fraction(q, value)
            scored.append((fraction if fraction is not None else 0.5, value))
        if not scored:
            continue
        scored.sort(key=lambda pair: -pair[0])
        good = rng.random() < quality
        pool = scored[: max(1, len(scored) // 3)] if good else scored
        answers[qid] = Answer(rng.choice(pool)[1])
    while True:  # drop what skip logic hides
        relevance = form.relevance(answers)
        hidden = [qid for qid in answers if not relevance[qid]]
        if not hidden:
            break
        for qid in hidden:
            del answers[qid]
    return [{"question": qid, "value": a.value} for qid, a in answers.items()]


def visit_body(*, form: CompiledForm, assignment_id: int, started: datetime, minutes: int,
               position: tuple[float, float], rng: random.Random, quality: float) -> dict:
    """A whole visit submission as the inspector app would send it."""
    lat, lon = position
    return {
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "assignment": assignment_id,
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=minutes)).isoformat(),
        "position_start": {"lat": lat, "lon": lon, "accuracy": 15},
        "position_end": {"lat": lat + 0.0001, "lon": lon, "accuracy": 20},
        "answers": random_answers(form, rng, quality),
        "device": {"app_version": "demo", "platform": "demo"},
    }
