"""/api/v1/assignments: supervisors plan visits; inspectors see their own."""
from __future__ import annotations

from functools import wraps

import sqlalchemy as sa
from flask import request

from ..auth.access import ANY_ROLE, require_role, require_user
from ..auth.models import Role
from ..db import paginate, unit_of_work
from ..extensions import db
from ..idempotency import idempotent, remember
from ..rest import Blueprint, page_args, page_of, request_body
from . import service
from .models import Assignment
from .schemas import AssignmentIn, AssignmentOut, AssignmentQuery, BulkResult, CancelIn

blp = Blueprint("assignments", __name__, url_prefix="/api/v1",
                description="Planned visits: office, form version, inspector, time window.")


def _replay_one(record):
    return db.session.get(Assignment, record.resource_ids[0])


def _replay_many(record):
    items = db.session.scalars(sa.select(Assignment).where(
        Assignment.id.in_(record.resource_ids)).order_by(Assignment.id)).all()
    return {"created": len(items), "items": items}


def _csv_is_the_import(view):
    """A CSV body (Content-Type: text/csv) POSTed to /assignments is the import: the same code
    path, answered like POST /assignments/import (201 with created and items)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.mimetype == "text/csv":
            return import_assignments()
        return view(*args, **kwargs)
    return wrapped


@blp.route("/assignments", methods=["POST"])
@require_role(Role.SUPERVISOR, Role.ADMIN)
@_csv_is_the_import
@blp.arguments(AssignmentIn)
@blp.response(201, AssignmentOut)
@idempotent(_replay_one)
def create_assignment(data):
    """Plan one visit (Idempotency-Key supported). Refused with reasons: conflict list,
    inactive office or inspector, unknown or retired form version; a repeat in the period
    is a warning. A body sent as `Content-Type: text/csv` is a CSV import, exactly as
    POST /assignments/import."""
    with unit_of_work():
        assignment = service.create_assignment(data=data, actor=require_user())
        remember("assignment", [assignment.id])
        return assignment


@blp.route("/assignments/import", methods=["POST"])
@require_role(Role.SUPERVISOR, Role.ADMIN)
@blp.response(201, BulkResult)
@blp.doc(requestBody={"content": {"text/csv": {"schema": {"type": "string"}}}})
@idempotent(_replay_many)
def import_assignments():
    """Plan many visits from CSV: all rows or none; every bad row listed with its line."""
    with unit_of_work():
        created = service.create_assignments_from_csv(raw=request_body(request),
                                                      actor=require_user())
        remember("assignment", [a.id for a in created])
        return {"created": len(created), "items": created}


@blp.route("/assignments", methods=["GET"])
@require_role(*ANY_ROLE)
@blp.arguments(AssignmentQuery, location="query")
@blp.response(200, page_of(AssignmentOut))
def list_assignments(args):
    """Assignments you may see (inspectors: their own), filtered by status, office, inspector
    and window."""
    paging = page_args(args)
    return paginate(service.list_assignments_query(user=require_user(), **args), **paging)


@blp.route("/assignments/<int:assignment_id>")
@require_role(*ANY_ROLE)
@blp.response(200, AssignmentOut)
def get_assignment(assignment_id):
    """One assignment; another inspector's is 404."""
    return service.get_assignment(user=require_user(), assignment_id=assignment_id)


@blp.route("/assignments/<int:assignment_id>/cancel", methods=["POST"])
@require_role(Role.SUPERVISOR, Role.ADMIN)
@blp.arguments(CancelIn)
@blp.response(200, AssignmentOut)
def cancel_assignment(data, assignment_id):
    """Cancel an open assignment, with a reason."""
    user = require_user()
    with unit_of_work():
        return service.cancel_assignment(
            assignment=service.get_assignment(user=user, assignment_id=assignment_id),
            reason=data["reason"], actor=user)
