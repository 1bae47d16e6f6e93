"""Writing a checked visit: its answers, evidence links, flags, section scores, critical
findings and the submission body. Functions flush; the caller commits.

Intake is the hot path: each kind of row goes in as one statement (on PostgreSQL one statement
with arrays), never an ORM object per answer.
"""
from __future__ import annotations

import json

import sqlalchemy as sa

from ..db import utcnow
from ..extensions import db
from ..scoring.rules import VisitScore
from .models import (Answer, Flag, Visit, VisitEvidence, VisitFinding, VisitSectionScore,
                     VisitSubmission)
from .submission import Intake

def _position(value: dict | None) -> dict | None:
    if value is None:
        return None
    return {**value, "at": value["at"].isoformat() if value.get("at") else None}


def _store(*, visit: Visit, intake: Intake, data: dict, body: dict, sha: str) -> None:
    """Write the visit and its rows. Answers, evidence and flags go in as one multi-row insert
    each: intake is the hot path, and ORM objects per answer cost more than the database."""
    result = intake.result
    visit.started_at, visit.ended_at = data["started_at"], data["ended_at"]
    visit.position_start = _position(data.get("position_start"))
    visit.position_end = _position(data.get("position_end"))
    visit.device = data.get("device") or {}
    visit.score, visit.score_uncapped = result.score, result.uncapped
    visit.section_scores, visit.critical = result.sections, list(result.critical)
    if visit.id is None:
        db.session.add(visit)
    else:  # an amendment: the current rows make way; the old body stays in visit_submissions
        for model in (Answer, VisitEvidence, Flag, VisitSectionScore, VisitFinding):
            db.session.execute(sa.delete(model).where(model.visit_id == visit.id))
        db.session.expire(visit, ["answers", "evidence", "flags"])
    db.session.flush()
    if data["answers"] and _postgresql():
        # One statement with arrays, one round trip: an executemany is a pipeline of one
        # prepared statement per row (three waits and 45 sends), a multi-row VALUES a fresh
        # compile per visit (docs/benchmarks.md). value as json.dumps text cast to jsonb is what
        # the JSONB type binds (None is JSON null); ORDINALITY keeps the ids in the given order.
        db.session.execute(_ANSWERS_FROM_ARRAYS, {
            "visit_id": visit.id,
            "questions": [item["question"] for item in data["answers"]],
            "values": [json.dumps(item.get("value")) for item in data["answers"]],
            "nas": [item.get("not_applicable", False) for item in data["answers"]],
            "notes": [item.get("note", "") for item in data["answers"]]})
    elif data["answers"]:
        db.session.execute(sa.insert(Answer), [
            {"visit_id": visit.id, "question_id": item["question"], "value": item.get("value"),
             "not_applicable": item.get("not_applicable", False), "note": item.get("note", "")}
            for item in data["answers"]])
    links = [{"visit_id": visit.id, "question_id": qid, "media_id": m.id}
             for qid, items in intake.evidence.items() for m in dict.fromkeys(items)]
    if links:
        db.session.execute(sa.insert(VisitEvidence), links)
    if intake.flags:
        db.session.execute(sa.insert(Flag), [
            {"visit_id": visit.id, "kind": f.kind, "severity": f.severity, "detail": f.detail}
            for f in intake.flags])
    store_results(visit_id=visit.id, result=result)
    intake.received_at, intake.body = utcnow(), body
    # One row: a plain execute (a one-row list would be an executemany, a pipeline on psycopg).
    db.session.execute(sa.insert(VisitSubmission), {
        "visit_id": visit.id, "revision": visit.revision, "body": body, "body_sha256": sha,
        "score": result.score, "received_at": intake.received_at})

_ANSWERS_FROM_ARRAYS = sa.text(
    "INSERT INTO answers (visit_id, question_id, value, not_applicable, note) "
    "SELECT :visit_id, q, CAST(v AS jsonb), na, n FROM unnest(CAST(:questions AS varchar[]), "
    "CAST(:values AS text[]), CAST(:nas AS boolean[]), CAST(:notes AS text[])) "
    "WITH ORDINALITY AS t(q, v, na, n, i) ORDER BY i")
_SECTIONS_FROM_ARRAYS = sa.text(
    "INSERT INTO visit_section_scores (visit_id, section_id, score) "
    "SELECT :visit_id, s, v FROM unnest(CAST(:sections AS varchar[]), "
    "CAST(:scores AS double precision[])) AS t(s, v)")


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def store_results(*, visit_id: int, result: VisitScore) -> None:
    """Section scores and critical findings as rows, for the reports' SQL (after deleting old ones)."""
    sections = [{"visit_id": visit_id, "section_id": sid, "score": value}
                for sid, value in result.sections.items() if value is not None]
    if sections and _postgresql():  # one round trip, as for the answers (_store)
        db.session.execute(_SECTIONS_FROM_ARRAYS, {
            "visit_id": visit_id, "sections": [row["section_id"] for row in sections],
            "scores": [float(row["score"]) for row in sections]})
    elif sections:
        db.session.execute(sa.insert(VisitSectionScore), sections)
    if result.critical:
        db.session.execute(sa.insert(VisitFinding), [
            {"visit_id": visit_id, "question_id": qid} for qid in result.critical])
