"""/api/v1/recommendations: supervisors write recommendations to offices and follow them up;
inspectors read the open ones of an office they are about to visit."""
from __future__ import annotations

from ..auth.access import ANY_ROLE, require_role, require_user
from ..auth.models import Role
from ..db import paginate, unit_of_work
from ..extensions import db
from ..idempotency import idempotent, remember
from ..rest import Blueprint, page_args, page_of
from . import service
from .models import Recommendation
from .schemas import (OfficeRecommendationQuery, RecommendationBriefOut,
                      RecommendationFollowUpOut, RecommendationFollowUpQuery, RecommendationIn,
                      RecommendationOut, RecommendationQuery, StatusIn)

blp = Blueprint("recommendations", __name__, url_prefix="/api/v1",
                description="Recommendations to offices, their status history and follow-up.")

WRITERS = (Role.SUPERVISOR, Role.ADMIN)


def _replay(record):
    return service.view(db.session.get(Recommendation, record.resource_ids[0]))


@blp.route("/recommendations", methods=["POST"])
@require_role(*WRITERS)
@blp.arguments(RecommendationIn)
@blp.response(201, RecommendationOut)
@idempotent(_replay)
def create_recommendation(data):
    """Write a recommendation to an office, by hand or from a visit's finding (visit and
    question); it starts open. Idempotency-Key supported."""
    with unit_of_work():
        rec = service.create_recommendation(actor=require_user(), **data)
        remember("recommendation", [rec.id])
        return service.view(rec)


@blp.route("/recommendations", methods=["GET"])
@require_role(*WRITERS)
@blp.arguments(RecommendationQuery, location="query")
@blp.response(200, page_of(RecommendationOut))
def list_recommendations(args):
    """Recommendations in your regions, newest first; filter by office, status, overdue."""
    paging = page_args(args)
    page = paginate(service.list_query(user=require_user(), **args), **paging)
    return {**page, "items": service.views(page["items"])}


@blp.route("/recommendations/follow-up", methods=["GET"])
@require_role(*WRITERS)
@blp.arguments(RecommendationFollowUpQuery, location="query")
@blp.response(200, RecommendationFollowUpOut)
def follow_up(args):
    """The share of recommendations carried out, per office and overall, in your regions (or
    one region)."""
    office_ids = service.follow_up_offices(user=require_user(), region=args.get("region"))
    figures = service.follow_up(office_ids=office_ids, until=args.get("until"))
    codes = service.office_codes(figures["offices"])
    offices = sorted(({"office": codes[oid], **numbers}
                      for oid, numbers in figures["offices"].items()),
                     key=lambda item: item["office"])
    return {"overall": figures["overall"], "offices": offices}


@blp.route("/recommendations/<int:recommendation_id>", methods=["GET"])
@require_role(*WRITERS)
@blp.response(200, RecommendationOut)
def get_recommendation(recommendation_id):
    """One recommendation with its history; outside your regions 404."""
    return service.view(service.get_recommendation(user=require_user(),
                                                   recommendation_id=recommendation_id))


@blp.route("/recommendations/<int:recommendation_id>/status", methods=["POST"])
@require_role(*WRITERS)
@blp.arguments(StatusIn)
@blp.response(200, RecommendationOut)
def change_status(data, recommendation_id):
    """Move a recommendation on: open -> in_progress -> reported_done -> verified | not_done.
    verified and not_done need a comment and may name the verifying visit."""
    user = require_user()
    with unit_of_work():
        rec = service.get_recommendation(user=user, recommendation_id=recommendation_id)
        rec = service.change_status(actor=user, rec=rec, **data)
    return service.view(rec)


@blp.route("/offices/<code>/recommendations", methods=["GET"])
@require_role(*ANY_ROLE)
@blp.arguments(OfficeRecommendationQuery, location="query")
@blp.response(200, page_of(RecommendationBriefOut))
def office_recommendations(args, code):
    """An office's recommendations as a later visit shows them next to the questions: no author,
    no source visit. Inspectors only for an office they have an open assignment for."""
    paging = page_args(args)
    office = service.office_for_viewer(user=require_user(), code=code)
    page = paginate(service.office_query(office=office, **args), **paging)
    return {**page, "items": service.brief_views(page["items"])}
