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


def test_an_unknown_period_is_422(client):
    body = assert_problem(client.get(f"{OPEN}?period=2026H9"), 422, "validation_failed")
    assert "period" in body["errors"]["query"]
