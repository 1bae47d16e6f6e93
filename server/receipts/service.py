"""Signing and checking receipts.

A receipt is canonical JSON (keys sorted, no spaces, UTF-8) of
`{kind, subject, sha256, size, received_at, audit_event, key_id}` and an Ed25519 `signature`
(base64) over exactly those bytes. `kind` is `visit` (subject: the visit's UUID; sha256 and size:
the submitted body's canonical JSON, as stored) or `evidence` (subject and sha256: the file's
SHA-256; size: its bytes). `audit_event` is the sequence number of the audit event that recorded
the receipt's subject, so a receipt can be matched against the hash-chained log.

The private key is the installation's (ADAL_SIGNING_KEY, else generated into the instance
folder); its public key is registered in `receipt_keys` the first time it signs, and any earlier
key is marked retired, never deleted. Ed25519 signatures are deterministic: the same receipt
signed again with the same key is byte-identical (a replayed visit gets the receipt it got first).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime, timezone

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app

from ..db import utcnow
from ..errors import AppError
from ..extensions import db
from .models import ReceiptKey

FIELDS = ("kind", "subject", "sha256", "size", "received_at", "audit_event", "key_id")
KINDS = ("visit", "evidence")


class ReceiptInvalid(Exception):
    """A receipt that does not verify; the message names why."""


def canonical(data: dict) -> bytes:
    """The exact bytes a signature covers: JSON, keys sorted, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def floats_written_alike(data) -> bool:
    """Whether every float in `data` is one orjson writes as Python does: Python switches to an
    exponent below 1e-4 and from 1e16 on, orjson below 1e-5 (0.00001 for Python's 1e-05) and
    writes small exponents unpadded (1e-7 for 1e-07); in between both write the shortest
    round-tripping digits. Bodies hold few floats (positions, numeric answers). False also for
    every integer orjson.loads turned into a float (beyond 64 bits: >= 1e19)."""
    stack = [data]
    while stack:
        node = stack.pop()
        for value in (node.values() if type(node) is dict else node):
            kind = type(value)
            if kind is float:
                if value != 0.0 and not 1e-4 <= abs(value) < 1e16:
                    return False
            elif kind is dict or kind is list:
                stack.append(value)
    return True


def canonical_parsed(data: dict, *, floats_checked: bool = False) -> bytes:
    """canonical() of what orjson.loads returned (dicts, lists, str, int, float, bool, None),
    byte for byte, at a fraction of the cost: orjson sorts keys by code point and escapes
    strings exactly as json.dumps(ensure_ascii=False) does; its floats differ only in where and
    how exponents are written (floats_written_alike; `floats_checked`: the caller found them
    alike), and it refuses ints beyond 64 bits. tests/receipts/test_canonical.py checks the two
    agree on random JSON documents."""
    if not floats_checked and not floats_written_alike(data):
        return canonical(data)
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return canonical(data)


def _private_key() -> Ed25519PrivateKey:
    return parsed_key()[1]


def parsed_key() -> tuple[str, Ed25519PrivateKey]:
    """(key id, private key) of the configured key, parsed once per app and key value (parsing
    and deriving the public key cost more than signing)."""
    raw = current_app.config["SIGNING_KEY"]
    cached = current_app.extensions.get("adal_signing_key")
    if cached is None or cached[0] != raw:
        private = _load_private_key(raw)
        cached = (raw, key_id_of(public_bytes(private.public_key())), private)
        current_app.extensions["adal_signing_key"] = cached
    return cached[1], cached[2]


def _load_private_key(raw: str) -> Ed25519PrivateKey:
    try:
        seed = base64.b64decode(raw, validate=True)
        if len(seed) == 32:
            return Ed25519PrivateKey.from_private_bytes(seed)
    except (binascii.Error, ValueError):
        pass
    try:  # a PEM private key (openssl genpkey -algorithm ed25519)
        key = serialization.load_pem_private_key(raw.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise AppError("ADAL_SIGNING_KEY is neither a base64 Ed25519 seed nor a PEM key.",
                       status=500, code="signing_key_invalid", title="Signing key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AppError("ADAL_SIGNING_KEY must be an Ed25519 key.", status=500,
                       code="signing_key_invalid", title="Signing key")
    return key


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(raw_public: bytes) -> str:
    """A short stable name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


def signing_key() -> tuple[str, Ed25519PrivateKey]:
    """(key id, private key), the public key registered (and older keys retired) on first use.
    Two requests signing first at the same moment both succeed: the row is inserted with ON
    CONFLICT DO NOTHING. A key once seen committed is remembered by the process. Flushes only."""
    key_id, private = parsed_key()
    known = current_app.extensions.setdefault("adal_receipt_keys", set())
    if key_id in known:
        return key_id, private
    raw = public_bytes(private.public_key())
    if db.session.scalar(sa.select(ReceiptKey.id).where(ReceiptKey.key_id == key_id)) is not None:
        known.add(key_id)  # committed by an earlier request: no need to look again
        return key_id, private
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    inserted = db.session.execute(
        dialect.insert(ReceiptKey).values(key_id=key_id, public_key=base64.b64encode(raw).decode(),
                                          created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key_id"])).rowcount
    if inserted:
        db.session.execute(sa.update(ReceiptKey).where(ReceiptKey.retired_at.is_(None),
                                                      ReceiptKey.key_id != key_id)
                           .values(retired_at=utcnow()))
    return key_id, private


def _iso(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def sign(*, kind: str, subject: str, sha256: str, size: int, received_at: datetime,
         audit_event: int | None) -> dict:
    """A signed receipt. Flushes only (the key's registration)."""
    key_id, private = signing_key()
    fields = {"kind": kind, "subject": subject, "sha256": sha256, "size": size,
              "received_at": _iso(received_at), "audit_event": audit_event, "key_id": key_id}
    signature = base64.b64encode(private.sign(canonical(fields))).decode()
    return {**fields, "signature": signature}


def visit_receipt(*, visit, submission, audit_event: int | None) -> dict:
    """The receipt of one submitted revision of a visit, from what is stored."""
    body = canonical(submission.body)
    return sign(kind="visit", subject=str(visit.uuid), sha256=submission.body_sha256,
                size=len(body), received_at=submission.received_at, audit_event=audit_event)


def evidence_receipt(*, media, received_at: datetime, audit_event: int | None) -> dict:
    """The receipt of a completed upload: the file's SHA-256 and size as stored."""
    return sign(kind="evidence", subject=media.sha256, sha256=media.sha256, size=media.size,
                received_at=received_at, audit_event=audit_event)


def public_keys() -> list[dict]:
    """Every public key receipts were signed with, oldest first."""
    return [{"key_id": k.key_id, "public_key": k.public_key, "created_at": k.created_at,
             "retired_at": k.retired_at}
            for k in db.session.scalars(sa.select(ReceiptKey).order_by(ReceiptKey.id))]


def verify(receipt, keys: dict[str, str]) -> dict:
    """Check a receipt against {key id: base64 public key}; returns its fields, or raises
    ReceiptInvalid naming the first thing wrong."""
    if not isinstance(receipt, dict):
        raise ReceiptInvalid("not a receipt: a JSON object is expected")
    missing = [f for f in (*FIELDS, "signature") if f not in receipt]
    if missing:
        raise ReceiptInvalid(f"missing fields: {', '.join(missing)}")
    extra = sorted(set(receipt) - {*FIELDS, "signature"})
    if extra:
        raise ReceiptInvalid(f"unknown fields: {', '.join(extra)}")
    if receipt["kind"] not in KINDS:
        raise ReceiptInvalid(f"unknown kind {receipt['kind']!r}")
    public = keys.get(receipt["key_id"]) if isinstance(receipt["key_id"], str) else None
    if public is None:
        raise ReceiptInvalid(f"unknown key id {receipt['key_id']!r}: not one of this "
                             f"server's keys")
    try:
        signature = base64.b64decode(str(receipt["signature"]), validate=True)
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public))
        key.verify(signature, canonical({f: receipt[f] for f in FIELDS}))
    except (binascii.Error, ValueError) as exc:
        raise ReceiptInvalid(f"the signature is not base64 of 64 bytes ({exc})") from exc
    except InvalidSignature as exc:
        raise ReceiptInvalid("the signature does not match: the receipt was changed, or "
                             "signed with another key than the one it names") from exc
    return receipt


def stored_visit_receipt(*, visit, sha: str) -> dict:
    """The receipt of the stored revision whose body has SHA-256 `sha` (a replay gets the
    receipt its first sending got; the same key signs it byte-identically)."""
    from ..audit.models import AuditEvent

    submission = next((s for s in reversed(visit.submissions) if s.body_sha256 == sha),
                      visit.submissions[-1])
    events = db.session.execute(
        sa.select(AuditEvent.seq, AuditEvent.payload)
        .where(AuditEvent.object_type == "visit", AuditEvent.object_id == str(visit.uuid),
               AuditEvent.action.in_(("visit_submitted", "visit_amended")))
        .order_by(AuditEvent.seq)).all()
    seq = next((s for s, payload in events
                if (payload or {}).get("body_sha256") == submission.body_sha256), None)
    return visit_receipt(visit=visit, submission=submission, audit_event=seq)


def stored_evidence_receipt(*, upload) -> dict:
    """The receipt of a completed upload, from what is stored: the same on every ask."""
    from ..audit.models import AuditEvent

    events = db.session.execute(
        sa.select(AuditEvent.seq, AuditEvent.payload)
        .where(AuditEvent.object_type == "media", AuditEvent.object_id == upload.media.sha256,
               AuditEvent.action == "media_stored").order_by(AuditEvent.seq)).all()
    seq = next((s for s, payload in events if (payload or {}).get("upload") == upload.id), None)
    return evidence_receipt(media=upload.media, received_at=upload.completed_at, audit_event=seq)


def as_header(receipt: dict) -> str:
    """A receipt in an HTTP header: base64 of its canonical JSON (signature included)."""
    return base64.b64encode(canonical(receipt)).decode("ascii")
