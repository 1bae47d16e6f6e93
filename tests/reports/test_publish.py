"""Publishing freezes a ranking; the public URL serves exactly the frozen snapshot, or nothing."""
from __future__ import annotations

import base64
import hashlib

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.reports.models import PublishedReport
from tests.auth import assert_problem, audit_events

PUBLISH = "/api/v1/reports/publish"


@pytest.fixture
def ranked(commit, rw):
    def build():
        rw.visits(rw.office("A"), [80, 90, 100], findings=["D01"], sections={"queue": 80})
        rw.visits(rw.office("B"), [70, 70, 70])
    commit(build)
    return rw


@pytest.fixture
def published(client, supervisor_headers, ranked) -> dict:
    resp = client.post(PUBLISH, json={"period": "2026H2"}, headers=supervisor_headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def test_publish_answers_201_with_slug_hash_and_url(published, client):
    assert published["url"] == f"/api/v1/public/reports/{published['slug']}"
    assert len(published["sha256"]) == 64
    assert published["period"] == "2026H2"


def test_publish_is_on_the_audit_log(app, published):
    (event,) = audit_events(app, "report_published")
    assert (event.object_id, event.payload["sha256"], event.payload["period"]) == (
        published["slug"], published["sha256"], "2026H2")


def test_the_public_url_serves_the_snapshot_without_sign_in(client, published):
    resp = client.get(published["url"])
    assert resp.status_code == 200
    assert hashlib.sha256(resp.get_data()).hexdigest() == published["sha256"]
    digest = base64.b64encode(bytes.fromhex(published["sha256"])).decode()
    assert resp.headers["Repr-Digest"] == f"sha-256=:{digest}:"
    body = resp.get_json()
    assert [i["office"]["code"] for i in body["items"]] == ["A", "B"]
    assert body["items"][0]["office"]["name"]["ru"] == "Office A (ru)"  # every language
    assert body["slug"] == published["slug"]


@pytest.fixture
def waiting(commit, ranked):
    """Seven visits of B waiting for review: approved, they lift B to 910 / 10 = 91 > A's 90."""
    return commit(lambda: [str(v.uuid)
                           for v in ranked.visits("B", [100] * 7, status="in_review")])


def test_the_snapshot_stays_the_same_after_a_later_approval(client, admin_headers, waiting,
                                                            published):
    before = client.get(published["url"]).get_data()
    for uuid in waiting:  # approved through the review API, as a supervisor would
        resp = client.post(f"/api/v1/visits/{uuid}/review",
                           json={"decision": "approve", "revision": 1}, headers=admin_headers)
        assert resp.status_code == 201, resp.get_data(as_text=True)
    live = client.get("/api/v1/reports/ranking?period=2026H2", headers=admin_headers).get_json()
    assert live["items"][0]["office"]["code"] == "B"
    after = client.get(published["url"])
    assert after.get_data() == before
    assert after.get_json()["items"][0]["office"]["code"] == "A"


def test_a_tampered_snapshot_is_never_served(app, client, published):
    with app.app_context():
        report = db.session.scalar(sa.select(PublishedReport))
        data = dict(report.data, items=list(reversed(report.data["items"])))
        db.session.execute(sa.update(PublishedReport.__table__).values(data=data))
        db.session.commit()
    body = assert_problem(client.get(published["url"]), 500, "snapshot_corrupt")
    assert "Office" not in str(body)


def test_a_tampered_snapshot_page_is_an_error_page(app, client, published):
    with app.app_context():
        db.session.execute(sa.text("UPDATE published_reports SET sha256 = :h"), {"h": "0" * 64})
        db.session.commit()
    resp = client.get(f"/public/reports/{published['slug']}", headers={"Accept": "text/html"})
    assert resp.status_code == 500
    assert "snapshot_corrupt" in resp.get_data(as_text=True)


def test_an_unknown_slug_is_404(client):
    assert_problem(client.get("/api/v1/public/reports/nope"), 404, "not_found")


def test_the_published_list_shows_reports_newest_first(client, admin_headers, published):
    second = client.post(PUBLISH, json={"period": "2026H2", "kind": "registry"},
                         headers=admin_headers).get_json()
    body = client.get("/api/v1/reports/published", headers=admin_headers).get_json()
    assert [i["slug"] for i in body["items"]] == [second["slug"], published["slug"]]
    assert body["total"] == 2


def test_publish_with_an_unknown_period_is_422_and_stores_nothing(client, admin_headers, count):
    body = assert_problem(client.post(PUBLISH, json={"period": "someday"},
                                      headers=admin_headers), 422, "validation_failed")
    assert "period" in body["errors"]
    assert count(PublishedReport) == 0


def test_a_restricted_supervisor_must_publish_one_of_their_regions(client, commit, rw,
                                                                   headers_for, count):
    headers = headers_for("supervisor", regions=[rw.region])
    assert_problem(client.post(PUBLISH, json={"period": "2026H2"}, headers=headers),
                   403, "out_of_scope")
    commit(lambda: rw.office("AWAY", region="FAR"))
    assert_problem(client.post(PUBLISH, json={"period": "2026H2", "region": "FAR"},
                               headers=headers), 403, "out_of_scope")
    assert count(PublishedReport) == 0
    resp = client.post(PUBLISH, json={"period": "2026H2", "region": rw.region}, headers=headers)
    assert resp.status_code == 201
    assert resp.get_json()["region"] == rw.region


def test_publish_replays_under_the_same_idempotency_key(client, admin_headers, ranked, count):
    headers = {**admin_headers, "Idempotency-Key": "publish-1"}
    first = client.post(PUBLISH, json={"period": "2026H2"}, headers=headers)
    again = client.post(PUBLISH, json={"period": "2026H2"}, headers=headers)
    assert first.status_code == 201
    assert again.get_json()["slug"] == first.get_json()["slug"]
    assert count(PublishedReport) == 1
