"""/api/v1/reports: the ranking contract, the office report, scope and roles."""
from __future__ import annotations

import pytest

from tests.auth import assert_problem

RANKING = "/api/v1/reports/ranking"
ITEM_KEYS = {"office", "rank", "kind", "visits", "score", "ci_low", "ci_high", "band",
             "section_scores", "critical", "change"}


@pytest.fixture
def three(commit, rw):
    def build():
        rw.visits(rw.office("A"), [80, 90, 100], findings=["D01"])
        rw.visits(rw.office("B"), [70, 70, 70])
        rw.visits(rw.office("C"), [95, 99])
        rw.visits(rw.office("R1", kind="registry"), [60, 60, 60])
    commit(build)
    return rw


def test_ranking_json_follows_the_contract(client, supervisor_headers, three):
    resp = client.get(f"{RANKING}?period=2026H2&lang=en", headers=supervisor_headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert {"period", "kind", "items"} <= body.keys()
    assert (body["period"], body["kind"]) == ("2026H2", None)
    assert all(ITEM_KEYS <= item.keys() for item in body["items"])
    a = body["items"][0]
    assert a["office"] == {"code": "A", "name": "Office A"}
    assert (a["rank"], a["score"], a["band"], a["visits"]) == (1, 90.0, "green", 3)
    assert a["critical"][0] | {"ci_low": 0, "ci_high": 0} == {
        "question": "D01", "label": "Bribe asked", "visits_with": 3, "rate": 1.0,
        "ci_low": 0, "ci_high": 0}


def test_without_kind_each_kind_is_ranked_within_one_answer(client, supervisor_headers, three):
    body = client.get(f"{RANKING}?period=2026H2", headers=supervisor_headers).get_json()
    assert [(i["kind"], i["office"]["code"], i["rank"]) for i in body["items"]] == [
        ("service_centre", "A", 1), ("service_centre", "B", 2), ("service_centre", "C", None),
        ("registry", "R1", 1)]


def test_without_lang_names_come_in_every_language(client, admin_headers, three):
    body = client.get(f"{RANKING}?period=2026H2&kind=registry", headers=admin_headers).get_json()
    assert body["items"][0]["office"]["name"]["uz"] == "Office R1 (uz)"


def test_min_visits_in_the_query_overrides_the_setting(client, admin_headers, three):
    body = client.get(f"{RANKING}?period=2026H2&kind=service_centre&min_visits=2",
                      headers=admin_headers).get_json()
    assert [i["rank"] for i in body["items"]] == [1, 2, 3]  # C (97) first now
    assert body["items"][0]["office"]["code"] == "C"


@pytest.mark.parametrize("period", ["2026H3", "H2-2026", "26H2", "2026-13", "", "x" * 100])
def test_an_unknown_period_is_422_naming_the_query_field(client, admin_headers, period):
    body = assert_problem(client.get(f"{RANKING}?period={period}", headers=admin_headers),
                          422, "validation_failed")
    assert "period" in body["errors"]["query"]


def test_a_missing_period_is_422(client, admin_headers):
    body = assert_problem(client.get(RANKING, headers=admin_headers), 422, "validation_failed")
    assert "period" in body["errors"]["query"]


def test_an_unknown_format_is_422(client, admin_headers):
    body = assert_problem(client.get(f"{RANKING}?period=2026H2&format=pdf", headers=admin_headers),
                          422, "validation_failed")
    assert "format" in body["errors"]["query"]


def test_an_unknown_kind_is_422(client, admin_headers):
    body = assert_problem(client.get(f"{RANKING}?period=2026H2&kind=bank", headers=admin_headers),
                          422, "validation_failed")
    assert "kind" in body["errors"]["query"]


def test_an_unknown_region_is_422(client, admin_headers):
    body = assert_problem(client.get(f"{RANKING}?period=2026H2&region=NOWHERE",
                                     headers=admin_headers), 422, "validation_failed")
    assert body["errors"]["query"] == {"region": ["Unknown region."]}


def test_a_region_out_of_a_supervisors_scope_is_403(client, commit, rw, headers_for):
    commit(lambda: rw.office("AWAY", region="FAR"))
    headers = headers_for("supervisor", regions=[rw.region])
    assert_problem(client.get(f"{RANKING}?period=2026H2&region=FAR", headers=headers),
                   403, "out_of_scope")


def test_a_restricted_supervisor_without_region_gets_their_regions_only(client, commit, rw,
                                                                       headers_for):
    def build():
        rw.visits(rw.office("HOME"), [80] * 3)
        rw.visits(rw.office("AWAY", region="FAR"), [90] * 3)
    commit(build)
    headers = headers_for("supervisor", regions=[rw.region])
    body = client.get(f"{RANKING}?period=2026H2", headers=headers).get_json()
    assert [(i["office"]["code"], i["rank"]) for i in body["items"]] == [("HOME", 1)]


def test_the_region_filter_ranks_within_the_region(client, commit, rw, admin_headers):
    def build():
        rw.visits(rw.office("HOME"), [80] * 3)
        rw.visits(rw.office("AWAY", region="FAR"), [70] * 3)
    commit(build)
    body = client.get(f"{RANKING}?period=2026H2&region=FAR", headers=admin_headers).get_json()
    assert (body["region"], [(i["office"]["code"], i["rank"]) for i in body["items"]]) == (
        "FAR", [("AWAY", 1)])


@pytest.mark.parametrize("method, path", [
    ("get", f"{RANKING}?period=2026H2"),
    ("get", f"{RANKING}?period=2026H2&format=csv"),
    ("get", "/api/v1/reports/offices/A?period=2026H2"),
    ("post", "/api/v1/reports/publish"),
    ("get", "/api/v1/reports/published"),
])
def test_an_inspector_gets_403_on_every_report_endpoint(client, inspector_headers, three,
                                                        method, path):
    resp = getattr(client, method)(path, headers=inspector_headers,
                                   **({"json": {"period": "2026H2"}} if method == "post" else {}))
    assert_problem(resp, 403, "forbidden")


def test_without_credentials_the_ranking_is_401(client):
    assert_problem(client.get(f"{RANKING}?period=2026H2"), 401, "unauthorized")


def test_office_report_has_scores_sections_findings_trend_and_follow_up(client, admin_headers,
                                                                        three):
    resp = client.get("/api/v1/reports/offices/A?period=2026H2&lang=ru", headers=admin_headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["office"] == {"code": "A", "name": "Office A (ru)", "active": True}
    assert (body["visits"], body["score"], body["band"]) == (3, 90.0, "green")
    assert body["critical"][0]["label"] == "Bribe asked (ru)"
    assert [t["period"] for t in body["trend"]] == ["2025H1", "2025H2", "2026H1", "2026H2"]
    assert body["recommendations"] == {"created": 0, "verified": 0, "not_done": 0,
                                       "overdue": 0, "open": 0, "share": None}


def test_office_report_of_an_unknown_office_is_404(client, admin_headers):
    assert_problem(client.get("/api/v1/reports/offices/NOPE?period=2026H2",
                              headers=admin_headers), 404, "not_found")


def test_office_report_outside_a_supervisors_scope_is_403(client, commit, rw, headers_for):
    commit(lambda: rw.office("AWAY", region="FAR"))
    headers = headers_for("supervisor", regions=[rw.region])
    assert_problem(client.get("/api/v1/reports/offices/AWAY?period=2026H2", headers=headers),
                   403, "out_of_scope")


def test_office_report_with_an_unknown_period_is_422(client, admin_headers, three):
    body = assert_problem(client.get("/api/v1/reports/offices/A?period=soon",
                                     headers=admin_headers), 422, "validation_failed")
    assert "period" in body["errors"]["query"]


def test_the_openapi_spec_lists_the_report_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/reports/ranking", "/api/v1/reports/offices/{code}",
            "/api/v1/reports/publish", "/api/v1/reports/published",
            "/api/v1/public/reports/{slug}", "/api/v1/opendata/visits.csv"} <= paths.keys()


# --- date ranges -------------------------------------------------------------------------

def test_a_date_range_equal_to_a_half_year_gives_the_same_figures(client, admin_headers, three):
    by_label = client.get(f"{RANKING}?period=2026H2", headers=admin_headers).get_json()
    resp = client.get(f"{RANKING}?from=2026-07-01&to=2026-12-31", headers=admin_headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    by_range = resp.get_json()
    assert (by_range["period"], by_range["from"], by_range["to"]) == (
        "2026-07-01..2026-12-31", "2026-07-01", "2026-12-31")
    assert by_range["items"] == by_label["items"]


def test_to_is_the_last_day_included_in_local_time(client, admin_headers, commit, rw):
    from tests.reports.builders import local

    def build():
        rw.visit(rw.office("A"), 10, when=local(2026, 9, 1, 0, 5))    # 31 Aug in UTC
        rw.visit("A", 20, when=local(2026, 9, 10, 23, 55))            # the last day, late
        rw.visit("A", 40, when=local(2026, 9, 11, 0, 5))              # the day after
    commit(build)
    body = client.get(f"{RANKING}?from=2026-09-01&to=2026-09-10",
                      headers=admin_headers).get_json()
    assert (body["items"][0]["visits"], body["items"][0]["score"]) == (2, 15.0)
    one_day = client.get(f"{RANKING}?from=2026-09-11&to=2026-09-11",
                         headers=admin_headers).get_json()
    assert one_day["items"][0]["score"] == 40.0
    # the previous period of a range is the same number of days just before it
    office = client.get("/api/v1/reports/offices/A?from=2026-09-11&to=2026-09-11",
                        headers=admin_headers).get_json()
    assert [t["period"] for t in office["trend"]] == [
        "2026-09-08..2026-09-08", "2026-09-09..2026-09-09", "2026-09-10..2026-09-10",
        "2026-09-11..2026-09-11"]
    assert (office["previous_score"], office["change"]) == (20.0, 20.0)


@pytest.mark.parametrize("query, field", [
    ("from=2026-07-01", "to"),
    ("to=2026-07-01", "from"),
    ("from=2026-07-02&to=2026-07-01", "to"),
    ("from=1999-12-31&to=2000-01-10", "from"),
    ("from=2026-01-01&to=3000-01-01", "to"),
    ("from=2000-01-01&to=2020-01-01", "to"),
    ("from=2026-02-30&to=2026-03-01", "from"),
    ("from=2026-07-01T00:00&to=2026-07-02", "from"),
    ("from=yesterday&to=2026-07-02", "from"),
    ("period=2026H2&from=2026-07-01&to=2026-07-02", "period"),
    ("period=2026-07-02..2026-07-01", "period"),
])
def test_a_bad_date_range_is_422_naming_the_field(client, admin_headers, query, field):
    body = assert_problem(client.get(f"{RANKING}?{query}", headers=admin_headers), 422,
                          "validation_failed")
    assert field in body["errors"]["query"], body


def test_the_office_report_and_publish_take_a_date_range(client, admin_headers, three, count):
    from server.reports.models import PublishedReport

    office = client.get("/api/v1/reports/offices/A?from=2026-09-01&to=2026-09-30",
                        headers=admin_headers)
    assert office.status_code == 200, office.get_data(as_text=True)
    assert office.get_json()["period"] == "2026-09-01..2026-09-30"
    bad = assert_problem(client.post("/api/v1/reports/publish", json={"from": "2026-09-30",
                                                                      "to": "2026-09-01"},
                                     headers=admin_headers), 422, "validation_failed")
    assert "to" in bad["errors"]
    assert count(PublishedReport) == 0
    resp = client.post("/api/v1/reports/publish", json={"from": "2026-09-01", "to": "2026-09-30"},
                       headers=admin_headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    listed = client.get("/api/v1/reports/published?period=2026-09-01..2026-09-30",
                        headers=admin_headers).get_json()
    assert [i["period"] for i in listed["items"]] == ["2026-09-01..2026-09-30"]
    snapshot = client.get(resp.get_json()["url"]).get_json()
    assert (snapshot["from"], snapshot["to"]) == ("2026-09-01", "2026-09-30")
