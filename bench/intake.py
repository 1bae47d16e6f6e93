"""Visit intake under load: the default checklist posted by N concurrent clients.

The app runs under gunicorn on PostgreSQL. Each client posts complete visits (45 questions, each
on its own assignment) over keep-alive connections; the baseline is GET /api/v1/version of the
same app under the same load, so the ratio says what intake costs whatever the machine.

It prints, in one run: GET /api/v1/version and POST /api/v1/visits at 1, 4 and 16 clients
(rate, p50, p99), the ratio intake / trivial at each, SQL round trips per visit counted on the
wire (bench/roundtrips.py), the load average, and afterwards checks that every accepted visit
is stored exactly once and that `adal audit verify` is clean. `--preload 500000` first stores
that many visits (with their assignments, submissions and a sealed audit event each) by COPY,
for the "does it slow down as visits accumulate" run.

    python -m bench.intake [--clients 1,4,16] [--seconds 10] [--workers 2] [--threads 4]
                           [--preload 0]
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import resource
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


CLIENT_PROCESSES = 0  # --client-processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(url: str, assignments: int) -> tuple[str, list[int], dict]:
    """Schema, one office, one inspector with a token, the default form and many assignments."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-123",
                      "PASSWORD_HASH_PROFILE": "CHEAPEST",
                      # sealed before _seed returns, so --preload chains after these events
                      "AUDIT_SEAL": "inline"})
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
    latencies, errors, accepted = [], 0, []
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
        if ok and body:
            accepted.append(json.loads(body)["uuid"])
    out.put((latencies, errors, accepted))


def _process(port, token, method, path, batches, stop_at, out):
    threads = [threading.Thread(target=_client, args=(port, token, method, path, bodies,
                                                      stop_at, out)) for bodies in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _load(port, token, method, path, bodies_per_client, seconds, processes=2):
    """Run the clients (threads in a few processes) for `seconds`; (count, errors, latencies)."""
    processes = min(len(bodies_per_client), CLIENT_PROCESSES or processes)
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
    latencies = sorted(x for lat, _, _ in results for x in lat)
    accepted = [u for _, _, uuids in results for u in uuids]
    return len(latencies), sum(e for _, e, _ in results), latencies, elapsed, accepted


_HZ = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of a process (and of its children it has waited for), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # it exited between the listing and the read
        return 0.0
    return (int(fields[11]) + int(fields[12])
            + (int(fields[13]) + int(fields[14]) if children else 0)) / _HZ


def cpu_split(server_pid: int) -> tuple[float, float, float]:
    """(app, PostgreSQL, clients) CPU seconds so far: gunicorn's master with every worker, live
    or recycled; every PostgreSQL process on the machine, and the backends that ended (the
    postmaster's waited-for children); this process's finished children (the client processes). Differences over a run give CPU per request of each part."""
    app = _proc_cpu(server_pid, children=True)
    pg = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            comm = Path(entry.path, "comm").read_text().strip()
            ppid = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == server_pid:
            app += _proc_cpu(int(entry.name))
        elif comm.startswith("postgres"):  # the postmaster's children: ended backends
            pg += _proc_cpu(int(entry.name), children=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return app, pg, usage.ru_utime + usage.ru_stime


def _cpu_line(before, after, count):
    app, pg, clients = ((b - a) / max(count, 1) * 1000 for a, b in zip(before, after))
    return f"  CPU ms/request: app {app:.2f}, PostgreSQL {pg:.2f}, client {clients:.2f}"


def _stats(name, clients, count, errors, latencies, elapsed, accepted):
    rate = count / elapsed
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else float("nan")
    print(f"{name:<22} {clients:>7} {rate:>9.0f}/s {p50:>9.1f} {p99:>9.1f} {errors:>7}  "
          f"load {os.getloadavg()[0]:.2f}")
    return rate, accepted


def _preload(url: str, n: int, token_user: str = "bench") -> None:
    """`n` stored visits (with assignments, submissions and sealed audit events) by COPY."""
    import hashlib

    from server.audit.service import event_body
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-123"})
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SET statement_timeout = 0")  # the app's 10 s is for requests
            cur.execute("SELECT o.id, v.id, u.id FROM offices o, form_versions v, users u "
                        "WHERE u.login = %s", (token_user,))
            office, version, user = cur.fetchone()
            cur.execute("SELECT coalesce(max(id), 0) FROM assignments")
            first_a = cur.fetchone()[0] + 1
            cur.execute("SELECT coalesce(max(seq), 0), (SELECT hash FROM audit_head) "
                        "FROM audit_events")
            seq0, prev = cur.fetchone()
            prev = prev or "0" * 64
            cur.execute("SELECT coalesce(max(chain_seq), 0) FROM audit_events")
            chain0 = cur.fetchone()[0]
            now = utcnow()
            at = now - timedelta(days=30)
            with cur.copy("COPY assignments (id, office_id, form_version_id, inspector_id, "
                          "window_start, window_end, status, warnings, created_at) FROM STDIN"
                          ) as copy:
                for i in range(n):
                    copy.write_row((first_a + i, office, version, user, at, now, "done", "[]", at))
            visit_uuids = [uuid.uuid4() for _ in range(n)]
            with cur.copy("COPY visits (uuid, assignment_id, office_id, form_version_id, "
                          "inspector_id, started_at, ended_at, device, status, score, "
                          "section_scores, critical, revision, submitted_at, updated_at) "
                          "FROM STDIN") as copy:
                for i, vu in enumerate(visit_uuids):
                    copy.write_row((vu, first_a + i, office, version, user, at, at, "{}",
                                    "submitted", 80.0, "{}", "[]", 1, at, at))
            cur.execute("INSERT INTO visit_submissions (visit_id, revision, body, body_sha256, "
                        "received_at, score) SELECT id, 1, '{}', repeat('0', 64), submitted_at, "
                        "score FROM visits WHERE assignment_id >= %s", (first_a,))
            with cur.copy("COPY audit_events (seq, at, action, object_type, object_id, "
                          "payload, digest, chain_seq, prev_hash, hash) FROM STDIN") as copy:
                for i, vu in enumerate(visit_uuids):
                    seq, chain = seq0 + 1 + i, chain0 + 1 + i
                    body = event_body(seq=seq, at=at, actor_id=None, actor_login=None,
                                      action="visit_submitted", object_type="visit",
                                      object_id=str(vu), payload={})
                    digest = hashlib.sha256(body.encode()).hexdigest()
                    h = hashlib.sha256((prev + body).encode()).hexdigest()
                    copy.write_row((seq, at, "visit_submitted", "visit", str(vu), "{}", digest,
                                    chain, prev, h))
                    prev = h
            cur.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, %s, %s) ON CONFLICT "
                        "(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                        (chain0 + n, prev))
            for table, column in (("assignments", "id"), ("audit_events", "seq")):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                            f"(SELECT max({column}) FROM {table}))")
            raw.commit()
            raw.driver_connection.autocommit = True
            cur.execute("VACUUM ANALYZE")
        finally:
            raw.close()
        db.engine.dispose()


def _round_trips(url: str, token: str, ids: list[int], template: dict) -> float:
    from bench.roundtrips import per_visit
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-123",
                      "AUDIT_SEAL": "off"})  # the sealer's trips are per batch, not per visit
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):  # the receipt key's registration, caches
        client.post("/api/v1/visits", json=_visit_body(ids.pop(), template), headers=headers)
    figure = per_visit(client, app, headers, [_visit_body(ids.pop(), template)
                                              for _ in range(40)])
    with app.app_context():
        db.engine.dispose()
    return figure


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--preload", type=int, default=0)
    parser.add_argument("--client-processes", type=int, default=0)
    args = parser.parse_args(argv)
    global CLIENT_PROCESSES
    CLIENT_PROCESSES = args.client_processes
    levels = [int(c) for c in args.clients.split(",")]
    url = _fresh_database(URL)
    budget = int(args.seconds * 900) * len(levels) + 1000  # more assignments than a run uses
    token, ids, template = _seed(url, budget)
    if args.preload:
        t0 = time.perf_counter()
        _preload(url, args.preload)
        print(f"preloaded {args.preload} visits by COPY in {time.perf_counter() - t0:.0f} s")
    trips = _round_trips(url, token, ids, template)
    port = _free_port()
    env = {**os.environ, "ADAL_DATABASE_URL": url, "ADAL_SECRET_KEY": "bench-secret-key-123",
           "ADAL_MEDIA_ROOT": str(Path("/tmp/adal-bench-media"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
         "wsgi:app"], cwd=PROJECT_ROOT,
        env={**env, "WEB_CONCURRENCY": str(args.workers),
             "ADAL_WEB_THREADS": str(args.threads)})
    accepted: list[str] = []
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/v1/version")
                break
            except OSError:
                time.sleep(0.1)
        print(f"intake benchmark: gunicorn.conf.py, {args.workers} workers x {args.threads} "
              f"threads, PostgreSQL, {args.seconds:.0f} s per run, {len(template['answers'])} "
              f"answers per visit, {args.preload} visits stored before; {os.cpu_count()} cores")
        print(f"SQL round trips per visit (counted on the wire): {trips:.2f}")
        print(f"{'endpoint':<22} {'clients':>7} {'rate':>11} {'p50 ms':>9} {'p99 ms':>9} "
              f"{'errors':>7}")
        trivial_bodies = [b""] * 10**6
        _load(port, token, "GET", "/api/v1/version", [trivial_bodies[:500]] * 4, 2)  # warm-up
        warm = [[json.dumps(_visit_body(ids.pop(), template)).encode() for _ in range(50)]
                for _ in range(4)]
        _, _, _, _, warmed = _load(port, token, "POST", "/api/v1/visits", warm, 3)
        accepted += warmed
        for clients in levels:
            before = cpu_split(server.pid)
            result = _load(port, token, "GET", "/api/v1/version", [trivial_bodies] * clients,
                           args.seconds)
            base, _ = _stats("GET /api/v1/version", clients, *result)
            print(_cpu_line(before, cpu_split(server.pid), result[0]))
            per_client = [[] for _ in range(clients)]
            for i in range(int(args.seconds * 900)):
                per_client[i % clients].append(json.dumps(_visit_body(ids.pop(),
                                                                      template)).encode())
            before = cpu_split(server.pid)
            result = _load(port, token, "POST", "/api/v1/visits", per_client, args.seconds)
            rate, got = _stats("POST /api/v1/visits", clients, *result)
            print(_cpu_line(before, cpu_split(server.pid), result[0]))
            accepted += got
            print(f"{'':<22} {'':>7} ratio intake / trivial {rate / base:.2f}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-123"})
    with app.app_context():
        from server.audit.seal import seal
        from server.audit.service import verify_chain
        left = seal(db.engine)  # a worker stopped between commit and its sealer's turn
        rows = db.session.execute(sa.select(Visit.uuid, sa.func.count()).where(
            Visit.uuid.in_([uuid.UUID(u) for u in set(accepted)])).group_by(Visit.uuid)).all()
        once = len(rows) == len(set(accepted)) and all(n == 1 for _, n in rows)
        report = verify_chain()
        print(f"accepted {len(accepted)} visits ({len(set(accepted))} distinct), stored exactly "
              f"once: {'yes' if once else 'NO'}; sealed after the run: {left}; audit verify: "
              f"{'OK' if report.ok else 'BROKEN: ' + str(report.reason)} ({report.events} "
              f"events, {report.unsealed} unsealed)")
        db.engine.dispose()


if __name__ == "__main__":
    main()
