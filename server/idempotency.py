"""Idempotency-Key for creating requests: a replay returns what the first request created.

The key is recorded in the same transaction as what it created (`remember()`), so the record
exists if and only if the creation happened. A replay with the same key and the same request
returns the same resources; a different request under a used key is 409 idempotency_conflict.
Two requests racing with one key: the second's commit fails on the unique key and it replays.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .db import JSONType, UTCDateTime, utcnow
from .errors import AppError, Conflict
from .extensions import db

HEADER = "Idempotency-Key"


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(sa.String(200))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    resource_type: Mapped[str] = mapped_column(sa.String(32))
    resource_ids: Mapped[list] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def remember(resource_type: str, ids: list[int]) -> None:
    """Record the request's key (if it has one) with what it created; call inside the unit of work."""
    pending = g.get("idempotency")
    if pending is None:
        return
    user_id, key, fingerprint = pending
    db.session.add(IdempotencyRecord(user_id=user_id, key=key, fingerprint=fingerprint,
                                     resource_type=resource_type, resource_ids=list(ids)))


def idempotent(replay: Callable[[IdempotencyRecord], Any]):
    """Make a creating view idempotent under the Idempotency-Key header.

    Put it directly around the view (inside @blp.response): a replay returns `replay(record)`,
    dumped like the first answer.
    """
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            from .auth.access import require_user

            key = request.headers.get(HEADER)
            if key is None:
                return view(*args, **kwargs)
            if not 1 <= len(key) <= 200 or not key.isprintable():
                raise AppError(f"{HEADER} must be 1-200 printable characters.",
                               code="bad_idempotency_key", status=400)
            user = require_user()
            fingerprint = _fingerprint()
            record = _lookup(user.id, key)
            if record is None:
                g.idempotency = (user.id, key, fingerprint)
                try:
                    return view(*args, **kwargs)
                except IntegrityError:
                    record = _lookup(user.id, key)  # a concurrent twin committed first
                    if record is None:
                        raise
            if record.fingerprint != fingerprint:
                raise Conflict(f"This {HEADER} was used for a different request.",
                               code="idempotency_conflict")
            return replay(record)
        return wrapped
    return decorator


def _lookup(user_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(sa.select(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key))
