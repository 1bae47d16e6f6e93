"""/api/v1/alerts/subscriptions: admins only, precise 422s, secrets never returned."""
from __future__ import annotations

import pytest

from server.alerts.models import Subscription
from tests import factories

URL = "/api/v1/alerts/subscriptions"


@pytest.fixture
def known(commit):
    """A region and the default checklist (its critical questions are the findings)."""
    from pathlib import Path

    from server.config import PROJECT_ROOT
    from server.forms.service import publish_file
    from tests.conftest import DEFAULT_FORM

    def build():
        publish_file(path=Path(PROJECT_ROOT) / DEFAULT_FORM)
        return factories.office(code="AST-1").region.code
    return commit(build)


def _webhook(region, **kw):
    return {"channel": "webhook", "target": "https://hooks.example.org/adal", "regions": [region],
            "findings": ["D01"], "language": "ru", "secret": "s" * 16, **kw}


def test_an_admin_subscribes_an_email_and_a_webhook_whose_secret_is_never_shown(
        client, admin_headers, known, monkeypatch):
    monkeypatch.setattr("server.alerts.targets._addresses", lambda host, port: ["93.184.215.14"])
    resp = client.post(URL, json={"channel": "email", "target": "integrity@example.org",
                                  "regions": [], "findings": ["critical"], "language": "kk"},
                       headers=admin_headers)
    assert resp.status_code == 201, resp.json
    resp = client.post(URL, json=_webhook(known), headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert "secret" not in resp.json
    listed = client.get(URL, headers=admin_headers).json
    assert [s["channel"] for s in listed["items"]] == ["email", "webhook"]
    assert all("secret" not in s for s in listed["items"])
    assert b"s" * 16 not in client.get(URL, headers=admin_headers).data
    sid = resp.json["id"]
    resp = client.post(f"{URL}/{sid}/disable", headers=admin_headers)
    assert resp.status_code == 200 and resp.json["active"] is False
    assert client.post(f"{URL}/{sid}/disable", headers=admin_headers).status_code == 200
    assert client.post(f"{URL}/999/disable", headers=admin_headers).status_code == 404


@pytest.mark.parametrize("change, field, words", [
    ({"regions": ["NOWHERE"]}, "regions", "NOWHERE"),
    ({"findings": ["D01", "no_such_q"]}, "findings", "no_such_q"),
    ({"findings": ["A02"]}, "findings", "A02"),  # a question, but not a critical one
    ({"secret": "short"}, "secret", "16"),
    ({"secret": None}, "secret", ""),
    ({"channel": "sms"}, "channel", ""),
    ({"language": "fr"}, "language", ""),
    ({"target": "http://127.0.0.1:8080/x"}, "target", "private"),
    ({"target": "http://10.1.2.3/x"}, "target", "private"),
    ({"target": "http://169.254.169.254/latest"}, "target", "private"),
    ({"target": "ftp://example.org/x"}, "target", "http"),
    ({"target": "https://user:pw@example.org/x"}, "target", "password"),
    ({"channel": "email", "target": "not-an-address", "secret": None}, "target", "email"),
    ({"channel": "email", "target": "a@example.org"}, "secret", "webhooks"),
])
def test_bad_subscriptions_are_refused_naming_the_field_and_nothing_is_stored(
        client, admin_headers, known, count, change, field, words):
    resp = client.post(URL, json={**_webhook(known), **change}, headers=admin_headers)
    assert resp.status_code == 422, resp.json
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert field in resp.json["errors"]
    assert words.lower() in str(resp.json["errors"][field]).lower()
    assert count(Subscription) == 0


def test_private_targets_are_allowed_when_the_admin_says_so(app, client, admin_headers, known):
    app.config["ALERTS_ALLOW_PRIVATE_TARGETS"] = True
    resp = client.post(URL, json=_webhook(known, target="http://127.0.0.1:8080/x"),
                       headers=admin_headers)
    assert resp.status_code == 201


def test_only_admins_see_or_change_subscriptions(client, headers_for, known):
    for role in ("supervisor", "inspector"):
        headers = headers_for(role)
        assert client.get(URL, headers=headers).status_code == 403
        assert client.post(URL, json=_webhook(known), headers=headers).status_code == 403
        assert client.get("/api/v1/alerts/deliveries", headers=headers).status_code == 403
    assert client.get(URL).status_code == 401


def test_malformed_bodies_are_problems_not_crashes(client, admin_headers, known):
    assert client.post(URL, data="{", headers={**admin_headers, "Content-Type":
                                                "application/json"}).status_code == 400
    resp = client.post(URL, json={**_webhook(known), "extra": 1}, headers=admin_headers)
    assert resp.status_code == 422
    resp = client.post(URL, json={**_webhook(known), "regions": "AST"}, headers=admin_headers)
    assert resp.status_code == 422
