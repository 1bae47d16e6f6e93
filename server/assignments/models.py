"""Assignments: a planned visit of one inspector to one office with one form version."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import JSONType, UTCDateTime, utcnow
from ..extensions import db
from ..forms.models import FormVersion
from ..offices.models import Office


class AssignmentStatus(str, enum.Enum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # never stored: an open assignment whose window has passed


class Assignment(db.Model):
    __tablename__ = "assignments"
    __table_args__ = (sa.CheckConstraint("window_end > window_start", name="window_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), index=True)
    form_version_id: Mapped[int] = mapped_column(sa.ForeignKey("form_versions.id"))
    inspector_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=AssignmentStatus.OPEN.value,
                                        index=True)
    warnings: Mapped[list] = mapped_column(JSONType, default=list)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))

    office: Mapped[Office] = relationship(lazy="joined")
    form_version: Mapped[FormVersion] = relationship(lazy="joined")
    inspector: Mapped[User] = relationship(foreign_keys=[inspector_id], lazy="joined")

    def effective_status(self, now: datetime) -> str:
        """open, done or cancelled as stored; an open one past its window reads as expired."""
        if self.status == AssignmentStatus.OPEN.value and self.window_end < now:
            return AssignmentStatus.EXPIRED.value
        return self.status
