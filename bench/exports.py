"""How fast, and in how much memory, does the answer export stream, next to COPY ... TO STDOUT?

Data (PostgreSQL, a fresh database): the default checklist, `--visits` visits (default 20,000)
at office BIG and a quarter as many at office SMALL, each with the checklist's answers (about
45 rows; answers_for() of tests/visits/builders.py), loaded with COPY.

Measured, each in a child process of its own (so each peak RSS is its own), for BIG and for
SMALL: GET /api/v1/exports/visits?office=..&format=csv (wide) and format=xlsx (wide), through
the Flask test client with the answer read chunk by chunk and thrown away; the baseline is
`COPY (SELECT <visit columns>, <answer columns> FROM visits JOIN answers ...) TO STDOUT (FORMAT
csv)` of the same visits' rows read through psycopg. Printed: seconds, visits/s, the ratio
export/COPY, and peak RSS (VmHWM) with its growth over the RSS before the export started.
Memory is flat when the growth for BIG is about that for SMALL.

PostgreSQL: ADAL_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/adal_bench_exports, dropped and re-created).

    python -m bench.exports [--visits 20000] [--formats csv,xlsx]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import sqlalchemy as sa

URL = os.environ.get("ADAL_BENCH_DATABASE_URL",
                     "postgresql://postgres@127.0.0.1:5432/adal_bench_exports")
CONFIG = {"SECRET_KEY": "bench-secret-key-123", "PASSWORD_HASH_PROFILE": "CHEAPEST"}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _app(url: str):
    from server import create_app
    return create_app({"DATABASE_URL": url, **CONFIG})


def load(url: str, visits: int) -> str:
    """A fresh database with the data; returns an admin's bearer token."""
    from bench.audit_append import _fresh_database
    from server.config import PROJECT_ROOT
    from server.extensions import db
    from server.forms.service import publish_file
    from server.scoring.rules import CompiledForm
    from tests import factories
    from tests.exports.builders import bulk_visits
    from tests.visits.builders import answers_for

    url = _fresh_database(url)
    app = _app(url)
    with app.app_context():
        db.create_all()
        version, _ = publish_file(path=PROJECT_ROOT / "survey_forms" /
                                  "service_centre_visit.v1.yaml")
        answers = {a["question"]: a["value"]
                   for a in answers_for(CompiledForm(version.definition), best=False)}
        region = factories.region(code="BENCH")
        big = factories.office(code="BIG", region=region).id
        small = factories.office(code="SMALL", region=region).id
        inspector = factories.user(role="inspector", login="bench-insp").id
        token = factories.token_for(factories.user(role="admin", login="bench-admin"))
        version_id = version.id
        db.session.commit()
        for office, count in ((big, visits), (small, max(1, visits // 4))):
            bulk_visits(count=count, office_id=office, inspector_id=inspector,
                        version_id=version_id, answers=answers)
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True
            with raw.driver_connection.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
        finally:
            raw.close()
        db.engine.dispose()
    return url, token


COPY_SQL = ("COPY (SELECT v.uuid, o.code, v.started_at, v.ended_at, v.status, v.score, "
            "v.section_scores, a.question_id, a.value, a.not_applicable, a.note "
            "FROM visits v JOIN offices o ON o.id = v.office_id "
            "JOIN answers a ON a.visit_id = v.id WHERE o.code = %s "
            "ORDER BY v.started_at DESC, v.id DESC, a.id) TO STDOUT (FORMAT csv, HEADER)")


def child(what: str, url: str, token: str, office: str) -> dict:
    """One measurement in this (fresh) process: bytes, seconds, RSS before and peak."""
    app = _app(url)
    from server.extensions import db
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))  # connect before measuring
        client = app.test_client()
        client.get("/api/v1/exports/visits?format=csv&office=NONE",
                   headers={"Authorization": f"Bearer {token}"})  # imports, warm caches
        before = _status_kb("VmRSS")
        started = time.perf_counter()
        size = 0
        if what == "copy":
            raw = db.engine.raw_connection()
            try:
                with raw.driver_connection.cursor() as cur:
                    with cur.copy(COPY_SQL, (office,)) as copy:
                        for chunk in copy:
                            size += len(chunk)
            finally:
                raw.close()
        else:
            resp = client.get("/api/v1/exports/visits", buffered=False,
                              headers={"Authorization": f"Bearer {token}"},
                              query_string={"format": what, "office": office, "lang": "ru"})
            assert resp.status_code == 200, resp.status_code
            for chunk in resp.response:
                size += len(chunk)
            resp.close()
        seconds = time.perf_counter() - started
        visits = db.session.scalar(sa.text(
            "SELECT count(*) FROM visits v JOIN offices o ON o.id = v.office_id "
            "WHERE o.code = :c"), {"c": office})
    return {"what": what, "office": office, "visits": visits, "bytes": size,
            "seconds": seconds, "rss_before_mb": before / 1024,
            "peak_mb": _status_kb("VmHWM") / 1024}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=20_000, help="visits at office BIG")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--child", nargs=4, metavar=("WHAT", "URL", "TOKEN", "OFFICE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    t0 = time.perf_counter()
    url, token = load(URL, args.visits)
    print(f"loaded {args.visits} + {max(1, args.visits // 4)} visits in "
          f"{time.perf_counter() - t0:.1f} s (PostgreSQL)")
    results = []
    for office in ("SMALL", "BIG"):
        for what in ("copy", *args.formats.split(",")):
            out = subprocess.run([sys.executable, "-m", "bench.exports", "--child", what, url,
                                  token, office], capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'office':<6} {'what':<5} {'visits':>7} {'MB out':>7} {'s':>7} {'visits/s':>9} "
          f"{'× COPY time':>12} {'RSS before MB':>14} {'peak MB':>8} {'growth MB':>10}")
    copy_time = {r["office"]: r["seconds"] for r in results if r["what"] == "copy"}
    for r in results:
        print(f"{r['office']:<6} {r['what']:<5} {r['visits']:>7} {r['bytes'] / 1e6:>7.1f} "
              f"{r['seconds']:>7.2f} {r['visits'] / r['seconds']:>9.0f} "
              f"{r['seconds'] / copy_time[r['office']]:>12.1f} {r['rss_before_mb']:>14.1f} "
              f"{r['peak_mb']:>8.1f} {r['peak_mb'] - r['rss_before_mb']:>10.1f}")


if __name__ == "__main__":
    main()
