"""/api/v1/visits: inspectors submit and amend; everyone reads what their role may see."""
from __future__ import annotations

import json
import uuid as uuid_module

from flask import request
from sqlalchemy.exc import IntegrityError

from ..auth.access import ANY_ROLE, require_role, require_user
from ..auth.models import Role
from ..db import paginate, unit_of_work
from ..errors import Conflict, NotFound
from ..rest import Blueprint, page_args, page_of, request_body
from . import reading, service
from .intake import fast_path
from ..receipts import service as receipts
from .schemas import (RevisionOut, VisitAmendIn, VisitIn, VisitOut, VisitQuery,
                      VisitSummaryOut)

blp = Blueprint("visits", __name__, url_prefix="/api/v1",
                description="Visits: exactly-once intake, validation, scores, flags, history.")


def _body() -> dict:
    return json.loads(request_body(request))  # already validated as JSON by the parser


def _lang() -> str:
    return request.accept_languages.best_match(("kk", "ru", "en", "uz")) or "en"


def _uuid(value: str) -> uuid_module.UUID:
    try:
        return uuid_module.UUID(value)
    except ValueError as exc:
        raise NotFound(f"No visit {value[:40]!r}.") from exc


@blp.route("/visits", methods=["POST"])
@fast_path  # PostgreSQL: a plain new visit in two round trips (intake.py); else the ORM path
@require_role(Role.INSPECTOR)
@blp.arguments(VisitIn)
@blp.response(201, VisitOut)
@blp.alt_response(200, schema=VisitOut, description="A replay: the visit as first stored.")
def submit_visit(data):
    """Submit a finished visit. Its UUID makes this idempotent: the same body again returns the
    stored visit (200), a different body under the same UUID is 409."""
    inspector = require_user()
    body = _body()
    try:
        with unit_of_work():
            visit, intake = service.submit_visit(inspector=inspector, data=data, body=body,
                                                 lang=_lang())
            created = intake is not None
            view = reading.intake_view(visit, intake, data) if created else reading.visit_view(visit)
            view["receipt"] = _receipt(visit, intake, body)
    except IntegrityError:
        # A twin of this request committed first (same UUID), or the assignment got its visit.
        visit = service.get_by_uuid(data["uuid"])
        if visit is None:
            raise Conflict("The assignment already has a visit.", code="assignment_done")
        visit = service.replay(visit=visit, inspector=inspector,
                               sha=service.body_sha256(body))
        created, view = False, reading.visit_view(visit)
        with unit_of_work():
            view["receipt"] = _receipt(visit, None, body)
    return view, 201 if created else 200


def _receipt(visit, intake, body: dict) -> dict:
    """The signed receipt of this submission (docs/receipts.md): made from what was just stored,
    or, for a replay, from the stored revision with this body."""
    sha = service.body_sha256(body)
    if intake is None:
        return receipts.stored_visit_receipt(visit=visit, sha=sha)
    return receipts.sign(kind="visit", subject=str(visit.uuid), sha256=sha,
                         size=len(receipts.canonical(intake.body)),
                         received_at=intake.received_at, audit_event=intake.event.seq)


@blp.route("/visits", methods=["GET"])
@require_role(*ANY_ROLE)
@blp.arguments(VisitQuery, location="query")
@blp.response(200, page_of(VisitSummaryOut))
def list_visits(args):
    """Visits you may see (inspectors: their own), newest first; filter by office, inspector,
    status, period (2026H2) or flag."""
    paging = page_args(args)
    return paginate(reading.list_visits_query(user=require_user(), **args), **paging)


@blp.route("/visits/<visit_uuid>", methods=["GET"])
@require_role(*ANY_ROLE)
@blp.response(200, VisitOut)
def get_visit(visit_uuid):
    """One visit with answers, evidence, scores, flags and history; another inspector's is 404."""
    return reading.visit_view(reading.get_visit(user=require_user(),
                                                visit_uuid=_uuid(visit_uuid)))


@blp.route("/visits/<visit_uuid>", methods=["PUT"])
@require_role(Role.INSPECTOR)
@blp.arguments(VisitAmendIn)
@blp.response(200, VisitOut)
def amend_visit(data, visit_uuid):
    """Amend a visit a supervisor returned: a new revision; the previous stays in the history."""
    inspector = require_user()
    body = _body()
    with unit_of_work():
        visit = service.amend_visit(inspector=inspector, visit_uuid=_uuid(visit_uuid), data=data,
                                    body=body, lang=_lang())
        view = reading.visit_view(visit)
        view["receipt"] = receipts.stored_visit_receipt(visit=visit,
                                                        sha=service.body_sha256(body))
        return view


@blp.route("/visits/<visit_uuid>/revisions/<int:revision>", methods=["GET"])
@require_role(*ANY_ROLE)
@blp.response(200, RevisionOut)
def get_revision(visit_uuid, revision):
    """One revision of a visit as its inspector sent it, with the corrections made on it."""
    visit = reading.get_visit(user=require_user(), visit_uuid=_uuid(visit_uuid))
    found = next((r for r in reading.revisions_view(visit) if r["revision"] == revision), None)
    if found is None:
        raise NotFound(f"Visit {visit.uuid} has no revision {revision}; it has 1 to "
                       f"{visit.revision}.")
    return found
