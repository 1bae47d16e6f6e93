"""One submission checked against the form version it was made with (compiled once per
process): answers validated, score computed, evidence resolved and the evidence checks run.
Nothing is written here: storing.py writes what `_check` accepted.

A body whose fields did not all load is refused with its answers' problems listed too
(`_refuse_malformed`), so the inspector sees everything at once.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..assignments.models import Assignment
from ..audit.models import AuditEvent
from ..auth.models import User
from ..db import utcnow
from ..errors import ValidationFailed
from ..extensions import db
from ..forms.models import FormVersion, SurveyForm
from ..media.models import MediaObject, Upload
from ..scoring.rules import Answer as ScoredAnswer
from ..scoring.rules import CompiledForm, VisitScore, score_visit
from .checks import FlagSpec, VisitFacts, run_checks
from .models import Visit, VisitEvidence
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
