"""Visits, their answers, evidence links, flags and submitted revisions."""
from __future__ import annotations

import enum
import uuid as uuid_module
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..assignments.models import Assignment
from ..auth.models import User
from ..db import JSONType, UTCDateTime, utcnow
from ..extensions import db
from ..forms.models import FormVersion
from ..offices.models import Office


class VisitStatus(str, enum.Enum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        sa.CheckConstraint("ended_at >= started_at", name="time_order"),
        # Reports and queues select by status and period.
        sa.Index("ix_visits_status_started_at", "status", "started_at", "office_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid_module.UUID] = mapped_column(sa.Uuid, unique=True)
    assignment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("assignments.id"),
                                                      unique=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), index=True)
    form_version_id: Mapped[int] = mapped_column(sa.ForeignKey("form_versions.id"), index=True)
    inspector_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    position_start: Mapped[dict | None] = mapped_column(JSONType)
    position_end: Mapped[dict | None] = mapped_column(JSONType)
    device: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default=VisitStatus.SUBMITTED.value,
                                        index=True)
    score: Mapped[float | None]
    score_uncapped: Mapped[float | None]
    section_scores: Mapped[dict] = mapped_column(JSONType, default=dict)
    critical: Mapped[list] = mapped_column(JSONType, default=list)
    revision: Mapped[int] = mapped_column(default=1)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    assignment: Mapped[Assignment | None] = relationship()
    office: Mapped[Office] = relationship(lazy="joined")
    form_version: Mapped[FormVersion] = relationship(lazy="joined")
    inspector: Mapped[User] = relationship(lazy="joined")
    answers: Mapped[list[Answer]] = relationship(back_populates="visit", order_by="Answer.id",
                                                 cascade="all, delete-orphan")
    evidence: Mapped[list[VisitEvidence]] = relationship(
        back_populates="visit", order_by="VisitEvidence.id", cascade="all, delete-orphan")
    flags: Mapped[list[Flag]] = relationship(back_populates="visit", order_by="Flag.id",
                                             cascade="all, delete-orphan")
    submissions: Mapped[list[VisitSubmission]] = relationship(
        back_populates="visit", order_by="VisitSubmission.revision")


class Answer(db.Model):
    """The current answer to one question. Supervisors' corrections are kept apart, on top."""

    __tablename__ = "answers"
    __table_args__ = (sa.UniqueConstraint("visit_id", "question_id",
                                          name="uq_answers_visit_question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[object | None] = mapped_column(JSONType)
    not_applicable: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(sa.Text, default="")

    visit: Mapped[Visit] = relationship(back_populates="answers")


class VisitEvidence(db.Model):
    """A media object offered as evidence for one question of a visit."""

    __tablename__ = "visit_evidence"
    __table_args__ = (sa.UniqueConstraint("visit_id", "question_id", "media_id",
                                          name="uq_visit_evidence_visit_question_media"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"),
                                          index=True)
    question_id: Mapped[str] = mapped_column(sa.String(64))
    media_id: Mapped[int] = mapped_column(sa.ForeignKey("media_objects.id"), index=True)

    visit: Mapped[Visit] = relationship(back_populates="evidence")
    media = relationship("MediaObject", lazy="joined")


class Flag(db.Model):
    """Something a reviewer should look at; never a refusal."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"),
                                          index=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    severity: Mapped[str] = mapped_column(sa.String(8))  # info, warning, high
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)

    visit: Mapped[Visit] = relationship(back_populates="flags")


class VisitSubmission(db.Model):
    """Each body the inspector sent for a visit, kept whole: the first and every amendment."""

    __tablename__ = "visit_submissions"
    __table_args__ = (sa.UniqueConstraint("visit_id", "revision",
                                          name="uq_visit_submissions_visit_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"))
    revision: Mapped[int]
    body: Mapped[dict] = mapped_column(sa.JSON)
    body_sha256: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    score: Mapped[float | None]

    visit: Mapped[Visit] = relationship(back_populates="submissions")


class VisitSectionScore(db.Model):
    """A visit's score in one section, as its own row so reports aggregate it in SQL."""

    __tablename__ = "visit_section_scores"

    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"),
                                          primary_key=True)
    section_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    score: Mapped[float]


class VisitFinding(db.Model):
    """A critical finding (bribe asked, fixer approached, ...) of a visit, one row each, so
    reports count incidence per office in SQL."""

    __tablename__ = "visit_findings"

    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"),
                                          primary_key=True)
    question_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
