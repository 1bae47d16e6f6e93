"""Report figures read from the summaries (summaries.py) instead of the visits: a few thousand
rows per half-year instead of every approved visit and its section scores. Same shapes as the
live queries in service.py, which still answer periods the summaries do not cover (quarters,
months, date ranges)."""
from __future__ import annotations

import json
from collections import defaultdict
from functools import lru_cache
from typing import NamedTuple

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


def offices_with_totals(labels: list[str], clauses: list, lang: str | None = None) -> list:
    """The offices of the report, each with its summary totals of these half-years: one query,
    offices LEFT JOIN report_totals (an office without visits comes once, with NULLs).
    Rows: id, code, name, kind, active, region, period, form_version_id, visits, scored,
    score_sum, score_squares."""
    from ..forms.models import FormVersion
    from ..offices.models import Region
    _r = Region.__table__
    _fv = FormVersion.__table__
    joined = (_o.join(_r, _r.c.id == _o.c.region_id)
              .outerjoin(T, sa.and_(T.c.office_id == _o.c.id, T.c.period.in_(labels)))
              .outerjoin(_fv, _fv.c.id == T.c.form_version_id))
    if lang is not None:
        # The name in `lang` (else English) picked out by the database: parsing 5,000 JSON
        # names in Python cost more than the query. The whole JSON only when neither exists.
        text = sa.func.coalesce(sa.func.nullif(_o.c.name[lang].as_string(), ""),
                                sa.func.nullif(_o.c.name["en"].as_string(), ""))
        whole = sa.case((text.is_(None), sa.cast(_o.c.name, sa.Text)), else_=sa.null())
    else:
        text, whole = sa.null(), sa.cast(_o.c.name, sa.Text)
    rows = fetch(sa.select(_o.c.id, _o.c.code, text, whole, _o.c.kind, _o.c.active,
                           _r.c.code.label("region"), T.c.period, T.c.form_version_id,
                           T.c.visits, T.c.scored, T.c.score_sum, T.c.score_squares,
                           _fv.c.sha256)
                 .select_from(joined).where(*clauses))
    return [OfficeTotals(*row[:2], row[2] if row[3] is None else json.loads(row[3]), *row[4:])
            for row in rows]


class OfficeTotals(NamedTuple):
    id: int
    code: str
    name: dict
    kind: str
    active: bool
    region: str
    period: str | None
    form_version_id: int | None
    visits: int | None
    scored: int | None
    score_sum: float | None
    score_squares: float | None
    sha256: str | None  # the form version's, for its labels (no query when already read)


def fetch(statement) -> list[tuple]:
    """All rows of a Core SELECT as plain tuples, straight from the driver's cursor in this
    session's transaction: no Row objects, no result processing (the summary queries return
    only text and numbers; parameters still go through their bind processors). A ranking of
    5,000 offices reads ~50,000 rows so; through Result rows that alone cost more than the
    query."""
    connection = db.session.connection()
    compiled = statement.compile(dialect=connection.dialect,
                                 compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors  # e.g. a JSON path: 'en' -> '$."en"'
    params = {name: processors[name](value) if name in processors else value
              for name, value in compiled.params.items()}
    if compiled.positiontup is not None:  # qmark (SQLite)
        params = tuple(params[name] for name in compiled.positiontup)
    raw = connection.connection.dbapi_connection
    # PostgreSQL: values in binary (psycopg makes ints and floats from their bytes, not by
    # parsing text: a third less time for the 50,000 rows of a ranking at 5,000 offices).
    cursor = raw.cursor(binary=True) if connection.dialect.name == "postgresql" else raw.cursor()
    try:
        cursor.execute(str(compiled), params)
        return cursor.fetchall()
    finally:
        cursor.close()


def sections_and_findings(label: str, clauses: list) -> tuple[dict, dict]:
    """(section means rounded to 2 decimals, finding counts) of a half-year, as
    section_means() and finding_counts() give them: one plain read of both summary tables,
    summed over form versions here (an office rarely has more than one in a half-year)."""
    # One read: section rows (score_sum a number) and finding rows (score_sum NULL).
    both = fetch(sa.union_all(
        sa.select(S.c.office_id, S.c.section_id, S.c.visits, S.c.score_sum)
        .where(S.c.period == label, S.c.visits > 0, *_of_offices(S, clauses)),
        sa.select(F.c.office_id, F.c.question_id, F.c.visits, sa.null())
        .where(F.c.period == label, *_of_offices(F, clauses))))
    means: dict[int, dict[str, float]] = {}
    findings: dict[int, dict[str, int]] = {}
    repeated = []  # (office, section) seen again: another form version's rows
    for office_id, key, n, total in both:
        if total is None:  # a finding row
            by_question = findings.get(office_id)
            if by_question is None:
                findings[office_id] = {key: n}
            else:
                by_question[key] = by_question.get(key, 0) + n
            continue
        by_section = means.get(office_id)
        if by_section is None:
            means[office_id] = {key: round(total / n, 2)}  # as the reports show them
        elif key in by_section:
            repeated.append((office_id, key))
        else:
            by_section[key] = round(total / n, 2)
    if repeated:  # rare: sum Σ and n over the versions, then divide
        sums: dict[tuple, list] = {}
        wanted = set(repeated)
        for office_id, key, n, total in both:
            if total is not None and (office_id, key) in wanted:
                s = sums.setdefault((office_id, key), [0, 0.0])
                s[0] += n
                s[1] += total
        for (office_id, key), (n, total) in sums.items():
            means[office_id][key] = round(total / n, 2)
    return means, findings


def office_rows(office_id: int, labels: list[str], label: str, follow_up: dict,
                history: bool) -> list:
    """Everything one office's page reads, in one round trip (UNION ALL): its summary totals
    of these half-years ("t" rows, the form version's SHA-256 as `key`), the section sums ("s",
    `key` the section) and critical finding counts ("f", `key` the question) of half-year
    `label`, and its follow-up figures ("r": total, verified, not_done, open, overdue as
    recommendations.service.follow_up_select() counts them, with its parameters `follow_up`
    and shape `history`). Rows: kind, period, form_version_id, key, then five numbers:
    visits, scored, score_sum, score_squares, NULL for "t"; visits, NULL, score_sum, NULL, NULL
    for "s"; visits and NULLs for "f"; the five follow-up counts for "r"."""
    params = {**follow_up, "office_id": office_id, "labels": labels, "label": label}
    return db.session.execute(_office_statement(history), params).all()


@lru_cache(maxsize=2)
def _office_statement(history: bool) -> sa.CompoundSelect:
    """office_rows()'s statement, built once (building it cost as much as running it)."""
    from ..forms.models import FormVersion
    from ..recommendations.service import follow_up_select
    _fv = FormVersion.__table__
    office_id, label = sa.bindparam("office_id"), sa.bindparam("label")
    none = sa.null()
    counts = follow_up_select(history, True).subquery()
    return sa.union_all(
        sa.select(sa.literal_column("'t'"), T.c.period, T.c.form_version_id, _fv.c.sha256,
                  T.c.visits, T.c.scored, T.c.score_sum, T.c.score_squares,
                  sa.cast(none, sa.BigInteger))  # typed: PostgreSQL unions NULLs as text
        .select_from(T.outerjoin(_fv, _fv.c.id == T.c.form_version_id))
        .where(T.c.office_id == office_id,
               T.c.period.in_(sa.bindparam("labels", expanding=True))),
        sa.select(sa.literal_column("'s'"), S.c.period, S.c.form_version_id, S.c.section_id,
                  S.c.visits, none, S.c.score_sum, none, none)
        .where(S.c.office_id == office_id, S.c.period == label, S.c.visits > 0),
        sa.select(sa.literal_column("'f'"), F.c.period, F.c.form_version_id, F.c.question_id,
                  F.c.visits, none, none, none, none)
        .where(F.c.office_id == office_id, F.c.period == label),
        sa.select(sa.literal_column("'r'"), none, none, none, *list(counts.c)[1:]))
