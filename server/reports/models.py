"""Published report snapshots: frozen data with its hash; what the public URL serves."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import UTCDateTime, utcnow
from ..extensions import db


class PublishedReport(db.Model):
    """A ranking frozen at publication. Never updated: later reviews change new reports only."""

    __tablename__ = "published_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)  # the public URL's last part
    period: Mapped[str] = mapped_column(sa.String(16), index=True)
    kind: Mapped[str | None] = mapped_column(sa.String(32))
    region: Mapped[str | None] = mapped_column(sa.String(32))
    # Plain JSON, not JSONB: the snapshot must come back exactly as hashed.
    data: Mapped[dict] = mapped_column(sa.JSON)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
