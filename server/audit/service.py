"""Append to and verify the sealed, hash-chained audit log.

An event is inserted *unchained* in the caller's transaction, with `digest`, the SHA-256 of its
canonical JSON (sorted keys, no spaces, UTF-8): appending takes no lock anyone else waits for.
After commit the sealer (seal.py) chains committed events in batches, in its own order kept in
`chain_seq`: each sealed event's `hash` is SHA-256 over the previous sealed event's hash followed
by the event's canonical JSON, and the `audit_head` row holds the last sealed chain_seq and hash.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from ..db import utcnow
from ..extensions import db
from .models import GENESIS_HASH, AuditEvent, AuditHead

_head = AuditHead.__table__
_events = AuditEvent.__table__
UNSEALED = "audit_unsealed"  # session.info key: this transaction inserted events to seal


def canonical_json(event: dict[str, Any]) -> str:
    """The exact text that is hashed: sorted keys, compact separators, UTF-8."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _format_time(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(*, seq: int, at: datetime, actor_id: int | None, actor_login: str | None,
               action: str, object_type: str | None, object_id: str | None,
               payload: dict) -> str:
    """The canonical JSON of one event: what its digest and its chain hash cover."""
    return canonical_json({
        "seq": seq, "at": _format_time(at), "actor_id": actor_id, "actor_login": actor_login,
        "action": action, "object_type": object_type, "object_id": object_id,
        "payload": payload,
    })


def event_hash(*, prev_hash: str, **fields: Any) -> str:
    """The chain hash of one event given the hash before it."""
    return hashlib.sha256((prev_hash + event_body(**fields)).encode("utf-8")).hexdigest()


def event_digest(**fields: Any) -> str:
    """The event's own hash, written with it before it is sealed."""
    return hashlib.sha256(event_body(**fields).encode("utf-8")).hexdigest()


def _body_of(row) -> str:
    return event_body(seq=row.seq, at=row.at, actor_id=row.actor_id, actor_login=row.actor_login,
                      action=row.action, object_type=row.object_type, object_id=row.object_id,
                      payload=row.payload)


def _string_keys(value: Any) -> Any:
    """JSON keys are strings: convert them first, so mixed int/str keys can be sorted and a key
    that would silently overwrite another (1 and "1") is refused instead of dropped."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            # JSON's own conversion of the key (a str is already its own)
            name = key if type(key) is str else json.loads(json.dumps({key: None})).popitem()[0]
            if name in out:
                raise ValueError(f"audit payload has two keys that are both {name!r} in JSON")
            out[name] = _string_keys(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_string_keys(item) for item in value]
    return value


def next_seq() -> int:
    """A new event's seq, taken before its insert (the fast intake path writes the event
    inside one statement with the visit and must know its digest first)."""
    return db.session.scalar(sa.text("SELECT nextval(pg_get_serial_sequence('audit_events', "
                                     "'seq'))"))


def prepared_event(action: str, *, actor=None, object_type: str | None = None,
                   object_id: Any = None, payload: dict | None = None) -> dict:
    """The columns of a new unsealed event except seq and digest (see with_digest)."""
    # A payload that cannot be stored is refused here, before anything is written.
    payload = json.loads(canonical_json(_string_keys(payload or {})))  # what the DB gives back
    return {"at": utcnow(), "actor_id": actor.id if actor is not None else None,
            "actor_login": actor.login if actor is not None else None, "action": action,
            "object_type": object_type,
            "object_id": str(object_id) if object_id is not None else None, "payload": payload}


def with_digest(fields: dict, seq: int) -> dict:
    return {**fields, "seq": seq, "digest": event_digest(seq=seq, **fields)}


def append_event(action: str, *, actor=None, object_type: str | None = None,
                 object_id: Any = None, payload: dict | None = None) -> AuditEvent:
    """Add one unsealed event inside the caller's transaction; it lands if and only if the
    change does, and is sealed into the chain after commit (seal.py)."""
    fields = prepared_event(action, actor=actor, object_type=object_type, object_id=object_id,
                            payload=payload)
    if db.session.get_bind().dialect.name == "postgresql":
        event = AuditEvent(**with_digest(fields, next_seq()))
    else:  # SQLite: the rowid is known only after the insert; one UPDATE adds the digest
        event = AuditEvent(**fields, digest="")
        db.session.add(event)
        db.session.flush()
        event.digest = event_digest(seq=event.seq, **fields)
    db.session.add(event)
    db.session.flush()
    db.session.info[UNSEALED] = True
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None
    unsealed: int = 0  # committed events the sealer has not chained yet
    oldest_unsealed_at: datetime | None = None


def _read_head() -> tuple[int, str]:
    """The head row as stored now (Core, not the identity map, so a re-read really re-reads)."""
    row = db.session.execute(sa.select(_head.c.seq, _head.c.hash)
                             .where(_head.c.id == 1)).one_or_none()
    return (row.seq, row.hash) if row is not None else (0, GENESIS_HASH)


def verify_chain(*, batch: int = 1000) -> ChainReport:
    """Recompute every hash up to the chain head in chain order; report the first broken link,
    then check the events not sealed yet against their own digests.

    The head is read first: every event up to it was sealed when it was read, so sealers and
    appenders working meanwhile only add past it and never cause a false alarm on a live system.
    """
    head_seq, head_hash = _read_head()
    expected, prev_hash, last_prev, count = 1, GENESIS_HASH, GENESIS_HASH, 0
    query = (sa.select(_events).where(_events.c.chain_seq <= head_seq)
             .order_by(_events.c.chain_seq).execution_options(yield_per=batch))
    for event in db.session.execute(query):
        position = event.chain_seq
        if position != expected:
            return _broken(count, prev_hash, expected,
                           f"event {expected} is missing (next sealed event is {position})")
        if event.prev_hash != prev_hash:
            return _broken(count, prev_hash, position,
                           "prev_hash does not match the hash of the event before it")
        body = _body_of(event)
        if hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest() != event.hash:
            return _broken(count, prev_hash, position,
                           "the stored hash does not match the event's content (it was altered)")
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != event.digest:
            return _broken(count, prev_hash, position,
                           "the event's content does not match the digest written with it "
                           "(it was altered before it was sealed, or altered and rehashed)")
        last_prev, prev_hash = prev_hash, event.hash
        expected, count = expected + 1, count + 1
    if count < head_seq:
        return _broken(count, prev_hash, count + 1,
                       f"event {count + 1} is missing: the chain head says {head_seq} events but "
                       f"only {count} are stored (events were removed from the end)")
    past = db.session.scalar(sa.select(sa.func.min(_events.c.chain_seq))
                             .where(_events.c.chain_seq > head_seq))
    if past is not None and _read_head()[0] == head_seq:  # a moved head means a live sealer
        return _broken(count, prev_hash, head_seq + 1,
                       f"event {past} lies past the chain head ({head_seq}): it was added "
                       "without the log, or the head was rewound")
    if prev_hash != head_hash:
        return _broken(max(count - 1, 0), last_prev, count,
                       f"the chain head's hash {head_hash[:12]}… is not this event's "
                       f"{prev_hash[:12]}… (it was rewritten and rehashed, or the head altered)")
    return _check_unsealed(ChainReport(ok=True, events=count, head_seq=count,
                                       head_hash=prev_hash), batch=batch)


def _check_unsealed(report: ChainReport, *, batch: int) -> ChainReport:
    """Events not sealed yet: each must still match its digest; count them and their age."""
    unsealed, oldest = 0, None
    query = (sa.select(_events).where(_events.c.chain_seq.is_(None)).order_by(_events.c.seq)
             .execution_options(yield_per=batch))
    for event in db.session.execute(query):
        if hashlib.sha256(_body_of(event).encode("utf-8")).hexdigest() != event.digest:
            return ChainReport(
                ok=False, events=report.events, head_seq=report.head_seq,
                head_hash=report.head_hash, broken_seq=event.seq,
                reason=f"unsealed event {event.seq} does not match the digest written with it "
                       "(it was altered, or inserted without the log)")
        unsealed += 1
        oldest = event.at if oldest is None or event.at < oldest else oldest
    return ChainReport(ok=True, events=report.events, head_seq=report.head_seq,
                       head_hash=report.head_hash, unsealed=unsealed, oldest_unsealed_at=oldest)


def _broken(count: int, prev_hash: str, seq: int, reason: str) -> ChainReport:
    return ChainReport(ok=False, events=count, head_seq=count, head_hash=prev_hash,
                       broken_seq=seq, reason=reason)


def anchor_mismatch(*, seq: int, hash: str) -> str | None:
    """Why event `seq` no longer has the hash recorded outside the database, or None if it does.

    A chain that verifies can still have been rewritten from some event onwards and rehashed up
    to a new head; a head hash kept elsewhere (printed by `adal audit verify`) catches that.
    """
    stored = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.chain_seq == seq))
    if stored is None:
        return f"event {seq} of the anchor is not stored"
    if stored != hash.strip().lower():
        return (f"event {seq} now has hash {stored[:12]}…, the anchor says {hash[:12]}… "
                "(the chain was rewritten and rehashed up to here)")
    return None
