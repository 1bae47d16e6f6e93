"""The PostgreSQL intake fast path (server/visits/intake.py): the same answers and rows as the
ORM path, in at most 4 round trips counted on the wire; everything unusual left to the ORM path."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import orjson
import psycopg
import pytest
import sqlalchemy as sa

from bench.roundtrips import RoundTrips
from server.assignments.models import Assignment
from server.audit.models import AuditEvent
from server.audit.seal import seal
from server.audit.service import verify_chain
from server.extensions import db
from server.jobs.models import Job
from server.receipts import service as receipts
from server.visits import intake
from server.visits.models import Answer, Flag, Visit, VisitSectionScore, VisitSubmission
from server.visits.schemas import VisitOut
from server.visits.views import dump_visit
from tests.visits.builders import visit_payload


def _view() -> dict:
    at = datetime(2026, 11, 20, 10, 2, tzinfo=timezone(timedelta(hours=5)))
    answer = {"question_id": "A01", "value": ["x", 2], "not_applicable": False, "note": "n",
              "evidence": ["ab" * 32], "corrected": {"value": "no", "reason": "r"}}
    return {
        "uuid": uuid.uuid4(), "status": "submitted", "assignment": 3, "office": "AST-1",
        "inspector": "insp", "form_key": "k", "form_version": 2, "started_at": at,
        "ended_at": at + timedelta(minutes=40), "position_start": {"lat": 1.5, "at": None},
        "position_end": None, "score": 87, "score_uncapped": None,
        "section_scores": {"A": 90.5, "B": None}, "critical": ["C1"],
        "flags": [{"kind": "far", "severity": "high", "detail": {"m": 412}}],
        "answers": [answer], "lost_points": [{"question": "A02", "points": 1.5}],
        "revision": 1, "submitted_at": at, "history": [
            {"at": at, "action": "visit_submitted", "actor": "insp", "revision": 1,
             "detail": {"score": 87}}],
        "revisions": [{"revision": 1, "received_at": at, "score": 87, "answers": [answer]}],
        "receipt": {"kind": "visit", "subject": "s", "sha256": "0" * 64, "size": 10,
                    "received_at": "2026-11-20T05:02:00.000000+00:00", "audit_event": 9,
                    "key_id": "k", "signature": "sig"},
    }


def test_the_hand_dumper_gives_what_marshmallow_gives():
    view = _view()
    assert dump_visit(view) == VisitOut().dump(view)


@pytest.fixture
def pg(pg_database):
    if pg_database is None:
        pytest.skip("the fast path is PostgreSQL's (SQLite takes the ORM path)")


def _assignments(app, world, n: int) -> list[int]:
    with app.app_context():
        first = db.session.get(Assignment, world["assignment"])
        extra = [Assignment(office_id=first.office_id, inspector_id=first.inspector_id,
                            form_version_id=first.form_version_id,
                            window_start=first.window_start, window_end=first.window_end)
                 for _ in range(n - 1)]
        db.session.add_all(extra)
        db.session.commit()
        return [world["assignment"]] + [a.id for a in extra]


def _one_stored(app, client, world, form) -> tuple[list[int], dict]:
    """Two open assignments of the inspector, a visit stored on the first (on the ORM path: it
    registers the receipt key, so the next plain visit can take the fast path); (ids, headers)."""
    ids = _assignments(app, world, 2)
    headers = world["inspector"]
    assert client.post("/api/v1/visits", json=visit_payload(form, assignment=ids[0]),
                       headers=headers).status_code == 201
    return ids, headers


def _stored(app, visit_uuid) -> dict:
    """A visit's rows, without ids and times, to compare the paths."""
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == visit_uuid))
        return {
            "visit": (visit.status, visit.score, visit.score_uncapped, visit.section_scores,
                      visit.critical, visit.position_start, visit.device, visit.revision),
            "answers": [(a.question_id, a.value, a.not_applicable, a.note)
                        for a in db.session.scalars(sa.select(Answer).where(
                            Answer.visit_id == visit.id).order_by(Answer.id))],
            "sections": sorted((s.section_id, s.score) for s in db.session.scalars(
                sa.select(VisitSectionScore).where(VisitSectionScore.visit_id == visit.id))),
            "flags": [(f.kind, f.severity) for f in db.session.scalars(
                sa.select(Flag).where(Flag.visit_id == visit.id).order_by(Flag.id))],
            "body": db.session.scalar(sa.select(VisitSubmission.body).where(
                VisitSubmission.visit_id == visit.id)),
        }


def _comparable(answer: dict) -> dict:
    out = {k: v for k, v in answer.items() if k not in {"uuid", "assignment", "receipt"}}
    out.pop("submitted_at")
    out["history"] = [{**{k: v for k, v in h.items() if k != "at"},
                       "detail": {k: v for k, v in h["detail"].items() if k != "body_sha256"}}
                      for h in out["history"]]
    out["revisions"] = [{k: v for k, v in r.items() if k != "received_at"}
                        for r in out["revisions"]]
    return out


def test_fast_and_orm_paths_store_and_answer_the_same_in_at_most_4_round_trips(
        pg, app, client, world, default_form, monkeypatch):
    ids = _assignments(app, world, 3)
    headers = world["inspector"]
    bodies = [visit_payload(default_form, assignment=i) for i in ids]
    calls = []
    real = intake._check_and_store
    monkeypatch.setattr(intake, "_check_and_store",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    first = client.post("/api/v1/visits", json=bodies[0], headers=headers)  # registers the key
    assert first.status_code == 201 and calls == []  # the ORM path
    with app.app_context():
        engine = db.engine
    app.config["AUDIT_SEAL"] = "off"  # the sealer's trips (once per batch) are counted apart
    with RoundTrips(engine) as trips:
        fast = client.post("/api/v1/visits", json=bodies[1], headers=headers)
        assert fast.status_code == 201, fast.json
        assert trips.count <= 4, trips.statements()
        fast_trips = trips.count
    with app.app_context(), RoundTrips(engine) as trips:
        assert seal(engine) == 1
        seal_trips = trips.count
    assert seal_trips <= 8, trips.statements()
    app.config["AUDIT_SEAL"] = "inline"
    assert calls == [1]
    assert fast_trips == 2
    assert _comparable(fast.json) == _comparable(first.json)
    assert fast.json["receipt"]["audit_event"] is not None
    a, b = _stored(app, bodies[0]["uuid"]), _stored(app, bodies[1]["uuid"])
    assert a == {**b, "body": a["body"]} and b["body"] == bodies[1]
    assert client.get(f"/api/v1/visits/{bodies[1]['uuid']}", headers=headers).json["answers"] \
        == fast.json["answers"]
    replay = client.post("/api/v1/visits", json=bodies[1], headers=headers)
    assert replay.status_code == 200 and replay.json["uuid"] == bodies[1]["uuid"]
    with app.app_context():
        assert db.session.get(Assignment, ids[1]).status == "done"
        report = verify_chain()
        assert report.ok and report.unsealed == 0


def test_what_the_fast_path_cannot_answer_goes_to_the_orm_path_unharmed(
        pg, app, client, world, default_form, count):
    ids = _assignments(app, world, 3)
    headers = world["inspector"]
    assert client.post("/api/v1/visits", json=visit_payload(default_form, assignment=ids[0]),
                       headers=headers).status_code == 201
    bad = visit_payload(default_form, assignment=ids[1])
    bad["answers"][0]["value"] = "not an answer of this question at all"
    bad["ended_at"] = "2020-01-01T00:00:00+00:00"
    refused = client.post("/api/v1/visits", json=bad, headers=headers)
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"ended_at", "answers"}
    with app.app_context():
        db.session.execute(sa.update(Assignment).where(Assignment.id == ids[2])
                           .values(status="cancelled"))
        db.session.commit()
    cancelled = client.post("/api/v1/visits", json=visit_payload(default_form, assignment=ids[2]),
                            headers=headers)
    assert cancelled.status_code == 409
    other = client.post("/api/v1/visits", json=visit_payload(default_form, assignment=ids[1]),
                        headers=world["other_inspector"])
    assert other.status_code == 422  # not their assignment
    nul = visit_payload(default_form, assignment=ids[1])
    nul["answers"][0]["note"] = "a\x00b"
    refused = client.post("/api/v1/visits", json=nul, headers=headers)
    assert refused.status_code == 422 and "NUL" in refused.json["detail"]
    assert count(Visit) == 1
    with app.app_context():
        assert db.session.get(Assignment, ids[1]).status == "open"
    critical = client.post("/api/v1/visits", headers=headers,
                           json=visit_payload(default_form, assignment=ids[1], best=False))
    assert critical.status_code == 201 and critical.json["critical"]
    assert count(Job) == 1  # its alert job, written by the ORM path (alerts.hooks)
    with app.app_context():
        assert verify_chain().ok


def test_a_dropped_pooled_connection_is_retried_once(pg, app, client, world, default_form):
    ids, headers = _one_stored(app, client, world, default_form)
    with app.app_context():  # the server drops every connection of the pool
        pids = [pid for (pid,) in db.session.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"))]
        for pid in pids:
            db.session.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        db.session.commit()
    answer = client.post("/api/v1/visits", json=visit_payload(default_form, assignment=ids[1]),
                         headers=headers)
    assert answer.status_code == 201, answer.json
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.seq)).where(
            AuditEvent.action == "visit_submitted")) == 2


def test_an_integer_beyond_64_bits_goes_to_the_orm_path_unaltered(
        pg, app, client, world, default_form, monkeypatch, count):
    """orjson reads 123456789012345678901234567890 as 1.2345678901234568e+29: the fast path
    must not judge, store or hash that; the ORM path's parser keeps the integer."""
    calls = []
    real = intake._check_and_store
    monkeypatch.setattr(intake, "_check_and_store",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    ids, headers = _one_stored(app, client, world, default_form)
    body = visit_payload(default_form, assignment=ids[1])
    body["answers"] = [a for a in body["answers"] if a["question"] != "B06_seats"] + [
        {"question": "B06_seats", "value": 123456789012345678901234567890}]
    calls.clear()
    answer = client.post("/api/v1/visits", json=body, headers=headers)
    assert calls == []
    assert answer.status_code == 422  # the form's constraint (. <= 1000), judged on the integer
    assert "B06_seats" in answer.json["errors"]["answers"]
    assert count(Visit) == 1
    assert not receipts.floats_written_alike(orjson.loads(json.dumps(body)))
    assert receipts.floats_written_alike(orjson.loads(json.dumps(
        visit_payload(default_form, assignment=ids[1]))))


def test_a_restarted_server_costs_no_request_whatever_the_pool_holds(
        pg, app, client, world, default_form):
    """Every pooled connection is dead after a database restart: the first failure discards
    them all (as SQLAlchemy does), so the fast path's one retry gets a new connection."""
    ids = _assignments(app, world, 1)
    with app.app_context():
        held = [db.engine.connect() for _ in range(3)]  # three connections into the pool
        for connection in held:
            connection.exec_driver_sql("SELECT 1")
        for connection in held:
            connection.close()
        assert db.engine.pool.checkedin() >= 3
        with psycopg.connect(str(db.engine.url.set(drivername="postgresql")),
                             autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    answer = client.post("/api/v1/visits", json=visit_payload(default_form, assignment=ids[0]),
                         headers=world["inspector"])
    assert answer.status_code == 201, answer.json


def test_a_connection_that_refuses_autocommit_is_503_and_not_leaked(
        pg, app, client, world, default_form, monkeypatch, count):
    ids, headers = _one_stored(app, client, world, default_form)
    real = psycopg.Connection.autocommit

    def refuse(connection, value):
        if value:
            raise psycopg.OperationalError("cannot change autocommit now")
        real.fset(connection, value)

    monkeypatch.setattr(psycopg.Connection, "autocommit", property(real.fget, refuse))
    answer = client.post("/api/v1/visits", json=visit_payload(default_form, assignment=ids[1]),
                         headers=headers)
    monkeypatch.undo()
    assert answer.status_code == 503 and answer.json["code"] == "database_unavailable"
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
    assert count(Visit) == 1


def test_a_database_gone_mid_request_is_503_and_nothing_stored(
        pg, app, client, world, default_form, monkeypatch, count):
    ids, headers = _one_stored(app, client, world, default_form)

    execute = psycopg.Cursor.execute

    def gone(cursor, query, *args, **kwargs):  # the write statement meets a dead server
        if str(query).startswith("WITH a AS"):
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", gone)
    answer = client.post("/api/v1/visits", json=visit_payload(default_form, assignment=ids[1]),
                         headers=headers)
    monkeypatch.undo()
    assert answer.status_code == 503
    assert answer.json["code"] == "database_unavailable"
    assert count(Visit) == 1


def test_the_fast_path_hashes_the_body_as_the_orm_path_does():
    """Replays are recognised by this hash whichever path stored the visit."""
    import hashlib

    from server.receipts.service import canonical
    from server.visits.service import body_sha256
    body = {"b": [1, 2.5, None, True], "a": {"é": "ж\u2028\t\"\\"}, "c": "x" * 3, "d": 1e-7}
    assert hashlib.sha256(canonical(body)).hexdigest() == body_sha256(body)
