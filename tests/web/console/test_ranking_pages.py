"""The rankings page (links, exports, publishing) and an office's recommendations."""
from __future__ import annotations

import sqlalchemy as sa

from server.extensions import db
from server.reports.models import PublishedReport

from .helpers import page_token, sign_in, submit

RANKINGS = "/console/rankings"


def _approve(client, world, form) -> dict:
    visit = submit(client, world, form)
    resp = client.post(f"/api/v1/visits/{visit['uuid']}/review", headers=world["supervisor"],
                       json={"decision": "approve", "revision": 1})
    assert resp.status_code == 201
    return visit


def test_rankings_page_links_reports_exports_and_publish_form(sup, world, default_form):
    _approve(sup, world, default_form)
    html = sup.get(RANKINGS + "?period=2026&lang=en").get_data(as_text=True)
    assert 'id="ranking"' in html and world["office"] in html
    assert "/reports/ranking?period=2026" in html
    assert f"/reports/offices/{world['office']}?period=2026" in html
    assert "format=xlsx" in html and "format=csv" in html
    assert 'id="publish-form"' in html and 'name="csrf_token"' in html


def test_rankings_refuses_a_bad_period(sup):
    resp = sup.get(RANKINGS + "?period=soon", headers={"Accept": "text/html"})
    assert resp.status_code == 422


def test_rankings_signed_out_and_inspector(client, world):
    assert client.get(RANKINGS).status_code == 302
    sign_in(client, "insp")
    assert client.get(RANKINGS, headers={"Accept": "text/html"}).status_code == 403


def test_publish_freezes_the_report_and_opens_its_public_page(sup, world, app, default_form):
    _approve(sup, world, default_form)
    token = page_token(sup, RANKINGS)
    resp = sup.post("/console/rankings/publish", data={"csrf_token": token, "period": "2026"})
    assert resp.status_code == 302
    assert "/public/reports/" in resp.headers["Location"]
    public = sup.get(resp.headers["Location"])
    assert public.status_code == 200 and world["office"] in public.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PublishedReport.id))) == 1
    assert "2026" in sup.get(RANKINGS + "?period=2026").get_data(as_text=True)


def test_publish_with_a_bad_period_shows_the_error_and_stores_nothing(sup, app):
    token = page_token(sup, RANKINGS)
    resp = sup.post("/console/rankings/publish", data={"csrf_token": token, "period": "later"})
    assert resp.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PublishedReport.id))) == 0


def test_xlsx_export_link_works_with_the_session(sup, world, default_form):
    _approve(sup, world, default_form)
    resp = sup.get("/api/v1/reports/ranking?period=2026&format=xlsx")
    assert resp.status_code == 200
    assert resp.data[:2] == b"PK"


def test_office_recommendations_page(sup, world, app):
    resp = sup.post("/api/v1/recommendations", headers=world["supervisor"],
                    json={"office": world["office"], "text": "<b>Fix</b> the ramp",
                          "due_date": "2030-01-01"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    html = sup.get(f"/console/offices/{world['office']}/recommendations?lang=en").get_data(
        as_text=True)
    assert "&lt;b&gt;Fix&lt;/b&gt; the ramp" in html
    assert "2030-01-01" in html
    assert sup.get("/console/offices/NOPE-9/recommendations").status_code == 404
