"""The PostgreSQL fast path of POST /api/v1/visits: a new visit in two round trips.

1. One read, outside any transaction block: the bearer token with its user, whether the UUID is
   already stored, the assignment (with its office and form version) and the audit event's seq.
2. One data-modifying statement, atomic on its own (autocommit: no BEGIN, no COMMIT): the
   assignment moves from open to done and, only if it did, the visit, its answers, section
   scores, findings, flags, the submission body, the audit event (unsealed, see
   server/audit/seal.py) and the token's last_used_at are inserted. Follow-up inserts for a
   stored visit go in `follow_ups()` below, as members of that same statement.

Everything else takes the ORM path (service.submit_visit), which gives the exact answer:
replays, conflicts, evidence, unplanned visits, cookies, any shape error, SQLite. The fast path
checks, scores and flags with the same functions (submission._check), so it accepts and refuses
exactly what the ORM path does; it only answers 201 itself and otherwise steps aside before
writing anything (or after a write that stored nothing).
"""
from __future__ import annotations

import hashlib
import re
import uuid as uuid_module
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
from flask import Response, current_app, g, request
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..assignments.models import AssignmentStatus
from ..audit import seal
from ..audit.service import prepared_event, with_digest
from ..auth.models import ApiToken, Role, User
from ..auth.service import LAST_USED_RESOLUTION, TOKEN_PREFIX, hash_token
from ..db import utcnow
from ..extensions import db
from ..forms.models import FormVersion
from ..receipts import service as receipts
from ..rest import hostile_text_errors, request_body
from . import reading, storing, submission
from .schemas import quick_load
from .views import dump_visit

def _driver_sql(sql: str) -> str:
    """`:name` parameters as psycopg's `%(name)s`: the statements run with exec_driver_sql, so
    no SQLAlchemy compile or type processing per request (psycopg gives aware datetimes)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


_READ = _driver_sql(
    "SELECT t.id AS token_id, t.expires_at, t.revoked_at, t.last_used_at, u.id AS user_id, "
    "u.login, u.role, u.active, "
    "EXISTS (SELECT 1 FROM visits v WHERE v.uuid = :uuid) AS stored, "
    "a.id AS assignment_id, a.status, a.window_start, a.window_end, a.office_id, "
    "a.form_version_id, a.inspector_id, o.code AS office_code, o.lat, o.lon, fv.version, "
    "fv.sha256, "
    "f.key AS form_key, nextval(pg_get_serial_sequence('audit_events', 'seq')) AS event_seq, "
    "EXISTS (SELECT 1 FROM receipt_keys k WHERE k.key_id = :key_id) AS key_known "
    "FROM api_tokens t JOIN users u ON u.id = t.user_id "
    # By primary key alone (whose assignment it is, _usable checks): with the inspector in the
    # join condition the planner may walk the inspector's index over every assignment they
    # ever had (seen on a fresh database: 17,000 rows filtered per visit).
    "LEFT JOIN assignments a ON a.id = CAST(:assignment AS integer) "
    "LEFT JOIN offices o ON o.id = a.office_id "
    "LEFT JOIN form_versions fv ON fv.id = a.form_version_id "
    "LEFT JOIN survey_forms f ON f.id = fv.form_id "
    "WHERE t.token_hash = :token_hash"
)

_WRITE_HEAD = (
    "WITH a AS (UPDATE assignments SET status = 'done' WHERE id = :assignment_id "
    "AND status = 'open' RETURNING id), "
    "v AS (INSERT INTO visits (uuid, assignment_id, office_id, form_version_id, inspector_id, "
    "started_at, ended_at, position_start, position_end, device, status, score, "
    "score_uncapped, section_scores, critical, revision, submitted_at, updated_at) "
    "SELECT :uuid, a.id, :office_id, :form_version_id, :inspector_id, :started_at, :ended_at, "
    "CAST(:position_start AS jsonb), CAST(:position_end AS jsonb), CAST(:device AS jsonb), "
    "'submitted', :score, :score_uncapped, CAST(:section_scores AS jsonb), "
    "CAST(:critical AS jsonb), 1, :now, :now FROM a RETURNING id), "
    "ans AS (INSERT INTO answers (visit_id, question_id, value, not_applicable, note) "
    "SELECT v.id, t.question, coalesce(t.value, 'null'), coalesce(t.not_applicable, false), "
    "coalesce(t.note, '') FROM v, ROWS FROM (jsonb_to_recordset(CAST(:answers AS jsonb)) "
    "AS (question varchar, value jsonb, not_applicable boolean, note text)) "
    "WITH ORDINALITY AS t(question, value, not_applicable, note, i) ORDER BY t.i), "
    "sec AS (INSERT INTO visit_section_scores (visit_id, section_id, score) "
    "SELECT v.id, t.key, CAST(t.value AS double precision) FROM v, "
    "jsonb_each_text(CAST(:sections AS jsonb)) AS t), "
    "fin AS (INSERT INTO visit_findings (visit_id, question_id) "
    "SELECT v.id, t.q FROM v, jsonb_array_elements_text(CAST(:critical AS jsonb)) AS t(q)), "
    "fl AS (INSERT INTO flags (visit_id, kind, severity, detail) "
    "SELECT v.id, t.kind, t.severity, t.detail FROM v, ROWS FROM (jsonb_to_recordset("
    "CAST(:flags AS jsonb)) AS (kind varchar, severity varchar, detail jsonb)) "
    "WITH ORDINALITY AS t(kind, severity, detail, i) ORDER BY t.i), "
    "sub AS (INSERT INTO visit_submissions (visit_id, revision, body, body_sha256, "
    "received_at, score) SELECT v.id, 1, CAST(:body AS json), :sha, :now, :score FROM v), "
    "ev AS (INSERT INTO audit_events (seq, at, actor_id, actor_login, action, object_type, "
    "object_id, payload, digest) SELECT :event_seq, :event_at, :inspector_id, :login, "
    "'visit_submitted', 'visit', :uuid_text, CAST(:payload AS json), :digest FROM v), "
    "tok AS (UPDATE api_tokens SET last_used_at = :now WHERE id = :token_id AND :touch "
    "AND EXISTS (SELECT 1 FROM v))")


@dataclass
class FollowUp:
    """One more member of the write statement: `sql` is `name AS (INSERT ... SELECT v.id, ...
    FROM v ...)` (v is the stored visit's row), `params` its bind values (names prefixed)."""
    sql: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class StoredVisit:
    """What the fast path is about to store: enough for a follow-up to decide and insert."""
    uuid: uuid_module.UUID
    inspector_id: int
    office_id: int
    score: float | None
    critical: list[str]
    flags: list[str]


def follow_ups(stored: StoredVisit) -> list[FollowUp]:
    """Inserts that must land with a new visit (in the same statement, atomically). The ORM
    path's counterpart is the end of service.submit_visit. None yet: visits with critical
    findings (alert jobs) take the ORM path (_check_and_store)."""
    return []


_STATEMENTS: dict[tuple[str, ...], str] = {}


def _write_statement(extra: list[FollowUp]) -> str:
    key = tuple(f.sql for f in extra)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _driver_sql(_WRITE_HEAD + "".join(", " + f.sql for f in extra)
                           + " SELECT id FROM v")
        _STATEMENTS[key] = stmt
    return stmt


def enabled(app) -> bool:
    cached = app.extensions.get("adal_fast_intake")
    if cached is None:
        cached = bool(app.config.get("FAST_INTAKE", True)) and \
            app.extensions["sqlalchemy"].engine.dialect.name == "postgresql"
        app.extensions["adal_fast_intake"] = cached
    return cached


def fast_path(view):
    """Put around the POST /visits view: answers a plain new visit itself, else calls `view`."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        response = try_fast() if enabled(current_app) else None
        return response if response is not None else view(*args, **kwargs)
    return wrapped


class _Version:
    """What submission.compiled() needs of a form version; the definition is read only on a miss."""

    def __init__(self, version_id: int, sha256: str) -> None:
        self.id, self.sha256 = version_id, sha256

    @property
    def definition(self) -> dict:
        return db.session.scalar(sa.select(FormVersion.definition)
                                 .where(FormVersion.id == self.id))


class _Office:
    def __init__(self, lat: float, lon: float) -> None:
        self.lat, self.lon = lat, lon


class _Visit:
    def __init__(self, uuid, office: _Office) -> None:
        self.uuid, self.office = uuid, office


def _plain(body: dict) -> bool:
    """A body the fast path may take: planned, answers without evidence."""
    if not isinstance(body.get("assignment"), int) or not isinstance(body.get("answers"), list):
        return False
    return all(isinstance(item, dict) and not item.get("evidence") for item in body["answers"])


class _Pooled:
    """A pooled psycopg connection in autocommit, used directly: SQLAlchemy's result machinery
    cost ~150 us of CPU per read of twenty columns (docs/benchmarks.md), a tenth of the fast
    path. psycopg's errors come out as SQLAlchemy's (errors.py answers OperationalError with a
    503), and a connection the server dropped is invalidated, never pooled again."""

    def __init__(self, engine: sa.Engine) -> None:
        self.pool = engine.pool
        self.proxied = engine.raw_connection()
        self.driver = self.proxied.driver_connection
        self.broken = False
        try:
            self.driver.autocommit = True
        except psycopg.Error as exc:
            if not (self.driver.broken or self.driver.closed):
                self.proxied.invalidate()  # in an odd state: closed, not pooled again
            try:
                self._fail(exc, "")
            finally:
                self.proxied.close()  # back to the pool's bookkeeping, never leaked

    def execute(self, sql: str, params: dict):
        try:
            return self.driver.cursor(row_factory=namedtuple_row).execute(sql, params)
        except psycopg.Error as exc:
            self._fail(exc, sql, params)

    def _fail(self, exc: psycopg.Error, sql: str, params: dict | None = None):
        self.broken = self.driver.broken or self.driver.closed
        if self.broken:
            # As SQLAlchemy does on a disconnect: every connection pooled before this one is
            # recycled on its next checkout (a restarted server left them all dead), and this
            # one is closed now.
            self.pool._invalidate(self.proxied, exc)
        # Parameters stay out of the message (it is logged): they hold the visit's answers.
        raise DBAPIError.instance(sql, params, exc, psycopg.Error, hide_parameters=True,
                                  connection_invalidated=self.broken) from exc

    def close(self) -> None:
        if not self.broken:
            try:
                self.driver.autocommit = False  # as the pool hands connections out
            except psycopg.Error:
                self.proxied.invalidate()
        self.proxied.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _read(engine, *, secret: str, data: dict, key_id: str):
    """The read on an autocommit connection (returned with it); a connection the server or a
    firewall dropped while pooled is retried once on a new one (no pre-ping round trip)."""
    params = {"uuid": data["uuid"], "assignment": data["assignment"],
              "token_hash": hash_token(secret), "key_id": key_id}
    for attempt in (1, 2):
        connection = _Pooled(engine)
        try:
            return connection, connection.execute(_READ, params).fetchone()
        except DBAPIError as exc:
            connection.close()
            if not exc.connection_invalidated or attempt == 2:
                raise  # errors.py: 503 database_unavailable, nothing was stored
    raise AssertionError("unreachable")


def _usable(row, now: datetime) -> bool:
    return (row is not None and row.active and row.revoked_at is None and row.expires_at > now
            and row.role == Role.INSPECTOR.value and not row.stored
            and row.assignment_id is not None and row.inspector_id == row.user_id
            and row.status == AssignmentStatus.OPEN.value)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def try_fast() -> Response | None:
    """201 with the stored visit, or None: the ORM path answers (nothing was stored)."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    if request.mimetype != "application/json":
        return None
    raw = request_body(request)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    # NUL or lone surrogates: the ORM path's parser names the fields. orjson refuses raw
    # control characters, invalid UTF-8 and escaped lone surrogates, so hostile text can only
    # arrive as the escape \u0000 (JSON spells it only so): without it, nothing to look for.
    if not isinstance(body, dict) or not _plain(body) or (
            b"\\u0000" in raw and hostile_text_errors(body)):
        return None
    # orjson.loads reads an integer beyond 64 bits as a float, where the ORM path's parser keeps
    # it exact: such a body (and any float the canonical form writes unlike orjson) goes there.
    if not receipts.floats_written_alike(body):
        return None
    data = quick_load(body)
    if data is None:
        return None  # VisitIn on the ORM path names every problem
    app = current_app._get_current_object()
    key_id = receipts.parsed_key()[0]  # the read checks it is registered: signing won't write
    now = utcnow()
    connection, row = _read(app.extensions["sqlalchemy"].engine, secret=secret, data=data,
                            key_id=key_id)
    with connection:
        if not _usable(row, now) or not row.key_known:
            return None  # a new signing key is registered on the ORM path, once
        app.extensions.setdefault("adal_receipt_keys", set()).add(key_id)
        # The body's canonical JSON once: its SHA-256 is service.body_sha256 (the same text, as
        # the fast path takes no lone surrogates) and its length the receipt's size.
        canonical = receipts.canonical_parsed(body, floats_checked=True)
        stored = _check_and_store(connection, app=app, row=row, data=data, body=body, now=now,
                                  sha=hashlib.sha256(canonical).hexdigest())
    if stored is None:
        return None
    view, params, inspector = stored
    seal.committed(app)
    g.adal_user = inspector
    g.adal_token = ApiToken(id=row.token_id, user_id=row.user_id, expires_at=row.expires_at)
    view["receipt"] = receipts.sign(
        kind="visit", subject=str(data["uuid"]), sha256=params["sha"],
        size=len(canonical), received_at=now, audit_event=params["event_seq"])
    return Response(orjson.dumps(dump_visit(view)), status=201, mimetype="application/json")


_LANGS: dict[str, str] = {}  # Accept-Language header -> language (phones send a few values)


def _lang() -> str:
    header = request.headers.get("Accept-Language", "")
    lang = _LANGS.get(header)
    if lang is None:
        lang = request.accept_languages.best_match(("kk", "ru", "en", "uz")) or "en"
        if len(_LANGS) >= 256:
            _LANGS.clear()
        _LANGS[header] = lang
    return lang


def _check_and_store(connection, *, app, row, data: dict, body: dict, now: datetime, sha: str):
    form = submission.compiled(_Version(row.form_version_id, row.sha256))
    visit = _Visit(data["uuid"], _Office(row.lat, row.lon))
    inspector = User(id=row.user_id, login=row.login, role=Role(row.role), active=True)
    intake = submission._check(visit=visit, form=form, inspector=inspector, data=data,
                            lang=_lang(), window=(row.window_start, row.window_end))
    result = intake.result
    if result.critical:
        # Critical findings raise alerts through the job outbox (service.submit_visit calls
        # alerts.hooks.visit_received, dispatched after the session commits): such visits are
        # rare, so they take the ORM path rather than a second outbox here. Nothing is written.
        return None
    critical = list(result.critical)
    flags = [f.kind for f in intake.flags]
    event = with_digest(prepared_event(
        "visit_submitted", actor=inspector, object_type="visit", object_id=data["uuid"],
        payload={"revision": 1, "office": row.office_code,
                 "form": f"{row.form_key}/v{row.version}", "score": result.score,
                 "critical": critical, "flags": flags, "body_sha256": sha}), row.event_seq)
    answers = data["answers"]
    sections = {k: v for k, v in result.sections.items() if v is not None}
    position_start = storing._position(data.get("position_start"))
    position_end = storing._position(data.get("position_end"))
    params = {
        "assignment_id": row.assignment_id, "uuid": data["uuid"], "office_id": row.office_id,
        "form_version_id": row.form_version_id, "inspector_id": row.user_id,
        "started_at": data["started_at"], "ended_at": data["ended_at"],
        "position_start": _dumps(position_start), "position_end": _dumps(position_end),
        "device": _dumps(data.get("device") or {}), "score": result.score,
        "score_uncapped": result.uncapped, "section_scores": _dumps(result.sections),
        "critical": _dumps(critical), "now": now,
        # Arrays as one JSON document each: a single fast encode here, unpacked by PostgreSQL.
        "answers": _dumps(answers), "sections": _dumps(sections),
        "flags": _dumps([{"kind": f.kind, "severity": f.severity, "detail": f.detail}
                         for f in intake.flags]),
        "body": _dumps(body), "sha": sha, "event_seq": row.event_seq,
        "event_at": event["at"], "login": row.login, "uuid_text": str(data["uuid"]),
        "payload": _dumps(event["payload"]), "digest": event["digest"],
        "token_id": row.token_id,
        "touch": row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION,
    }
    extra = follow_ups(StoredVisit(uuid=data["uuid"], inspector_id=row.user_id,
                                   office_id=row.office_id, score=result.score,
                                   critical=critical, flags=flags))
    for follow_up in extra:
        params.update(follow_up.params)
    try:
        stored_row = connection.execute(_write_statement(extra), params).fetchone()
    except IntegrityError:  # a twin with this UUID was stored first: the ORM path replays it
        return None
    if stored_row is None:  # the assignment stopped being open since the read
        return None
    answer_views = [{"question_id": item["question"], "value": item.get("value"),
                     "not_applicable": item.get("not_applicable", False),
                     "note": item.get("note", ""), "evidence": [], "corrected": None}
                    for item in answers]
    view = {
        "uuid": data["uuid"], "status": "submitted", "assignment": row.assignment_id,
        "office": row.office_code, "inspector": row.login, "form_key": row.form_key,
        "form_version": row.version, "started_at": data["started_at"],
        "ended_at": data["ended_at"], "position_start": position_start,
        "position_end": position_end, "score": result.score,
        "score_uncapped": result.uncapped, "section_scores": result.sections,
        "critical": critical,
        "flags": [{"kind": f.kind, "severity": f.severity, "detail": f.detail}
                  for f in intake.flags],
        "answers": answer_views,
        "lost_points": reading._lost(result), "revision": 1, "submitted_at": now,
        "history": [{"at": event["at"], "action": "visit_submitted", "actor": row.login,
                     "revision": 1, "detail": event["payload"]}],
        # The one revision's answers are the visit's (no evidence, no corrections yet): the
        # same list, which dump_visit then dumps once (reading._revision would give equal).
        "revisions": [{"revision": 1, "received_at": now, "score": result.score,
                       "answers": answer_views}],
    }
    return view, params, inspector
