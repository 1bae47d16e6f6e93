"""Report summaries kept in step with review: per (office, half-year, form version) totals, per
section sums and per critical question counts of the approved visits (models in models.py).

Every change that moves a visit into or out of "approved" calls add_visit / remove_visit in the
same transaction (server/review/service.py: approve, reopen). Corrections and amendments only
happen while a visit is under review or returned (their conditional updates make sure), so they
never touch an approved visit's figures; the property test in tests/reports/test_summaries.py
runs all of them at random and compares with a recomputation after every step.

Increments are single upserts (`INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`), so
concurrent approvals of one office add up exactly (the row lock serialises them); a row whose
visit count falls to 0 is deleted. `rebuild()` recomputes everything from the visits and
`differences()` compares without writing (`flask --app wsgi adal reports rebuild [--check]`).
"""
from __future__ import annotations

import math
import re
from collections import defaultdict

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..offices.models import Office
from ..periods import Period, half_year_of
from ..visits.models import Visit, VisitFinding, VisitSectionScore, VisitStatus
from .models import ReportFinding, ReportSection, ReportTotal

_v = Visit.__table__
_s = VisitSectionScore.__table__
_f = VisitFinding.__table__
T = ReportTotal.__table__
S = ReportSection.__table__
F = ReportFinding.__table__
APPROVED = VisitStatus.APPROVED.value
HALF_YEAR = re.compile(r"^\d{4}H[12]$")
KEYS = {"report_totals": ("office_id", "period", "form_version_id"),
        "report_sections": ("office_id", "period", "form_version_id", "section_id"),
        "report_findings": ("office_id", "period", "form_version_id", "question_id")}
VALUES = {"report_totals": ("visits", "scored", "score_sum", "score_squares", "findings"),
          "report_sections": ("visits", "score_sum", "score_squares"),
          "report_findings": ("visits",)}
TABLES = {"report_totals": T, "report_sections": S, "report_findings": F}


def covers(period: Period) -> bool:
    """Whether the summaries answer for this period: a half-year (2026H2)."""
    return HALF_YEAR.match(period.label) is not None


def _tz() -> str:
    return current_app.config["TIMEZONE"]


# Keeping in step ----------------------------------------------------------------------------

def _insert(table: sa.Table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _upsert(name: str, rows: list[dict]) -> None:
    if not rows:
        return
    table = TABLES[name]
    statement = _insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in KEYS[name]],
        set_={v: table.c[v] + statement.excluded[v] for v in VALUES[name]})
    db.session.execute(statement, rows)


def _contribution(visit_id: int, sign: int) -> dict[str, list[dict]] | None:
    """The rows one visit adds to the summaries (sign 1) or takes from them (sign -1), read
    from the database as they stand in this transaction; None for a visit that does not exist."""
    visit = db.session.execute(sa.select(_v.c.office_id, _v.c.form_version_id, _v.c.started_at,
                                         _v.c.score).where(_v.c.id == visit_id)).first()
    if visit is None:
        return None
    key = {"office_id": visit.office_id, "period": half_year_of(visit.started_at, _tz()).label,
           "form_version_id": visit.form_version_id}
    sections = db.session.execute(sa.select(_s.c.section_id, _s.c.score)
                                  .where(_s.c.visit_id == visit_id)).all()
    findings = db.session.scalars(sa.select(_f.c.question_id)
                                  .where(_f.c.visit_id == visit_id)).all()
    score = visit.score
    return {
        "report_totals": [{**key, "visits": sign, "scored": sign if score is not None else 0,
                           "score_sum": sign * (score or 0.0),
                           "score_squares": sign * (score or 0.0) ** 2,
                           "findings": sign * len(findings)}],
        "report_sections": [{**key, "section_id": sid, "visits": sign, "score_sum": sign * value,
                             "score_squares": sign * value * value}
                            for sid, value in sections if value is not None],
        "report_findings": [{**key, "question_id": q, "visits": sign} for q in findings],
    }


def add_visit(visit_id: int) -> None:
    """Count a visit that has just become approved (call in the approving transaction)."""
    rows = _contribution(visit_id, 1)
    for name, each in (rows or {}).items():
        _upsert(name, each)


def remove_visit(visit_id: int) -> None:
    """Take out a visit that is no longer approved (call in the same transaction, before its
    scores change). Rows left with no visits are deleted."""
    rows = _contribution(visit_id, -1)
    for name, each in (rows or {}).items():
        _upsert(name, each)
        table = TABLES[name]
        for row in each:
            db.session.execute(sa.delete(table).where(
                *[table.c[k] == row[k] for k in KEYS[name]], table.c.visits <= 0))


# Proving them right ---------------------------------------------------------------------------

def _half_years(tz: str) -> list[Period]:
    """Every half-year with an approved visit, oldest first."""
    first, last = db.session.execute(sa.select(sa.func.min(_v.c.started_at),
                                               sa.func.max(_v.c.started_at))
                                     .where(_v.c.status == APPROVED)).one()
    if first is None:
        return []
    periods, period = [], half_year_of(last, tz)
    start = half_year_of(first, tz)
    while True:
        periods.insert(0, period)
        if period.label == start.label:
            return periods
        period = period.previous(tz)


def expected() -> dict[str, dict[tuple, tuple]]:
    """What the summaries should hold, recomputed from the approved visits: {table: {key:
    values}}, one set of grouped queries per half-year (bounds as the reports use them)."""
    tz = _tz()
    result: dict[str, dict[tuple, tuple]] = {name: {} for name in KEYS}
    for period in _half_years(tz):
        where = [_v.c.status == APPROVED, _v.c.started_at >= period.start,
                 _v.c.started_at < period.end]
        label = period.label
        finding_rows = db.session.execute(
            sa.select(_v.c.office_id, _v.c.form_version_id, _f.c.question_id, sa.func.count())
            .select_from(_f.join(_v, _v.c.id == _f.c.visit_id)).where(*where)
            .group_by(_v.c.office_id, _v.c.form_version_id, _f.c.question_id)).all()
        per_key: dict[tuple, int] = defaultdict(int)
        for office_id, version_id, question_id, visits in finding_rows:
            result["report_findings"][(office_id, label, version_id, question_id)] = (visits,)
            per_key[(office_id, version_id)] += visits
        for office_id, version_id, visits, scored, total, squares in db.session.execute(
                sa.select(_v.c.office_id, _v.c.form_version_id, sa.func.count(),
                          sa.func.count(_v.c.score), sa.func.sum(_v.c.score),
                          sa.func.sum(_v.c.score * _v.c.score))
                .where(*where).group_by(_v.c.office_id, _v.c.form_version_id)):
            result["report_totals"][(office_id, label, version_id)] = (
                visits, scored, total or 0.0, squares or 0.0, per_key[(office_id, version_id)])
        for office_id, version_id, section_id, visits, total, squares in db.session.execute(
                sa.select(_v.c.office_id, _v.c.form_version_id, _s.c.section_id,
                          sa.func.count(_s.c.score), sa.func.sum(_s.c.score),
                          sa.func.sum(_s.c.score * _s.c.score))
                .select_from(_s.join(_v, _v.c.id == _s.c.visit_id))
                .where(*where, _s.c.score.is_not(None))
                .group_by(_v.c.office_id, _v.c.form_version_id, _s.c.section_id)):
            result["report_sections"][(office_id, label, version_id, section_id)] = (
                visits, total or 0.0, squares or 0.0)
    return result


def stored() -> dict[str, dict[tuple, tuple]]:
    """What the summaries hold now, in the shape of expected()."""
    result = {}
    for name, table in TABLES.items():
        columns = [table.c[c] for c in (*KEYS[name], *VALUES[name])]
        width = len(KEYS[name])
        result[name] = {tuple(row[:width]): tuple(row[width:])
                        for row in db.session.execute(sa.select(*columns))}
    return result


def _same(a, b) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    # Sums of floats added and taken away in another order differ in the last digits.
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)


def differences(limit: int = 50) -> list[str]:
    """Every summary row that differs from a recomputation, named by table, office code,
    period, form version and section/question, with both values; [] when they agree."""
    want, have = expected(), stored()
    codes = dict(db.session.execute(sa.select(Office.id, Office.code)).all())
    problems = []
    for name in KEYS:
        for key in sorted(set(want[name]) | set(have[name]), key=repr):
            wanted, held = want[name].get(key), have[name].get(key)
            if wanted is not None and held is not None and all(
                    _same(x, y) for x, y in zip(wanted, held)):
                continue
            office, period, version, *rest = key
            where = f"office {codes.get(office, office)} period {period} form version {version}"
            if rest:
                where += f" {'section' if name == 'report_sections' else 'question'} {rest[0]}"
            show = (lambda values: "missing" if values is None else
                    ", ".join(f"{c}={v}" for c, v in zip(VALUES[name], values)))
            problems.append(f"{name}: {where}: expected {show(wanted)}; stored {show(held)}")
    return problems[:limit] if limit else problems


def rebuild() -> dict[str, int]:
    """Replace the summaries by a recomputation (flushes; the caller commits). On PostgreSQL
    the tables are locked first, so approvals meanwhile wait rather than be lost."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("LOCK TABLE report_totals, report_sections, report_findings "
                                   "IN EXCLUSIVE MODE"))
    want = expected()
    counts = {}
    for name, table in TABLES.items():
        db.session.execute(sa.delete(table))
        rows = [dict(zip((*KEYS[name], *VALUES[name]), (*key, *values)))
                for key, values in want[name].items()]
        if rows:
            db.session.execute(sa.insert(table), rows)
        counts[name] = len(rows)
    return counts
