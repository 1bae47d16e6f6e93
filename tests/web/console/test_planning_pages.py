"""The planning page: offices by region, coverage, assignments (list, create, CSV)."""
from __future__ import annotations

import io

import sqlalchemy as sa

from server.assignments.models import Assignment
from server.extensions import db
from tests import factories

from .helpers import page_token, sign_in

PLANNING = "/console/planning"


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Assignment.id)))


def test_planning_lists_offices_coverage_and_assignments(sup, world):
    html = sup.get(PLANNING + "?lang=en").get_data(as_text=True)
    assert 'id="offices"' in html and world["office"] in html and world["other_office"] in html
    assert 'id="coverage"' in html and "0</strong> / 3" in html  # no approved visits yet
    assert 'id="assignments"' in html and "insp" in html
    assert "service-centre-visit v1" in html


def test_planning_for_inspectors_and_signed_out(client, world):
    assert client.get(PLANNING).status_code == 302
    sign_in(client, "insp")
    assert client.get(PLANNING, headers={"Accept": "text/html"}).status_code == 403


def test_create_an_assignment_from_the_form(sup, world, app):
    before = _count(app)
    resp = sup.post("/console/planning/assignments", data={
        "csrf_token": page_token(sup, PLANNING), "office": world["other_office"],
        "inspector": "insp2", "form": "service-centre-visit/v1",
        "window_start": "2030-01-10T09:00", "window_end": "2030-01-20T18:00"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert _count(app) == before + 1
    html = sup.get(PLANNING + "?inspector=insp2").get_data(as_text=True)
    assert "2030-01-10" in html


def test_a_refused_assignment_shows_every_reason_and_keeps_the_input(sup, world, app):
    before = _count(app)
    resp = sup.post("/console/planning/assignments?lang=en", data={
        "csrf_token": page_token(sup, PLANNING), "office": "NOPE-1",
        "inspector": "<script>x</script>", "form": "service-centre-visit/v1",
        "window_start": "2030-01-10T09:00", "window_end": "2030-01-20T18:00"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Unknown office" in html and "No inspector with login" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert _count(app) == before


def test_assignment_post_without_csrf_is_refused(sup, world, app):
    before = _count(app)
    resp = sup.post("/console/planning/assignments", data={
        "office": world["other_office"], "inspector": "insp2", "form": "service-centre-visit/v1",
        "window_start": "2030-01-10T09:00", "window_end": "2030-01-20T18:00"})
    assert resp.status_code == 400
    assert _count(app) == before


def test_csv_upload_creates_all_rows(sup, world, app):
    before = _count(app)
    csv = ("office,inspector,form_key,form_version,window_start,window_end\n"
           f"{world['other_office']},insp2,service-centre-visit,1,2030-02-01T09:00:00+05:00,"
           "2030-02-10T18:00:00+05:00\n"
           f"{world['office']},insp2,service-centre-visit,1,2030-02-01T09:00:00+05:00,"
           "2030-02-10T18:00:00+05:00\n")
    resp = sup.post("/console/planning/assignments.csv", content_type="multipart/form-data",
                    data={"csrf_token": page_token(sup, PLANNING),
                          "file": (io.BytesIO(csv.encode()), "plan.csv")})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert "created=2" in resp.headers["Location"]
    assert _count(app) == before + 2


def test_csv_with_a_bad_row_lists_it_and_creates_nothing(sup, world, app):
    before = _count(app)
    csv = ("office,inspector,form_key,form_version,window_start,window_end\n"
           f"{world['other_office']},insp2,service-centre-visit,1,2030-02-01T09:00:00+05:00,"
           "2030-02-10T18:00:00+05:00\n"
           "NOPE-1,insp2,service-centre-visit,1,2030-02-01T09:00:00+05:00,"
           "2030-02-10T18:00:00+05:00\n")
    resp = sup.post("/console/planning/assignments.csv?lang=en",
                    content_type="multipart/form-data",
                    data={"csrf_token": page_token(sup, PLANNING),
                          "file": (io.BytesIO(csv.encode()), "plan.csv")})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "line 3" in html and "nothing was created" in html
    assert _count(app) == before


def test_csv_upload_without_a_file(sup, world):
    resp = sup.post("/console/planning/assignments.csv", content_type="multipart/form-data",
                    data={"csrf_token": page_token(sup, PLANNING)})
    assert resp.status_code == 422


def test_office_name_with_script_in_planning_is_text(sup, world, app, commit):
    commit(lambda: factories.office(code="XSS-1", name={
        k: "<img src=x onerror=alert(1)>" for k in ("kk", "ru", "en", "uz")}))
    html = sup.get(PLANNING).get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
