"""GET /healthz: 200 when the database answers and media can be written, 503 naming what failed."""
from __future__ import annotations

import pytest

from server import create_app
from server.extensions import db


@pytest.fixture
def make_client(tmp_path, pg_database):
    """A client of an app like the `app` fixture's, with some settings changed."""
    made = []

    def make(**overrides):
        app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                          "DATABASE_URL": pg_database or f"sqlite:///{tmp_path / 'h.sqlite3'}",
                          "MEDIA_ROOT": str(tmp_path / "media"), **overrides})
        app.instance_path = str(tmp_path / "instance")
        made.append(app)
        return app.test_client()

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_healthy_when_the_database_answers_and_media_is_writable(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.get_json() == {"status": "ok", "checks": {"database": "ok", "media": "ok"}}
    assert resp.headers["Cache-Control"] == "no-store"  # a cached "ok" would hide an outage


def test_unhealthy_when_media_cannot_be_written(make_client, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    resp = make_client(MEDIA_ROOT=str(blocker / "media")).get("/healthz")
    assert resp.status_code == 503
    assert resp.mimetype == "application/json"
    assert resp.get_json() == {"status": "unavailable",
                               "checks": {"database": "ok", "media": "unavailable"}}


def test_unhealthy_when_the_database_is_unreachable(make_client):
    resp = make_client(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nope").get("/healthz")
    assert resp.status_code == 503
    assert resp.mimetype == "application/json"
    assert resp.get_json() == {"status": "unavailable",
                               "checks": {"database": "unavailable", "media": "ok"}}


def test_the_health_check_needs_no_sign_in_and_is_not_a_page(client):
    resp = client.get("/healthz", headers={"Accept": "text/html"})
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "ok"
