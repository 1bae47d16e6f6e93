"""Subscriptions (admins) and raising alerts for a visit's critical findings. Functions flush."""
from __future__ import annotations

import re

import sqlalchemy as sa

from ..auth.models import User
from ..config import LANGUAGES
from ..db import get_or_404, utcnow
from ..errors import ValidationFailed
from ..extensions import db
from ..forms.models import FormVersion
from ..offices.models import Region
from .models import Alert, Channel, Delivery, DeliveryState, Subscription
from .targets import refuse_private_target

CRITICAL = "critical"
MIN_SECRET = 16
EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def critical_questions() -> dict[str, dict]:
    """Every critical question of every published form version: id -> label by language
    (the newest version's label wins)."""
    found: dict[str, dict] = {}
    for definition in db.session.scalars(sa.select(FormVersion.definition)
                                         .order_by(FormVersion.id)):
        for section in definition.get("sections", []):
            for question in section.get("questions", []):
                if question.get("critical"):
                    found[question["id"]] = question.get("label") or {}
    return found


def create_subscription(*, actor: User, data: dict) -> Subscription:
    """A channel subscribed to findings in regions; 422 naming what is unknown or unsafe."""
    errors: dict[str, list[str]] = {}
    known_regions = set(db.session.scalars(sa.select(Region.code)))
    unknown = [code for code in data["regions"] if code not in known_regions]
    if unknown:
        errors["regions"] = [f"Unknown region: {', '.join(unknown)}."]
    known_findings = critical_questions()
    unknown = [f for f in data["findings"] if f != CRITICAL and f not in known_findings]
    if unknown:
        errors["findings"] = [f"Unknown finding (not a critical question): {', '.join(unknown)}."]
    secret = data.get("secret")
    if data["channel"] == Channel.EMAIL.value:
        if not EMAIL.match(data["target"]):
            errors["target"] = ["Not an email address."]
        if secret is not None:
            errors["secret"] = ["Only webhooks have a secret."]
    else:
        problem = refuse_private_target(data["target"])
        if problem:
            errors["target"] = [problem]
        if secret is None:
            errors["secret"] = [f"Required for a webhook: at least {MIN_SECRET} characters."]
    if errors:
        raise ValidationFailed("The subscription was not saved: " + " ".join(
            f"{field}: {' '.join(msgs)}" for field, msgs in sorted(errors.items())),
            code="invalid_subscription", errors=errors)
    subscription = Subscription(channel=data["channel"], target=data["target"],
                                regions=list(data["regions"]), findings=list(data["findings"]),
                                language=data["language"], secret=secret,
                                created_by_id=actor.id)
    db.session.add(subscription)
    db.session.flush()
    return subscription


def list_subscriptions_query() -> sa.Select:
    return sa.select(Subscription).order_by(Subscription.id)


def disable_subscription(*, subscription_id: int) -> Subscription:
    subscription = get_or_404(Subscription, id=subscription_id)
    if subscription.active:
        subscription.active = False
        subscription.disabled_at = utcnow()
        db.session.flush()
    return subscription


def list_deliveries_query(*, state: str | None = None) -> sa.Select:
    query = sa.select(Delivery).order_by(Delivery.id.desc())
    return query.where(Delivery.state == state) if state else query


def matches(subscription: Subscription, *, region: str, findings: list[str]) -> bool:
    if subscription.regions and region not in subscription.regions:
        return False
    return CRITICAL in subscription.findings or bool(set(subscription.findings) & set(findings))


def raise_alerts(*, visit_id: int) -> None:
    """Job "alerts.raise": the visit's alert (once) and one delivery per matching subscription
    (once each: the unique (alert, subscription) pair), each delivered by its own job."""
    from ..jobs.queue import enqueue
    from ..visits.models import Visit
    visit = db.session.get(Visit, visit_id)
    if visit is None or not visit.critical:
        return
    alert = db.session.scalar(sa.select(Alert).where(Alert.visit_id == visit_id))
    if alert is None:
        alert = Alert(visit_id=visit_id, findings=list(visit.critical),
                      committed_at=visit.submitted_at)
        db.session.add(alert)
        db.session.flush()
    region = visit.office.region.code
    done = set(db.session.scalars(sa.select(Delivery.subscription_id)
                                  .where(Delivery.alert_id == alert.id)))
    for subscription in db.session.scalars(sa.select(Subscription).where(Subscription.active)):
        if subscription.id in done or not matches(subscription, region=region,
                                                  findings=alert.findings):
            continue
        delivery = Delivery(alert_id=alert.id, subscription_id=subscription.id,
                            state=DeliveryState.PENDING.value)
        db.session.add(delivery)
        db.session.flush()
        enqueue("alerts.deliver", delivery_id=delivery.id)


def language_of(subscription: Subscription) -> str:
    return subscription.language if subscription.language in LANGUAGES else "en"
