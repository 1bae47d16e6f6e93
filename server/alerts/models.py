"""Subscriptions of a channel to findings and regions; alerts; one delivery per subscription."""
from __future__ import annotations

import enum
import uuid as uuid_module
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import JSONType, UTCDateTime, utcnow
from ..extensions import db


class Channel(str, enum.Enum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryState(str, enum.Enum):
    PENDING = "pending"        # not tried yet
    RETRYING = "retrying"      # failed, tried again with backoff
    DELIVERED = "delivered"
    FAILED = "failed"          # retried for ADAL_ALERT_RETRY_HOURS, then given up: visible


class Subscription(db.Model):
    __tablename__ = "alert_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    target: Mapped[str] = mapped_column(sa.String(500))
    regions: Mapped[list] = mapped_column(JSONType, default=list)    # region codes; [] = all
    findings: Mapped[list] = mapped_column(JSONType, default=list)   # question ids, "critical"
    language: Mapped[str] = mapped_column(sa.String(8))
    secret: Mapped[str | None] = mapped_column(sa.String(200))  # webhooks' HMAC key; never shown
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(db.Model):
    """A visit's critical findings, raised once at intake (before any review)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid_module.UUID] = mapped_column(sa.Uuid, unique=True, default=uuid_module.uuid4)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"),
                                          unique=True)
    findings: Mapped[list] = mapped_column(JSONType, default=list)   # question ids
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the visit's intake

    visit = relationship("Visit")


class Delivery(db.Model):
    __tablename__ = "alert_deliveries"
    __table_args__ = (sa.UniqueConstraint("alert_id", "subscription_id",
                                          name="uq_alert_deliveries_alert_subscription"),
                      sa.Index("ix_alert_deliveries_state", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("alert_subscriptions.id"),
                                                 index=True)
    state: Mapped[str] = mapped_column(sa.String(16), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    alert: Mapped[Alert] = relationship(lazy="joined")
    subscription: Mapped[Subscription] = relationship(lazy="joined")
