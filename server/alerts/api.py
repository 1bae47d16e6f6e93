"""/api/v1/alerts: admins subscribe channels to critical findings and watch the deliveries."""
from __future__ import annotations

from ..auth.access import require_role, require_user
from ..auth.models import Role
from ..db import paginate, unit_of_work
from ..rest import Blueprint, PageArgs, page_args, page_of
from . import service
from .schemas import DeliveryOut, DeliveryQuery, SubscriptionIn, SubscriptionOut

blp = Blueprint("alerts", __name__, url_prefix="/api/v1",
                description="Alerts on critical findings: subscriptions and deliveries.")


@blp.route("/alerts/subscriptions", methods=["GET"])
@require_role(Role.ADMIN)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(SubscriptionOut))
def list_subscriptions(args):
    """Every subscription, active or disabled (secrets are never shown)."""
    return paginate(service.list_subscriptions_query(), **page_args(args))


@blp.route("/alerts/subscriptions", methods=["POST"])
@require_role(Role.ADMIN)
@blp.arguments(SubscriptionIn)
@blp.response(201, SubscriptionOut)
def create_subscription(data):
    """Subscribe an email address or a webhook to critical findings in some regions. 422 names
    an unknown region or finding, or a webhook target on a private address."""
    with unit_of_work():
        return service.create_subscription(actor=require_user(), data=data)


@blp.route("/alerts/subscriptions/<int:subscription_id>/disable", methods=["POST"])
@require_role(Role.ADMIN)
@blp.response(200, SubscriptionOut)
def disable_subscription(subscription_id):
    """Stop a subscription (kept, with its deliveries); disabling twice is harmless."""
    with unit_of_work():
        return service.disable_subscription(subscription_id=subscription_id)


@blp.route("/alerts/deliveries", methods=["GET"])
@require_role(Role.ADMIN)
@blp.arguments(DeliveryQuery, location="query")
@blp.response(200, page_of(DeliveryOut))
def list_deliveries(args):
    """Deliveries newest first: delivered, retrying (with the last error) and failed."""
    paging = page_args(args)
    return paginate(service.list_deliveries_query(**args), **paging)
