"""Open data: approved visits of published periods as anonymous CSV."""
from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from server.auth.models import User
from server.extensions import db
from server.visits.models import Visit
from tests.auth import assert_problem
from tests.reports.builders import local

OPEN = "/api/v1/opendata/visits.csv"
COLUMNS = ["office_code", "office_name", "kind", "region", "date", "score", "section_queue",
           "section_integrity", "critical_findings"]


@pytest.fixture
def visits(commit, rw):
    def build():
        office = rw.office("A", name="Astana One")
        rw.visit(office, 40.0, when=local(2026, 7, 1, 0, 10), findings=["D03", "D01"],
                 sections={"queue": 50.0, "integrity": 0.0})
        rw.visit(office, 90.0, when=local(2026, 10, 5, 15, 30), sections={"queue": 90.0})
        rw.visit(office, 10.0, status="rejected", sections={"queue": 10.0})
        rw.visit(rw.office("R1", kind="registry"), 70.0, sections={"integrity": 70.0})
    commit(build)
    return rw


def _publish(client, headers, **body):
    resp = client.post("/api/v1/reports/publish", json={"period": "2026H2", **body},
                       headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)


def _rows(resp) -> list[list[str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))


def test_an_unpublished_period_is_404(client, visits):
    assert_problem(client.get(f"{OPEN}?period=2026H2"), 404, "not_published")


def test_a_published_period_gives_one_row_per_approved_visit_without_sign_in(
        client, admin_headers, visits):
    _publish(client, admin_headers)
    header, *rows = _rows(client.get(f"{OPEN}?period=2026H2"))
    assert header == COLUMNS
    assert rows == [
        ["A", "Astana One", "service_centre", visits.region, "2026-07-01", "40.0", "50.0", "0.0",
         "D01;D03"],
        ["A", "Astana One", "service_centre", visits.region, "2026-10-05", "90.0", "90.0", "",
         ""],
        ["R1", "Office R1", "registry", visits.region, "2026-09-15", "70.0", "", "70.0", ""]]


def test_the_date_is_the_local_day_not_the_utc_day(client, admin_headers, visits):
    _publish(client, admin_headers)
    _, first, *_ = _rows(client.get(f"{OPEN}?period=2026H2"))
    assert local(2026, 7, 1, 0, 10).date().isoformat() == "2026-06-30"
    assert first[4] == "2026-07-01"


def test_nothing_links_a_row_to_an_inspector_a_visit_or_a_time(app, client, admin_headers,
                                                                visits):
    _publish(client, admin_headers)
    text = client.get(f"{OPEN}?period=2026H2").get_data(as_text=True)
    header = text.splitlines()[0].lower()
    for word in ("inspector", "login", "uuid", "id,", "time", "started", "ended", "media"):
        assert word not in header
    with app.app_context():
        logins = db.session.scalars(sa.select(User.login)).all()
        uuids = db.session.scalars(sa.select(Visit.uuid)).all()
        times = db.session.scalars(sa.select(Visit.started_at)).all()
    for secret in [*logins, *map(str, uuids), *(t.strftime("%H:%M") for t in times)]:
        assert secret not in text


def test_only_offices_in_a_published_report_are_opened(client, admin_headers, visits):
    _publish(client, admin_headers, kind="registry")
    _, *rows = _rows(client.get(f"{OPEN}?period=2026H2"))
    assert [row[0] for row in rows] == ["R1"]


@pytest.fixture
def waiting(commit, visits):
    """Three visits of office A waiting for review and one approved visit of R1."""
    def build():
        pending = [str(v.uuid) for v in visits.visits("A", [55, 65, 75], status="submitted")]
        approved = db.session.scalar(sa.select(Visit.uuid).join(Visit.office).where(
            Visit.status == "approved", Visit.score == 70.0))
        return pending, str(approved)
    return commit(build)


def _decide(client, headers, uuid, **body):
    resp = client.post(f"/api/v1/visits/{uuid}/review", json={"revision": 1, **body},
                       headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)


def test_approvals_after_publishing_do_not_change_the_open_data(client, admin_headers,
                                                                  supervisor_headers, waiting):
    pending, _ = waiting
    _publish(client, admin_headers)
    before = client.get(f"{OPEN}?period=2026H2").get_data()
    assert len(_rows(client.get(f"{OPEN}?period=2026H2"))) == 4  # header and three visits
    for uuid in pending:
        _decide(client, supervisor_headers, uuid, decision="approve")
    live = client.get("/api/v1/reports/ranking?period=2026H2", headers=admin_headers).get_json()
    assert {i["office"]["code"]: i["visits"] for i in live["items"]}["A"] == 5
    assert client.get(f"{OPEN}?period=2026H2").get_data() == before


def test_a_visit_reopened_after_publishing_stays_in_the_open_data(client, admin_headers,
                                                                   waiting):
    _, approved = waiting
    _publish(client, admin_headers)
    before = client.get(f"{OPEN}?period=2026H2").get_data()
    resp = client.post(f"/api/v1/visits/{approved}/reopen", json={"reason": "check again"},
                       headers=admin_headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert client.get(f"{OPEN}?period=2026H2").get_data() == before
    assert [r[0] for r in _rows(client.get(f"{OPEN}?period=2026H2"))[1:]] == ["A", "A", "R1"]


def test_the_open_data_is_inside_the_hashed_snapshot(app, client, admin_headers, visits):
    import hashlib

    from server.reports.models import PublishedReport

    _publish(client, admin_headers)
    report = client.get("/api/v1/reports/published", headers=admin_headers).get_json()["items"][0]
    body = client.get(report["url"])
    assert hashlib.sha256(body.get_data()).hexdigest() == report["sha256"]
    frozen = body.get_json()["open_data"]
    assert frozen["columns"] == COLUMNS
    assert [row[0] for row in frozen["rows"]] == ["A", "A", "R1"]
    with app.app_context():  # an edited row breaks the hash: the open data is withheld
        row = db.session.scalar(sa.select(PublishedReport))
        data = dict(row.data)
        data["open_data"] = {**data["open_data"], "rows": data["open_data"]["rows"][:1]}
        db.session.execute(sa.update(PublishedReport.__table__).values(data=data))
        db.session.commit()
    assert_problem(client.get(f"{OPEN}?period=2026H2"), 500, "snapshot_corrupt")


def test_a_later_snapshot_of_the_period_gives_its_offices_newer_rows(
        client, admin_headers, supervisor_headers, waiting):
    pending, _ = waiting
    _publish(client, admin_headers, kind="registry")
    for uuid in pending:
        _decide(client, supervisor_headers, uuid, decision="approve")
    assert [r[0] for r in _rows(client.get(f"{OPEN}?period=2026H2"))[1:]] == ["R1"]
    _publish(client, admin_headers)  # all kinds, now with A's five approved visits
    rows = _rows(client.get(f"{OPEN}?period=2026H2"))[1:]
    assert [r[0] for r in rows] == ["A"] * 5 + ["R1"]


def test_open_data_of_a_published_date_range(client, admin_headers, visits):
    resp = client.post("/api/v1/reports/publish",
                       json={"from": "2026-07-01", "to": "2026-09-30"}, headers=admin_headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["period"] == "2026-07-01..2026-09-30"
    rows = _rows(client.get(f"{OPEN}?from=2026-07-01&to=2026-09-30"))[1:]
    assert [(r[0], r[4]) for r in rows] == [("A", "2026-07-01"), ("R1", "2026-09-15")]
    assert _rows(client.get(f"{OPEN}?period=2026-07-01..2026-09-30"))[1:] == rows
    assert_problem(client.get(f"{OPEN}?from=2026-07-01&to=2026-09-29"), 404, "not_published")


def test_an_unknown_period_is_422(client):
    body = assert_problem(client.get(f"{OPEN}?period=2026H9"), 422, "validation_failed")
    assert "period" in body["errors"]["query"]
