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


# Summaries kept in step with review (server/reports/summaries.py, docs/reports.md "Summaries").
# One row per (office, half-year, form version[, section | question]) with approved visits; the
# half-year is the label (2026H2) of the visit's start in ADAL_TIMEZONE. Reports read these
# instead of the visits; `flask adal reports rebuild --check` proves them right.

class ReportTotal(db.Model):
    """Approved visits of an office in a half-year on one form version, and their scores."""

    __tablename__ = "report_totals"

    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    form_version_id: Mapped[int] = mapped_column(sa.ForeignKey("form_versions.id"),
                                                 primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)     # approved visits
    scored: Mapped[int] = mapped_column(default=0)     # of them with a score
    score_sum: Mapped[float] = mapped_column(sa.Float, default=0.0)
    score_squares: Mapped[float] = mapped_column(sa.Float, default=0.0)
    findings: Mapped[int] = mapped_column(default=0)   # critical findings (rows) of them

    __table_args__ = (sa.Index("ix_report_totals_period", "period", "office_id"),)


class ReportSection(db.Model):
    """The section scores of those visits: count, sum and sum of squares."""

    __tablename__ = "report_sections"

    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    form_version_id: Mapped[int] = mapped_column(sa.ForeignKey("form_versions.id"),
                                                 primary_key=True)
    section_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)
    score_sum: Mapped[float] = mapped_column(sa.Float, default=0.0)
    score_squares: Mapped[float] = mapped_column(sa.Float, default=0.0)

    __table_args__ = (sa.Index("ix_report_sections_period", "period", "office_id"),)


class ReportFinding(db.Model):
    """Approved visits with a critical finding on one question."""

    __tablename__ = "report_findings"

    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    form_version_id: Mapped[int] = mapped_column(sa.ForeignKey("form_versions.id"),
                                                 primary_key=True)
    question_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)

    __table_args__ = (sa.Index("ix_report_findings_period", "period", "office_id"),)
