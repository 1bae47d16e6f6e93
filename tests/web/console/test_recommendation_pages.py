"""Recommendations from the console: made by hand or from a visit's finding, moved along their
statuses; every refusal is shown on the page and stores nothing."""
from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.extensions import db
from server.recommendations.models import Recommendation, RecommendationEvent

from .helpers import page_token, submit


def _recs(app) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return [(r.text, r.status, r.question_id) for r in
                db.session.scalars(sa.select(Recommendation).order_by(Recommendation.id))]


def _page(world) -> str:
    return f"/console/offices/{world['office']}/recommendations"


def _made(client, world, **fields) -> int:
    resp = client.post(_page(world), data={"csrf_token": page_token(client, _page(world)),
                                           **fields})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    return int(re.search(r"made=(\d+)", resp.headers["Location"]).group(1))


def test_make_a_recommendation_by_hand(sup, world, app):
    due = (date.today() + timedelta(days=30)).isoformat()
    rec = _made(sup, world, text="<b>Fix</b> the ramp", due_date=due)
    assert _recs(app) == [("<b>Fix</b> the ramp", "open", None)]
    html = sup.get(_page(world) + f"?made={rec}&lang=ru").get_data(as_text=True)
    assert 'id="rec-made"' in html and "&lt;b&gt;Fix&lt;/b&gt; the ramp" in html
    row = re.search(rf'<tr id="rec-{rec}".*?</tr>', html, re.S).group(0)
    assert '<td class="rec-status">открыта</td>' in row
    assert "выполняется" in row  # a next status offered in the page language
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.seq)).where(
            AuditEvent.action == "recommendation_created")) == 1


def test_make_a_recommendation_from_a_visit_finding(sup, world, app, default_form):
    visit = submit(sup, world, default_form, best=False)
    path = f"/console/visits/{visit['uuid']}"
    html = sup.get(path + "?lang=en").get_data(as_text=True)
    assert 'id="rec-form"' in html
    question = re.search(r'<select id="rec-question" name="question"><option value="">[^<]*'
                         r'</option><option value="([A-Za-z0-9_]+)"', html).group(1)
    resp = sup.post(_page(world), data={
        "csrf_token": page_token(sup, path), "visit": visit["uuid"], "question": question,
        "text": "Repair it", "back": "visit"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    assert _recs(app) == [("Repair it", "open", question)]
    html = sup.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'href="/console/visits/{visit["uuid"]}' in html


def test_a_refused_recommendation_is_shown_and_stores_nothing(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = f"/console/visits/{visit['uuid']}"
    token = page_token(sup, path)
    # A question that is not in the visit's form: refused on the visit page, text kept.
    resp = sup.post(_page(world) + "?lang=en", data={
        "csrf_token": token, "visit": visit["uuid"], "question": "ZZ99", "text": "Keep me",
        "back": "visit"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Not a question of form" in html and ">Keep me</textarea>" in html
    # No text, a date in the past, a bad date, a bad visit id: each refused.
    for fields, needle in (({"text": ""}, "Recommendation:"),
                           ({"text": "x", "due_date": "2001-01-01"}, "In the past"),
                           ({"text": "x", "due_date": "tomorrow"}, "Due:"),
                           ({"text": "x", "visit": "not-a-uuid"}, "Visit:"),
                           ({"text": "a\x00b"}, "Control character")):
        resp = sup.post(_page(world) + "?lang=en", data={"csrf_token": token, **fields})
        assert resp.status_code == 422, fields
        assert needle in resp.get_data(as_text=True), (fields, resp.get_data(as_text=True)[-3000:])
    assert sup.post(_page(world), data={"text": "no token"}).status_code == 400
    resp = sup.post("/console/offices/NOPE-9/recommendations",
                    data={"csrf_token": token, "text": "x"}, headers={"Accept": "text/html"})
    assert resp.status_code in (404, 422)
    assert _recs(app) == []


def test_move_a_recommendation_along_its_statuses(sup, world, app):
    rec = _made(sup, world, text="Put up the opening hours")
    move = f"/console/recommendations/{rec}/status"
    token = page_token(sup, _page(world))
    resp = sup.post(move, data={"csrf_token": token, "status": "in_progress"})
    assert resp.status_code == 303 and f"moved={rec}" in resp.headers["Location"]
    resp = sup.post(move, data={"csrf_token": token, "status": "reported_done",
                                "comment": "The office says done"})
    assert resp.status_code == 303
    # verified needs a comment: refused, nothing changes, the page says why.
    resp = sup.post(move + "?lang=en", data={"csrf_token": token, "status": "verified"})
    assert resp.status_code == 422 and "Required for verified" in resp.get_data(as_text=True)
    resp = sup.post(move + "?lang=en", data={"csrf_token": token, "status": "verified",
                                             "comment": "ok\x00", "verifying_visit": "x"})
    assert resp.status_code == 422 and "Control character" in resp.get_data(as_text=True)
    # A status that is not next is a 409 with the allowed ones.
    resp = sup.post(move + "?lang=en", data={"csrf_token": token, "status": "open"})
    assert resp.status_code in (409, 422)
    assert _recs(app)[0][1] == "reported_done"
    resp = sup.post(move, data={"csrf_token": token, "status": "verified",
                                "comment": "Seen on the wall"})
    assert resp.status_code == 303
    with app.app_context():
        statuses = [e.status for e in db.session.scalars(sa.select(RecommendationEvent)
                                                         .order_by(RecommendationEvent.id))]
    assert statuses == ["open", "in_progress", "reported_done", "verified"]
    html = sup.get(_page(world) + "?lang=en").get_data(as_text=True)
    assert f'id="rec-{rec}"' not in html  # final: listed only with "show all"
    html = sup.get(_page(world) + "?all=1&lang=en").get_data(as_text=True)
    row = re.search(rf'<tr id="rec-{rec}".*?</tr>', html, re.S).group(0)
    assert '<td class="rec-status">verified</td>' in row and "Seen on the wall" in row
    assert "<form" not in row  # nothing comes after verified
    # Bad ids and unknown statuses are refused without a 500.
    assert sup.post("/console/recommendations/999999/status",
                    data={"csrf_token": token, "status": "verified"},
                    headers={"Accept": "text/html"}).status_code == 404
    assert sup.post(f"/console/recommendations/{rec}/status",
                    data={"csrf_token": token, "status": "bogus"}).status_code in (409, 422)
    assert sup.post(move, data={"status": "not_done"}).status_code == 400
