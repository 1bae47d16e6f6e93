"""The append-only, hash-chained audit log."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import UTCDateTime
from ..extensions import db

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    """One event. `digest` is SHA-256 of the event's canonical JSON, written with the event in
    the request's own transaction; `chain_seq`, `prev_hash` and `hash` (SHA-256 of `prev_hash`
    followed by that JSON) are written later by the sealer (seal.py), in the sealer's order."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                     sa.Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    actor_login: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(128))
    # Plain JSON, not JSONB: the stored text must come back exactly as hashed.
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    digest: Mapped[str] = mapped_column(sa.String(64))
    # Set by the sealer; NULL until then.
    chain_seq: Mapped[int | None] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), unique=True)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (
        sa.Index("ix_audit_events_object", "object_type", "object_id"),
        # The sealer's scan: only the few events not yet sealed, however long the log.
        sa.Index("ix_audit_events_unsealed", "seq", postgresql_where=sa.text("chain_seq IS NULL"),
                 sqlite_where=sa.text("chain_seq IS NULL")),
    )


class AuditHead(db.Model):
    """The chain's tip, one row: the last sealed event's chain_seq and hash. Only the sealer
    writes it, under its lock, so two events never share a prev_hash."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(sa.String(64))
