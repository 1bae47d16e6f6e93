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
    """POST a decision; the revision looked at is 1 unless given (None leaves it out)."""
    body.setdefault("revision", 1)
    if body["revision"] is None:
        del body["revision"]
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


# --- the revision and the corrections a decision was taken on ---------------------------

def test_a_decision_without_the_revision_follows_the_contract_and_decides_the_current_one(
        client, world, submitted, count):
    # The Contract: {"decision", "comment"}; the revision is optional (checked when sent).
    resp = review(client, submitted, world["supervisor"], decision="approve", revision=None)
    assert resp.status_code == 201, resp.json
    assert count(Review) == 1
    got = client.get(f"/api/v1/visits/{submitted}", headers=world["supervisor"]).json
    assert got["status"] == "approved"


@pytest.mark.parametrize("revision", [0, "1", 1.5, 10_001])
def test_a_revision_that_is_not_a_revision_number_is_422(client, world, submitted, count,
                                                         revision):
    problem = assert_problem(review(client, submitted, world["supervisor"], decision="approve",
                                    revision=revision), 422, "validation_failed")
    assert "revision" in problem["errors"]
    assert count(Review) == 0


def test_an_approval_that_missed_a_colleagues_correction_is_409(client, world, submitted,
                                                                 headers_for, count):
    colleague = headers_for("supervisor")
    # the supervisor opens the visit: no corrections yet; a colleague corrects D02 meanwhile
    assert correct(client, submitted, colleague, question="D02", value="yes",
                   reason="The audio shows a payment was asked.").status_code == 201
    problem = assert_problem(review(client, submitted, world["supervisor"], decision="approve",
                                    corrections=0), 409, "stale_corrections")
    assert problem["errors"]["corrections"] == ["Current corrections: 1."]
    assert count(Review) == 0
    got = client.get(f"/api/v1/visits/{submitted}", headers=world["supervisor"]).json
    assert got["status"] == "submitted"
    assert review(client, submitted, world["supervisor"], decision="approve",
                  corrections=1).status_code == 201


def test_corrections_must_be_a_count(client, world, submitted, count):
    problem = assert_problem(review(client, submitted, world["supervisor"], decision="approve",
                                    corrections=-1), 422, "validation_failed")
    assert "corrections" in problem["errors"]
    assert count(Review) == 0


def test_a_correction_of_an_older_revision_is_409(client, world, submitted, count):
    problem = assert_problem(correct(client, submitted, world["supervisor"], question="D02",
                                     value="yes", reason="x", revision=2), 409,
                             "stale_revision")
    assert problem["errors"]["revision"] == ["Current revision is 1."]
    assert count(AnswerCorrection) == 0
    assert correct(client, submitted, world["supervisor"], question="D02", value="yes",
                   reason="x", revision=1).status_code == 201


def test_a_correction_checks_the_status_in_the_database_not_as_read(app, client, world,
                                                                    submitted, count):
    """The race: the visit was read while waiting, approved by a colleague before the
    correction is written. The correction must see the approval and be refused."""
    import uuid as uuid_module

    from server.auth.models import User
    from server.errors import Conflict
    from server.review import service

    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(
            Visit.uuid == uuid_module.UUID(submitted)))
        reviewer = db.session.scalar(sa.select(User).where(User.login == "adm"))
        assert visit.status == "submitted"  # as read, before the colleague's decision
        assert review(client, submitted, world["supervisor"],
                      decision="approve").status_code == 201
        with pytest.raises(Conflict) as refused:
            service.correct_answer(visit=visit, reviewer=reviewer, question="D02", value="yes",
                                   not_applicable=False, reason="late")
        assert refused.value.code == "not_in_review"
        db.session.rollback()
    assert count(AnswerCorrection) == 0


def test_an_approval_and_a_correction_at_once_never_interleave(client, world, submitted, app,
                                                               pg_database, headers_for):
    if pg_database is None:
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them anyway)")
    colleague = headers_for("supervisor")
    barrier, results = threading.Barrier(2), {}

    def approve():
        c = app.test_client()
        barrier.wait()
        results["approve"] = review(c, submitted, world["supervisor"], decision="approve",
                                    corrections=0).status_code

    def fix():
        c = app.test_client()
        barrier.wait()
        results["correct"] = correct(c, submitted, colleague, question="D02", value="yes",
                                     reason="audio").status_code

    threads = [threading.Thread(target=approve), threading.Thread(target=fix)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # exactly one wins: an approval on the uncorrected visit, or the correction (and then the
    # approval that did not see it is refused)
    assert sorted(results.values()) == [201, 409], results


# --- own visits --------------------------------------------------------------------------

@pytest.fixture
def promoted(commit, world, submitted):
    """The inspector who made `submitted` is now a supervisor (same account, same token)."""
    from server.auth.models import Role, User

    def promote():
        user = db.session.scalar(sa.select(User).where(User.login == "insp"))
        user.role = Role.SUPERVISOR
    commit(promote)
    return world["inspector"]


def test_a_promoted_inspector_cannot_review_their_own_visit(client, submitted, promoted, count):
    assert_problem(review(client, submitted, promoted, decision="approve"), 403, "own_visit")
    assert_problem(correct(client, submitted, promoted, question="D02", value="yes",
                           reason="mine"), 403, "own_visit")
    assert count(Review) == 0 and count(AnswerCorrection) == 0


def test_the_queue_does_not_show_a_supervisor_their_own_visits(client, world, submitted,
                                                               promoted):
    assert client.get("/api/v1/review/queue", headers=promoted).json["total"] == 0
    queue = client.get("/api/v1/review/queue", headers=world["supervisor"]).json
    assert [v["uuid"] for v in queue["items"]] == [submitted]


# --- queue filters -----------------------------------------------------------------------

@pytest.fixture
def two_waiting(client, commit, world, default_form, submitted):
    """`submitted` (insp at AST-1, sent now) and a visit of insp2 at AST-2 sent 10 days ago."""
    from datetime import timedelta

    from server.assignments.models import Assignment
    from server.auth.models import User
    from server.db import utcnow
    from server.offices.models import Office

    def assign():
        now = utcnow()
        assignment = Assignment(
            office=db.session.scalar(sa.select(Office).where(Office.code == "AST-2")),
            inspector=db.session.scalar(sa.select(User).where(User.login == "insp2")),
            form_version_id=world["version_id"], window_start=now - timedelta(days=3),
            window_end=now + timedelta(days=3))
        db.session.add(assignment)
        db.session.flush()
        return assignment.id
    body = visit_payload(default_form, assignment=commit(assign))
    resp = client.post("/api/v1/visits", json=body, headers=world["other_inspector"])
    assert resp.status_code == 201, resp.json
    commit(lambda: db.session.execute(
        sa.update(Visit).where(Visit.uuid == __import__("uuid").UUID(body["uuid"]))
        .values(submitted_at=utcnow() - timedelta(days=10))))
    return submitted, body["uuid"]


@pytest.mark.parametrize("query, expected", [
    ("", ["old", "new"]),
    ("office=AST-1", ["new"]),
    ("office=AST-2", ["old"]),
    ("inspector=insp", ["new"]),
    ("inspector=insp2", ["old"]),
    ("inspector=INSP2", ["old"]),
    ("older_than_days=7", ["old"]),
    ("older_than_days=11", []),
    ("office=AST-2&inspector=insp", []),
    ("office=NOPE", []),
])
def test_the_queue_filters_by_office_inspector_and_age(client, world, two_waiting, query,
                                                       expected):
    new, old = two_waiting
    names = {new: "new", old: "old"}
    queue = client.get(f"/api/v1/review/queue?{query}", headers=world["supervisor"]).json
    assert [names[v["uuid"]] for v in queue["items"]] == expected
    assert queue["total"] == len(expected)


def test_the_queue_filtered_by_a_region_of_the_supervisor(client, world, two_waiting,
                                                          headers_for, commit):
    from server.offices.models import Office
    region = commit(lambda: db.session.scalar(sa.select(Office).where(
        Office.code == "AST-1")).region.code)
    mine = headers_for("supervisor", regions=[region])
    assert client.get(f"/api/v1/review/queue?region={region}", headers=mine).json["total"] == 2


def test_a_region_that_exists_but_is_not_the_supervisors_is_403(client, world, submitted,
                                                                  headers_for, commit):
    from server.offices.models import Office
    from tests import factories
    home = commit(lambda: db.session.scalar(sa.select(Office).where(
        Office.code == "AST-1")).region.code)
    elsewhere = commit(lambda: factories.region(code="ZZ").code)
    outsider = headers_for("supervisor", regions=[elsewhere])
    problem = assert_problem(client.get(f"/api/v1/review/queue?region={home}",
                                        headers=outsider), 403, "out_of_scope")
    assert home in problem["detail"]
    assert client.get(f"/api/v1/review/queue?region={elsewhere}",
                      headers=outsider).json["total"] == 0


@pytest.mark.parametrize("query, field", [("older_than_days=-1", "older_than_days"),
                                          ("older_than_days=x", "older_than_days"),
                                          ("office=" + "x" * 100, "office")])
def test_bad_queue_filters_are_422(client, world, query, field):
    problem = assert_problem(client.get(f"/api/v1/review/queue?{query}",
                                        headers=world["supervisor"]), 422, "validation_failed")
    assert field in problem["errors"]["query"]
