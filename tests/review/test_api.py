"""Review: decisions, the queue, corrections and reopening — every step on the record."""
from __future__ import annotations

import copy
import threading

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.extensions import db
from server.review.models import AnswerCorrection, Review
from server.visits.models import Visit
from tests.visits.builders import visit_payload
from tests.problems import assert_problem  # noqa: F401


@pytest.fixture
def submitted(client, world, default_form):
    """The uuid of a submitted visit with the best answers."""
    body = visit_payload(default_form, assignment=world["assignment"])
    resp = client.post("/api/v1/visits", json=body, headers=world["inspector"])
    assert resp.status_code == 201, resp.json
    return body["uuid"]


def review(client, uuid, headers, **body):
    return client.post(f"/api/v1/visits/{uuid}/review", json=body, headers=headers)


def events(app, action):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


def test_a_supervisor_approves_a_visit(client, world, submitted, app):
    resp = review(client, submitted, world["supervisor"], decision="approve", revision=1)
    assert resp.status_code == 201, resp.json
    assert resp.json["status"] == "approved"
    got = client.get(f"/api/v1/visits/{submitted}", headers=world["inspector"]).json
    assert got["status"] == "approved"
    assert [h["action"] for h in got["history"]] == ["visit_submitted", "visit_reviewed"]
    assert events(app, "visit_reviewed")[0].actor_login == "sup"


@pytest.mark.parametrize("decision", ["reject", "return"])
def test_reject_and_return_need_a_comment(client, world, submitted, count, decision):
    problem = assert_problem(review(client, submitted, world["supervisor"], decision=decision),
                             422, "validation_failed")
    assert "comment" in problem["errors"]
    assert count(Review) == 0


def test_return_sends_the_visit_back_to_the_inspector_who_amends_it(
        client, world, submitted, default_form):
    resp = review(client, submitted, world["supervisor"], decision="return",
                  comment="Add the photo of the ramp.")
    assert resp.json["status"] == "returned"
    original = client.get(f"/api/v1/visits/{submitted}", headers=world["inspector"]).json
    assert original["history"][-1]["detail"]["comment"] == "Add the photo of the ramp."


def test_a_decided_visit_cannot_be_decided_again(client, world, submitted, count):
    review(client, submitted, world["supervisor"], decision="approve")
    assert_problem(review(client, submitted, world["admin"], decision="reject", comment="x"),
                   409, "already_reviewed")
    assert count(Review) == 1


def test_approving_a_revision_that_was_amended_since_is_409_with_the_new_revision(
        client, world, submitted, default_form, app):
    review(client, submitted, world["supervisor"], decision="return", comment="fix C02")
    with app.app_context():
        body = db.session.scalar(sa.select(Visit).where(
            Visit.uuid == __import__("uuid").UUID(submitted))).submissions[0].body
    amended = copy.deepcopy(body)
    next(a for a in amended["answers"] if a["question"] == "C02")["value"] = "no"
    assert client.put(f"/api/v1/visits/{submitted}", json=amended,
                      headers=world["inspector"]).status_code == 200
    problem = assert_problem(review(client, submitted, world["supervisor"], decision="approve",
                                    revision=1), 409, "stale_revision")
    assert problem["errors"]["revision"] == ["Current revision is 2."]
    assert review(client, submitted, world["supervisor"], decision="approve",
                  revision=2).status_code == 201


def test_an_inspector_calling_any_review_endpoint_is_403(client, world, submitted):
    h = world["inspector"]
    assert_problem(review(client, submitted, h, decision="approve"), 403, "forbidden")
    assert_problem(client.get("/api/v1/review/queue", headers=h), 403, "forbidden")
    assert_problem(client.post(f"/api/v1/visits/{submitted}/corrections",
                               json={"question": "C02", "value": "no", "reason": "x"}, headers=h),
                   403, "forbidden")
    assert_problem(client.post(f"/api/v1/visits/{submitted}/reopen", json={"reason": "x"},
                               headers=h), 403, "forbidden")


def test_a_supervisor_outside_the_region_cannot_see_or_review(client, world, submitted,
                                                              headers_for, commit):
    from tests import factories
    other_region = commit(lambda: factories.region(code="ZZ").code)
    outsider = headers_for("supervisor", regions=[other_region])
    assert_problem(review(client, submitted, outsider, decision="approve"), 404, "not_found")
    assert client.get("/api/v1/review/queue", headers=outsider).json["total"] == 0
    assert_problem(client.get("/api/v1/review/queue?region=AST-NOPE", headers=outsider), 403,
                   "out_of_scope")


def test_the_queue_lists_waiting_visits_oldest_first_and_filters(client, world, submitted):
    queue = client.get("/api/v1/review/queue", headers=world["supervisor"]).json
    assert [v["uuid"] for v in queue["items"]] == [submitted]
    assert client.get("/api/v1/review/queue?flag=too_short",
                      headers=world["supervisor"]).json["total"] == 0
    review(client, submitted, world["supervisor"], decision="approve")
    assert client.get("/api/v1/review/queue", headers=world["supervisor"]).json["total"] == 0


def test_reviewing_twice_at_once_one_wins(client, world, submitted, app, pg_database, count):
    if pg_database is None:
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them anyway)")
    barrier, results = threading.Barrier(4), []

    def decide(i):
        c = app.test_client()
        barrier.wait()
        results.append(review(c, submitted, world["supervisor"], decision="approve",
                              revision=1).status_code)

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 409, 409, 409]
    assert count(Review) == 1


# --- corrections -------------------------------------------------------------------------

def correct(client, uuid, headers, **body):
    return client.post(f"/api/v1/visits/{uuid}/corrections", json=body, headers=headers)


def test_a_correction_keeps_the_original_and_recomputes_the_score(client, world, submitted,
                                                                 count):
    resp = correct(client, submitted, world["supervisor"], question="D02", value="yes",
                   reason="Audio evidence shows a payment was asked for.")
    assert resp.status_code == 201, resp.json
    answer = next(a for a in resp.json["answers"] if a["question"] == "D02")
    assert answer["value"] == "no"                   # the inspector's answer stays
    assert answer["corrected"]["value"] == "yes"
    assert answer["corrected"]["reason"].startswith("Audio evidence")
    assert answer["corrected"]["score_before"] == pytest.approx(100)
    assert resp.json["score"] <= 40                  # now a critical finding
    assert "D02" in resp.json["critical"]
    assert resp.json["history"][-1]["action"] == "answer_corrected"
    assert count(AnswerCorrection) == 1


def test_a_correction_to_a_value_the_form_refuses_is_422(client, world, submitted, count):
    problem = assert_problem(correct(client, submitted, world["supervisor"], question="A04",
                                     value=5000, reason="measured again"), 422,
                             "validation_failed")
    assert "value" in problem["errors"]
    assert_problem(correct(client, submitted, world["supervisor"], question="D02",
                           value="perhaps", reason="x"), 422, "validation_failed")
    assert_problem(correct(client, submitted, world["supervisor"], question="NOPE",
                           value="yes", reason="x"), 422, "validation_failed")
    assert count(AnswerCorrection) == 0


def test_a_correction_needs_a_reason(client, world, submitted):
    assert_problem(correct(client, submitted, world["supervisor"], question="D02", value="yes"),
                   422, "validation_failed")


def test_no_corrections_after_the_decision(client, world, submitted):
    review(client, submitted, world["supervisor"], decision="approve")
    assert_problem(correct(client, submitted, world["supervisor"], question="D02", value="yes",
                           reason="late"), 409, "not_in_review")


# --- reopening ---------------------------------------------------------------------------

def test_only_an_admin_reopens_with_a_reason(client, world, submitted, app):
    review(client, submitted, world["supervisor"], decision="approve")
    assert_problem(client.post(f"/api/v1/visits/{submitted}/reopen", json={"reason": "x"},
                               headers=world["supervisor"]), 403, "forbidden")
    assert_problem(client.post(f"/api/v1/visits/{submitted}/reopen", json={},
                               headers=world["admin"]), 422, "validation_failed")
    resp = client.post(f"/api/v1/visits/{submitted}/reopen",
                       json={"reason": "Complaint from the office; check the photos again."},
                       headers=world["admin"])
    assert resp.status_code == 201, resp.json
    assert resp.json["status"] == "submitted"
    assert events(app, "visit_reopened")[0].payload["reason"].startswith("Complaint")


def test_a_visit_waiting_for_review_cannot_be_reopened(client, world, submitted):
    assert_problem(client.post(f"/api/v1/visits/{submitted}/reopen", json={"reason": "x"},
                               headers=world["admin"]), 409, "not_decided")


def test_the_audit_chain_verifies_after_a_review_cycle(client, world, submitted, app):
    from server.audit.service import verify_chain
    correct(client, submitted, world["supervisor"], question="C02", value="no", reason="badge")
    review(client, submitted, world["supervisor"], decision="approve")
    client.post(f"/api/v1/visits/{submitted}/reopen", json={"reason": "recheck"},
                headers=world["admin"])
    with app.app_context():
        assert verify_chain().ok
