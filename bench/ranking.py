"""How long does the full office ranking of a period take, next to a bare GROUP BY?

Data: `--offices` offices (default 500) × `--visits` approved visits each (default 60) in 2026H2,
each visit with 45 answer rows (≈1.35 M answers), its six section scores as rows and, for about
one visit in twelve, a critical finding: loaded with COPY on PostgreSQL, executemany on SQLite.
Baseline: `SELECT office_id, avg(score) FROM visits WHERE status = 'approved' AND started_at in
the period GROUP BY office_id` over the same table. Measured: `server.reports.ranking()`
for the period (every query plus the Python that turns them into intervals, bands and ranks).
Both are timed alternately after a warm-up; the medians and their ratio are printed.

PostgreSQL: ADAL_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/adal_bench_ranking);
each scale gets its own database, the name with `_<offices>` added (adal_bench_ranking_5000),
dropped and re-created, or with `--reuse` kept when it already holds the data of that scale
(the 5,000-office load takes minutes). SQLite: a temporary file.

Also timed: a quarter's ranking (2026Q4), which the summaries do not cover and which reads
the visits as before, next to the bare GROUP BY of that quarter: what the covering indexes
(`--wished-indexes`; without the flag they are dropped from a reused database) could help.

    python -m bench.ranking [--offices 500 --visits 60 --repeat 7] [--only postgresql|sqlite]
                            [--reuse] [--wished-indexes] [--index-ab]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import tempfile
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from server import create_app
from server.config import PROJECT_ROOT
from server.extensions import db
from server.offices.models import OFFICE_KINDS
from server.periods import parse_period
from server.reports import collect, labels, service, summaries
from server.reports.office import TREND_PERIODS, office_report
from server.reports.ranking import ranking
from server.visits.models import Visit

URL = os.environ.get("ADAL_BENCH_DATABASE_URL",
                     "postgresql://postgres@127.0.0.1:5432/adal_bench_ranking")
FORM = PROJECT_ROOT / "survey_forms" / "service_centre_visit.v1.yaml"
TZ = "Asia/Almaty"
PERIOD = "2026H2"
QUARTER = "2026Q4"  # read from the visits (the summaries hold half-years)
ANSWERS_PER_VISIT = 45
VISIT_COLUMNS = ("id", "uuid", "office_id", "form_version_id", "inspector_id", "started_at",
                 "ended_at", "device", "status", "score", "score_uncapped", "section_scores",
                 "critical", "revision", "submitted_at", "updated_at")


def _postgres(url: str, offices: int, per_office: int, reuse: bool) -> tuple[str, bool]:
    """(URL of this scale's database, whether it already holds the data): dropped and created
    afresh unless `reuse` and it holds `offices` × `per_office` approved visits."""
    parsed = sa.engine.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    parsed = parsed.set(database=f"{parsed.database}_{offices}")
    if reuse:
        engine = sa.create_engine(parsed)
        try:
            with engine.connect() as conn:
                loaded = (conn.scalar(sa.text("SELECT count(*) FROM offices")) == offices
                          and conn.scalar(sa.text("SELECT count(*) FROM visits WHERE status = "
                                                  "'approved'")) == offices * per_office)
        except sa.exc.SQLAlchemyError:  # no such database or tables yet
            loaded = False
        engine.dispose()
        if loaded:
            return parsed.render_as_string(hide_password=False), True
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False), False


def _fixed_rows(n_offices: int) -> tuple[int, int, list[str], list[str], list[str]]:
    """Region, offices, inspectors and the default form through the services; returns
    (form version id, first inspector id, section ids, question ids, critical question ids)."""
    from server.auth import service as auth_service
    from server.auth.models import Role
    from server.forms.service import publish_file
    from server.offices.models import Office, Region

    version, _ = publish_file(path=FORM)
    definition = version.definition
    sections = [s["id"] for s in definition["sections"]]
    questions = [q["id"] for s in definition["sections"] for q in s["questions"]]
    critical = [q["id"] for s in definition["sections"] for q in s["questions"]
                if q.get("critical")]
    regions = [Region(code=f"R{i:02d}", name={lang: f"Region {i}" for lang in
                                              ("kk", "ru", "en", "uz")}) for i in range(17)]
    db.session.add_all(regions)
    db.session.flush()
    kinds = ["service_centre"] * 6 + list(OFFICE_KINDS[1:4])  # mostly service centres
    db.session.execute(sa.insert(Office), [
        {"code": f"OFF-{i:04d}", "name": {lang: f"Office {i} ({lang})" for lang in
                                          ("kk", "ru", "en", "uz")},
         "region_id": regions[i % len(regions)].id, "kind": kinds[i % len(kinds)],
         "address": f"Street {i}", "active": True} for i in range(n_offices)])
    inspector = auth_service.create_user(login="bench-inspector", role=Role.INSPECTOR,
                                         password=None)
    db.session.commit()
    return version.id, inspector.id, sections, questions[:ANSWERS_PER_VISIT], critical


def _generate(n_offices: int, per_office: int, version_id: int, inspector_id: int,
              sections: list[str], questions: list[str], critical: list[str]):
    """Rows of visits, answers, section scores and findings, reproducible (seeded)."""
    rng = random.Random(2026)
    period = parse_period(PERIOD, TZ)
    span = (period.end - period.start).total_seconds() - 3600
    office_ids = db.session.scalars(sa.text("SELECT id FROM offices ORDER BY id")).all()
    now = datetime.now(timezone.utc)
    visits, answers, section_rows, findings = [], [], [], []
    visit_id = 0
    for office_id in office_ids:
        quality = rng.gauss(70, 12)
        for _ in range(per_office):
            visit_id += 1
            started = period.start + timedelta(seconds=rng.uniform(0, span))
            section_scores = {s: round(min(100, max(0, rng.gauss(quality, 12))), 1)
                              for s in sections}
            score = round(sum(section_scores.values()) / len(sections), 1)
            found = [rng.choice(critical)] if rng.random() < 0.08 else []
            visits.append((visit_id, uuid.uuid4(), office_id, version_id, inspector_id, started,
                           started + timedelta(minutes=40), "{}", "approved", score, score,
                           json.dumps(section_scores), json.dumps(found), 1, now, now))
            section_rows.extend((visit_id, s, v) for s, v in section_scores.items())
            findings.extend((visit_id, q) for q in found)
    answers = ((visit[0], q, '"yes"', False, "") for visit in visits for q in questions)
    return visits, answers, section_rows, findings


def _set_indexes(backend: str, wished: bool) -> None:
    """The wished covering indexes added (or dropped), then ANALYZE, committed."""
    if backend == "postgresql":
        db.session.execute(sa.text("SET statement_timeout = 0"))
    for statement in WISHED_INDEXES[backend] if wished else UNWISHED:
        db.session.execute(sa.text(statement))
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def _load_postgres(rows) -> None:
    visits, answers, section_rows, findings = rows
    raw = db.engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:
            cur.execute("SET statement_timeout = 0")  # a bulk load, not a request
            for table, columns, data in (
                    ("visits", VISIT_COLUMNS, visits),
                    ("answers", ("visit_id", "question_id", "value", "not_applicable", "note"),
                     answers),
                    ("visit_section_scores", ("visit_id", "section_id", "score"), section_rows),
                    ("visit_findings", ("visit_id", "question_id"), findings)):
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
            cur.execute("SELECT setval(pg_get_serial_sequence('visits', 'id'), "
                        "(SELECT max(id) FROM visits))")
        raw.driver_connection.commit()
        raw.driver_connection.autocommit = True
        with raw.driver_connection.cursor() as cur:
            cur.execute("SET statement_timeout = 0")
            cur.execute("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
        raw.driver_connection.autocommit = False
    finally:
        raw.close()


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _load_sqlite(rows) -> None:
    visits, answers, section_rows, findings = rows
    visits = [(*v[:1], v[1].hex, *v[2:5], _sqlite_time(v[5]), _sqlite_time(v[6]), *v[7:14],
               _sqlite_time(v[14]), _sqlite_time(v[15])) for v in visits]
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.executemany(f"INSERT INTO visits ({', '.join(VISIT_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(VISIT_COLUMNS))})", visits)
        cur.executemany("INSERT INTO answers (visit_id, question_id, value, not_applicable, "
                        "note) VALUES (?, ?, ?, ?, ?)", answers)
        cur.executemany("INSERT INTO visit_section_scores (visit_id, section_id, score) "
                        "VALUES (?, ?, ?)", section_rows)
        cur.executemany("INSERT INTO visit_findings (visit_id, question_id) VALUES (?, ?)",
                        findings)
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _bare(period=None) -> list:
    """The baseline: one bare GROUP BY (Core, so times bind exactly as in the service)."""
    period = period or parse_period(PERIOD, TZ)
    query = (sa.select(Visit.office_id, sa.func.avg(Visit.score))
             .where(Visit.status == "approved", Visit.started_at >= period.start,
                    Visit.started_at < period.end)
             .group_by(Visit.office_id))
    return db.session.execute(query).all()


# The indexes docs/benchmarks.md asks the visits and reports owners for (--wished-indexes).
WISHED_INDEXES = {
    "postgresql": [
        "CREATE INDEX IF NOT EXISTS ix_visits_status_started_at_cover ON visits "
        "(status, started_at) INCLUDE (office_id, form_version_id, score)",
        "CREATE INDEX IF NOT EXISTS ix_visit_section_scores_cover ON visit_section_scores "
        "(visit_id) INCLUDE (section_id, score)"],
    "sqlite": [
        "CREATE INDEX IF NOT EXISTS ix_visits_status_started_at_cover ON visits "
        "(status, started_at, office_id, form_version_id, score)",
        "CREATE INDEX IF NOT EXISTS ix_visit_section_scores_cover ON visit_section_scores "
        "(visit_id, section_id, score)"],
}
UNWISHED = ["DROP INDEX IF EXISTS ix_visits_status_started_at_cover",
            "DROP INDEX IF EXISTS ix_visit_section_scores_cover"]


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        db.session.rollback()
    return _median_ms(samples)


def _supervisor_headers() -> dict:
    from server.auth import service as auth_service
    from server.auth.models import Role, User
    user = (db.session.scalar(sa.select(User).where(User.login == "bench-supervisor"))
            or auth_service.create_user(login="bench-supervisor", role=Role.SUPERVISOR,
                                        password=None))
    secret, _ = auth_service.issue_token(user=user)
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def _rss_mib() -> float:
    """The process's peak resident set so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _export(client, headers: dict, fmt: str) -> tuple[float, int, float]:
    """(seconds, bytes, peak Python memory MiB while exporting) of one streamed export, read
    chunk by chunk as a client would."""
    tracemalloc.start()
    t0 = time.perf_counter()
    resp = client.get(f"/api/v1/reports/ranking?period={PERIOD}&format={fmt}&lang=en",
                      headers=headers, buffered=False)
    size = sum(len(chunk) for chunk in resp.response)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert resp.status_code == 200, resp.status_code
    return elapsed, size, peak


def _phases(period) -> dict:
    """Where a half-year ranking's time goes: its reads one by one (as collect._collect_summaries
    makes them), the rest being Python (intervals, bands, ranks, dicts)."""
    from server.reports import rollup
    label, previous = period.label, service.previous_period(period, TZ).label
    out = {"offices+totals": _timed(lambda: rollup.offices_with_totals([label, previous], []), 3),
           "sections+findings": _timed(lambda: rollup.sections_and_findings(label, []), 3),
           "recommendations": _timed(lambda: collect.recommendation_counts(period, None), 3),
           "labels": _timed(lambda: labels.labels_of({1}), 3)}
    return out


def _office_page(period, repeat: int) -> tuple[float, float]:
    """(office report ms, bare ms) for one office: the report (figures, sections, findings,
    trend over four half-years) next to a bare GROUP BY of its visits over those periods,
    alternated. The office is loaded first, as the page's view loads it by its code; it stays
    loaded (no rollback between calls: expiring it would add a reload to each report)."""
    from server.offices.models import Office
    office = db.session.scalar(sa.select(Office).order_by(Office.id).limit(1))
    first = service.periods_before(period, TZ, TREND_PERIODS)[0]
    bare = (sa.select(Visit.office_id, sa.func.avg(Visit.score))
            .where(Visit.office_id == office.id, Visit.status == "approved",
                   Visit.started_at >= first.start, Visit.started_at < period.end)
            .group_by(Visit.office_id))
    fns = [lambda: office_report(office=office, period=period, lang="en"),
           lambda: db.session.execute(bare).all()]
    samples = [[], []]
    for _ in range(repeat + 1):  # the first round warms up
        for fn, own in zip(fns, samples):
            t0 = time.perf_counter()
            fn()
            own.append(time.perf_counter() - t0)
    db.session.rollback()
    return _median_ms(samples[0][1:]), _median_ms(samples[1][1:])


def _alternate(fns: list, repeat: int) -> list[float]:
    """Median ms of each function, called in turn `repeat` times after one warm-up each."""
    for fn in fns:
        fn()
        db.session.rollback()
    samples = [[] for _ in fns]
    for _ in range(repeat):
        for fn, own in zip(fns, samples):
            t0 = time.perf_counter()
            fn()
            own.append(time.perf_counter() - t0)
            db.session.rollback()
    return [_median_ms(own) for own in samples]


def _config(backend: str, url: str) -> dict:
    config = {"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-123",
              "PASSWORD_HASH_PROFILE": "CHEAPEST", "TIMEZONE": TZ}
    if backend == "postgresql":  # generating and loading 13.5 M rows outlasts the app's timeouts
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "connect_args": {
            "options": "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0"}}
    return config


def index_ab(backend: str, url: str, offices: int, repeat: int, rounds: int = 2) -> None:
    """On a loaded database: the quarter's ranking (from the visits) and the half-year's
    (from the summaries), each next to its bare GROUP BY, without and with the wished
    indexes, alternately `rounds` times (creating and dropping them in between), so both
    are measured under the same load. Leaves the indexes dropped."""
    app = create_app(_config(backend, url))
    quarter, half = parse_period(QUARTER, TZ), parse_period(PERIOD, TZ)
    print(f"{backend}, {offices} offices: median ms of {repeat}, alternated; "
          f"quarter {QUARTER} (visits), half-year {PERIOD} (summaries)")
    print(f"{'round':>5} {'indexes':>7} {'Q bare':>8} {'Q ranking':>9} {'Q ratio':>7} "
          f"{'H bare':>8} {'H ranking':>9} {'H ratio':>7}")
    with app.app_context():
        for round_ in range(1, rounds + 1):
            for wished in (False, True):
                _set_indexes(backend, wished)
                q_bare, q_ms, h_bare, h_ms = _alternate(
                    [lambda: _bare(quarter), lambda: ranking(period=quarter, lang="en"),
                     lambda: _bare(half), lambda: ranking(period=half, lang="en")], repeat)
                print(f"{round_:>5} {'with' if wished else 'without':>7} {q_bare:>8.1f} "
                      f"{q_ms:>9.1f} {q_ms / q_bare:>7.2f} {h_bare:>8.1f} {h_ms:>9.1f} "
                      f"{h_ms / h_bare:>7.2f}", flush=True)
        for statement in UNWISHED:
            db.session.execute(sa.text(statement))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def run(backend: str, url: str, offices: int, per_office: int, repeat: int,
        wished_indexes: bool = False, loaded: bool = False) -> dict:
    """Load the data into a fresh database (unless `loaded`) and time both queries; returns
    the figures."""
    app = create_app(_config(backend, url))
    with app.app_context():
        load_s = summaries_s = 0.0
        if not loaded:
            db.create_all()
            t0 = time.perf_counter()
            fixed = _fixed_rows(offices)
            rows = _generate(offices, per_office, *fixed)
            db.session.commit()  # not idle in a transaction while the load runs
            (_load_postgres if backend == "postgresql" else _load_sqlite)(rows)
            del rows
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            if backend == "postgresql":
                db.session.execute(sa.text("SET statement_timeout = 0"))
            summaries.rebuild()  # what the migration's backfill does; review keeps them after
            db.session.commit()
            summaries_s = time.perf_counter() - t0
        _set_indexes(backend, wished_indexes)
        counts = {t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}"))
                  for t in ("visits", "answers", "visit_section_scores", "visit_findings",
                            "report_sections")}
        period = parse_period(PERIOD, TZ)
        report = ranking(period=period, lang="en")  # warm-up (and the form's labels)
        assert len(report["items"]) == offices
        _bare(period)
        bare, full = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            _bare(period)
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ranking(period=period, lang="en")
            full.append(time.perf_counter() - t0)
            db.session.rollback()
        phases = _phases(period)
        office_ms, office_bare_ms = _office_page(period, repeat)
        quarter = parse_period(QUARTER, TZ)
        quarter_bare_ms, quarter_ms = _alternate(
            [lambda: _bare(quarter), lambda: ranking(period=quarter, lang="en")],
            repeat)
        db.session.remove()
        headers = _supervisor_headers()
    client = app.test_client()
    url_json = f"/api/v1/reports/ranking?period={PERIOD}&lang=en"
    assert client.get(url_json, headers=headers).status_code == 200  # warm-up
    json_samples = []
    for _ in range(max(3, repeat // 2)):
        t0 = time.perf_counter()
        resp = client.get(url_json, headers=headers)
        json_samples.append(time.perf_counter() - t0)
        assert resp.status_code == 200
    exports = {fmt: _export(client, headers, fmt) for fmt in ("csv", "xlsx")}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return {"backend": backend, "offices": offices, "load_s": load_s,
            "summaries_s": summaries_s, "counts": counts,
            "bare_ms": _median_ms(bare), "ranking_ms": _median_ms(full),
            "ratio": statistics.median(full) / statistics.median(bare),
            "json_ms": _median_ms(json_samples), "phases": phases, "exports": exports,
            "office_ms": office_ms, "office_bare_ms": office_bare_ms,
            "quarter_ms": quarter_ms, "quarter_bare_ms": quarter_bare_ms,
            "rss_mib": _rss_mib()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offices", type=int, nargs="+", default=[500, 5000],
                        help="one or more scales, each loaded into a fresh database")
    parser.add_argument("--visits", type=int, default=60, help="approved visits per office")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", choices=("postgresql", "sqlite"))
    parser.add_argument("--sqlite-max", type=int, default=500,
                        help="largest scale run on SQLite (its executemany load of 13.5 M "
                             "answers at 5,000 offices takes many minutes)")
    parser.add_argument("--wished-indexes", action="store_true",
                        help="add the covering indexes docs/benchmarks.md asks for first "
                             "(without it they are dropped if there)")
    parser.add_argument("--index-ab", action="store_true",
                        help="instead of the full run: on the loaded (or reused) database, the "
                             "quarter's and half-year's rankings without and with the wished "
                             "indexes, alternated")
    parser.add_argument("--reuse", action="store_true",
                        help="PostgreSQL: keep a database that already holds this scale's data")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="adal-bench-ranking-") as tmp:
        for offices in args.offices:
            targets = [("postgresql", lambda: _postgres(URL, offices, args.visits, args.reuse)),
                       ("sqlite", lambda: (f"sqlite:///{Path(tmp) / f'ranking{offices}.sqlite3'}",
                                           False))]
            for backend, target in targets:
                if args.only not in (None, backend):
                    continue
                if backend == "sqlite" and offices > args.sqlite_max:
                    continue
                url, loaded = target()
                if args.index_ab:
                    if not loaded:
                        run(backend, url, offices, args.visits, args.repeat, False, loaded)
                    index_ab(backend, url, offices, args.repeat)
                    continue
                results.append(run(backend, url, offices, args.visits, args.repeat,
                                   args.wished_indexes, loaded))
                _print([results[-1]], args)
    if results:
        print()
        _print(results, args)


def _print(results: list[dict], args) -> None:
    print(f"ranking of {PERIOD}: offices × {args.visits} approved visits × "
          f"{ANSWERS_PER_VISIT} answers, median of {args.repeat}"
          f"{', with the wished indexes' if args.wished_indexes else ''}")
    print(f"{'database':<11} {'offices':>7} {'visits':>7} {'load s':>7} {'summ. s':>7} "
          f"{'bare ms':>8} {'ranking ms':>10} {'ratio':>6} {'JSON ms':>8} "
          f"{'CSV rows/s':>10} {'XLSX rows/s':>11} {'export MiB':>10} {'peak RSS MiB':>12}")
    for r in results:
        csv_s, _, csv_mem = r["exports"]["csv"]
        xlsx_s, _, xlsx_mem = r["exports"]["xlsx"]
        print(f"{r['backend']:<11} {r['offices']:>7} {r['counts']['visits']:>7} "
              f"{r['load_s']:>7.1f} {r['summaries_s']:>7.1f} {r['bare_ms']:>8.1f} "
              f"{r['ranking_ms']:>10.1f} {r['ratio']:>6.2f} {r['json_ms']:>8.1f} "
              f"{r['offices'] / csv_s:>10.0f} {r['offices'] / xlsx_s:>11.0f} "
              f"{max(csv_mem, xlsx_mem):>10.1f} {r['rss_mib']:>12.0f}")
        print(f"            office page {r['office_ms']:.1f} ms, bare query of its visits "
              f"{r['office_bare_ms']:.1f} ms, ratio {r['office_ms'] / r['office_bare_ms']:.2f}")
        print(f"            {QUARTER} (from the visits) ranking {r['quarter_ms']:.1f} ms, bare "
              f"{r['quarter_bare_ms']:.1f} ms, ratio "
              f"{r['quarter_ms'] / r['quarter_bare_ms']:.2f}")
        print("            of the ranking, ms: " + ", ".join(
            f"{k} {v:.1f}" for k, v in r["phases"].items()))


if __name__ == "__main__":
    main()
