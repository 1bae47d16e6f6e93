"""Reading visits: one visit in the user's scope, the visit list, and what the API shows of a
visit (answers with evidence, flags, lost points, history, every revision with its corrections).
"""
from __future__ import annotations

import uuid as uuid_module
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from ..audit.models import AuditEvent
from ..auth.models import User
from ..auth.scope import scoped
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..periods import parse_period
from ..review.models import AnswerCorrection
from ..scoring.rules import Answer as ScoredAnswer
from ..scoring.rules import VisitScore, score_visit
from .filters import select_visits
from .models import Visit
from .submission import Intake, compiled

def get_visit(*, user: User, visit_uuid: uuid_module.UUID) -> Visit:
    """A visit the user may see; 404 otherwise (another inspector's visit included)."""
    query = scoped(sa.select(Visit).where(Visit.uuid == visit_uuid), user,
                   inspector_column=Visit.inspector_id, office_column=Visit.office_id)
    visit = db.session.scalar(query)
    if visit is None:
        raise NotFound(f"No visit {visit_uuid}.")
    return visit


def list_visits_query(*, user: User, office: str | None = None, inspector: str | None = None,
                      status: str | None = None, period: str | None = None,
                      flag: str | None = None) -> sa.Select:
    """Visits the user may see, newest first, filtered (the shared visit filters, lenient:
    an unknown office, inspector or flag matches nothing, as this list always did)."""
    span = None
    if period is not None:
        try:
            span = parse_period(period, current_app.config["TIMEZONE"])
        except ValueError as exc:
            raise ValidationFailed(str(exc), errors={"query": {"period": [str(exc)]}}) from exc
    return select_visits(user=user, strict=False, filters={
        "office": office, "inspector": inspector, "status": status, "period": span,
        "flag": flag, "sort": "submitted_at", "order": "desc"})


def _history(events) -> list[dict]:
    return [{"at": e.at, "action": e.action, "actor": e.actor_login,
             "revision": (e.payload or {}).get("revision"), "detail": e.payload or {}}
            for e in events]


def _revision(*, revision: int, received_at: datetime, score: float | None, body: dict,
              corrected: dict[str, dict]) -> dict:
    """One submitted revision as received: its answers from the stored body, with the
    corrections made on that revision."""
    return {"revision": revision, "received_at": received_at, "score": score, "answers": [
        {"question_id": item["question"], "value": item.get("value"),
         "not_applicable": item.get("not_applicable", False), "note": item.get("note", ""),
         "evidence": list(dict.fromkeys(item.get("evidence", []))),
         "corrected": corrected.get(item["question"])}
        for item in body.get("answers", [])]}


def revisions_view(visit: Visit) -> list[dict]:
    """Every revision of a visit, oldest first (the last is the current one)."""
    return _revisions(visit, _corrections(visit))


def _revisions(visit: Visit, corrections: dict[int, dict[str, dict]]) -> list[dict]:
    return [_revision(revision=s.revision, received_at=s.received_at, score=s.score,
                      body=s.body, corrected=corrections.get(s.revision, {}))
            for s in visit.submissions]


def _corrections(visit: Visit) -> dict[int, dict[str, dict]]:
    """The newest correction of each question, per revision."""
    found: dict[int, dict[str, dict]] = {}
    for c in db.session.scalars(sa.select(AnswerCorrection).where(
            AnswerCorrection.visit_id == visit.id).order_by(AnswerCorrection.id)):
        found.setdefault(c.revision, {})[c.question_id] = {
            "value": c.new_value, "not_applicable": c.new_not_applicable, "reason": c.reason,
            "by": c.corrected_by.login, "at": c.created_at.isoformat(),
            "score_before": c.score_before, "score_after": c.score_after}
    return found


def intake_view(visit: Visit, intake: Intake, data: dict) -> dict:
    """The answer to a new submission, from what is in hand: no second trip to the database."""
    version = visit.form_version
    return {
        "uuid": visit.uuid, "status": visit.status, "assignment": visit.assignment_id,
        "office": visit.office.code, "inspector": visit.inspector.login,
        "form_key": version.form.key, "form_version": version.version,
        "started_at": visit.started_at, "ended_at": visit.ended_at,
        "position_start": visit.position_start, "position_end": visit.position_end,
        "score": visit.score, "score_uncapped": visit.score_uncapped,
        "section_scores": visit.section_scores, "critical": visit.critical,
        "flags": [{"kind": f.kind, "severity": f.severity, "detail": f.detail}
                  for f in intake.flags],
        "answers": [{"question_id": item["question"], "value": item.get("value"),
                     "not_applicable": item.get("not_applicable", False),
                     "note": item.get("note", ""),
                     "evidence": list(dict.fromkeys(item.get("evidence", []))),
                     "corrected": None}
                    for item in data["answers"]],
        "lost_points": _lost(intake.result),
        "revision": visit.revision, "submitted_at": visit.submitted_at,
        "history": _history([intake.event] if intake.event is not None else []),
        "revisions": [_revision(revision=visit.revision, received_at=intake.received_at,
                                score=visit.score, body=intake.body, corrected={})],
    }


def _lost(result: VisitScore) -> list[dict]:
    return [{"question": lost.question, "section": lost.section, "fraction": lost.fraction,
             "points": round(lost.points, 2)} for lost in result.lost]


def visit_view(visit: Visit) -> dict:
    """Everything the API shows of one visit: answers with evidence, flags, lost points, history."""
    evidence: dict[str, list[str]] = {}
    for link in visit.evidence:
        evidence.setdefault(link.question_id, []).append(link.media.sha256)
    form = compiled(visit.form_version)
    answers = {a.question_id: ScoredAnswer(a.value, a.not_applicable) for a in visit.answers}
    corrections = _corrections(visit)
    # Corrections belong to the revision they were made on: an amendment is answered afresh.
    corrected = corrections.get(visit.revision, {})
    for qid, c in corrected.items():
        answers[qid] = ScoredAnswer(c["value"], c["not_applicable"])
    result = score_visit(form, answers)
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "visit", AuditEvent.object_id == str(visit.uuid))
        .order_by(AuditEvent.seq)).all()
    return {
        "uuid": visit.uuid, "status": visit.status, "assignment": visit.assignment_id,
        "office": visit.office.code, "inspector": visit.inspector.login,
        "form_key": visit.form_version.form.key, "form_version": visit.form_version.version,
        "started_at": visit.started_at, "ended_at": visit.ended_at,
        "position_start": visit.position_start, "position_end": visit.position_end,
        "score": visit.score, "score_uncapped": visit.score_uncapped,
        "section_scores": visit.section_scores, "critical": visit.critical,
        "flags": visit.flags,
        "answers": [{"question_id": a.question_id, "value": a.value,
                     "not_applicable": a.not_applicable, "note": a.note,
                     "evidence": evidence.get(a.question_id, []),
                     "corrected": corrected.get(a.question_id)} for a in visit.answers],
        "lost_points": _lost(result),
        "revision": visit.revision, "submitted_at": visit.submitted_at,
        "history": _history(events),
        "revisions": _revisions(visit, corrections),
    }
