"""Planning visits. Functions flush; the caller commits."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app

from ..audit.service import append_event
from ..auth.models import Role, User
from ..auth.scope import by_office_and_inspector, office_in_scope, scoped
from ..auth.service import get_user
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..forms.models import FormVersion, SurveyForm
from ..offices.models import Office
from ..offices.service import csv_shape, decode_csv, get_office
from ..periods import half_year_of
from .models import Assignment, AssignmentStatus
from .schemas import AssignmentIn

MAX_ID = 2_147_483_647
CSV_COLUMNS = ("office", "inspector", "form_key", "form_version", "window_start", "window_end")


def _form_version(key: str, number: int) -> FormVersion | None:
    return db.session.scalar(sa.select(FormVersion).join(FormVersion.form).where(
        SurveyForm.key == key, FormVersion.version == number))


def _problems(data: dict, actor: User) -> tuple[dict, dict[str, list[str]], str]:
    """Resolve references and check the rules; (objects, errors, problem code)."""
    errors: dict[str, list[str]] = {}
    code = "validation_failed"
    office = get_office(data["office"])
    if office is None:
        errors["office"] = [f"Unknown office {data['office']!r}."]
    elif not office.active:
        errors["office"] = [f"Office {office.code!r} is inactive."]
    elif not office_in_scope(actor, office):
        errors["office"] = [f"Office {office.code!r} is outside your regions."]
    inspector = get_user(data["inspector"])
    if inspector is None or inspector.role != Role.INSPECTOR:
        errors["inspector"] = [f"No inspector with login {data['inspector']!r}."]
    elif not inspector.active:
        errors["inspector"] = [f"Inspector {inspector.login!r} is deactivated."]
    elif office is not None and office in inspector.conflict_offices:
        errors["office"] = [f"Inspector {inspector.login!r} must not visit {office.code!r}: "
                            "it is on their conflict list (they are known there)."]
        code = "conflict_of_interest"
    version = _form_version(data["form_key"], data["form_version"])
    if version is None:
        errors["form_version"] = [f"Form {data['form_key']!r} has no published version "
                                  f"{data['form_version']}."]
    elif version.retired_at is not None:
        errors["form_version"] = [f"Version {version.version} of {data['form_key']!r} is retired."]
    return {"office": office, "inspector": inspector, "version": version}, errors, code


def _repeat_warning(*, office: Office, inspector: User, start: datetime) -> list[str]:
    """Warn (never refuse) when the same inspector already has this office in the period."""
    period = half_year_of(start, current_app.config["TIMEZONE"])
    earlier = db.session.scalar(sa.select(sa.func.count(Assignment.id)).where(
        Assignment.office_id == office.id, Assignment.inspector_id == inspector.id,
        Assignment.status != AssignmentStatus.CANCELLED.value,
        Assignment.window_start < period.end, Assignment.window_end > period.start))
    return ["repeat_visit"] if earlier else []


def _create(data: dict, resolved: dict, actor: User) -> Assignment:
    warnings = _repeat_warning(office=resolved["office"], inspector=resolved["inspector"],
                               start=data["window_start"])
    assignment = Assignment(office=resolved["office"], inspector=resolved["inspector"],
                            form_version=resolved["version"], window_start=data["window_start"],
                            window_end=data["window_end"], warnings=warnings,
                            created_by_id=actor.id)
    db.session.add(assignment)
    db.session.flush()
    append_event("assignment_created", actor=actor, object_type="assignment",
                 object_id=assignment.id,
                 payload={"office": resolved["office"].code,
                          "inspector": resolved["inspector"].login,
                          "form": f"{data['form_key']}/v{data['form_version']}",
                          "window_start": data["window_start"].isoformat(),
                          "window_end": data["window_end"].isoformat(), "warnings": warnings})
    return assignment


def create_assignment(*, data: dict, actor: User) -> Assignment:
    """Plan one visit; refused with every reason at once (conflict list, inactive office, ...)."""
    resolved, errors, code = _problems(data, actor)
    if errors:
        raise ValidationFailed("The assignment cannot be made; see errors.", code=code,
                               errors=errors)
    return _create(data, resolved, actor)


def create_assignments_from_csv(*, raw: bytes, actor: User) -> list[Assignment]:
    """Plan many visits from CSV (columns: office, inspector, form_key, form_version,
    window_start, window_end): all rows or none, every bad row listed by line."""
    text = decode_csv(raw)
    _, delimiter = csv_shape(text)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [(c or "").strip().lower() for c in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in columns]
    if missing or set(columns) - set(CSV_COLUMNS):
        raise ValidationFailed(f"The header must be: {', '.join(CSV_COLUMNS)}.",
                               code="csv_bad_header",
                               errors={"missing_columns": missing,
                                       "unknown_columns": sorted(set(columns) - set(CSV_COLUMNS))})
    reader.fieldnames = columns
    schema, rows, errors = AssignmentIn(), [], {}
    try:
        for record in reader:
            line = reader.line_num
            if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
                continue
            if record.get(None):  # DictReader's bin for fields past the header's
                errors[f"line {line}"] = [f"{len(columns) + len(record[None])} fields; the header "
                                          f"has {len(columns)} (a comma inside a value needs "
                                          "quotes)."]
                continue
            values = {k: (record.get(k) or "").strip() for k in CSV_COLUMNS}
            version = values["form_version"]
            try:
                # ASCII digits only: "²" or "٣" pass str.isdigit() but int() refuses them.
                data = schema.load({**values, "form_version": int(version)
                                    if version.isascii() and version.isdigit() else version})
            except ma.ValidationError as exc:
                errors[f"line {line}"] = [f"{k}: {'; '.join(map(str, v))}"
                                          for k, v in exc.messages.items()]
                continue
            resolved, problems, _ = _problems(data, actor)
            if problems:
                errors[f"line {line}"] = [f"{k}: {m}" for k, ms in problems.items() for m in ms]
            else:
                rows.append((data, resolved))
    except csv.Error as exc:
        raise ValidationFailed(f"Line {reader.line_num}: {exc}.", code="csv_malformed") from exc
    if errors:
        raise ValidationFailed(f"{len(errors)} rows are invalid; nothing was created.",
                               code="csv_invalid_rows", errors=errors)
    if not rows:
        raise ValidationFailed("The file has no assignments.", code="csv_empty")
    return [_create(data, resolved, actor) for data, resolved in rows]


def cancel_assignment(*, assignment: Assignment, reason: str, actor: User) -> Assignment:
    """Cancel an open assignment; a done one stays done (its visit exists)."""
    # Lock the row and read its status afresh: a visit committing meanwhile has made it done,
    # and cancelling on the status read before would overwrite that.
    status = db.session.scalar(sa.select(Assignment.status).where(Assignment.id == assignment.id)
                               .with_for_update())
    if status != AssignmentStatus.OPEN.value:
        raise Conflict(f"The assignment is {status}; only open ones can be cancelled.",
                       code="assignment_not_open")
    assignment.status = AssignmentStatus.CANCELLED.value
    assignment.cancelled_at = utcnow()
    assignment.cancel_reason = reason
    db.session.flush()
    append_event("assignment_cancelled", actor=actor, object_type="assignment",
                 object_id=assignment.id, payload={"reason": reason})
    return assignment


def list_assignments_query(*, user: User, status: str | None = None, office: str | None = None,
                           inspector: str | None = None, window_from: datetime | None = None,
                           window_to: datetime | None = None) -> sa.Select:
    """Assignments the user may see, newest window first, filtered."""
    query = scoped(sa.select(Assignment), user, inspector_column=Assignment.inspector_id,
                   office_column=Assignment.office_id)
    now = utcnow()
    if status == AssignmentStatus.EXPIRED.value:
        query = query.where(Assignment.status == AssignmentStatus.OPEN.value,
                            Assignment.window_end < now)
    elif status == AssignmentStatus.OPEN.value:
        query = query.where(Assignment.status == status, Assignment.window_end >= now)
    elif status is not None:
        query = query.where(Assignment.status == status)
    query = by_office_and_inspector(query, office_column=Assignment.office_id,
                                    inspector_column=Assignment.inspector_id, office=office,
                                    inspector=inspector)
    if window_from is not None:
        query = query.where(Assignment.window_end > window_from)
    if window_to is not None:
        query = query.where(Assignment.window_start < window_to)
    return query.order_by(Assignment.window_start.desc(), Assignment.id.desc())


def get_assignment(*, user: User, assignment_id: int) -> Assignment:
    """One assignment the user may see; 404 otherwise (also for other inspectors' ones)."""
    if not 0 < assignment_id <= MAX_ID:
        raise NotFound(f"No assignment {assignment_id}.")
    query = scoped(sa.select(Assignment).where(Assignment.id == assignment_id), user,
                   inspector_column=Assignment.inspector_id, office_column=Assignment.office_id)
    assignment = db.session.scalar(query)
    if assignment is None:
        raise NotFound(f"No assignment {assignment_id}.")
    return assignment
