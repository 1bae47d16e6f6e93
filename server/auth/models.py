"""Users, their roles, scopes and API tokens."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import JSONType, UTCDateTime, utcnow
from ..extensions import db
from ..offices.models import Office, Region


class Role(str, enum.Enum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    INSPECTOR = "inspector"


# Regions a supervisor may see and act in; none means every region.
user_regions = sa.Table(
    "user_regions", db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("region_id", sa.ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True),
)

# Offices where an inspector is known and must never be sent.
user_office_conflicts = sa.Table(
    "user_office_conflicts", db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("office_id", sa.ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True),
)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(64), unique=True)  # stored lower-case
    display_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(sa.Enum(Role, native_enum=False, length=16,
                                               values_callable=lambda e: [m.value for m in e]))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    languages: Mapped[list] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    regions: Mapped[list[Region]] = relationship(secondary=user_regions, order_by=Region.code)
    conflict_offices: Mapped[list[Office]] = relationship(secondary=user_office_conflicts,
                                                          order_by=Office.code)
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    def __repr__(self) -> str:
        return f"<User {self.login} {self.role.value}>"


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))  # first characters, to tell tokens apart
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


class WebSession(db.Model):
    """A signed-in browser session. The cookie carries a random secret; only its SHA-256 is kept
    here, so signing out, deactivation and a password change end every copy of the cookie."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_why: Mapped[str | None] = mapped_column(sa.String(32))  # signed_out, revoked
