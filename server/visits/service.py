"""Visit intake, amendment and reading. Functions flush; the caller commits.

A visit arrives once: its client-generated UUID is the idempotency key. The same UUID with a body
the server already has returns the stored visit; with another body it is a conflict.
"""
from __future__ import annotations

import hashlib
import json
import uuid as uuid_module
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..alerts.hooks import visit_received
from ..assignments.models import Assignment, AssignmentStatus
from ..audit.models import AuditEvent
from ..audit.service import append_event
from ..auth.models import User
from ..auth.scope import scoped
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..forms.models import FormVersion, SurveyForm
from ..media.models import MediaObject, Upload
from ..offices.models import Office
from ..offices.service import get_office
from ..periods import parse_period
from ..review.models import AnswerCorrection
from ..scoring.rules import Answer as ScoredAnswer
from ..scoring.rules import CompiledForm, VisitScore, score_visit
from .checks import FlagSpec, VisitFacts, run_checks
from .filters import select_visits
from .models import (Answer, Flag, Visit, VisitEvidence, VisitFinding, VisitSectionScore,
                     VisitStatus, VisitSubmission)
from .schemas import SHAPE_ERRORS
from .validation import check_loaded, load_answers, shown

_COMPILED: OrderedDict[tuple[int, str], CompiledForm] = OrderedDict()
_COMPILED_MAX = 64


def compiled(version: FormVersion) -> CompiledForm:
    """The version's definition with expressions parsed, cached per process (versions are immutable)."""
    key = (version.id, version.sha256)  # the definition column is deferred: not read on a hit
    form = _COMPILED.get(key)
    if form is None:
        form = CompiledForm(version.definition)
        _COMPILED[key] = form
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    _COMPILED.move_to_end(key)
    return form


def body_sha256(body: dict) -> str:
    """Identity of a request body: SHA-256 of its canonical JSON (key order does not matter).

    It runs before validation, so the body may hold lone surrogates ("\\ud800" is valid JSON):
    "surrogatepass" hashes them instead of raising; valid text hashes exactly as plain UTF-8.
    """
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def get_by_uuid(visit_uuid: uuid_module.UUID) -> Visit | None:
    return db.session.scalar(sa.select(Visit).where(Visit.uuid == visit_uuid))


def replay(*, visit: Visit, inspector: User, sha: str) -> Visit:
    """The stored visit if this body was already received for it; else 409."""
    if visit.inspector_id == inspector.id and sha in {s.body_sha256 for s in visit.submissions}:
        return visit
    raise Conflict("A visit with this UUID was already received with a different body. "
                   "Generate a new UUID for a new visit.", code="idempotency_conflict")


def _target(*, inspector: User, data: dict) -> tuple[Assignment | None, Office, FormVersion]:
    if data.get("assignment") is not None:
        # Locked until commit: a cancellation racing this visit waits, then sees it done.
        assignment = db.session.scalar(sa.select(Assignment).where(
            Assignment.id == data["assignment"], Assignment.inspector_id == inspector.id)
            .with_for_update(of=Assignment))
        if assignment is None:
            raise ValidationFailed("There is no such assignment of yours.",
                                   code="unknown_assignment",
                                   errors={"assignment": ["No such assignment."]})
        if assignment.status == AssignmentStatus.CANCELLED.value:
            raise Conflict("The assignment was cancelled; the visit cannot be filed on it.",
                           code="assignment_cancelled")
        if assignment.status == AssignmentStatus.DONE.value:
            raise Conflict("The assignment already has a visit.", code="assignment_done")
        return assignment, assignment.office, assignment.form_version
    if not current_app.config["ALLOW_UNPLANNED_VISITS"]:
        raise ValidationFailed("Visits need an assignment here.", code="assignment_required",
                               errors={"assignment": ["Required."]})
    office = get_office(data["office"])
    if office is None or not office.active:
        raise ValidationFailed("Unknown or inactive office.", errors={"office": ["Unknown office."]})
    if office in inspector.conflict_offices:
        raise ValidationFailed("You must not visit this office (conflict list).",
                               code="conflict_of_interest",
                               errors={"office": ["On your conflict list."]})
    version = db.session.scalar(sa.select(FormVersion).join(FormVersion.form).where(
        SurveyForm.key == data["form_key"], FormVersion.version == data["form_version"]))
    if version is None:
        raise ValidationFailed("That form version does not exist.", code="unknown_form_version",
                               errors={"form_version": ["Unknown form version."]})
    if version.retired_at is not None:
        raise Conflict(f"Version {version.version} of {data['form_key']!r} is retired; use the "
                       "current one.", code="form_version_retired")
    return None, office, version


def _form_of(*, inspector: User, data: dict) -> FormVersion | None:
    """The form version a malformed submission was made with, if it says so clearly enough."""
    if isinstance(data.get("assignment"), int):
        return db.session.scalar(sa.select(FormVersion).join(
            Assignment, Assignment.form_version_id == FormVersion.id).where(
            Assignment.id == data["assignment"], Assignment.inspector_id == inspector.id))
    if data.get("assignment") is None and {"form_key", "form_version"} <= set(data):
        return db.session.scalar(sa.select(FormVersion).join(FormVersion.form).where(
            SurveyForm.key == data["form_key"], FormVersion.version == data["form_version"]))
    return None


def _refuse_malformed(*, inspector: User, data: dict, shape: dict, lang: str,
                      version: FormVersion | None) -> None:
    """Refuse a body whose fields did not all load, with its answers' problems too (checked
    against `version` or the form the body names), so that everything is listed at once."""
    errors = dict(shape)
    if "answers" not in errors and isinstance(data.get("answers"), list):
        version = version or _form_of(inspector=inspector, data=data)
        if version is not None:
            loaded, answer_errors = load_answers(data["answers"])
            _, answer_errors = check_loaded(compiled(version), loaded, lang=lang,
                                            errors=answer_errors)
            if answer_errors:
                errors["answers"] = answer_errors
    count = sum(len(v) if k == "answers" else 1 for k, v in errors.items())
    raise ValidationFailed(f"The visit has {count} problem(s); nothing was stored.",
                           errors=errors)


def _time_errors(data: dict) -> dict[str, list[str]]:
    # A clock running ahead is a flag (checks.py), not a refusal: the times are recorded facts
    # the inspector cannot correct, and a refused visit is a lost one.
    if data["ended_at"] < data["started_at"]:
        return {"ended_at": ["Before started_at."]}
    return {}


def _evidence(*, inspector: User, answers_in: list[dict]
              ) -> tuple[dict[str, list[MediaObject]], dict[str, list[str]]]:
    """Media per question; only media this inspector uploaded may be referenced."""
    wanted = {sha for item in answers_in for sha in item.get("evidence", [])}
    if not wanted:
        return {}, {}
    media = {m.sha256: m for m in db.session.scalars(
        sa.select(MediaObject).where(MediaObject.sha256.in_(wanted)))}
    owned = set(db.session.scalars(sa.select(Upload.media_id).where(
        Upload.owner_id == inspector.id, Upload.completed_at.is_not(None),
        Upload.media_id.in_([m.id for m in media.values()]))))
    found: dict[str, list[MediaObject]] = {}
    errors: dict[str, list[str]] = {}
    for item in answers_in:
        for sha in dict.fromkeys(item.get("evidence", [])):
            m = media.get(sha)
            if m is None or m.id not in owned:
                errors.setdefault(shown(item["question"])[:64], []).append(
                    f"Unknown evidence {sha[:12]}…: finish its upload first.")
            else:
                found.setdefault(item["question"], []).append(m)
    return found, errors


def _reused(visit_uuid, evidence: dict[str, list[MediaObject]]) -> dict[str, list[str]]:
    ids = {m.id: m.sha256 for items in evidence.values() for m in items}
    if not ids:
        return {}
    rows = db.session.execute(sa.select(VisitEvidence.media_id, Visit.uuid).join(Visit).where(
        VisitEvidence.media_id.in_(ids), Visit.uuid != visit_uuid).distinct()).all()
    out: dict[str, list[str]] = {}
    for media_id, other in rows:
        out.setdefault(ids[media_id], []).append(str(other))
    return out


def _position(value: dict | None) -> dict | None:
    if value is None:
        return None
    return {**value, "at": value["at"].isoformat() if value.get("at") else None}


@dataclass
class Intake:
    """A checked submission, ready to store: what _check found and computed."""
    answers: dict[str, ScoredAnswer]
    evidence: dict[str, list[MediaObject]]
    result: VisitScore
    flags: list[FlagSpec]
    event: AuditEvent | None = None
    received_at: datetime | None = None  # when its body was stored in visit_submissions
    body: dict | None = None


def _check(*, visit: Visit, form: CompiledForm, inspector: User, data: dict, lang: str,
           window) -> Intake:
    """Validate a submission against the pinned form, score it and run the evidence checks.
    data["answers"] becomes the answers as loaded (each shape checked on its own)."""
    errors: dict = _time_errors(data)
    data["answers"], shape_errors = load_answers(data["answers"])
    answers, answer_errors = check_loaded(form, data["answers"], lang=lang, errors=shape_errors)
    evidence, evidence_errors = _evidence(inspector=inspector, answers_in=data["answers"])
    for qid, messages in evidence_errors.items():
        answer_errors.setdefault(qid, []).extend(messages)
    if answer_errors:
        errors["answers"] = answer_errors
    if errors:
        count = sum(len(v) for v in answer_errors.values()) + len(errors) - bool(answer_errors)
        raise ValidationFailed(f"The visit has {count} problem(s); nothing was stored.",
                               errors=errors)
    result = score_visit(form, answers)
    office = visit.office
    facts = VisitFacts(
        office_lat=office.lat, office_lon=office.lon, started_at=data["started_at"],
        ended_at=data["ended_at"], window=window, position_start=data.get("position_start"),
        position_end=data.get("position_end"), answers=answers, evidence=evidence,
        reused=_reused(visit.uuid, evidence), critical=result.critical)
    flags = run_checks(form, facts, max_distance_m=current_app.config["MAX_DISTANCE_M"],
                       timezone=current_app.config["TIMEZONE"])
    received = utcnow()
    ahead = data["ended_at"] - received
    if ahead > timedelta(minutes=current_app.config["CLOCK_SKEW_MINUTES"]):
        flags.append(FlagSpec("clock_ahead", "warning", {
            "ended_at": data["ended_at"].isoformat(), "received_at": received.isoformat(),
            "ahead_minutes": round(ahead.total_seconds() / 60),
            "device_clock_offset_ms": (data.get("device") or {}).get("clock_offset_ms")}))
    return Intake(answers=answers, evidence=evidence, result=result, flags=flags)


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


def submit_visit(*, inspector: User, data: dict, body: dict, lang: str
                 ) -> tuple[Visit, Intake | None]:
    """Receive a finished visit; (visit, its intake) when new, (stored visit, None) for a replay."""
    shape = data.pop(SHAPE_ERRORS, None)
    sha = body_sha256(body)
    existing = get_by_uuid(data["uuid"]) if "uuid" in data else None
    if shape:  # 422, unless it is exactly a body already stored (stricter rules since)
        if existing is None or existing.inspector_id != inspector.id \
                or sha not in {s.body_sha256 for s in existing.submissions}:
            _refuse_malformed(inspector=inspector, data=data, shape=shape, lang=lang,
                              version=None)
    if existing is not None:
        return replay(visit=existing, inspector=inspector, sha=sha), None
    try:
        assignment, office, version = _target(inspector=inspector, data=data)
    except Conflict as exc:
        # A twin of this request may have taken the assignment while we waited for its lock.
        twin = get_by_uuid(data["uuid"]) if exc.code == "assignment_done" else None
        if twin is None:
            raise
        return replay(visit=twin, inspector=inspector, sha=sha), None
    visit = Visit(uuid=data["uuid"], assignment=assignment, office=office, form_version=version,
                  inspector=inspector, status=VisitStatus.SUBMITTED.value, revision=1)
    window = (assignment.window_start, assignment.window_end) if assignment else None
    intake = _check(visit=visit, form=compiled(version), inspector=inspector, data=data,
                    lang=lang, window=window)
    _store(visit=visit, intake=intake, data=data, body=body, sha=sha)
    if assignment is not None:
        done = db.session.execute(
            sa.update(Assignment).where(Assignment.id == assignment.id,
                                        Assignment.status == AssignmentStatus.OPEN.value)
            .values(status=AssignmentStatus.DONE.value)
            .execution_options(synchronize_session=False)).rowcount
        if done != 1:  # cancelled (or given its visit) since we read it
            raise Conflict("The assignment is no longer open.", code="assignment_cancelled")
    intake.event = append_event("visit_submitted", actor=inspector, object_type="visit", object_id=visit.uuid,
                 payload={"revision": 1, "office": office.code,
                          "form": f"{version.form.key}/v{version.version}",
                          "score": visit.score, "critical": visit.critical,
                          "flags": [f.kind for f in intake.flags], "body_sha256": sha})
    visit_received(visit)  # critical findings raise alerts once this commits (server/alerts)
    return visit, intake


def amend_visit(*, inspector: User, visit_uuid: uuid_module.UUID, data: dict, body: dict,
                lang: str) -> Visit:
    """A new revision of a returned visit; the previous one stays in the history."""
    visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == visit_uuid,
                                                     Visit.inspector_id == inspector.id))
    if visit is None:
        raise NotFound(f"No visit {visit_uuid}.")
    shape = data.pop(SHAPE_ERRORS, None)
    sha = body_sha256(body)
    if visit.submissions and visit.submissions[-1].body_sha256 == sha:
        return visit  # a replay of the last amendment
    if shape:
        _refuse_malformed(inspector=inspector, data=data, shape=shape, lang=lang,
                          version=visit.form_version)
    if data["uuid"] != visit.uuid:
        raise ValidationFailed("The body's uuid is not the visit's.",
                               errors={"uuid": ["Must be the visit's UUID."]})
    if visit.status != VisitStatus.RETURNED.value:
        raise Conflict(f"The visit is {visit.status}; only a returned visit can be amended.",
                       code="visit_not_returned")
    if data.get("assignment") != visit.assignment_id:
        raise ValidationFailed("An amendment keeps the visit's assignment.",
                               errors={"assignment": ["Must stay the same."]})
    assignment = visit.assignment
    window = (assignment.window_start, assignment.window_end) if assignment else None
    intake = _check(visit=visit, form=compiled(visit.form_version), inspector=inspector,
                    data=data, lang=lang, window=window)
    visit.revision += 1
    visit.status = VisitStatus.SUBMITTED.value
    _store(visit=visit, intake=intake, data=data, body=body, sha=sha)
    db.session.expire(visit, ["submissions"])
    append_event("visit_amended", actor=inspector, object_type="visit", object_id=visit.uuid,
                 payload={"revision": visit.revision, "score": visit.score,
                          "critical": visit.critical, "flags": [f.kind for f in intake.flags],
                          "body_sha256": sha})
    return visit


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
