"""Job "alerts.deliver": one alert to one subscription, by email (SMTP) or signed webhook.

A delivery is made at most once: a delivered row is never sent again, and a retry after a
timeout carries the same alert_id so that receivers can drop a duplicate. Failures are
recorded on the row and retried with exponential backoff for ADAL_ALERT_RETRY_HOURS, then the
row is failed (GET /api/v1/alerts/deliveries, the console's Jobs page).
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import smtplib
import ssl
import time
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from flask import current_app

from ..db import utcnow
from ..extensions import db
from ..i18n import translate
from ..jobs.runner import RetryLater
from .models import Channel, Delivery, DeliveryState
from .service import critical_questions, language_of
from .targets import refuse_private_target

FIRST_DELAY, MAX_DELAY = 30, 3600


class DeliveryFailed(Exception):
    """The channel did not take the alert (refused, timed out, answered an error)."""


def retry_delays(hours: float) -> list[int]:
    """Seconds before each retry: 30 s doubling up to an hour, until `hours` have passed."""
    delays, total, delay = [], 0, FIRST_DELAY
    while total < hours * 3600:
        delays.append(delay)
        total += delay
        delay = min(delay * 2, MAX_DELAY)
    return delays


def payload(delivery: Delivery) -> dict:
    """The webhook body of the contract (and the facts of the email), in the subscriber's
    language. Never the inspector: subscriptions are not people the app knows (docs/alerts.md)."""
    alert, lang = delivery.alert, language_of(delivery.subscription)
    visit = alert.visit
    labels = critical_questions()
    office = visit.office
    base = (current_app.config["PUBLIC_URL"] or "").rstrip("/")
    return {
        "alert_id": str(alert.uuid),
        "kind": "critical_finding",
        "office": {"code": office.code, "name": office.name.get(lang) or office.name.get("en")
                   or office.code},
        "findings": [{"question": qid, "label": _label(labels.get(qid, {}), lang, qid)}
                     for qid in alert.findings],
        "visit_started_at": visit.started_at.isoformat(),
        "status": visit.status if visit.status in ("approved", "rejected") else "unreviewed",
        "url": f"{base}/console/visits/{visit.uuid}",
    }


def _label(label, lang: str, qid: str) -> str:
    if isinstance(label, dict):
        return label.get(lang) or label.get("en") or qid
    return str(label or qid)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """X-Adal-Signature: HMAC-SHA256 of the body under the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(delivery: Delivery, body: dict) -> None:
    target = delivery.subscription.target
    problem = refuse_private_target(target)  # again: the name may resolve elsewhere by now
    if problem:
        raise DeliveryFailed(problem)
    timestamp = str(int(time.time()))
    # The send time also goes in the body (an added field), so the signature covers the replay
    # window: a receiver compares `sent_at` with X-Adal-Timestamp and with its clock.
    raw = json.dumps({**body, "sent_at": int(timestamp)}, ensure_ascii=False,
                     separators=(",", ":")).encode()
    parts = urlsplit(target)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=current_app.config["WEBHOOK_TIMEOUT"])
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=raw, headers={
            "Content-Type": "application/json", "User-Agent": "Adal-alerts",
            "X-Adal-Signature": sign(delivery.subscription.secret or "", timestamp, raw),
            "X-Adal-Timestamp": timestamp, "X-Adal-Alert": body["alert_id"]})
        response = conn.getresponse()
        response.read(4096)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    if not 200 <= response.status < 300:  # redirects are not followed: a failure too
        raise DeliveryFailed(f"HTTP {response.status} from the webhook")


def email_message(delivery: Delivery, body: dict) -> EmailMessage:
    lang = language_of(delivery.subscription)
    office = body["office"]
    message = EmailMessage()
    message["Subject"] = translate("al_subject", lang, office=office["name"])
    message["From"] = current_app.config["SMTP_FROM"]
    message["To"] = delivery.subscription.target
    message["X-Adal-Alert"] = body["alert_id"]
    message["Message-ID"] = f"<{body['alert_id']}.{delivery.subscription_id}@adal>"
    lines = [translate("al_body", lang, office=office["name"], code=office["code"],
                       time=body["visit_started_at"]), ""]
    lines += [f"- {f['label']} ({f['question']})" for f in body["findings"]]
    lines += [""]
    if body["status"] == "unreviewed":
        lines.append(translate("al_unreviewed", lang))
    lines += [translate("al_open", lang), body["url"], "", f"alert_id: {body['alert_id']}"]
    message.set_content("\n".join(lines))
    return message


def _tls_context() -> ssl.SSLContext:
    """Certificates checked against the system's CAs, or ADAL_SMTP_CA_FILE's (a relay with a
    certificate from a private CA); never unchecked."""
    return ssl.create_default_context(cafile=current_app.config.get("SMTP_CA_FILE") or None)


def send_email(delivery: Delivery, body: dict) -> None:
    """One message through ADAL_SMTP_URL: `smtps://` is TLS from the start; `smtp://` upgrades
    with STARTTLS whenever the server offers it. With a user name in the URL the password is
    only ever sent over TLS: a server that offers no STARTTLS (or an attacker who strips it)
    gets a refused delivery, not the password in clear (docs/alerts.md)."""
    url = current_app.config["SMTP_URL"]
    if not url:
        raise DeliveryFailed("ADAL_SMTP_URL is not set")
    parts = urlsplit(url)
    timeout = current_app.config["SMTP_TIMEOUT"]
    try:
        if parts.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=timeout,
                                    context=_tls_context())
        else:
            smtp = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=timeout)
        with smtp:
            smtp.ehlo()
            encrypted = parts.scheme == "smtps"
            if not encrypted and smtp.has_extn("starttls"):
                smtp.starttls(context=_tls_context())
                smtp.ehlo()
                encrypted = True
            if parts.username:
                if not encrypted:
                    raise DeliveryFailed("the SMTP server offers no STARTTLS: the password is "
                                         "not sent in clear (use smtps:// or a server with TLS)")
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(email_message(delivery, body))
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc


def deliver(*, delivery_id: int) -> None:
    """Send one delivery unless it was delivered already; record the outcome on the row."""
    from ..jobs.runner import will_retry
    delivery = db.session.scalar(sa.select(Delivery).where(Delivery.id == delivery_id)
                                 .with_for_update(of=Delivery))
    if delivery is None or delivery.state == DeliveryState.DELIVERED.value:
        return
    if not delivery.subscription.active:
        delivery.state, delivery.last_error = DeliveryState.FAILED.value, "subscription disabled"
        return
    delivery.attempts += 1
    delivery.last_attempt_at = utcnow()
    body = payload(delivery)
    try:
        if delivery.subscription.channel == Channel.WEBHOOK.value:
            send_webhook(delivery, body)
        else:
            send_email(delivery, body)
    except DeliveryFailed as exc:
        delivery.last_error = str(exc)[:2000]
        window = timedelta(hours=current_app.config["ALERT_RETRY_HOURS"])
        again = will_retry() and utcnow() - delivery.created_at < window
        delivery.state = (DeliveryState.RETRYING if again else DeliveryState.FAILED).value
        raise RetryLater(delivery.last_error) from exc
    delivery.state, delivery.last_error = DeliveryState.DELIVERED.value, None
    delivery.delivered_at = utcnow()
