"""Append to and verify the hash-chained audit log.

Each event's hash is SHA-256 over the previous event's hash followed by the event's canonical JSON
(sorted keys, no spaces, UTF-8). Appending locks the single `audit_head` row first, so concurrent
transactions queue there and two events can never chain onto the same previous hash.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached

from ..db import utcnow
from ..extensions import db
from .models import GENESIS_HASH, AuditEvent, AuditHead

_head = AuditHead.__table__
_events = AuditEvent.__table__
_EVENT_COLUMNS = tuple(column.name for column in _events.columns)


def canonical_json(event: dict[str, Any]) -> str:
    """The exact text that is hashed: sorted keys, compact separators, UTF-8."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _format_time(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(*, prev_hash: str, seq: int, at: datetime, actor_id: int | None,
               actor_login: str | None, action: str, object_type: str | None,
               object_id: str | None, payload: dict) -> str:
    """The hash of one event given the hash before it."""
    body = canonical_json({
        "seq": seq, "at": _format_time(at), "actor_id": actor_id, "actor_login": actor_login,
        "action": action, "object_type": object_type, "object_id": object_id,
        "payload": payload,
    })
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _advance_head() -> tuple[int, str]:
    """Lock the head row and take the next sequence number; returns (seq, previous hash)."""
    stmt = (_head.update().where(_head.c.id == 1).values(seq=_head.c.seq + 1)
            .returning(_head.c.seq, _head.c.hash))
    row = db.session.execute(stmt).one_or_none()
    if row is None:  # the very first event: create the head, tolerating a concurrent creator
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.session.execute(insert(_head).values(id=1, seq=0, hash=GENESIS_HASH)
                           .on_conflict_do_nothing(index_elements=["id"]))
        row = db.session.execute(stmt).one()
    return row.seq, row.hash


def _string_keys(value: Any) -> Any:
    """JSON keys are strings: convert them first, so mixed int/str keys can be sorted and a key
    that would silently overwrite another (1 and "1") is refused instead of dropped."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            (name,) = json.loads(json.dumps({key: None}))  # JSON's own conversion of the key
            if name in out:
                raise ValueError(f"audit payload has two keys that are both {name!r} in JSON")
            out[name] = _string_keys(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_string_keys(item) for item in value]
    return value


def append_event(action: str, *, actor=None, object_type: str | None = None,
                 object_id: Any = None, payload: dict | None = None) -> AuditEvent:
    """Add one event inside the caller's transaction; it lands if and only if the change does."""
    # Before taking the head: a payload that cannot be stored must not leave a seq behind.
    payload = json.loads(canonical_json(_string_keys(payload or {})))  # what the DB gives back
    seq, prev_hash = _advance_head()
    at = utcnow()
    fields = {
        "seq": seq, "at": at, "actor_id": actor.id if actor is not None else None,
        "actor_login": actor.login if actor is not None else None, "action": action,
        "object_type": object_type,
        "object_id": str(object_id) if object_id is not None else None, "payload": payload,
    }
    digest = event_hash(prev_hash=prev_hash, **fields)
    event = AuditEvent(**fields, prev_hash=prev_hash, hash=digest)
    move_head = _head.update().where(_head.c.id == 1).values(hash=digest)
    if db.session.get_bind().dialect.name == "postgresql":
        # One round trip for the event and the head's new hash (the head row is already locked
        # by _advance_head, until commit): the lock is held for one statement less.
        db.session.flush()
        db.session.execute(sa.insert(_events).values(
            {column: getattr(event, column) for column in _EVENT_COLUMNS})
            .add_cte(move_head.cte("move_head")))
        make_transient_to_detached(event)
        db.session.add(event)  # persistent as stored, without a second INSERT
    else:  # SQLite has no UPDATE inside WITH
        db.session.add(event)
        db.session.execute(move_head)
    db.session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None


def _read_head() -> tuple[int, str]:
    """The head row as stored now (Core, not the identity map, so a re-read really re-reads)."""
    row = db.session.execute(sa.select(_head.c.seq, _head.c.hash)
                             .where(_head.c.id == 1)).one_or_none()
    return (row.seq, row.hash) if row is not None else (0, GENESIS_HASH)


def verify_chain(*, batch: int = 1000) -> ChainReport:
    """Recompute every hash up to the chain head in seq order; report the first broken link.

    The head is read first: every event up to it had committed when it was read, so appenders
    working meanwhile only add events past it and never cause a false alarm on a live system.
    """
    head_seq, head_hash = _read_head()
    expected_seq, prev_hash, last_prev, count = 1, GENESIS_HASH, GENESIS_HASH, 0
    query = (sa.select(AuditEvent).where(AuditEvent.seq <= head_seq).order_by(AuditEvent.seq)
             .execution_options(yield_per=batch))
    for event in db.session.scalars(query):
        if event.seq != expected_seq:
            return _broken(count, prev_hash, expected_seq,
                           f"event {expected_seq} is missing (next stored event is {event.seq})")
        if event.prev_hash != prev_hash:
            return _broken(count, prev_hash, event.seq,
                           "prev_hash does not match the hash of the event before it")
        recomputed = event_hash(
            prev_hash=event.prev_hash, seq=event.seq, at=event.at, actor_id=event.actor_id,
            actor_login=event.actor_login, action=event.action, object_type=event.object_type,
            object_id=event.object_id, payload=event.payload)
        if recomputed != event.hash:
            return _broken(count, prev_hash, event.seq,
                           "the stored hash does not match the event's content (it was altered)")
        last_prev, prev_hash = prev_hash, event.hash
        expected_seq, count = expected_seq + 1, count + 1
        db.session.expunge(event)
    if count < head_seq:
        return _broken(count, prev_hash, count + 1,
                       f"event {count + 1} is missing: the chain head says {head_seq} events but "
                       f"only {count} are stored (events were removed from the end)")
    past = db.session.scalar(sa.select(sa.func.min(AuditEvent.seq))
                             .where(AuditEvent.seq > head_seq))
    if past is not None and _read_head()[0] == head_seq:  # a moved head means a live append
        return _broken(count, prev_hash, head_seq + 1,
                       f"event {past} lies past the chain head ({head_seq}): it was added "
                       "without the log, or the head was rewound")
    if prev_hash != head_hash:
        return _broken(max(count - 1, 0), last_prev, count,
                       f"the chain head's hash {head_hash[:12]}… is not this event's "
                       f"{prev_hash[:12]}… (it was rewritten and rehashed, or the head altered)")
    return ChainReport(ok=True, events=count, head_seq=count, head_hash=prev_hash)


def _broken(count: int, prev_hash: str, seq: int, reason: str) -> ChainReport:
    return ChainReport(ok=False, events=count, head_seq=count, head_hash=prev_hash,
                       broken_seq=seq, reason=reason)


def anchor_mismatch(*, seq: int, hash: str) -> str | None:
    """Why event `seq` no longer has the hash recorded outside the database, or None if it does.

    A chain that verifies can still have been rewritten from some event onwards and rehashed up
    to a new head; a head hash kept elsewhere (printed by `adal audit verify`) catches that.
    """
    stored = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == seq))
    if stored is None:
        return f"event {seq} of the anchor is not stored"
    if stored != hash.strip().lower():
        return (f"event {seq} now has hash {stored[:12]}…, the anchor says {hash[:12]}… "
                "(the chain was rewritten and rehashed up to here)")
    return None
