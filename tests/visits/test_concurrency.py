"""Exactly once under real concurrency: many clients post at the same moment (PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.audit.service import verify_chain
from server.extensions import db
from server.visits.models import Visit
from tests.visits.builders import visit_payload

THREADS = 8

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _needs_postgresql(pg_database):
    if pg_database is None:
        pytest.skip("needs PostgreSQL (set ADAL_TEST_DATABASE_URL): SQLite serialises writers, "
                    "so submissions cannot race")


def post_at_once(app, bodies: list[dict], headers: dict) -> list[tuple[int, dict]]:
    """Post each body from its own thread and client, all released together."""
    barrier = threading.Barrier(len(bodies))
    answers: list = [None] * len(bodies)

    def post(i: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        resp = client.post("/api/v1/visits", json=bodies[i], headers=headers)
        answers[i] = (resp.status_code, resp.json)

    workers = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "a request hung"
    return answers


def submitted_events(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "visit_submitted"))


def test_the_same_visit_posted_at_once_is_stored_once(app, world, default_form, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    answers = post_at_once(app, [body] * THREADS, world["inspector"])
    assert all(status in (200, 201) for status, _ in answers), answers
    assert [status for status, _ in answers].count(201) == 1
    assert {got["uuid"] for _, got in answers} == {body["uuid"]}
    assert count(Visit) == 1
    assert submitted_events(app) == 1
    with app.app_context():
        report = verify_chain()
    assert report.ok, report.reason


def test_different_visits_for_one_assignment_at_once_make_one_visit(app, world, default_form,
                                                                   count):
    bodies = [visit_payload(default_form, assignment=world["assignment"])
              for _ in range(THREADS)]
    answers = post_at_once(app, bodies, world["inspector"])
    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 1, answers
    assert statuses.count(409) == THREADS - 1, answers
    assert {got["code"] for status, got in answers if status == 409} == {"assignment_done"}
    winner = next(got["uuid"] for status, got in answers if status == 201)
    assert count(Visit) == 1
    with app.app_context():
        assert str(db.session.scalar(sa.select(Visit.uuid))) == winner
    assert submitted_events(app) == 1
    with app.app_context():
        assert verify_chain().ok
