"""Alerts raised at intake and delivered to real receivers: a webhook server and aiosmtpd."""
from __future__ import annotations

import email
import hashlib
import hmac
import json
from email.policy import default as email_policy

import pytest
import sqlalchemy as sa

from server.alerts.delivery import retry_delays
from server.alerts.models import Alert, Delivery
from server.extensions import db
from server.jobs.models import Job
from server.visits.models import Visit
from tests.visits.builders import visit_payload

from ..jobs.redis_fixture import drain, redis_jobs  # noqa: F401  (fixture)
from .receivers import hooks, mail, mail_receiver, webhook_receiver  # noqa: F401  (fixtures)

SECRET = "a-secret-of-16+chars"


@pytest.fixture
def alerting(app, world, default_form, hooks, mail, client):
    """A webhook (ru) and an email (kk) subscribed to every critical finding."""
    app.config.update(ALERTS_ALLOW_PRIVATE_TARGETS=True, SMTP_URL=mail.url,
                      PUBLIC_URL="https://adal.example.org")
    for body in ({"channel": "webhook", "target": hooks.url, "regions": [], "language": "ru",
                  "findings": ["critical"], "secret": SECRET},
                 {"channel": "email", "target": "integrity@example.org", "regions": [],
                  "language": "kk", "findings": ["D01"]}):
        resp = client.post("/api/v1/alerts/subscriptions", json=body, headers=world["admin"])
        assert resp.status_code == 201, resp.json
    return world


def _submit(client, world, form, **overrides):
    body = visit_payload(form, assignment=world["assignment"], overrides=overrides)
    resp = client.post("/api/v1/visits", json=body, headers=world["inspector"])
    assert resp.status_code in (200, 201), resp.json
    return body, resp


def _deliveries(app):
    with app.app_context():
        return [(d.subscription.channel, d.state, d.attempts) for d in db.session.scalars(
            sa.select(Delivery).order_by(Delivery.subscription_id))]


def test_a_critical_finding_reaches_the_webhook_and_the_mailbox_once(
        app, client, alerting, default_form, hooks, mail):
    body, resp = _submit(client, alerting, default_form, D01="yes")
    assert resp.status_code == 201
    request = hooks.wait(1)[0]
    raw = request["body"]
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert request["headers"]["X-Adal-Signature"] == expected
    assert request["headers"]["X-Adal-Timestamp"].isdigit()
    sent = json.loads(raw)
    assert set(sent) == {"alert_id", "kind", "office", "findings", "visit_started_at", "status",
                         "url", "sent_at"}
    assert sent["sent_at"] == int(request["headers"]["X-Adal-Timestamp"])  # signed with the body
    assert sent["kind"] == "critical_finding" and sent["status"] == "unreviewed"
    assert sent["office"]["code"] == "AST-1"
    assert [f["question"] for f in sent["findings"]] == ["D01"]
    assert sent["url"] == f"https://adal.example.org/console/visits/{body['uuid']}"
    message = email.message_from_bytes(mail.wait(1)[0]["data"], policy=email_policy)
    text = message.get_body().get_content()
    assert sent["alert_id"] in text and "AST-1" in text
    assert message["X-Adal-Alert"] == sent["alert_id"]
    for secret_or_name in ("insp", SECRET):  # neither the inspector nor the secret
        assert secret_or_name not in raw.decode() and secret_or_name not in text
    assert _deliveries(app) == [("webhook", "delivered", 1), ("email", "delivered", 1)]
    # The same visit again (a replay) raises nothing new.
    again = client.post("/api/v1/visits", json=body, headers=alerting["inspector"])
    assert again.status_code == 200
    assert len(hooks.received) == 1 and len(mail.messages) == 1
    listed = client.get("/api/v1/alerts/deliveries", headers=alerting["admin"]).json
    assert [d["state"] for d in listed["items"]] == ["delivered", "delivered"]
    assert {d["alert_id"] for d in listed["items"]} == {sent["alert_id"]}


def test_a_visit_without_critical_findings_raises_no_alert(app, client, alerting, default_form,
                                                           count):
    _submit(client, alerting, default_form)
    assert count(Job) == 0 and count(Alert) == 0


@pytest.mark.parametrize("status", [500, 302])
def test_a_failing_webhook_is_recorded_and_the_visit_is_stored(
        app, client, alerting, default_form, hooks, count, status):
    hooks.status = status
    _submit(client, alerting, default_form, C04="yes")  # not D01: the email is not subscribed
    assert count(Visit) == 1
    assert _deliveries(app) == [("webhook", "failed", 1)]
    with app.app_context():
        delivery = db.session.scalars(sa.select(Delivery)).one()
        assert f"HTTP {status}" in delivery.last_error


def test_smtp_down_is_recorded_and_the_visit_is_stored(app, client, alerting, default_form,
                                                       count):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:1"
    _submit(client, alerting, default_form, D01="yes")
    assert count(Visit) == 1
    assert _deliveries(app) == [("webhook", "delivered", 1), ("email", "failed", 1)]


def test_with_redis_a_failed_delivery_waits_for_its_retry(app, client, alerting, default_form,
                                                          hooks, redis_jobs):
    from server.jobs import queue
    hooks.status = 500
    _submit(client, alerting, default_form, C04="yes")
    drain(app)
    with app.app_context():
        conn = queue.redis_connection()
        jobs = {j.name: j.state for j in db.session.scalars(sa.select(Job))}
        retry_at = conn.zrange(f"rq:scheduled:{queue.rq_queue(conn).name}", 0, -1)
    assert jobs == {"alerts.raise": "done", "alerts.deliver": "retrying"}
    assert _deliveries(app) == [("webhook", "retrying", 1)]
    assert len(retry_at) == 1  # RQ holds it for the next try (30 s later)


def test_retries_back_off_exponentially_for_a_day():
    delays = retry_delays(24)
    assert delays[:4] == [30, 60, 120, 240] and max(delays) == 3600
    assert 24 * 3600 <= sum(delays) < 25 * 3600
