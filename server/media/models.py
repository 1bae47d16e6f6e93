"""Stored media (content-addressed, never modified), their derivatives, and resumable uploads.

An Upload row is kept forever once completed: it is the record of who sent which media, and the
visits code checks evidence ownership with it.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import JSONType, UTCDateTime, utcnow
from ..extensions import db


class MediaObject(db.Model):
    """One original, stored byte-for-byte under its SHA-256 in the backend it names."""

    __tablename__ = "media_objects"
    __table_args__ = (
        sa.CheckConstraint("length(sha256) = 64", name="sha256_length"),
        sa.CheckConstraint("kind IN ('photo', 'video', 'audio')", name="kind"),
        sa.CheckConstraint("status IN ('processing', 'ready', 'failed')", name="status"),
        sa.CheckConstraint("gps_status IN ('valid', 'invalid', 'absent')", name="gps_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(16))
    storage_backend: Mapped[str] = mapped_column(sa.String(16))
    storage_key: Mapped[str] = mapped_column(sa.String(255))
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration: Mapped[float | None]
    duration_claimed: Mapped[bool] = mapped_column(default=False)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gps_lat: Mapped[float | None]
    gps_lon: Mapped[float | None]
    gps_status: Mapped[str] = mapped_column(sa.String(16), default="absent")
    info: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="ready")  # of the derivatives
    derivative_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    derivatives: Mapped[list[MediaDerivative]] = relationship(
        back_populates="media", order_by="MediaDerivative.name")

    def __repr__(self) -> str:
        return f"<MediaObject {self.sha256[:12]} {self.kind}>"


class MediaDerivative(db.Model):
    """A re-encoded, metadata-free rendition of a MediaObject (thumbnail, preview, poster)."""

    __tablename__ = "media_derivatives"
    __table_args__ = (sa.UniqueConstraint("media_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(sa.ForeignKey("media_objects.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(16))
    storage_backend: Mapped[str] = mapped_column(sa.String(16))
    storage_key: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    width: Mapped[int]
    height: Mapped[int]

    media: Mapped[MediaObject] = relationship(back_populates="derivatives")


class UploadState:
    RECEIVING = "receiving"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    EXPIRED = "expired"
    REFUSED = "refused"


class Upload(db.Model):
    """A tus upload: bytes arrive in a spool file; on completion it points at its MediaObject."""

    __tablename__ = "uploads"
    __table_args__ = (
        sa.CheckConstraint("state IN ('receiving', 'completed', 'terminated', 'expired', "
                           "'refused')", name="state"),
        sa.CheckConstraint('"offset" >= 0 AND "offset" <= length', name="offset_in_length"),
        sa.Index("ix_uploads_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # the URL's last segment
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    length: Mapped[int] = mapped_column(sa.BigInteger)
    offset: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    meta: Mapped[dict] = mapped_column("metadata", JSONType, default=dict)
    filename: Mapped[str] = mapped_column(sa.String(255), default="")  # display only, never a key
    filetype: Mapped[str] = mapped_column(sa.String(255), default="")  # as the client claimed
    client_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default=UploadState.RECEIVING)
    refusal: Mapped[str | None] = mapped_column(sa.String(64))  # the problem code, if refused
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    media_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_objects.id"), index=True)

    media: Mapped[MediaObject | None] = relationship()

    def __repr__(self) -> str:
        return f"<Upload {self.id[:8]} {self.state} {self.offset}/{self.length}>"
