"""Recommendations made to offices, and every change of their status."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import UTCDateTime, utcnow
from ..extensions import db
from ..offices.models import Office


class RecommendationStatus(str, enum.Enum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    REPORTED_DONE = "reported_done"
    VERIFIED = "verified"
    NOT_DONE = "not_done"


class Recommendation(db.Model):
    __tablename__ = "recommendations"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    question_id: Mapped[str | None] = mapped_column(sa.String(64))
    text: Mapped[str] = mapped_column(sa.Text)
    due_date: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default=RecommendationStatus.OPEN.value,
                                        index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    office: Mapped[Office] = relationship(lazy="joined")
    events: Mapped[list[RecommendationEvent]] = relationship(
        back_populates="recommendation", order_by="RecommendationEvent.id")


class RecommendationEvent(db.Model):
    """One status change (or note) of a recommendation: its history, only ever added to."""

    __tablename__ = "recommendation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(sa.ForeignKey("recommendations.id"),
                                                   index=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    verifying_visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    recommendation: Mapped[Recommendation] = relationship(back_populates="events")
