"""Reading recommendations: the supervisors' list and item, and the office view a later visit
shows (inspectors only for an office they are about to visit, without author or source visit)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from server.db import utcnow
from server.extensions import db
from tests import factories
from tests.recommendations.conftest import URL, assert_problem

FUTURE = (date.today() + timedelta(days=90)).isoformat()


def office_url(code: str) -> str:
    return f"/api/v1/offices/{code}/recommendations"


# --- supervisors' list -----------------------------------------------------------------------

def test_the_list_is_an_envelope_newest_first(client, world, make):
    first, second = make(text="one"), make(text="two")
    got = client.get(URL, headers=world["supervisor"]).json
    assert set(got) == {"items", "total", "page", "per_page"}
    assert (got["total"], got["page"]) == (2, 1)
    assert [r["id"] for r in got["items"]] == [second["id"], first["id"]]
    assert got["items"][1]["history"][0]["status"] == "open"


def test_the_list_pages(client, world, make):
    ids = [make(text=f"r{i}")["id"] for i in range(3)]
    got = client.get(f"{URL}?per_page=2&page=2", headers=world["supervisor"]).json
    assert (got["total"], [r["id"] for r in got["items"]]) == (3, [ids[0]])


def test_the_list_filters_by_office_and_status(client, world, make, move):
    here = make()
    there = make(office=world["other_office"])
    move(there["id"], "in_progress")
    by_office = client.get(f"{URL}?office={world['other_office']}", headers=world["supervisor"])
    assert [r["id"] for r in by_office.json["items"]] == [there["id"]]
    by_status = client.get(f"{URL}?status=open", headers=world["supervisor"])
    assert [r["id"] for r in by_status.json["items"]] == [here["id"]]


def test_the_list_filters_overdue(client, world, make, set_due):
    late, on_time, undated = make(due_date=FUTURE), make(due_date=FUTURE), make()
    set_due(late["id"], date(2024, 1, 31))
    got = client.get(f"{URL}?overdue=true", headers=world["supervisor"]).json
    assert [r["id"] for r in got["items"]] == [late["id"]]
    assert got["items"][0]["overdue"] is True
    rest = client.get(f"{URL}?overdue=false", headers=world["supervisor"]).json
    assert {r["id"] for r in rest["items"]} == {on_time["id"], undated["id"]}


@pytest.mark.parametrize("query", ["status=done", "overdue=maybe", "office=a%20b", "per_page=0",
                                   "colour=red"])
def test_a_bad_filter_is_422(client, world, query):
    assert_problem(client.get(f"{URL}?{query}", headers=world["supervisor"]), 422,
                   "validation_failed")


def test_inspectors_may_not_use_the_supervisors_list_or_item(client, world, make):
    rec = make()
    assert_problem(client.get(URL, headers=world["inspector"]), 403, "forbidden")
    assert_problem(client.get(f"{URL}/{rec['id']}", headers=world["inspector"]), 403,
                   "forbidden")


def test_one_recommendation_reads_as_it_was_created(client, world, make):
    rec = make(due_date=FUTURE)
    assert client.get(f"{URL}/{rec['id']}", headers=world["supervisor"]).json == rec


def test_an_unknown_recommendation_is_404(client, world):
    assert_problem(client.get(f"{URL}/12345", headers=world["supervisor"]), 404, "not_found")


# --- the office view a later visit shows -----------------------------------------------------

BRIEF_KEYS = {"id", "office", "question", "text", "due_date", "status", "overdue"}


def test_an_inspector_with_an_open_assignment_sees_the_offices_open_recommendations(
        client, world, make, visit_of, plan):
    finding = visit_of()  # uses the world's assignment: now done
    rec = make(visit=finding, question="D02", due_date=FUTURE, text="No informal payments.")
    plan()  # the next visit to the same office
    resp = client.get(office_url(world["office"]), headers=world["inspector"])
    assert resp.status_code == 200, resp.json
    (item,) = resp.json["items"]
    assert set(item) == BRIEF_KEYS
    assert (item["id"], item["question"], item["text"], item["status"]) == (
        rec["id"], "D02", "No informal payments.", "open")


def test_the_inspector_view_names_neither_the_author_nor_the_source_visit(client, world, make,
                                                                           visit_of, plan):
    finding = visit_of()
    make(visit=finding, question="D02")
    plan()
    text = client.get(office_url(world["office"]), headers=world["inspector"]).get_data(
        as_text=True)
    assert finding not in text
    assert "sup" not in text and "created_by" not in text and "history" not in text


def test_an_inspector_without_an_assignment_for_the_office_gets_404(client, world, make):
    make(office=world["other_office"])
    assert_problem(client.get(office_url(world["other_office"]), headers=world["inspector"]),
                   404, "not_found")
    assert_problem(client.get(office_url(world["office"]), headers=world["other_inspector"]),
                   404, "not_found")


@pytest.mark.parametrize("status, days", [("done", 3), ("cancelled", 3), ("open", -1)])
def test_a_done_cancelled_or_expired_assignment_does_not_open_the_view(
        client, world, make, commit, status, days):
    from server.assignments.models import Assignment
    make()

    def change():
        assignment = db.session.get(Assignment, world["assignment"])
        assignment.status = status
        if days < 0:
            assignment.window_start = utcnow() - timedelta(days=5)
            assignment.window_end = utcnow() + timedelta(days=days)
    commit(change)
    assert_problem(client.get(office_url(world["office"]), headers=world["inspector"]), 404,
                   "not_found")


def test_the_office_view_leaves_out_final_ones_unless_asked(client, world, make, move):
    active = make(text="active")
    closed = make(text="closed")
    move(closed["id"], "reported_done")
    move(closed["id"], "verified", "done")
    reported = make(text="reported")
    move(reported["id"], "reported_done")
    default = client.get(office_url(world["office"]), headers=world["inspector"]).json
    assert {r["id"] for r in default["items"]} == {active["id"], reported["id"]}
    only_open = client.get(office_url(world["office"]) + "?status=open",
                           headers=world["inspector"]).json
    assert [r["id"] for r in only_open["items"]] == [active["id"]]
    verified = client.get(office_url(world["office"]) + "?status=verified",
                          headers=world["inspector"]).json
    assert [r["id"] for r in verified["items"]] == [closed["id"]]


def test_the_office_view_lists_soonest_due_first_undated_last(client, world, make):
    undated = make()
    later = make(due_date=(date.today() + timedelta(days=90)).isoformat())
    sooner = make(due_date=(date.today() + timedelta(days=10)).isoformat())
    got = client.get(office_url(world["office"]), headers=world["supervisor"]).json
    assert [r["id"] for r in got["items"]] == [sooner["id"], later["id"], undated["id"]]


def test_supervisors_see_the_office_view_within_their_regions(client, world, make, commit,
                                                              headers_for):
    make()
    assert client.get(office_url(world["office"]), headers=world["supervisor"]).json["total"] == 1
    commit(lambda: factories.region(code="FAR"))
    far = headers_for("supervisor", regions=["FAR"])
    assert_problem(client.get(office_url(world["office"]), headers=far), 404, "not_found")


@pytest.mark.parametrize("code", ["NOPE-1", "bad%00code", "x" * 40])
def test_an_unknown_office_is_404(client, world, code):
    assert_problem(client.get(office_url(code), headers=world["supervisor"]), 404, "not_found")


def test_the_office_view_needs_a_signed_in_user(client, world):
    assert_problem(client.get(office_url(world["office"])), 401, "unauthorized")
