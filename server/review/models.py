"""Review decisions and answer corrections: both append-only."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import JSONType, UTCDateTime, utcnow
from ..extensions import db


class Decision(str, enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"
    REOPEN = "reopen"  # an admin undoing an approval or rejection, with a reason


class Review(db.Model):
    """One decision on one revision of a visit. Rows are only ever added."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    revision: Mapped[int]
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(sa.String(16))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reviewer: Mapped[User] = relationship(lazy="joined")


class AnswerCorrection(db.Model):
    """A supervisor's correction of one answer, with the reason. The inspector's answer stays;
    the newest correction of a question in the visit's current revision is what scores (an
    amendment starts from the inspector's new answers)."""

    __tablename__ = "answer_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    revision: Mapped[int]  # the visit's revision the correction was made on
    question_id: Mapped[str] = mapped_column(sa.String(64))
    old_value: Mapped[object | None] = mapped_column(JSONType)
    old_not_applicable: Mapped[bool]
    new_value: Mapped[object | None] = mapped_column(JSONType)
    new_not_applicable: Mapped[bool]
    reason: Mapped[str] = mapped_column(sa.Text)
    score_before: Mapped[float | None]
    score_after: Mapped[float | None]
    corrected_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    corrected_by: Mapped[User] = relationship(lazy="joined")
