"""Transactions and small query helpers shared by every feature."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

from .errors import NotFound
from .extensions import db

log = logging.getLogger(__name__)
T = TypeVar("T")


class UnitOfWork:
    """Side effects to undo if the transaction rolls back, or to run once it committed."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], Any]] = []
        self.after: list[Callable[[], Any]] = []

    def on_rollback(self, fn: Callable[[], Any]) -> None:
        self.undo.append(fn)

    def after_commit(self, fn: Callable[[], Any]) -> None:
        self.after.append(fn)


_CURRENT: ContextVar[UnitOfWork | None] = ContextVar("adal_unit_of_work", default=None)


def current_unit_of_work() -> UnitOfWork | None:
    """The innermost unit of work open in this context (jobs enqueue after its commit)."""
    return _CURRENT.get()


def _run_logged(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:  # never mask the original error
        log.exception("cleanup step failed")


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    """Commit once at the end; on error roll back and undo side effects (stored blobs)."""
    uow = UnitOfWork()
    token = _CURRENT.set(uow)
    try:
        yield uow
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for fn in reversed(uow.undo):
            _run_logged(fn)
        raise
    finally:
        _CURRENT.reset(token)
    for fn in uow.after:
        _run_logged(fn)


def get_or_404(model: type[T], **where: Any) -> T:
    """The one row matching `where`, or a 404 problem naming what was looked for."""
    what = ", ".join(f"{k}={v!r}" for k, v in where.items())
    # Text no column can hold (NUL, lone surrogates) matches nothing; PostgreSQL would raise.
    if any(isinstance(v, str) and not _storable(v) for v in where.values()):
        raise NotFound(f"No {model.__name__.lower()} with {what}.")
    obj = db.session.scalar(sa.select(model).filter_by(**where))
    if obj is None:
        raise NotFound(f"No {model.__name__.lower()} with {what}.")
    return obj


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def paginate(query: sa.Select, *, page: int, per_page: int) -> dict:
    """One page of a query in the list shape of the API: items, total, page, per_page."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def utcnow() -> datetime:
    """Aware UTC now; every stored time is UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Adal stores aware UTC times only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
