"""Done when: the demo supervisor reviews the demo's waiting visits through the API, and the demo
ranking then counts exactly the visits approved."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from server import demo
from server.config import PROJECT_ROOT
from server.extensions import db
from server.forms.service import publish_file
from server.periods import half_year_of
from server.visits.models import Visit

DEFAULT_FORM = Path(PROJECT_ROOT) / "survey_forms" / "service_centre_visit.v1.yaml"


def _token(client, login: str) -> dict:
    resp = client.post("/api/v1/auth/token",
                       json={"login": login, "password": demo.DEMO_PASSWORD})
    assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def _visits(ranking: dict) -> dict[str, int]:
    return {item["office"]["code"]: item["visits"] for item in ranking["items"]}


def test_the_demo_supervisor_reviews_the_demo_visits_and_the_ranking_follows(app, client):
    with app.app_context():
        publish_file(path=DEFAULT_FORM)
        db.session.commit()
        demo.load_demo()
        db.session.commit()
        period = half_year_of(db.session.scalar(sa.select(sa.func.max(Visit.started_at))),
                              app.config["TIMEZONE"]).label
    supervisor = _token(client, "supervisor")
    ranking = f"/api/v1/reports/ranking?period={period}&lang=en"
    before = client.get(ranking, headers=supervisor).get_json()
    # the demo's ranking: the offices the demo makes good are ranked above the poor ones
    score = {i["office"]["code"]: i["score"] for i in before["items"]}
    assert score["AST-CON-ESIL"] > score["AST-CON-BAIKONUR"]
    assert score["ALA-CON-ALMALY"] > score["ALA-CON-TURKSIB"]
    assert all(i["status"] == "ranked" for i in before["items"]
               if i["office"]["code"] in demo.QUALITY)

    queue = client.get("/api/v1/review/queue?per_page=100", headers=supervisor).get_json()
    assert queue["total"] >= 4 and queue["total"] == len(queue["items"])
    approved: dict[str, int] = {}
    for item in queue["items"]:
        visit = client.get(f"/api/v1/visits/{item['uuid']}", headers=supervisor).get_json()
        corrections = sum(1 for h in visit["history"] if h["action"] == "answer_corrected"
                          and h["revision"] == visit["revision"])
        resp = client.post(f"/api/v1/visits/{item['uuid']}/review", headers=supervisor,
                           json={"decision": "approve", "revision": visit["revision"],
                                 "corrections": corrections})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        assert resp.get_json()["status"] == "approved"
        if half_year_of_iso(app, item["started_at"]) == period:
            approved[item["office"]] = approved.get(item["office"], 0) + 1
    assert approved, "the demo has visits of the current half-year waiting"
    assert client.get("/api/v1/review/queue", headers=supervisor).get_json()["total"] == 0

    after = _visits(client.get(ranking, headers=supervisor).get_json())
    expected = {code: n + approved.get(code, 0) for code, n in _visits(before).items()}
    assert after == expected
    # an inspector of the demo cannot review, and the approvals are on the audit chain
    inspector = _token(client, "inspector1")
    assert client.get("/api/v1/review/queue", headers=inspector).status_code == 403
    with app.app_context():
        from server.audit.service import verify_chain
        assert verify_chain().ok


def half_year_of_iso(app, moment: str) -> str:
    from datetime import datetime
    return half_year_of(datetime.fromisoformat(moment), app.config["TIMEZONE"]).label
