"""Follow-up figures: the share of recommendations carried out, per office and overall, checked
against a hand-computed example; as of a past moment; through the API with scope."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.offices.service import get_office
from server.recommendations.models import Recommendation, RecommendationEvent
from server.recommendations.service import follow_up
from tests import factories
from tests.recommendations.conftest import URL, assert_problem

FOLLOW_UP = f"{URL}/follow-up"
PAST = date(2024, 1, 31)
FUTURE = (date.today() + timedelta(days=90)).isoformat()


@pytest.fixture
def example(world, make, move, set_due, commit):
    """The hand-computed example.

    AST-1: verified; not_done; open and overdue; in_progress, due later; reported_done whose due
           date has passed (the office says done: not overdue)
           -> total 5, verified 1, not_done 1, open 3, overdue 1, share 1 / (1 + 1 + 1) = 1/3
    AST-2: verified; open without a due date
           -> total 2, verified 1, not_done 0, open 1, overdue 0, share 1 / 1 = 1
    AST-3 (another region): open, due later
           -> total 1, open 1, share null (0 / 0)
    overall: total 8, verified 2, not_done 1, open 5, overdue 1, share 2 / 4 = 0.5
    """
    def create(office: str, path: list[str], due: str | None = None) -> int:
        rec = make(office=office, due_date=due)
        for step in path:
            assert move(rec["id"], step, "checked").status_code == 200
        return rec["id"]

    commit(lambda: factories.office(code="AST-3"))
    a, b = world["office"], world["other_office"]
    create(a, ["reported_done", "verified"])
    create(a, ["reported_done", "not_done"])
    set_due(create(a, [], FUTURE), PAST)
    create(a, ["in_progress"], FUTURE)
    set_due(create(a, ["reported_done"], FUTURE), PAST)
    create(b, ["reported_done", "verified"])
    create(b, [])
    create("AST-3", [], FUTURE)
    return commit(lambda: {code: get_office(code).id for code in (a, b, "AST-3")})


def figures(total, verified, not_done, open_, overdue, share) -> dict:
    return {"total": total, "verified": verified, "not_done": not_done, "open": open_,
            "overdue": overdue, "share_done": share}


def test_the_hand_computed_example(app, example):
    with app.app_context():
        got = follow_up()
    assert got["offices"] == {
        example["AST-1"]: figures(5, 1, 1, 3, 1, pytest.approx(1 / 3)),
        example["AST-2"]: figures(2, 1, 0, 1, 0, 1.0),
        example["AST-3"]: figures(1, 0, 0, 1, 0, None)}
    assert got["overall"] == figures(8, 2, 1, 5, 1, 0.5)


def test_only_the_offices_asked_for_are_counted(app, example):
    with app.app_context():
        got = follow_up(office_ids=[example["AST-2"]])
    assert got == {"overall": figures(2, 1, 0, 1, 0, 1.0),
                   "offices": {example["AST-2"]: figures(2, 1, 0, 1, 0, 1.0)}}


def test_no_recommendations_give_zeros_and_a_null_share(app, world):
    with app.app_context():
        assert follow_up() == {"overall": figures(0, 0, 0, 0, 0, None), "offices": {}}
        assert follow_up(office_ids=[]) == {"overall": figures(0, 0, 0, 0, 0, None),
                                            "offices": {}}


def test_the_figures_are_one_query_whatever_the_number_of_offices(app, example):
    statements = []

    def count(*args, **kwargs):
        statements.append(args[2])

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            follow_up()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "GROUP BY" in statements[0]


# --- as of a past moment ---------------------------------------------------------------------

def at(day: int, month: int) -> datetime:
    return datetime(2025, month, day, 12, tzinfo=timezone.utc)


@pytest.fixture
def dated(world, make, move, commit):
    """One recommendation, due 1 Feb 2025: open on 10 Jan, reported done on 10 Feb, verified
    on 10 Mar (the history's times set by hand)."""
    rec = make(due_date=FUTURE)
    move(rec["id"], "reported_done", "office says so")
    move(rec["id"], "verified", "seen")

    def backdate():
        db.session.execute(sa.update(Recommendation).where(Recommendation.id == rec["id"])
                           .values(due_date=date(2025, 2, 1), created_at=at(10, 1)))
        events = db.session.scalars(sa.select(RecommendationEvent).where(
            RecommendationEvent.recommendation_id == rec["id"])
            .order_by(RecommendationEvent.id)).all()
        for event, moment in zip(events, (at(10, 1), at(10, 2), at(10, 3))):
            event.at = moment
    commit(backdate)
    return rec["id"]


@pytest.mark.parametrize("until, expected", [
    (at(1, 1), figures(0, 0, 0, 0, 0, None)),              # not made yet
    (at(20, 1), figures(1, 0, 0, 1, 0, None)),             # open, not yet due
    (at(5, 2), figures(1, 0, 0, 1, 1, 0.0)),               # open and overdue
    (at(1, 3), figures(1, 0, 0, 1, 0, None)),              # reported done: waiting for a visit
    (date(2025, 3, 10), figures(1, 1, 0, 0, 0, 1.0)),      # a date: up to the end of that day
    (date(2025, 3, 9), figures(1, 0, 0, 1, 0, None)),
    (None, figures(1, 1, 0, 0, 0, 1.0)),
])
def test_figures_as_they_stood_at_a_moment(app, dated, until, expected):
    with app.app_context():
        assert follow_up(until=until)["overall"] == expected


def test_a_naive_until_is_refused(app, world):
    with app.app_context(), pytest.raises(ValueError):
        follow_up(until=datetime(2025, 1, 1))


# --- through the API -------------------------------------------------------------------------

def test_the_api_gives_codes_sorted_and_the_overall_share(client, world, example):
    got = client.get(FOLLOW_UP, headers=world["supervisor"]).json
    assert got["overall"] == figures(8, 2, 1, 5, 1, 0.5)
    assert [o["office"] for o in got["offices"]] == ["AST-1", "AST-2", "AST-3"]
    assert got["offices"][0] == {"office": "AST-1",
                                 **figures(5, 1, 1, 3, 1, pytest.approx(1 / 3))}


def test_the_api_filters_by_region(client, world, example, commit):
    region = commit(lambda: get_office(world["office"]).region.code)
    got = client.get(f"{FOLLOW_UP}?region={region}", headers=world["supervisor"]).json
    assert [o["office"] for o in got["offices"]] == ["AST-1", "AST-2"]
    assert got["overall"] == figures(7, 2, 1, 4, 1, 0.5)


def test_the_api_accepts_until(client, world, dated):
    got = client.get(f"{FOLLOW_UP}?until=2025-02-05T12:00:00%2B00:00",
                     headers=world["supervisor"]).json
    assert got["overall"] == figures(1, 0, 0, 1, 1, 0.0)


@pytest.mark.parametrize("until", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00%2B05:00",
                                   "2101-01-01T00:00:00Z", "2025-02-05T12:00:00"])
def test_an_until_out_of_range_or_naive_is_422_naming_it(client, world, dated, until):
    resp = client.get(f"{FOLLOW_UP}?until={until}", headers=world["supervisor"])
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    assert "until" in resp.json["errors"]["query"]


def test_a_restricted_supervisor_counts_only_their_regions(client, world, example, commit,
                                                           headers_for):
    region = commit(lambda: get_office("AST-3").region.code)
    got = client.get(FOLLOW_UP, headers=headers_for("supervisor", regions=[region])).json
    assert [o["office"] for o in got["offices"]] == ["AST-3"]
    assert got["overall"] == figures(1, 0, 0, 1, 0, None)


def test_a_region_outside_the_supervisors_scope_is_404(client, world, example, commit,
                                                       headers_for):
    mine = commit(lambda: get_office("AST-3").region.code)
    theirs = commit(lambda: get_office(world["office"]).region.code)
    resp = client.get(f"{FOLLOW_UP}?region={theirs}",
                      headers=headers_for("supervisor", regions=[mine]))
    assert_problem(resp, 404, "not_found")


def test_an_unknown_region_is_422(client, world):
    problem = assert_problem(client.get(f"{FOLLOW_UP}?region=NOPE", headers=world["supervisor"]),
                             422, "validation_failed")
    assert problem["errors"] == {"query": {"region": ["Unknown region."]}}


def test_inspectors_may_not_read_the_figures(client, world):
    assert_problem(client.get(FOLLOW_UP, headers=world["inspector"]), 403, "forbidden")
