"""The sealer: chains committed, unsealed audit events in batches, in its own order.

Requests insert events unchained (service.append_event); nothing they do waits on a global lock.
A sealer takes a lock only sealers take (PostgreSQL: a transaction-level advisory lock; SQLite:
the database's single writer lock, taken by its first statement, plus a process lock), reads the
head, chains the oldest unsealed committed events onto it, writes chain_seq, prev_hash and hash
and moves the head, and commits. An event whose transaction commits late is simply not visible
yet and is sealed by a later batch. Two sealers at once: the second waits for the lock, then
reads the head the first wrote, so the chain never forks.

When it runs (ADAL_AUDIT_SEAL): `background` (production default) wakes a thread of the process
after every commit that inserted events; `inline` seals in the committing thread, right after
the commit (the tests' default); `off` leaves it to `flask --app wsgi adal audit seal` (cron or a
worker), which also seals whatever a killed process left behind.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time

import sqlalchemy as sa
from flask import Flask, current_app
from psycopg.rows import namedtuple_row
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from ..config import ConfigError
from .models import GENESIS_HASH, AuditEvent, AuditHead
from .service import UNSEALED, _body_of

log = logging.getLogger(__name__)

MODES = ("background", "inline", "off")
BATCH = 500
# Background mode: after a wake-up, wait this long so that one batch seals the events of many
# requests (one transaction instead of one per request); the chain lags by about as much. A
# batch costs ~1.5 ms of the worker's CPU whatever its size: at 0.05 s that was ~0.3 ms per
# visit at 300 visits/s, at 0.2 s ~0.09 ms (docs/benchmarks.md, "Visit intake").
COALESCE_SECONDS = 0.2
LOCK_KEY = 0x4164616C  # "Adal": the advisory lock only sealers take
_events = AuditEvent.__table__
_head = AuditHead.__table__
_local_lock = threading.Lock()  # one sealer at a time within a process (SQLite's whole story)



def mode(app: Flask) -> str:
    value = app.config.get("AUDIT_SEAL") or ("inline" if app.testing else "background")
    if value not in MODES:
        raise ConfigError(f"ADAL_AUDIT_SEAL must be one of {', '.join(MODES)}, not {value!r}.")
    return value


def seal_batch(connection: sa.Connection, *, batch: int = BATCH) -> int:
    """Seal up to `batch` events in the connection's transaction (the caller commits)."""
    if connection.dialect.name == "postgresql":
        return _seal_batch_postgresql(connection.connection.driver_connection, batch)
    # SQLite: take the writer lock first, so the head read below is the latest
    connection.execute(_head.update().where(_head.c.id == 1).values(seq=_head.c.seq))
    head = connection.execute(sa.select(_head.c.seq, _head.c.hash)
                              .where(_head.c.id == 1)).one_or_none()
    if head is None:
        connection.execute(_head.insert().values(id=1, seq=0, hash=GENESIS_HASH))
    rows = connection.execute(sa.select(_events).where(_events.c.chain_seq.is_(None))
                              .order_by(_events.c.seq).limit(batch)).all()
    updates = _chain(rows, *(head or (0, GENESIS_HASH)))
    if updates:
        connection.execute(_events.update().where(_events.c.seq == sa.bindparam("s"))
                           .values(chain_seq=sa.bindparam("c"), prev_hash=sa.bindparam("p"),
                                   hash=sa.bindparam("h")), updates)
        connection.execute(_head.update().where(_head.c.id == 1)
                           .values(seq=updates[-1]["c"], hash=updates[-1]["h"]))
    return len(updates)


_PG_UNSEALED = (
    "SELECT seq, at, actor_id, actor_login, action, object_type, object_id, payload "
    "FROM audit_events WHERE chain_seq IS NULL ORDER BY seq LIMIT %s")
_PG_UPDATE = (
    "UPDATE audit_events AS e SET chain_seq = t.c, prev_hash = t.p, hash = t.h "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS t(s, c, p, h) "
    "WHERE e.seq = t.s")


def _seal_batch_postgresql(driver, batch: int) -> int:
    """seal_batch on PostgreSQL, on the psycopg connection of the caller's transaction: five
    plain statements (SQLAlchemy's statement and result machinery cost ~1 ms of CPU per batch,
    which at the sizes background sealing sees was most of its cost; docs/benchmarks.md)."""
    cursor = driver.cursor(row_factory=namedtuple_row)
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    # A statement of its own after the lock: its snapshot sees the head the last sealer wrote.
    head = cursor.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    if head is None:
        cursor.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, %s)",
                       (GENESIS_HASH,))
    updates = _chain(cursor.execute(_PG_UNSEALED, (batch,)).fetchall(),
                     *(head or (0, GENESIS_HASH)))
    if updates:
        cursor.execute(_PG_UPDATE, ([u["s"] for u in updates], [u["c"] for u in updates],
                                    [u["p"] for u in updates], [u["h"] for u in updates]))
        cursor.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1",
                       (updates[-1]["c"], updates[-1]["h"]))
    return len(updates)


def _chain(rows, head_seq: int, prev: str) -> list[dict]:
    """The chain positions and hashes of `rows` (unsealed events in seq order) after the head."""
    updates = []
    for position, row in enumerate(rows, start=head_seq + 1):
        # An event altered before sealing is still chained as stored: verify then reports that
        # its content no longer matches its digest. Refusing it would stall the chain for good.
        digest = hashlib.sha256((prev + _body_of(row)).encode("utf-8")).hexdigest()
        updates.append({"s": row.seq, "c": position, "p": prev, "h": digest})
        prev = digest
    return updates


def seal(engine: sa.Engine, *, batch: int = BATCH) -> int:
    """Seal every committed unsealed event, batch by batch; returns how many were sealed."""
    total = 0
    while True:
        with _local_lock, engine.begin() as connection:
            sealed = seal_batch(connection, batch=batch)
        total += sealed
        if sealed < batch:
            return total


class _Background:
    """One sealing thread per process, woken after commits; started lazily (after a fork)."""

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.pid: int | None = None

    def poke(self, app: Flask) -> None:
        if self.pid != os.getpid():
            self.pid = os.getpid()
            self.wake = threading.Event()
            threading.Thread(target=self._run, args=(app,), name="adal-audit-sealer",
                             daemon=True).start()
        self.wake.set()

    def _run(self, app: Flask) -> None:
        with app.app_context():
            engine = app.extensions["sqlalchemy"].engine
        while True:
            if self.wake.wait(timeout=60):  # also a periodic sweep for what others left
                time.sleep(COALESCE_SECONDS)
            self.wake.clear()
            try:
                if mode(app) == "background":  # a test may have switched it since
                    seal(engine)
            except Exception:  # the next wake-up tries again; verify reports what is unsealed
                log.exception("sealing the audit log failed")


_background = _Background()


def _after_commit(session: Session) -> None:
    if session.info.pop(UNSEALED, False):
        committed(current_app._get_current_object())


def committed(app: Flask) -> None:
    """Events were committed (by a session, or a statement in autocommit): seal as configured."""
    how = mode(app)
    if how == "background":
        _background.poke(app)
    elif how == "inline":
        try:
            seal(app.extensions["sqlalchemy"].engine)
        except Exception:  # committed is committed: a later sealer seals these events
            log.exception("sealing the audit log after commit failed")


def _after_rollback(session: Session) -> None:
    session.info.pop(UNSEALED, None)


def init_app(app: Flask) -> None:
    """Check the setting and hook the sealer onto every session's commit (once per process)."""
    mode(app)
    if not sa_event.contains(Session, "after_commit", _after_commit):
        sa_event.listen(Session, "after_commit", _after_commit)
        sa_event.listen(Session, "after_rollback", _after_rollback)
