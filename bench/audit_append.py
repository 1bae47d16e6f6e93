"""What does the hash-chained audit log cost a write transaction?

Baseline: a transaction that inserts one row of similar size into a plain table and commits.
Measured: a transaction that appends one audit event (head-row lock, hash, insert) and commits.
Both run with 1 and with 16 threads against the same database, so the ratio shows the cost of the
chain's serialisation under concurrency. PostgreSQL by default (ADAL_BENCH_DATABASE_URL).

    python -m bench.audit_append [--seconds 5]
"""
from __future__ import annotations

import argparse
import os
import threading
import time

import sqlalchemy as sa

from server import create_app
from server.audit.service import append_event
from server.extensions import db

URL = os.environ.get("ADAL_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/adal_bench")
PAYLOAD = {"visit": "5f0c3a1e-0000-4000-8000-000000000000", "office": "AST-CON-ESIL",
           "score": 81.5, "flags": ["far_from_office"], "note": "Посещение принято"}

baseline_table = sa.Table("bench_rows", sa.MetaData(),
                          sa.Column("id", sa.Integer, primary_key=True),
                          sa.Column("payload", sa.JSON))


def _fresh_database(url: str) -> str:
    parsed = sa.engine.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    if parsed.get_backend_name() == "postgresql":
        admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    return parsed.render_as_string(hide_password=False)


def _run(app, threads: int, seconds: float, work) -> tuple[int, list[float]]:
    """Run `work()` in `threads` threads for `seconds`; returns (count, latencies)."""
    stop = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def loop(i: int) -> None:
        with app.app_context():
            barrier.wait()
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                work()
                latencies[i].append(time.perf_counter() - t0)

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    flat = sorted(x for part in latencies for x in part)
    return len(flat), flat


def _baseline() -> None:
    db.session.execute(baseline_table.insert().values(payload=PAYLOAD))
    db.session.commit()


def _audited() -> None:
    append_event("bench_event", object_type="bench", object_id="1", payload=PAYLOAD)
    db.session.commit()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    url = _fresh_database(URL)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-123",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 20, "max_overflow": 0}})
    with app.app_context():
        db.create_all()
        baseline_table.create(db.engine)
    print(f"audit append vs plain insert, "
          f"{sa.engine.make_url(url).get_backend_name()}, {args.seconds:.0f} s per run")
    print(f"{'threads':>7} {'baseline tx/s':>14} {'audited tx/s':>13} {'ratio':>6} "
          f"{'audited p50 ms':>15} {'audited p99 ms':>15}")
    for threads in (1, 16):
        n_base, _ = _run(app, threads, args.seconds, _baseline)
        n_audit, lat = _run(app, threads, args.seconds, _audited)
        base_rate, audit_rate = n_base / args.seconds, n_audit / args.seconds
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        print(f"{threads:>7} {base_rate:>14.0f} {audit_rate:>13.0f} {audit_rate / base_rate:>6.2f} "
              f"{p50:>15.2f} {p99:>15.2f}")
    with app.app_context():
        from server.audit.service import verify_chain
        report = verify_chain()
        print(f"chain after the run: {'OK' if report.ok else 'BROKEN'}, {report.events} events")
        db.engine.dispose()


if __name__ == "__main__":
    main()
