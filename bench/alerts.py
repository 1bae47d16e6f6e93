"""Alert latency under intake load: visit commit -> webhook / email arrival, one RQ worker.

gunicorn serves the app on PostgreSQL with jobs on Redis; one `adal worker` drains the queue.
A webhook receiver and an SMTP server (aiosmtpd) run in this process. N visits are posted by
concurrent clients as fast as the app takes them, a share of them with a critical finding
(D01 "yes"); each alert's latency is its arrival time minus the visit's submitted_at (stamped
just before the commit, so the figure is, if anything, a little long). The baseline is the
same latency with the app idle (a few critical visits one at a time) in the same run.

    python -m bench.alerts [--visits 300] [--critical-share 0.2] [--clients 8]
"""
from __future__ import annotations

import argparse
import logging
from email import message_from_bytes
from email.policy import default as default_policy
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa

from bench.audit_append import _fresh_database
from bench.intake import _free_port, _load, _seed
from server import create_app
from server.alerts.models import Subscription
from server.config import PROJECT_ROOT
from server.db import utcnow
from server.extensions import db
from server.forms.models import FormVersion
from server.scoring.rules import CompiledForm
from server.visits.models import Visit
from tests.alerts.receivers import MailReceiver, WebhookReceiver
from tests.visits.builders import answers_for

URL = os.environ.get("ADAL_BENCH_DATABASE_URL",
                     "postgresql://postgres@127.0.0.1:5432/adal_bench_alerts")
REDIS = os.environ.get("ADAL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET = "bench-secret-key-123"


def _settings(url: str, hooks: WebhookReceiver, mail: MailReceiver) -> dict:
    return {"ADAL_DATABASE_URL": url, "ADAL_SECRET_KEY": SECRET, "ADAL_REDIS_URL": REDIS,
            "ADAL_JOB_QUEUE": "adal-bench-alerts", "ADAL_SMTP_URL": mail.url,
            "ADAL_ALERTS_ALLOW_PRIVATE_TARGETS": "true",
            "ADAL_MEDIA_ROOT": "/tmp/adal-bench-media"}


def _subscribe(url: str, hooks: WebhookReceiver) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    with app.app_context():
        db.session.add_all([
            Subscription(channel="webhook", target=hooks.url, regions=[], findings=["critical"],
                         language="ru", secret="s" * 32),
            Subscription(channel="email", target="integrity@example.org", regions=[],
                         findings=["critical"], language="kk")])
        db.session.commit()
        db.engine.dispose()


def _bodies(ids: list[int], answers: list, critical_answers: list, share: float
            ) -> tuple[list[bytes], set[str]]:
    started = (utcnow() - timedelta(minutes=50)).isoformat()
    ended = (utcnow() - timedelta(minutes=10)).isoformat()
    bodies, critical = [], set()
    every = max(1, round(1 / share)) if share > 0 else 0
    for i, assignment in enumerate(ids):
        hot = bool(every) and i % every == 0
        body = {"uuid": str(uuid.uuid4()), "assignment": assignment, "started_at": started,
                "ended_at": ended, "position_start": {"lat": 51.1283, "lon": 71.4304,
                                                      "accuracy": 15},
                "answers": critical_answers if hot else answers, "device": {"app_version": "b"}}
        if hot:
            critical.add(body["uuid"])
        bodies.append(json.dumps(body).encode())
    return bodies, critical


def _arrivals(hooks: WebhookReceiver, mail: MailReceiver) -> tuple[dict, dict]:
    """Visit uuid -> arrival time, per channel (the console link in each names the visit)."""
    web = {json.loads(r["body"])["url"].rsplit("/", 1)[1]: r["at"] for r in hooks.received}
    email = {}
    for m in mail.messages:
        text = message_from_bytes(m["data"], policy=default_policy).get_body().get_content()
        marker = "/console/visits/"
        at = text.find(marker)
        if at >= 0:
            email[text[at + len(marker):at + len(marker) + 36]] = m["at"]
    return web, email


def _latencies(url: str, arrivals: dict, wanted: set[str]) -> list[float]:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    with app.app_context():
        rows = db.session.execute(sa.select(Visit.uuid, Visit.submitted_at).where(
            Visit.uuid.in_([uuid.UUID(u) for u in wanted]))).all()
        db.engine.dispose()
    committed = {str(u): at.timestamp() for u, at in rows}
    return sorted(arrivals[u] - committed[u] for u in wanted if u in arrivals and u in committed)


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def _wait(hooks, mail, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (len(hooks.received) < n or len(mail.messages) < n):
        time.sleep(0.05)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--critical-share", type=float, default=0.2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--idle", type=int, default=5, help="critical visits for the baseline")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--fork-worker", action="store_true",
                        help="adal worker --fork (a fork per job) instead of the default")
    args = parser.parse_args(argv)
    import redis
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    redis.Redis.from_url(REDIS).flushdb()
    url = _fresh_database(URL)
    token, ids, template = _seed(url, args.visits + args.idle)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    with app.app_context():
        form = CompiledForm(db.session.scalars(sa.select(FormVersion)).first().definition)
        db.engine.dispose()
    critical_answers = answers_for(form, overrides={"D01": "yes"})
    hooks, mail = WebhookReceiver(), MailReceiver()
    _subscribe(url, hooks)
    env = {**os.environ, **_settings(url, hooks, mail)}
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread",
         "--threads", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=PROJECT_ROOT, env=env)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "adal", "worker"]
                              + (["--fork"] if args.fork_worker else []),
                              cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request(
                    "GET", "/api/v1/version")
                break
            except OSError:
                time.sleep(0.1)
        print(f"alert latency: {args.visits} visits by {args.clients} clients, "
              f"{args.critical_share:.0%} with a critical finding; gunicorn {args.workers}x2, "
              f"PostgreSQL, Redis, one RQ worker ({'fork' if args.fork_worker else 'in-process'}"
              "); webhook + email per alert")
        idle_bodies, idle_critical = _bodies(ids[:args.idle], template["answers"],
                                             critical_answers, 1.0)
        for n, body in enumerate(idle_bodies, start=1):  # the baseline: one at a time
            _load(port, token, "POST", "/api/v1/visits", [[body]], 60, processes=1)
            _wait(hooks, mail, n, 30)
        web, email = _arrivals(hooks, mail)
        idle = _latencies(url, {**web}, idle_critical) + _latencies(url, email, idle_critical)
        idle.sort()
        hooks.received.clear()
        mail.messages.clear()
        bodies, critical = _bodies(ids[args.idle:], template["answers"], critical_answers,
                                   args.critical_share)
        per_client = [bodies[i::args.clients] for i in range(args.clients)]
        count, errors, latencies, elapsed = _load(port, token, "POST", "/api/v1/visits",
                                                  per_client, 600)
        print(f"intake: {count} visits in {elapsed:.1f} s ({count / elapsed:.0f}/s), "
              f"p99 {_pct(latencies, 0.99) * 1000:.0f} ms, {errors} errors; "
              f"{len(critical)} with a critical finding")
        _wait(hooks, mail, len(critical), 120)
        web, email = _arrivals(hooks, mail)
        print(f"{'channel':<10} {'arrived':>9} {'p50 s':>8} {'p99 s':>8} {'max s':>8}")
        for name, arrivals in (("webhook", web), ("email", email)):
            lat = _latencies(url, arrivals, critical)
            print(f"{name:<10} {len(lat):>4}/{len(critical):<4} {_pct(lat, .5):>8.2f} "
                  f"{_pct(lat, .99):>8.2f} {max(lat, default=float('nan')):>8.2f}")
        both = sorted(_latencies(url, web, critical) + _latencies(url, email, critical))
        print(f"idle baseline p50 {_pct(idle, .5):.2f} s; under load p99 {_pct(both, .99):.2f} s "
              f"(target < 60 s); ratio p99 under load / idle p50: "
              f"{_pct(both, .99) / _pct(idle, .5):.1f}")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"duplicates: webhook {len(hooks.received) - len(web)}, "
              f"email {len(mail.messages) - len(email)}")
    finally:
        for proc in (server, worker):
            proc.send_signal(signal.SIGTERM)
        for proc in (server, worker):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        mail.controller.stop()
        hooks.server.shutdown()


if __name__ == "__main__":
    main()
