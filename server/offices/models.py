"""Regions and offices: the places inspectors visit."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import JSONType, UTCDateTime, utcnow
from ..extensions import db

OFFICE_KINDS = ("service_centre", "registry", "consulate", "tax_office", "migration_office",
                "land_registry", "other")


class Region(db.Model):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[dict] = mapped_column(JSONType)  # {"kk", "ru", "en", "uz"}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    offices: Mapped[list[Office]] = relationship(back_populates="region")

    def __repr__(self) -> str:
        return f"<Region {self.code}>"


class Office(db.Model):
    __tablename__ = "offices"
    __table_args__ = (
        sa.CheckConstraint("lat IS NULL OR (lat >= -90 AND lat <= 90)", name="lat_range"),
        sa.CheckConstraint("lon IS NULL OR (lon >= -180 AND lon <= 180)", name="lon_range"),
        sa.CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="lat_lon_together"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[dict] = mapped_column(JSONType)  # {"kk", "ru", "en", "uz"}
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    region: Mapped[Region] = relationship(back_populates="offices", lazy="joined")

    def __repr__(self) -> str:
        return f"<Office {self.code}>"
