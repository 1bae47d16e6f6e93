"""Report figures read from the summaries (summaries.py) instead of the visits: a few thousand
rows per half-year instead of every approved visit and its section scores. Same shapes as the
live queries in service.py, which still answer periods the summaries do not cover (quarters,
months, date ranges)."""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from ..extensions import db
from ..offices.models import Office
from . import stats
from .models import ReportFinding, ReportSection, ReportTotal

_o = Office.__table__
T = ReportTotal.__table__
S = ReportSection.__table__
F = ReportFinding.__table__


def _of_offices(table: sa.Table, clauses: list) -> list:
    """WHERE clauses on a summary table for the offices the report covers."""
    if not clauses:
        return []
    return [table.c.office_id.in_(sa.select(_o.c.id).where(*clauses))]


def totals(labels: list[str], clauses: list) -> list:
    """Rows (period, office_id, form_version_id, visits, scored, sum, squares) of these
    half-years: one query, no grouping (one row per office and form version)."""
    return db.session.execute(
        sa.select(T.c.period, T.c.office_id, T.c.form_version_id, T.c.visits, T.c.scored,
                  T.c.score_sum, T.c.score_squares)
        .where(T.c.period.in_(labels), *_of_offices(T, clauses))).all()


def means(label: str, clauses: list) -> dict[int, stats.MeanInterval]:
    """Per office: the mean and interval of its approved visits' scores in a half-year."""
    sums: dict[int, list] = {}
    for _, office_id, _, _, scored, total, squares in totals([label], clauses):
        s = sums.setdefault(office_id, [0, 0.0, 0.0])
        s[0] += scored
        s[1] += total
        s[2] += squares
    return {oid: stats.mean_interval(n, total, squares)
            for oid, (n, total, squares) in sums.items() if n}


def means_by_period(labels: list[str], clauses: list) -> dict[str, dict[int, stats.MeanInterval]]:
    """{label: means(label)} for several half-years in one query."""
    sums: dict[str, dict[int, list]] = {label: {} for label in labels}
    for period, office_id, _, _, scored, total, squares in totals(labels, clauses):
        s = sums[period].setdefault(office_id, [0, 0.0, 0.0])
        s[0] += scored
        s[1] += total
        s[2] += squares
    return {label: {oid: stats.mean_interval(n, total, squares)
                    for oid, (n, total, squares) in by_office.items() if n}
            for label, by_office in sums.items()}


def section_means(label: str, clauses: list) -> dict[int, dict[str, float]]:
    query = (sa.select(S.c.office_id, S.c.section_id, S.c.visits, S.c.score_sum)
             .where(S.c.period == label, *_of_offices(S, clauses)))
    sums: dict[int, dict[str, list]] = defaultdict(dict)
    for office_id, section_id, visits, total in db.session.execute(query):
        s = sums[office_id].setdefault(section_id, [0, 0.0])
        s[0] += visits
        s[1] += total
    return {oid: {sid: total / n for sid, (n, total) in by_section.items() if n}
            for oid, by_section in sums.items()}


def finding_counts(label: str, clauses: list) -> dict[int, dict[str, int]]:
    query = (sa.select(F.c.office_id, F.c.question_id, F.c.visits)
             .where(F.c.period == label, *_of_offices(F, clauses)))
    result: dict[int, dict[str, int]] = defaultdict(dict)
    for office_id, question_id, visits in db.session.execute(query):
        result[office_id][question_id] = result[office_id].get(question_id, 0) + visits
    return dict(result)
