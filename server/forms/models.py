"""Survey forms and their immutable, published versions."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import UTCDateTime, utcnow
from ..extensions import db


class SurveyForm(db.Model):
    __tablename__ = "survey_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[FormVersion]] = relationship(back_populates="form",
                                                       order_by="FormVersion.version")


class FormVersion(db.Model):
    """One published version: the whole definition as JSON and the SHA-256 of its canonical JSON.

    Never updated after insert, except `retired_at` (a retired version accepts no new visits).
    """

    __tablename__ = "form_versions"
    __table_args__ = (sa.UniqueConstraint("form_id", "version",
                                          name="uq_form_versions_form_id_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_forms.id"), index=True)
    version: Mapped[int]
    # Plain JSON, not JSONB: the definition must come back exactly as hashed.
    definition: Mapped[dict] = mapped_column(sa.JSON, deferred=True)  # large; read when needed
    sha256: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.String(255), default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    form: Mapped[SurveyForm] = relationship(back_populates="versions", lazy="joined")
