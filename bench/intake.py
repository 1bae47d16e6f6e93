"""Visit intake under load: the default checklist posted by N concurrent clients.

The app runs under gunicorn on PostgreSQL. Each client posts complete visits (45 questions, each
on its own assignment) over keep-alive connections; the baseline is GET /api/v1/version of the
same app under the same load, so the ratio says what intake costs whatever the machine.

    python -m bench.intake [--clients 16] [--seconds 20] [--workers 4] [--threads 2]
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.audit_append import _fresh_database
from server import create_app
from server.assignments.models import Assignment
from server.auth import service as auth_service
from server.auth.models import Role
from server.config import PROJECT_ROOT
from server.db import utcnow
from server.extensions import db
from server.forms.service import publish_file
from server.offices.models import Office, Region
from server.visits.models import Visit

URL = os.environ.get("ADAL_BENCH_DATABASE_URL",
                     "postgresql://postgres@127.0.0.1:5432/adal_bench_intake")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(url: str, assignments: int) -> tuple[str, list[int], dict]:
    """Schema, one office, one inspector with a token, the default form and many assignments."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-123",
                      "PASSWORD_HASH_PROFILE": "CHEAPEST"})
    with app.app_context():
        db.create_all()
        version, _ = publish_file(path=PROJECT_ROOT / "survey_forms/service_centre_visit.v1.yaml")
        region = Region(code="AST", name={"kk": "A", "ru": "A", "en": "A", "uz": "A"})
        office = Office(code="AST-1", name=region.name, region=region, kind="service_centre",
                        lat=51.1283, lon=71.4304)
        db.session.add_all([region, office])
        inspector = auth_service.create_user(login="bench", role=Role.INSPECTOR,
                                             password="bench-password-1")
        secret, _ = auth_service.issue_token(user=inspector)
        db.session.flush()
        now = utcnow()
        rows = [{"office_id": office.id, "form_version_id": version.id,
                 "inspector_id": inspector.id, "window_start": now - timedelta(days=1),
                 "window_end": now + timedelta(days=1), "status": "open", "warnings": []}
                for _ in range(assignments)]
        db.session.execute(sa.insert(Assignment), rows)
        db.session.commit()
        ids = list(db.session.scalars(sa.select(Assignment.id).order_by(Assignment.id)))
        from server.scoring.rules import CompiledForm
        from tests.visits.builders import answers_for
        answers = answers_for(CompiledForm(version.definition))
        db.engine.dispose()
    return secret, ids, {"answers": answers}


def _visit_body(assignment: int, template: dict) -> dict:
    """A complete visit on `assignment`, finished ten minutes ago at the office."""
    return {"uuid": str(uuid.uuid4()), "assignment": assignment,
            "started_at": (utcnow() - timedelta(minutes=50)).isoformat(),
            "ended_at": (utcnow() - timedelta(minutes=10)).isoformat(),
            "position_start": {"lat": 51.1283, "lon": 71.4304, "accuracy": 15},
            "position_end": {"lat": 51.1284, "lon": 71.4305, "accuracy": 20},
            "answers": template["answers"], "device": {"app_version": "bench"}}


def _client(port, token, method, path, bodies, stop_at, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, errors = [], 0
    for body in bodies:
        if time.perf_counter() >= stop_at:
            break
        t0 = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            ok = resp.status in (200, 201)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ok = False
        latencies.append(time.perf_counter() - t0)
        errors += not ok
    out.put((latencies, errors))


def _process(port, token, method, path, batches, stop_at, out):
    threads = [threading.Thread(target=_client, args=(port, token, method, path, bodies,
                                                      stop_at, out)) for bodies in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _load(port, token, method, path, bodies_per_client, seconds, processes=2):
    """Run the clients (threads in a few processes) for `seconds`; (count, errors, latencies)."""
    stop_at = time.perf_counter() + seconds
    out: mp.Queue = mp.Queue()
    chunks = [bodies_per_client[i::processes] for i in range(processes)]
    procs = [mp.Process(target=_process, args=(port, token, method, path, chunk, stop_at, out))
             for chunk in chunks]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in range(len(bodies_per_client))]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(x for lat, _ in results for x in lat)
    return len(latencies), sum(e for _, e in results), latencies, elapsed


def _stats(name, count, errors, latencies, elapsed):
    rate = count / elapsed
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else float("nan")
    print(f"{name:<22} {rate:>9.0f}/s {p50:>9.1f} {p99:>9.1f} {errors:>7}")
    return rate


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    url = _fresh_database(URL)
    budget = int(args.seconds * 1500) + 1000  # more assignments than the run can use
    token, ids, template = _seed(url, budget)
    per_client = [[] for _ in range(args.clients)]
    started = (utcnow() - timedelta(minutes=50)).isoformat()
    ended = (utcnow() - timedelta(minutes=10)).isoformat()
    for i, assignment in enumerate(ids):
        body = {"uuid": str(uuid.uuid4()), "assignment": assignment, "started_at": started,
                "ended_at": ended, "position_start": {"lat": 51.1283, "lon": 71.4304, "accuracy": 15},
                "position_end": {"lat": 51.1284, "lon": 71.4305, "accuracy": 20},
                "answers": template["answers"], "device": {"app_version": "bench"}}
        per_client[i % args.clients].append(json.dumps(body).encode())
    port = _free_port()
    env = {**os.environ, "ADAL_DATABASE_URL": url, "ADAL_SECRET_KEY": "bench-secret-key-123",
           "ADAL_MEDIA_ROOT": str(Path("/tmp/adal-bench-media"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread",
         "--threads", str(args.threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "wsgi:app"], cwd=PROJECT_ROOT, env=env)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/v1/version")
                break
            except OSError:
                time.sleep(0.1)
        print(f"intake benchmark: {args.clients} clients, gunicorn {args.workers} workers × "
              f"{args.threads} threads, PostgreSQL, {args.seconds:.0f} s per run, "
              f"{len(template['answers'])} answers per visit")
        print(f"{'endpoint':<22} {'rate':>11} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
        trivial = [[b""] * 10**6 for _ in range(args.clients)]
        _load(port, token, "GET", "/api/v1/version", [t[:2000] for t in trivial], 2)  # warm-up
        base = _stats("GET /api/v1/version", *_load(port, token, "GET", "/api/v1/version",
                                                   trivial, args.seconds))
        rate = _stats("POST /api/v1/visits", *_load(port, token, "POST", "/api/v1/visits",
                                                    per_client, args.seconds))
        print(f"ratio intake / trivial: {rate / base:.2f}")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-123"})
        with app.app_context():
            from server.audit.service import verify_chain
            stored = db.session.scalar(sa.select(sa.func.count(Visit.id)))
            report = verify_chain()
            print(f"visits stored: {stored}; audit chain {'OK' if report.ok else 'BROKEN'} "
                  f"({report.events} events)")
            db.engine.dispose()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
