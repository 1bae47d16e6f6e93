"""The job outbox: one row per job, written in the transaction that caused it."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import JSONType, UTCDateTime, utcnow
from ..extensions import db


class JobState(str, enum.Enum):
    PENDING = "pending"    # committed, not yet on Redis (just written, or Redis was down)
    QUEUED = "queued"      # on Redis, waiting for a worker
    RETRYING = "retrying"  # failed, RQ runs it again after a delay
    DONE = "done"
    FAILED = "failed"      # out of retries: visible on the console, an admin may retry


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_state_created_at", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    args: Mapped[dict] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(sa.String(16), default=JobState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
