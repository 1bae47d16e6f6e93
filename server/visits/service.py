"""Visit intake and amendment. Functions flush; the caller commits.

A visit arrives once: its client-generated UUID is the idempotency key. The same UUID with a body
the server already has returns the stored visit; with another body it is a conflict.

The steps live beside this module: submission.py checks a body against its form version,
storing.py writes the rows, reading.py presents visits.
"""
from __future__ import annotations

import hashlib
import json
import uuid as uuid_module

import sqlalchemy as sa
from flask import current_app

from ..alerts.hooks import visit_received
from ..assignments.models import Assignment, AssignmentStatus
from ..audit.service import append_event
from ..auth.models import User
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..forms.models import FormVersion, SurveyForm
from ..offices.models import Office
from ..offices.service import get_office
from .models import Visit, VisitStatus
from .schemas import SHAPE_ERRORS
from .storing import _store
from .submission import Intake, _check, _refuse_malformed, compiled


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
