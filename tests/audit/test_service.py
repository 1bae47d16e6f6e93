"""The hash-chained audit log: appending, verifying, and catching a bribed admin's raw SQL."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from server.audit import service
from server.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from server.audit.service import append_event, event_digest, event_hash, verify_chain
from server.auth.models import User
from server.db import unit_of_work
from server.extensions import db
from server.offices.models import Region
from tests import factories


def _events(app) -> list[AuditEvent]:
    """Every stored event in seq order, read back from the database in a fresh context."""
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))


def _recomputed(event: AuditEvent) -> str:
    return event_hash(prev_hash=event.prev_hash, seq=event.seq, at=event.at,
                      actor_id=event.actor_id, actor_login=event.actor_login,
                      action=event.action, object_type=event.object_type,
                      object_id=event.object_id, payload=event.payload)


def _head(app) -> tuple[int, str] | None:
    with app.app_context():
        head = db.session.get(AuditHead, 1)
        return (head.seq, head.hash) if head else None


def _verify(app) -> service.ChainReport:
    with app.app_context():
        return verify_chain()


def test_events_form_a_chain_with_contiguous_seqs_and_recomputable_hashes(app, chain):
    chain(5)
    events = _events(app)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in zip(events, events[1:]):
        assert after.prev_hash == before.hash
    assert all(_recomputed(e) == e.hash for e in events)
    assert _head(app) == (5, events[-1].hash)


def test_the_actor_is_recorded_by_id_and_login(app, commit):
    user_id = commit(lambda: factories.user(role="admin", login="boss").id)
    with app.app_context():
        with unit_of_work():
            append_event("report_published", actor=db.session.get(User, user_id),
                         object_type="report", object_id=7)
    event = _events(app)[-1]
    assert (event.actor_id, event.actor_login, event.object_id) == (user_id, "boss", "7")
    assert _recomputed(event) == event.hash


def test_non_ascii_nested_payload_round_trips_and_verifies(app):
    payload = {"name": {"kk": "Есіл ауданы — ХҚКО", "uz": "Boʻstonliq", "emoji": "✅ 👍"},
               "changes": [{"field": "адрес", "old": None, "new": "улица Абылай хана, 91"}],
               "counts": {"ok": 3, "ratio": 0.1, "big": 2**53 + 1, "flag": False},
               "quote": 'a "b" \\ c\n'}
    with app.app_context():
        with unit_of_work():
            append_event("office_updated", object_type="office", object_id="ALA-RAGS-1",
                         payload=payload)
    (event,) = _events(app)
    assert event.payload == payload
    assert _recomputed(event) == event.hash
    assert _verify(app).ok


def test_payload_keys_are_stored_as_the_json_text_that_was_hashed(app):
    """Non-string keys become strings in JSON; the hash must be over what comes back."""
    with app.app_context():
        with unit_of_work():
            append_event("sections_scored", payload={1: "one", "nested": {2: [1.5, None]}})
    (event,) = _events(app)
    assert event.payload == {"1": "one", "nested": {"2": [1.5, None]}}
    assert _verify(app).ok


def test_a_payload_with_keys_that_collide_in_json_is_refused(app, count):
    """1 and "1" are one JSON key: storing either silently would lose what the other said."""
    with app.app_context():
        with pytest.raises(ValueError, match="'1'"), unit_of_work():
            append_event("sections_scored", payload={"s": {1: "one", "1": "uno"}})
    assert count(AuditEvent) == 0


def test_a_refused_payload_takes_no_seq_even_if_the_caller_carries_on(app, chain):
    """A caller that catches the error and commits anyway must not leave a gap in the chain."""
    chain(1)
    with app.app_context():
        with unit_of_work():
            with pytest.raises(ValueError):
                append_event("sections_scored", payload={"ratio": float("nan")})
            append_event("sections_scored", payload={"ratio": None})
    assert [e.seq for e in _events(app)] == [1, 2]
    assert _verify(app).ok


def test_verify_reports_the_count_and_the_head_of_an_intact_chain(app, chain):
    chain(3)
    report = _verify(app)
    assert report.ok
    assert (report.events, report.head_seq, report.broken_seq) == (3, 3, None)
    assert report.head_hash == _events(app)[-1].hash


def test_an_empty_log_verifies_with_the_genesis_head(app):
    report = _verify(app)
    assert report.ok
    assert (report.events, report.head_hash) == (0, GENESIS_HASH)


def test_an_event_in_a_failed_unit_of_work_rolls_back_with_the_change(app, chain, count):
    chain(2)
    head_before = _head(app)
    with app.app_context():
        with pytest.raises(RuntimeError), unit_of_work():
            region = factories.region(code="GONE")
            append_event("region_created", object_type="region", object_id=region.code)
            raise RuntimeError("the change failed after the event was appended")
    assert count(Region) == 0
    assert count(AuditEvent) == 2
    assert _head(app) == head_before
    chain(1)  # the next event takes the chain position the rolled-back one would have had
    assert [e.chain_seq for e in _events(app)] == [1, 2, 3]
    assert _verify(app).ok


def test_the_first_event_rolled_back_leaves_an_empty_log(app, count):
    with app.app_context():
        with pytest.raises(RuntimeError), unit_of_work():
            append_event("region_created", object_type="region", object_id="X")
            raise RuntimeError("boom")
    assert count(AuditEvent) == 0
    assert _verify(app).ok


def test_a_clock_jumping_back_does_not_break_the_chain(app, monkeypatch):
    """F10: order is by seq, never by time; an `at` earlier than the event before is fine."""
    start = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    times = iter([start, start - timedelta(hours=1), start - timedelta(minutes=30)])
    monkeypatch.setattr(service, "utcnow", lambda: next(times))
    with app.app_context():
        for i in range(3):
            with unit_of_work():
                append_event("visit_submitted", object_type="visit", object_id=i)
    events = _events(app)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].at < events[0].at
    assert events[1].at == start - timedelta(hours=1)
    assert _verify(app).ok


# F11: a bribed admin edits the table directly. Each case: SQL run after 4 events, and the
# seq the verifier must name.
TAMPERING = {
    "payload rewritten": ("UPDATE audit_events SET payload = '{\"n\": 99}' WHERE seq = 2", 2),
    "time moved": ("UPDATE audit_events SET at = '2020-01-01 00:00:00.000000' WHERE seq = 3", 3),
    "action renamed": ("UPDATE audit_events SET action = 'nothing_happened' WHERE seq = 2", 2),
    "object changed": ("UPDATE audit_events SET object_id = 'OFF-9' WHERE seq = 1", 1),
    "actor forged": ("UPDATE audit_events SET actor_login = 'someone' WHERE seq = 4", 4),
    "hash replaced": (f"UPDATE audit_events SET hash = '{'f' * 64}' WHERE seq = 2", 2),
    "middle event deleted": ("DELETE FROM audit_events WHERE seq = 2", 2),
    "last event deleted": ("DELETE FROM audit_events WHERE seq = 4", 4),
    "head rewound": ("UPDATE audit_head SET seq = 3", 4),
}


@pytest.mark.parametrize("sql, broken_seq", TAMPERING.values(), ids=TAMPERING.keys())
def test_raw_sql_tampering_is_caught_at_the_exact_seq(app, chain, raw_sql, sql, broken_seq):
    chain(4)
    assert _verify(app).ok
    raw_sql(sql)
    report = _verify(app)
    assert not report.ok
    assert report.broken_seq == broken_seq
    assert report.events == broken_seq - 1  # everything before the broken link verifies
    assert report.reason


def test_an_event_slipped_in_after_the_head_is_named(app, chain, raw_sql):
    """A well-formed event appended by hand without moving the head is the first one past it."""
    chain(3)
    last = _events(app)[-1]
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    forged = event_hash(prev_hash=last.hash, seq=4, at=at, actor_id=None, actor_login=None,
                        action="office_updated", object_type=None, object_id=None, payload={})
    with app.app_context():
        db.session.execute(sa.insert(AuditEvent.__table__).values(
            seq=4, at=at, action="office_updated", payload={}, prev_hash=last.hash, hash=forged,
            chain_seq=4, digest=event_digest(seq=4, at=at, actor_id=None, actor_login=None,
                                             action="office_updated", object_type=None,
                                             object_id=None, payload={})))
        db.session.commit()
    report = _verify(app)
    assert not report.ok
    assert report.broken_seq == 4
    assert report.events == 3


def test_a_rewritten_and_rehashed_last_event_disagrees_with_the_head(app, chain, raw_sql):
    """Rehashing the last event hides it from the chain, but not from the head row."""
    chain(3)
    events = _events(app)
    last = events[-1]
    rehashed = event_hash(prev_hash=last.prev_hash, seq=3, at=last.at, actor_id=None,
                          actor_login=None, action="nothing_happened",
                          object_type=last.object_type, object_id=last.object_id,
                          payload=last.payload)
    raw_sql(f"UPDATE audit_events SET action = 'nothing_happened', hash = '{rehashed}' "
            "WHERE seq = 3")
    report = _verify(app)
    assert not report.ok
    assert (report.broken_seq, report.events, report.head_hash) == (3, 2, events[1].hash)


def test_an_event_appended_while_the_verifier_runs_is_no_false_alarm(app, chain, monkeypatch):
    """The nightly check runs on a live system: appends racing it must not look like tampering."""
    chain(3)
    read_head = service._read_head

    def read_head_then_someone_appends():
        head = read_head()
        monkeypatch.setattr(service, "_read_head", read_head)
        with app.app_context():  # another request, its own session and transaction
            with unit_of_work():
                append_event("visit_submitted", object_type="visit", object_id="late")
        return head

    monkeypatch.setattr(service, "_read_head", read_head_then_someone_appends)
    report = _verify(app)
    assert report.ok
    assert report.events == 3
    assert _verify(app).events == 4


def _append_concurrently(app, *, threads: int, per_thread: int) -> list[BaseException]:
    """`threads` workers, each with its own app context, append events in separate transactions."""
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                for i in range(per_thread):
                    with unit_of_work():
                        append_event("visit_submitted", object_type="visit",
                                     object_id=f"{n}-{i}", payload={"thread": n, "i": i})
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "an appender hung"
    return failures


def _assert_one_clean_chain(app, total: int) -> None:
    events = sorted(_events(app), key=lambda e: e.chain_seq)
    assert [e.chain_seq for e in events] == list(range(1, total + 1))
    assert len({e.prev_hash for e in events}) == total  # no two events chained onto one hash
    assert _verify(app).ok
    assert _head(app) == (total, events[-1].hash)


@pytest.mark.postgres
def test_concurrent_appenders_on_postgresql_never_fork_the_chain(app, pg_database):
    if pg_database is None:
        pytest.skip("needs PostgreSQL (set ADAL_TEST_DATABASE_URL): row locks under real "
                    "concurrency")
    failures = _append_concurrently(app, threads=8, per_thread=25)
    assert failures == []
    _assert_one_clean_chain(app, 200)


def test_concurrent_appenders_on_sqlite_queue_instead_of_failing(app, pg_database):
    if pg_database is not None:
        pytest.skip("SQLite variant; the PostgreSQL one runs instead")
    failures = _append_concurrently(app, threads=4, per_thread=25)
    assert failures == []
    _assert_one_clean_chain(app, 100)


def test_verifying_while_appenders_run_raises_no_alarm(app, chain):
    """The nightly verifier on a live system: before the fix it reported "events were removed
    from the end" whenever an append committed between its scan and its read of the head."""
    chain(1)
    stop = threading.Event()
    failures: list[BaseException] = []

    def append_until_stopped() -> None:
        try:
            with app.app_context():
                while not stop.is_set():
                    with unit_of_work():
                        append_event("visit_submitted", object_type="visit", object_id="x")
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    workers = [threading.Thread(target=append_until_stopped) for _ in range(3)]
    for w in workers:
        w.start()
    reports: list[service.ChainReport] = []
    deadline = time.monotonic() + 5
    try:  # verify again and again until the appenders have clearly been busy meanwhile
        while time.monotonic() < deadline and (
                len(reports) < 10 or reports[-1].events - reports[0].events < 30):
            reports.append(_verify(app))
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=30)
    assert failures == []
    assert [r.reason for r in reports if not r.ok] == []
    assert reports[-1].events - reports[0].events >= 30  # appends really raced the checks
