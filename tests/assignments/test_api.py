"""Assignments through the API: planning, refusals with reasons, scope, idempotency, cancel, CSV."""
from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
import sqlalchemy as sa

from server.assignments.models import Assignment
from server.audit.models import AuditEvent
from server.auth import service as auth_service
from server.db import utcnow
from server.extensions import db
from server.forms.models import FormVersion
from server.idempotency import IdempotencyRecord
from server.offices.service import get_office
from tests import factories
from tests.visits.builders import visit_payload
from tests.problems import assert_problem  # noqa: F401

URL = "/api/v1/assignments"
FORM = {"form_key": "service-centre-visit", "form_version": 1}
CSV_HEADER = "office,inspector,form_key,form_version,window_start,window_end"


def plan(**changes) -> dict:
    """The contract body: insp2 to AST-2 in March 2031 (neither has anything planned then)."""
    body = {"office": "AST-2", "inspector": "insp2", **FORM,
            "window_start": "2031-03-02T09:00:00+05:00",
            "window_end": "2031-03-06T18:00:00+05:00"}
    body.update(changes)
    return body


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        found = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)).all()
        db.session.expunge_all()
        return found


def status_of(app, assignment_id: int) -> str:
    with app.app_context():
        return db.session.get(Assignment, assignment_id).status


def create(client, headers, **changes) -> dict:
    resp = client.post(URL, json=plan(**changes), headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json


def csv_post(client, headers, text: str | bytes, **extra_headers):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.post(f"{URL}/import", data=data, content_type="text/csv",
                       headers={**headers, **extra_headers})


# --- creating one ------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_an_assignment_is_created_with_the_contract_fields(client, app, world, role, count):
    resp = client.post(URL, json=plan(), headers=world[role])
    assert resp.status_code == 201, resp.json
    got = resp.json
    assert {"id", "office", "inspector", "form_key", "form_version", "window_start",
            "window_end", "status", "warnings"} <= set(got)
    assert (got["office"], got["inspector"], got["form_key"], got["form_version"]) == (
        "AST-2", "insp2", "service-centre-visit", 1)
    assert datetime.fromisoformat(got["window_start"]) == datetime.fromisoformat(
        plan()["window_start"])
    assert datetime.fromisoformat(got["window_end"]) == datetime.fromisoformat(
        plan()["window_end"])
    assert (got["status"], got["warnings"]) == ("open", [])
    assert count(Assignment) == 2  # the world's and this one
    created = events(app, "assignment_created")
    assert [e.object_id for e in created] == [str(got["id"])]
    assert created[0].payload["office"] == "AST-2"
    assert created[0].payload["inspector"] == "insp2"


def test_the_inspector_login_is_matched_case_insensitively(client, world):
    assert create(client, world["supervisor"], inspector="  INSP2 ")["inspector"] == "insp2"


def test_an_office_on_the_inspectors_conflict_list_is_refused(client, world, commit, count):
    commit(lambda: factories.user(role="inspector", login="known", conflict_offices=["AST-1"]))
    resp = client.post(URL, json=plan(office="AST-1", inspector="known"),
                       headers=world["supervisor"])
    problem = assert_problem(resp, 422, "conflict_of_interest")
    assert "conflict list" in problem["errors"]["office"][0]
    assert count(Assignment) == 1
    # only that office: the same inspector may go elsewhere
    assert create(client, world["supervisor"], office="AST-2", inspector="known")["office"] == \
        "AST-2"


def test_an_inactive_office_is_refused(client, world, commit, count):
    def deactivate():
        get_office("AST-2").active = False
    commit(deactivate)
    problem = assert_problem(client.post(URL, json=plan(), headers=world["supervisor"]), 422,
                             "validation_failed")
    assert "inactive" in problem["errors"]["office"][0]
    assert count(Assignment) == 1


def test_an_unknown_office_is_refused(client, world, count):
    problem = assert_problem(client.post(URL, json=plan(office="NOPE-9"),
                                         headers=world["supervisor"]), 422, "validation_failed")
    assert problem["errors"]["office"] == ["Unknown office 'NOPE-9'."]
    assert count(Assignment) == 1


@pytest.mark.parametrize("login", ["nobody", "sup", "adm"])
def test_an_unknown_login_or_a_non_inspector_is_refused(client, world, login, count):
    problem = assert_problem(client.post(URL, json=plan(inspector=login),
                                         headers=world["supervisor"]), 422, "validation_failed")
    assert problem["errors"]["inspector"] == [f"No inspector with login {login!r}."]
    assert count(Assignment) == 1


def test_a_deactivated_inspector_is_refused(client, world, commit, count):
    commit(lambda: auth_service.deactivate_user(user=auth_service.get_user("insp2"), actor=None))
    problem = assert_problem(client.post(URL, json=plan(), headers=world["supervisor"]), 422,
                             "validation_failed")
    assert "deactivated" in problem["errors"]["inspector"][0]
    assert count(Assignment) == 1


def test_an_unknown_form_version_is_refused(client, world, count):
    problem = assert_problem(client.post(URL, json=plan(form_version=7),
                                         headers=world["supervisor"]), 422, "validation_failed")
    assert "no published version 7" in problem["errors"]["form_version"][0]
    assert_problem(client.post(URL, json=plan(form_key="no-such-form"),
                               headers=world["supervisor"]), 422, "validation_failed")
    assert count(Assignment) == 1


def test_a_retired_form_version_is_refused(client, world, commit, count):
    def retire():
        db.session.get(FormVersion, world["version_id"]).retired_at = utcnow()
    commit(retire)
    problem = assert_problem(client.post(URL, json=plan(), headers=world["supervisor"]), 422,
                             "validation_failed")
    assert "retired" in problem["errors"]["form_version"][0]
    assert count(Assignment) == 1


def test_every_reason_is_given_at_once(client, world, count):
    resp = client.post(URL, json=plan(office="NOPE-9", inspector="nobody", form_version=7),
                       headers=world["supervisor"])
    problem = assert_problem(resp, 422, "validation_failed")
    assert set(problem["errors"]) == {"office", "inspector", "form_version"}
    assert count(Assignment) == 1


@pytest.mark.parametrize("end", ["2031-03-01T09:00:00+05:00", "2031-03-02T09:00:00+05:00",
                                 "2031-03-02T04:00:00+00:00"])  # before; equal; equal in UTC
def test_a_window_that_ends_before_it_starts_is_refused(client, world, end, count):
    problem = assert_problem(client.post(URL, json=plan(window_end=end),
                                         headers=world["supervisor"]), 422, "validation_failed")
    assert problem["errors"] == {"window_end": ["Must be after window_start."]}
    assert count(Assignment) == 1


@pytest.mark.parametrize("field,value", [
    ("form_version", "1"), ("form_version", 1.5), ("form_version", True), ("form_version", 0),
    ("form_version", 2**40), ("office", 5), ("office", "AST 1"), ("office", None),
    ("inspector", ["insp2"]), ("inspector", ""), ("form_key", "Service Centre"),
    ("window_start", 1_900_000_000), ("window_start", "next monday"),
    ("window_end", "2031-03-06T18:00:00"),  # naive: no offset
    ("window_start", "2031-03-02T09:00:00"),
])
def test_wrong_types_and_naive_datetimes_are_422(client, world, field, value, count):
    problem = assert_problem(client.post(URL, json=plan(**{field: value}),
                                         headers=world["supervisor"]), 422, "validation_failed")
    assert field in problem["errors"]
    assert count(Assignment) == 1


def test_a_missing_field_and_an_unknown_field_are_422(client, world, count):
    body = plan(surprise=1)
    del body["window_end"]
    problem = assert_problem(client.post(URL, json=body, headers=world["supervisor"]), 422,
                             "validation_failed")
    assert set(problem["errors"]) == {"surprise", "window_end"}
    assert count(Assignment) == 1


def test_inspectors_cannot_plan(client, world, count):
    assert_problem(client.post(URL, json=plan(), headers=world["inspector"]), 403, "forbidden")
    assert_problem(csv_post(client, world["inspector"], f"{CSV_HEADER}\n"), 403, "forbidden")
    assert count(Assignment) == 1


def test_no_token_is_401(client, world):
    assert_problem(client.post(URL, json=plan()), 401, "unauthorized")
    assert_problem(client.get(URL), 401, "unauthorized")


# --- repeat visits: a warning, never a refusal ------------------------------------------

def test_the_same_inspector_and_office_twice_in_a_half_year_is_warned(client, app, world):
    first = create(client, world["supervisor"])
    second = create(client, world["supervisor"], window_start="2031-05-10T09:00:00+05:00",
                    window_end="2031-05-12T18:00:00+05:00")
    assert (first["warnings"], second["warnings"]) == ([], ["repeat_visit"])
    with app.app_context():
        assert db.session.get(Assignment, second["id"]).warnings == ["repeat_visit"]
    assert events(app, "assignment_created")[-1].payload["warnings"] == ["repeat_visit"]


def test_another_half_year_another_office_or_inspector_is_no_repeat(client, world):
    create(client, world["supervisor"])
    assert create(client, world["supervisor"], window_start="2031-09-01T09:00:00+05:00",
                  window_end="2031-09-02T09:00:00+05:00")["warnings"] == []
    assert create(client, world["supervisor"], office="AST-1")["warnings"] == []
    assert create(client, world["supervisor"], inspector="insp")["warnings"] == []


def test_half_years_are_cut_at_midnight_in_the_offices_time_zone(client, world):
    create(client, world["supervisor"], window_start="2031-06-10T09:00:00+05:00",
           window_end="2031-06-20T18:00:00+05:00")
    # Still 30 June in UTC, already 1 July in Almaty: the second half-year.
    assert create(client, world["supervisor"], window_start="2031-06-30T20:00:00+00:00",
                  window_end="2031-07-03T18:00:00+05:00")["warnings"] == []


def test_a_cancelled_assignment_does_not_count_as_a_repeat(client, world):
    first = create(client, world["supervisor"])
    client.post(f"{URL}/{first['id']}/cancel", json={"reason": "office moved"},
                headers=world["supervisor"])
    assert create(client, world["supervisor"])["warnings"] == []


# --- supervisors restricted to regions ---------------------------------------------------

@pytest.fixture
def regional(world, commit):
    """A supervisor for the region of AST-1 and AST-2, and ALA-1 in another region."""
    def build():
        home = get_office("AST-1").region.code
        factories.office(code="ALA-1", lat=43.2389, lon=76.8897)
        user = factories.user(role="supervisor", login="regional", regions=[home])
        return {"Authorization": f"Bearer {factories.token_for(user)}"}
    return commit(build)


def test_a_regional_supervisor_cannot_plan_outside_their_regions(client, world, regional, count):
    problem = assert_problem(client.post(URL, json=plan(office="ALA-1"), headers=regional), 422,
                             "validation_failed")
    assert "outside your regions" in problem["errors"]["office"][0]
    assert count(Assignment) == 1
    assert create(client, regional)["office"] == "AST-2"


def test_a_regional_supervisor_sees_only_their_regions(client, world, regional):
    elsewhere = create(client, world["admin"], office="ALA-1")
    here = create(client, world["admin"])
    listed = client.get(URL, headers=regional).json
    assert {a["id"] for a in listed["items"]} == {world["assignment"], here["id"]}
    assert listed["total"] == 2
    assert_problem(client.get(f"{URL}/{elsewhere['id']}", headers=regional), 404, "not_found")
    assert_problem(client.post(f"{URL}/{elsewhere['id']}/cancel", json={"reason": "x"},
                               headers=regional), 404, "not_found")
    assert client.get(URL, headers=world["supervisor"]).json["total"] == 3  # unrestricted


# --- Idempotency-Key ---------------------------------------------------------------------

def test_the_same_key_and_body_returns_the_same_assignment(client, app, world, count):
    headers = {**world["supervisor"], "Idempotency-Key": "plan-2031-03-insp2"}
    first = client.post(URL, json=plan(), headers=headers)
    again = client.post(URL, json=plan(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json["id"] == first.json["id"]
    assert again.json == first.json
    assert count(Assignment) == 2
    assert count(IdempotencyRecord) == 1
    assert len(events(app, "assignment_created")) == 1


def test_the_same_key_with_another_body_is_409(client, app, world, count):
    headers = {**world["supervisor"], "Idempotency-Key": "k-1"}
    client.post(URL, json=plan(), headers=headers)
    resp = client.post(URL, json=plan(office="AST-1"), headers=headers)
    assert_problem(resp, 409, "idempotency_conflict")
    assert count(Assignment) == 2
    assert len(events(app, "assignment_created")) == 1


def test_a_refused_request_does_not_use_up_its_key(client, world, count):
    headers = {**world["supervisor"], "Idempotency-Key": "k-2"}
    assert_problem(client.post(URL, json=plan(form_version=7), headers=headers), 422,
                   "validation_failed")
    assert count(IdempotencyRecord) == 0
    assert client.post(URL, json=plan(), headers=headers).status_code == 201


def test_keys_belong_to_their_user(client, world, count):
    client.post(URL, json=plan(), headers={**world["supervisor"], "Idempotency-Key": "k-3"})
    resp = client.post(URL, json=plan(), headers={**world["admin"], "Idempotency-Key": "k-3"})
    assert resp.status_code == 201
    assert count(Assignment) == 3


@pytest.mark.parametrize("key", ["", "k" * 300, "k" * 201])
def test_a_bad_idempotency_key_is_400(client, world, key, count):
    resp = client.post(URL, json=plan(), headers={**world["supervisor"], "Idempotency-Key": key})
    assert_problem(resp, 400, "bad_idempotency_key")
    assert count(Assignment) == 1
    assert count(IdempotencyRecord) == 0


def test_concurrent_requests_with_one_key_create_one_assignment(app, world, pg_database, count):
    if pg_database is None:
        pytest.skip("needs PostgreSQL (set ADAL_TEST_DATABASE_URL): SQLite serialises writers, "
                    "so requests cannot race")
    threads = 4
    headers = {**world["supervisor"], "Idempotency-Key": "race-1"}
    barrier = threading.Barrier(threads)
    answers: list = [None] * threads

    def post(i: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        resp = client.post(URL, json=plan(), headers=headers)
        answers[i] = (resp.status_code, resp.json)

    workers = [threading.Thread(target=post, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert [status for status, _ in answers] == [201] * threads, answers
    assert len({body["id"] for _, body in answers}) == 1
    assert count(Assignment) == 2
    assert count(IdempotencyRecord) == 1
    assert len(events(app, "assignment_created")) == 1


# --- reading -----------------------------------------------------------------------------

def test_an_inspector_lists_only_their_own(client, world):
    create(client, world["supervisor"])  # insp2's
    mine = client.get(URL, headers=world["inspector"]).json
    assert set(mine) == {"items", "total", "page", "per_page"}
    assert (mine["total"], mine["page"]) == (1, 1)
    assert [a["id"] for a in mine["items"]] == [world["assignment"]]
    theirs = client.get(URL, headers=world["other_inspector"]).json
    assert theirs["total"] == 1 and theirs["items"][0]["inspector"] == "insp2"
    # asking for someone else's changes nothing
    assert client.get(f"{URL}?inspector=insp2", headers=world["inspector"]).json["total"] == 0


@pytest.fixture
def statuses(client, world, default_form):
    """One assignment in each status: done (the world's, after its visit), open, cancelled and
    expired (open, but its window is over)."""
    visit = client.post("/api/v1/visits", headers=world["inspector"],
                        json=visit_payload(default_form, assignment=world["assignment"]))
    assert visit.status_code == 201, visit.json
    sup = world["supervisor"]
    open_ = create(client, sup)
    cancelled = create(client, sup, office="AST-1", window_start="2031-10-01T09:00:00+05:00",
                       window_end="2031-10-02T18:00:00+05:00")
    client.post(f"{URL}/{cancelled['id']}/cancel", json={"reason": "closed"}, headers=sup)
    expired = create(client, sup, window_start="2021-03-01T09:00:00+05:00",
                     window_end="2021-03-02T18:00:00+05:00")
    return {"done": world["assignment"], "open": open_["id"], "cancelled": cancelled["id"],
            "expired": expired["id"]}


def ids(client, headers, query: str) -> set[int]:
    resp = client.get(f"{URL}?{query}", headers=headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["total"] == len(resp.json["items"])
    return {a["id"] for a in resp.json["items"]}


@pytest.mark.parametrize("status", ["open", "done", "cancelled", "expired"])
def test_the_list_filters_by_status(client, world, statuses, status):
    assert ids(client, world["supervisor"], f"status={status}") == {statuses[status]}


def test_an_expired_assignment_reads_as_expired(client, world, statuses):
    got = client.get(f"{URL}/{statuses['expired']}", headers=world["supervisor"]).json
    assert got["status"] == "expired"


def test_the_list_filters_by_office_and_inspector(client, world, statuses):
    sup = world["supervisor"]
    assert ids(client, sup, "office=AST-1") == {statuses["done"], statuses["cancelled"]}
    assert ids(client, sup, "inspector=INSP2") == {statuses["open"], statuses["cancelled"],
                                                   statuses["expired"]}
    assert ids(client, sup, "office=AST-1&inspector=insp") == {statuses["done"]}
    assert ids(client, sup, "office=NOPE-9") == set()


def test_the_list_filters_by_window(client, world, statuses):
    sup = world["supervisor"]
    # windows ending after 1 Jan 2031 and starting before 1 Jun 2031
    query = "window_from=2031-01-01T00:00:00%2B05:00&window_to=2031-06-01T00:00:00%2B05:00"
    assert ids(client, sup, query) == {statuses["open"]}
    assert ids(client, sup, "window_to=2022-01-01T00:00:00Z") == {statuses["expired"]}
    assert ids(client, sup, "window_from=2031-09-01T00:00:00Z") == {statuses["cancelled"]}


@pytest.mark.parametrize("query", ["status=lost", "window_from=2031-01-01T00:00:00",
                                   "per_page=0", "colour=red", "inspector=a%00b"])
def test_bad_list_filters_are_422(client, world, query):
    assert_problem(client.get(f"{URL}?{query}", headers=world["supervisor"]), 422,
                   "validation_failed")


def test_reading_one(client, world):
    got = client.get(f"{URL}/{world['assignment']}", headers=world["inspector"])
    assert got.status_code == 200
    assert (got.json["id"], got.json["status"]) == (world["assignment"], "open")


def test_another_inspectors_assignment_is_404(client, world):
    assert_problem(client.get(f"{URL}/{world['assignment']}", headers=world["other_inspector"]),
                   404, "not_found")


@pytest.mark.parametrize("assignment_id", ["99999999999999999999", "2147483648", "0", "999"])
def test_an_id_that_does_not_exist_is_404_not_500(client, world, assignment_id):
    assert_problem(client.get(f"{URL}/{assignment_id}", headers=world["admin"]), 404,
                   "not_found")
    assert_problem(client.post(f"{URL}/{assignment_id}/cancel", json={"reason": "x"},
                               headers=world["admin"]), 404, "not_found")


# --- cancelling --------------------------------------------------------------------------

def test_cancelling_an_open_assignment(client, app, world):
    resp = client.post(f"{URL}/{world['assignment']}/cancel", json={"reason": "office closed"},
                       headers=world["supervisor"])
    assert resp.status_code == 200, resp.json
    assert (resp.json["status"], resp.json["cancel_reason"]) == ("cancelled", "office closed")
    assert status_of(app, world["assignment"]) == "cancelled"
    cancelled = events(app, "assignment_cancelled")
    assert [(e.object_id, e.payload, e.actor_login) for e in cancelled] == [
        (str(world["assignment"]), {"reason": "office closed"}, "sup")]


def test_cancelling_twice_is_409(client, app, world):
    url = f"{URL}/{world['assignment']}/cancel"
    client.post(url, json={"reason": "office closed"}, headers=world["supervisor"])
    assert_problem(client.post(url, json={"reason": "again"}, headers=world["supervisor"]), 409,
                   "assignment_not_open")
    assert len(events(app, "assignment_cancelled")) == 1


def test_a_done_assignment_cannot_be_cancelled(client, app, world, default_form):
    client.post("/api/v1/visits", headers=world["inspector"],
                json=visit_payload(default_form, assignment=world["assignment"]))
    resp = client.post(f"{URL}/{world['assignment']}/cancel", json={"reason": "too late"},
                       headers=world["supervisor"])
    assert_problem(resp, 409, "assignment_not_open")
    assert status_of(app, world["assignment"]) == "done"
    assert events(app, "assignment_cancelled") == []


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": 5},
                                  {"reason": "x" * 501}, {"reason": "ok", "extra": 1}])
def test_a_cancel_needs_a_reason(client, app, world, body):
    resp = client.post(f"{URL}/{world['assignment']}/cancel", json=body,
                       headers=world["supervisor"])
    assert_problem(resp, 422, "validation_failed")
    assert status_of(app, world["assignment"]) == "open"


def test_inspectors_cannot_cancel(client, app, world):
    resp = client.post(f"{URL}/{world['assignment']}/cancel", json={"reason": "no time"},
                       headers=world["inspector"])
    assert_problem(resp, 403, "forbidden")
    assert status_of(app, world["assignment"]) == "open"


def test_a_cancel_racing_a_visit_does_not_overwrite_done(app, client, world, pg_database):
    """The visit's transaction marks the assignment done while the cancel is on its way: the
    cancel must see "done" (409), not overwrite it with "cancelled" under a stored visit."""
    if pg_database is None:
        pytest.skip("needs PostgreSQL (set ADAL_TEST_DATABASE_URL): row locks")
    answer: list = []
    with app.app_context():
        with db.engine.connect() as visit_tx, db.engine.connect() as watcher:
            visit_tx.execute(sa.update(Assignment).where(Assignment.id == world["assignment"])
                             .values(status="done"))  # not committed yet: holds the row lock

            def cancel() -> None:
                resp = app.test_client().post(f"{URL}/{world['assignment']}/cancel",
                                              json={"reason": "closed"},
                                              headers=world["supervisor"])
                answer.append((resp.status_code, resp.json))

            worker = threading.Thread(target=cancel)
            worker.start()
            def lock_waiters() -> int:
                # pg_stat_activity is a snapshot per transaction: end it after each look, or
                # the loop never sees the cancel start waiting and the cancel meets the
                # 10 s statement timeout instead of the commit.
                try:
                    return watcher.scalar(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"))
                finally:
                    watcher.rollback()

            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not lock_waiters():
                time.sleep(0.02)
            visit_tx.commit()
            worker.join(timeout=30)
    assert answer and answer[0][0] == 409, answer
    assert answer[0][1]["code"] == "assignment_not_open"
    assert status_of(app, world["assignment"]) == "done"


# --- CSV import --------------------------------------------------------------------------

def csv_line(office="AST-2", inspector="insp2", start="2031-03-02T09:00:00+05:00",
             end="2031-03-06T18:00:00+05:00", key="service-centre-visit", version="1") -> str:
    return ",".join([office, inspector, key, version, start, end])


def test_a_csv_creates_every_row(client, app, world, count):
    text = "\n".join([CSV_HEADER, csv_line(), csv_line(office="AST-1", inspector="insp",
                                                       start="2031-04-01T09:00:00+05:00",
                                                       end="2031-04-02T09:00:00+05:00"),
                      "", csv_line(start="2031-05-01T09:00:00Z", end="2031-05-02T09:00:00Z")])
    resp = csv_post(client, world["supervisor"], text + "\n")
    assert resp.status_code == 201, resp.json
    assert resp.json["created"] == 3
    items = resp.json["items"]
    assert [(a["office"], a["inspector"]) for a in items] == [
        ("AST-2", "insp2"), ("AST-1", "insp"), ("AST-2", "insp2")]
    assert [a["warnings"] for a in items] == [[], [], ["repeat_visit"]]
    assert count(Assignment) == 4
    assert len(events(app, "assignment_created")) == 3


def test_a_csv_from_excel_with_semicolons_and_a_bom(client, world, count):
    text = "\ufeff" + CSV_HEADER.replace(",", ";") + "\r\n" + csv_line().replace(",", ";") + "\r\n"
    resp = csv_post(client, world["supervisor"], text)
    assert resp.status_code == 201, resp.json
    assert count(Assignment) == 2


def test_a_csv_with_bad_rows_creates_nothing_and_lists_every_line(client, app, world, count):
    text = "\n".join([
        CSV_HEADER,
        csv_line(),                                                   # line 2: fine
        csv_line(office="NOPE-9"),                                    # 3: unknown office
        csv_line(start="2031-03-02T09:00:00"),                        # 4: naive datetime
        csv_line(version="two"),                                      # 5: not a number
        csv_line(end="2031-03-01T09:00:00+05:00"),                    # 6: ends before start
        csv_line(inspector="sup"),                                    # 7: not an inspector
        csv_line(version="\u00b2"),                                   # 8: superscript two
        csv_line() + ",extra",                                        # 9: one field too many
        "AST-2,insp2",                                                # 10: too few fields
    ]) + "\n"
    problem = assert_problem(csv_post(client, world["supervisor"], text), 422, "csv_invalid_rows")
    errors = problem["errors"]
    assert set(errors) == {f"line {n}" for n in range(3, 11)}
    assert errors["line 3"] == ["office: Unknown office 'NOPE-9'."]
    assert errors["line 4"][0].startswith("window_start:")
    assert errors["line 5"][0].startswith("form_version:")
    assert errors["line 6"] == ["window_end: Must be after window_start."]
    assert errors["line 7"] == ["inspector: No inspector with login 'sup'."]
    assert errors["line 8"][0].startswith("form_version:")
    assert "7 fields" in errors["line 9"][0]
    assert count(Assignment) == 1
    assert events(app, "assignment_created") == []


def test_a_csv_that_is_not_utf8_is_refused(client, world, count):
    text = CSV_HEADER + "\n" + csv_line(inspector="инспектор") + "\n"
    problem = assert_problem(csv_post(client, world["supervisor"], text.encode("cp1251")), 422,
                             "csv_not_utf8")
    assert "line 2" in problem["detail"]
    assert count(Assignment) == 1


@pytest.mark.parametrize("header,missing,unknown", [
    ("office,inspector,form_key,form_version,window_start", ["window_end"], []),
    (CSV_HEADER + ",colour", [], ["colour"]),
    ("", list(CSV_HEADER.split(",")), []),
])
def test_a_csv_with_a_bad_header_is_refused(client, world, header, missing, unknown, count):
    text = header + "\n" + csv_line() + "\n"
    problem = assert_problem(csv_post(client, world["supervisor"], text), 422, "csv_bad_header")
    assert problem["errors"] == {"missing_columns": missing, "unknown_columns": unknown}
    assert count(Assignment) == 1


def test_a_csv_with_only_a_header_is_refused(client, world, count):
    assert_problem(csv_post(client, world["supervisor"], CSV_HEADER + "\n"), 422, "csv_empty")
    assert count(Assignment) == 1


def test_a_csv_replayed_under_its_key_creates_nothing_more(client, world, count):
    text = CSV_HEADER + "\n" + csv_line() + "\n" + csv_line(office="AST-1") + "\n"
    first = csv_post(client, world["supervisor"], text, **{"Idempotency-Key": "csv-1"})
    again = csv_post(client, world["supervisor"], text, **{"Idempotency-Key": "csv-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert count(Assignment) == 3
    other = csv_post(client, world["supervisor"], CSV_HEADER + "\n" + csv_line() + "\n",
                     **{"Idempotency-Key": "csv-1"})
    assert_problem(other, 409, "idempotency_conflict")


# --- times: aware, and within 2000..2100 -------------------------------------------------

OUT_OF_RANGE = "Must be from 2000-01-01T00:00:00Z up to (not including) 2100-01-01T00:00:00Z."
EXTREMES = ["9999-12-31T23:00-05:00", "0001-01-01T00:00+05:00", "1999-12-31T23:59:59Z",
            "2100-01-01T00:00:00Z"]


@pytest.mark.parametrize("field", ["window_start", "window_end"])
@pytest.mark.parametrize("value", EXTREMES)
def test_windows_outside_2000_to_2100_are_422_not_500(client, world, field, value, count):
    problem = assert_problem(client.post(URL, json=plan(**{field: value}),
                                         headers=world["supervisor"]), 422, "validation_failed")
    assert problem["errors"][field] == [OUT_OF_RANGE]
    assert count(Assignment) == 1


@pytest.mark.parametrize("value", EXTREMES)
def test_a_csv_row_with_an_extreme_window_is_listed_and_nothing_is_created(client, world, value,
                                                                           count):
    text = "\n".join([CSV_HEADER, csv_line(), csv_line(end=value)]) + "\n"
    problem = assert_problem(csv_post(client, world["supervisor"], text), 422, "csv_invalid_rows")
    assert problem["errors"] == {"line 3": [f"window_end: {OUT_OF_RANGE}"]}
    assert count(Assignment) == 1


@pytest.mark.parametrize("name", ["window_from", "window_to"])
@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00%2B05:00"])
def test_list_filters_outside_2000_to_2100_are_422_not_500(client, world, name, value):
    problem = assert_problem(client.get(f"{URL}?{name}={value}", headers=world["supervisor"]),
                             422, "validation_failed")
    assert problem["errors"]["query"][name] == [OUT_OF_RANGE]


# --- a CSV posted to /assignments is the import --------------------------------------------

@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8"])
def test_a_csv_posted_to_the_collection_is_imported(client, app, world, content_type, count):
    text = "\n".join([CSV_HEADER, csv_line(), csv_line(office="AST-1", inspector="insp")]) + "\n"
    resp = client.post(URL, data=text.encode(), content_type=content_type,
                       headers=world["supervisor"])
    assert resp.status_code == 201, resp.json
    assert resp.json["created"] == 2
    assert [(a["office"], a["inspector"]) for a in resp.json["items"]] == [
        ("AST-2", "insp2"), ("AST-1", "insp")]
    assert count(Assignment) == 3
    assert len(events(app, "assignment_created")) == 2


def test_a_bad_csv_posted_to_the_collection_is_refused_like_the_import(client, world, count):
    text = "\n".join([CSV_HEADER, csv_line(), csv_line(office="NOPE-9")]) + "\n"
    resp = client.post(URL, data=text.encode(), content_type="text/csv",
                       headers=world["supervisor"])
    problem = assert_problem(resp, 422, "csv_invalid_rows")
    assert problem["errors"] == {"line 3": ["office: Unknown office 'NOPE-9'."]}
    assert count(Assignment) == 1


def test_a_csv_posted_to_the_collection_needs_a_planner(client, world, count):
    text = "\n".join([CSV_HEADER, csv_line()]) + "\n"
    resp = client.post(URL, data=text.encode(), content_type="text/csv",
                       headers=world["inspector"])
    assert_problem(resp, 403, "forbidden")
    assert count(Assignment) == 1


def test_other_bodies_than_json_or_csv_are_415(client, world, count):
    resp = client.post(URL, data=b"office=AST-2", content_type="text/plain",
                       headers=world["supervisor"])
    assert_problem(resp, 415, "unsupported_media_type")
    assert count(Assignment) == 1
