"""Status changes: every transition allowed and refused, comments, verifying visits, history,
audit events, and two changes at once."""
from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from server.auth.service import get_user
from server.db import unit_of_work
from server.errors import Conflict
from server.extensions import db
from server.recommendations import service
from server.recommendations.models import Recommendation, RecommendationEvent
from server.visits.models import Visit
from tests.recommendations.conftest import URL, assert_problem

STATUSES = ("open", "in_progress", "reported_done", "verified", "not_done")
# How to reach each status from open through the API.
PATH = {"open": [], "in_progress": ["in_progress"], "reported_done": ["reported_done"],
        "verified": ["reported_done", "verified"], "not_done": ["reported_done", "not_done"]}
# The rules, written out by hand: (from, to) -> allowed always, or only when overdue.
ALWAYS = {("open", "in_progress"), ("open", "reported_done"), ("in_progress", "reported_done"),
          ("reported_done", "verified"), ("reported_done", "not_done")}
WHEN_OVERDUE = {("open", "not_done"), ("in_progress", "not_done")}
PAST = date(2024, 1, 31)


def expected_next(current: str, overdue: bool) -> list[str]:
    return [s for s in STATUSES
            if (current, s) in ALWAYS or (overdue and (current, s) in WHEN_OVERDUE)]


@pytest.fixture
def at_status(make, move, set_due):
    """A recommendation brought to `status` through the API, overdue or not."""
    def build(status: str, *, overdue: bool = False) -> dict:
        rec = make(due_date=(date.today() + timedelta(days=60)).isoformat())
        for step in PATH[status]:
            assert move(rec["id"], step, "seen on site").status_code == 200
        if overdue:
            set_due(rec["id"], PAST)
        return rec
    return build


def history(client, world, rec_id) -> list[str]:
    return [h["status"] for h in client.get(f"{URL}/{rec_id}",
                                            headers=world["supervisor"]).json["history"]]


CASES = [(a, b, late) for a in STATUSES for b in STATUSES for late in (False, True)]


@pytest.mark.parametrize("current, target, overdue", CASES,
                         ids=[f"{a}->{b}{'-overdue' if late else ''}" for a, b, late in CASES])
def test_each_transition_is_allowed_or_refused_by_the_rules(client, world, at_status, move,
                                                           current, target, overdue):
    rec = at_status(current, overdue=overdue)
    before = history(client, world, rec["id"])
    resp = move(rec["id"], target, "checked on the visit")
    allowed = expected_next(current, overdue)
    if target in allowed:
        assert resp.status_code == 200, resp.json
        assert resp.json["status"] == target
        assert history(client, world, rec["id"]) == before + [target]
    else:
        problem = assert_problem(resp, 409, "invalid_transition")
        named = problem["errors"]["status"][0]
        assert named == (f"Allowed next: {', '.join(allowed)}." if allowed
                         else f"{current} is final.")
        assert history(client, world, rec["id"]) == before


def test_the_refusal_names_the_allowed_next_statuses(at_status, move):
    rec = at_status("open")
    problem = assert_problem(move(rec["id"], "verified", "looks fine"), 409, "invalid_transition")
    assert "in_progress, reported_done" in problem["detail"]


def test_not_done_before_the_due_date_says_why(at_status, move):
    rec = at_status("in_progress")
    problem = assert_problem(move(rec["id"], "not_done", "nothing yet"), 409,
                             "invalid_transition")
    assert "due date" in problem["detail"]


def test_without_a_due_date_open_never_becomes_not_done_directly(make, move):
    rec = make()
    assert_problem(move(rec["id"], "not_done", "nothing"), 409, "invalid_transition")


def test_an_overdue_recommendation_says_so(client, world, at_status):
    rec = at_status("in_progress", overdue=True)
    got = client.get(f"{URL}/{rec['id']}", headers=world["supervisor"]).json
    assert got["overdue"] is True
    assert at_status("reported_done", overdue=True)["overdue"] is False  # due date set after


def test_a_reported_done_recommendation_past_its_due_date_is_not_overdue(client, world,
                                                                          at_status):
    rec = at_status("reported_done", overdue=True)
    assert client.get(f"{URL}/{rec['id']}", headers=world["supervisor"]).json["overdue"] is False


@pytest.mark.parametrize("target", ["verified", "not_done"])
@pytest.mark.parametrize("comment", ["", "   "])
def test_verified_and_not_done_need_a_comment(at_status, move, target, comment):
    rec = at_status("reported_done")
    problem = assert_problem(move(rec["id"], target, comment), 422, "validation_failed")
    assert set(problem["errors"]) == {"comment"}


def test_other_changes_need_no_comment(at_status, move):
    rec = at_status("open")
    assert move(rec["id"], "in_progress").status_code == 200


def test_an_unknown_status_is_422(at_status, move):
    rec = at_status("open")
    problem = assert_problem(move(rec["id"], "done"), 422, "validation_failed")
    assert set(problem["errors"]) == {"status"}


def test_a_comment_with_control_characters_is_422(at_status, move):
    rec = at_status("reported_done")
    assert_problem(move(rec["id"], "verified", "ok\x00"), 422, "validation_failed")


def test_an_unknown_recommendation_is_404(move, world):
    assert_problem(move(999, "in_progress"), 404, "not_found")
    assert_problem(move(2**40, "in_progress"), 404, "not_found")


def test_an_inspector_may_not_change_a_status(at_status, move, world):
    rec = at_status("open")
    assert_problem(move(rec["id"], "in_progress", headers=world["inspector"]), 403, "forbidden")


# --- verifying visits ------------------------------------------------------------------------

def test_a_later_visit_of_the_office_verifies(client, world, at_status, move, visit_of):
    rec = at_status("reported_done")
    later = visit_of()
    resp = move(rec["id"], "verified", "price list is up", verifying_visit=later)
    assert resp.status_code == 200, resp.json
    last = resp.json["history"][-1]
    assert (last["status"], last["comment"], last["actor"], last["verifying_visit"]) == (
        "verified", "price list is up", "sup", later)


def test_a_verifying_visit_of_another_office_is_422(world, at_status, move, visit_of):
    rec = at_status("reported_done")
    elsewhere = visit_of(world["other_office"])
    problem = assert_problem(move(rec["id"], "verified", "ok", verifying_visit=elsewhere), 422,
                             "validation_failed")
    assert "AST-2" in problem["errors"]["verifying_visit"][0]


def test_a_visit_submitted_before_the_recommendation_cannot_verify_it(world, visit_of,
                                                                       at_status, move):
    earlier = visit_of()
    rec = at_status("reported_done")
    problem = assert_problem(move(rec["id"], "verified", "ok", verifying_visit=earlier), 422,
                             "validation_failed")
    assert "before the recommendation" in problem["errors"]["verifying_visit"][0]


def test_a_rejected_visit_cannot_verify(app, world, visit_of, at_status, move, commit):
    rec = at_status("reported_done")
    later = visit_of()
    commit(lambda: db.session.execute(sa.update(Visit).where(Visit.uuid == uuid.UUID(later))
                                      .values(status="rejected")))
    problem = assert_problem(move(rec["id"], "not_done", "no", verifying_visit=later), 422,
                             "validation_failed")
    assert "rejected" in problem["errors"]["verifying_visit"][0]


def test_an_unknown_verifying_visit_is_422(at_status, move):
    rec = at_status("reported_done")
    problem = assert_problem(move(rec["id"], "verified", "ok",
                                  verifying_visit="7b1d0e6c-4e39-4a57-8a0e-3f0a3e2b6c11"),
                             422, "validation_failed")
    assert set(problem["errors"]) == {"verifying_visit"}


def test_only_verified_and_not_done_name_a_verifying_visit(at_status, move, visit_of):
    rec = at_status("open")
    later = visit_of()
    problem = assert_problem(move(rec["id"], "in_progress", verifying_visit=later), 422,
                             "validation_failed")
    assert set(problem["errors"]) == {"verifying_visit"}


def test_a_final_status_without_a_verifying_visit_is_accepted(at_status, move):
    rec = at_status("reported_done")
    resp = move(rec["id"], "not_done", "the queue display is still broken")
    assert resp.status_code == 200
    assert resp.json["history"][-1]["verifying_visit"] is None


# --- history and audit -----------------------------------------------------------------------

def test_the_history_lists_every_change_oldest_first_with_its_actor(client, world, make, move):
    rec = make()
    move(rec["id"], "in_progress", "office says the order is placed")
    move(rec["id"], "reported_done", "office sent a photo", headers=world["admin"])
    got = move(rec["id"], "verified", "seen on the visit").json
    assert [(h["status"], h["actor"], h["comment"]) for h in got["history"]] == [
        ("open", "sup", ""), ("in_progress", "sup", "office says the order is placed"),
        ("reported_done", "adm", "office sent a photo"), ("verified", "sup", "seen on the visit")]
    times = [h["at"] for h in got["history"]]
    assert times == sorted(times)


def test_each_change_is_on_the_audit_log(make, move, audit_events, world, visit_of):
    rec = make()
    move(rec["id"], "reported_done", "office reports it done")
    later = visit_of()
    move(rec["id"], "verified", "seen", verifying_visit=later)
    events = audit_events("recommendation_status_changed")
    assert [(e.object_id, e.actor_login, e.payload) for e in events] == [
        (str(rec["id"]), "sup", {"office": world["office"], "from": "open",
                                 "to": "reported_done", "comment": "office reports it done",
                                 "verifying_visit": None}),
        (str(rec["id"]), "sup", {"office": world["office"], "from": "reported_done",
                                 "to": "verified", "comment": "seen",
                                 "verifying_visit": later})]


def test_a_refused_change_leaves_no_trace(make, move, audit_events, count):
    rec = make()
    move(rec["id"], "verified", "too early")
    assert audit_events("recommendation_status_changed") == []
    assert count(RecommendationEvent) == 1


# --- two changes at once ---------------------------------------------------------------------

def _needs_postgres(pg_database) -> None:
    if pg_database is None:
        pytest.skip("needs PostgreSQL (set ADAL_TEST_DATABASE_URL): SQLite serialises writers, "
                    "so two changes cannot overlap")


def test_concurrent_status_changes_through_the_api_one_wins(app, world, at_status, pg_database,
                                                            audit_events):
    _needs_postgres(pg_database)
    rec = at_status("reported_done")
    targets = ["verified", "not_done"] * 3
    barrier = threading.Barrier(len(targets))
    answers: list = [None] * len(targets)

    def post(i: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        resp = client.post(f"{URL}/{rec['id']}/status",
                           json={"status": targets[i], "comment": f"thread {i}"},
                           headers=world["supervisor"])
        answers[i] = (resp.status_code, resp.json)

    workers = [threading.Thread(target=post, args=(i,)) for i in range(len(targets))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    codes = sorted(status for status, _ in answers)
    assert codes == [200] + [409] * (len(targets) - 1), answers
    assert {body["code"] for status, body in answers if status == 409} <= {
        "status_changed", "invalid_transition"}
    (winner,) = [body for status, body in answers if status == 200]
    assert len(audit_events("recommendation_status_changed")) == 2  # reported_done + winner
    with app.app_context():
        final = db.session.scalars(sa.select(RecommendationEvent.status).where(
            RecommendationEvent.recommendation_id == rec["id"])
            .order_by(RecommendationEvent.id)).all()
        assert final == ["open", "reported_done", winner["status"]]
        assert db.session.get(Recommendation, rec["id"]).status == winner["status"]


def test_a_change_that_loses_the_race_is_409_status_changed(app, at_status, pg_database):
    """Deterministic: the first change holds the row until the second has read the old status
    and is waiting on it; after the first commits, the second's conditional UPDATE finds none."""
    _needs_postgres(pg_database)
    rec_id = at_status("reported_done")["id"]
    first_flushed, second_read = threading.Event(), threading.Event()
    outcome: dict = {}

    def first() -> None:
        with app.app_context():
            with unit_of_work():
                actor = get_user("sup")
                rec = db.session.get(Recommendation, rec_id)
                service.change_status(actor=actor, rec=rec, status="verified", comment="yes")
                first_flushed.set()
                second_read.wait(timeout=10)
                threading.Event().wait(0.5)  # the second is now blocked on the row

    def second() -> None:
        first_flushed.wait(timeout=10)
        with app.app_context():
            try:
                with unit_of_work():
                    actor = get_user("adm")
                    rec = db.session.get(Recommendation, rec_id)
                    outcome["read"] = rec.status
                    second_read.set()
                    service.change_status(actor=actor, rec=rec, status="not_done",
                                          comment="no")
            except Conflict as exc:
                outcome["code"] = exc.code

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert outcome == {"read": "reported_done", "code": "status_changed"}
    with app.app_context():
        assert db.session.get(Recommendation, rec_id).status == "verified"
