"""/api/v1/review/queue and the decisions on a visit: review, corrections, reopening."""
from __future__ import annotations

from ..auth.access import require_role, require_user
from ..auth.models import Role
from ..db import paginate, unit_of_work
from ..rest import Blueprint, page_args, page_of
from ..visits.api import _uuid
from ..visits.schemas import VisitOut, VisitSummaryOut
from ..visits.reading import get_visit, visit_view
from . import service
from .schemas import CorrectionIn, QueueQuery, ReopenIn, ReviewIn, ReviewOut

blp = Blueprint("review", __name__, url_prefix="/api/v1",
                description="Supervisors review visits; only approved visits count.")


@blp.route("/review/queue")
@require_role(Role.SUPERVISOR, Role.ADMIN)
@blp.arguments(QueueQuery, location="query")
@blp.response(200, page_of(VisitSummaryOut))
def queue(args):
    """Visits waiting for a decision in your scope, oldest first; filter by region, office,
    inspector, flag or age."""
    paging = page_args(args)
    return paginate(service.review_queue_query(user=require_user(), **args), **paging)


@blp.route("/visits/<visit_uuid>/review", methods=["POST"])
@require_role(Role.SUPERVISOR, Role.ADMIN)
@blp.arguments(ReviewIn)
@blp.response(201, ReviewOut)
def review(data, visit_uuid):
    """Approve, reject or return a visit (reject and return need a comment). Give the
    `revision` you looked at (required): if the inspector amended it since, the answer is 409
    stale_revision; give `corrections` too and a colleague's later correction is 409
    stale_corrections."""
    user = require_user()
    with unit_of_work():
        visit = get_visit(user=user, visit_uuid=_uuid(visit_uuid))
        decision = service.review_visit(visit=visit, reviewer=user, decision=data["decision"],
                                        comment=data["comment"], revision=data.get("revision"),
                                        corrections=data.get("corrections"))
        return {"uuid": visit.uuid, "status": visit.status, "revision": visit.revision,
                "decision": decision.decision, "score": visit.score}


@blp.route("/visits/<visit_uuid>/corrections", methods=["POST"])
@require_role(Role.SUPERVISOR, Role.ADMIN)
@blp.arguments(CorrectionIn)
@blp.response(201, VisitOut)
def correct(data, visit_uuid):
    """Correct one answer with a reason: the inspector's answer stays, the score is
    recomputed, both are shown."""
    user = require_user()
    with unit_of_work():
        visit = get_visit(user=user, visit_uuid=_uuid(visit_uuid))
        revision = data.pop("revision", None)
        if revision is not None and revision != visit.revision:
            raise service.stale(visit, revision)
        service.correct_answer(visit=visit, reviewer=user, **data)
        return visit_view(visit)


@blp.route("/visits/<visit_uuid>/reopen", methods=["POST"])
@require_role(Role.ADMIN)
@blp.arguments(ReopenIn)
@blp.response(201, ReviewOut)
def reopen(data, visit_uuid):
    """Send an approved or rejected visit back to review (admins only, with a reason)."""
    user = require_user()
    with unit_of_work():
        visit = get_visit(user=user, visit_uuid=_uuid(visit_uuid))
        decision = service.reopen_visit(visit=visit, admin=user, reason=data["reason"])
        return {"uuid": visit.uuid, "status": visit.status, "revision": visit.revision,
                "decision": decision.decision, "score": visit.score}
