"""The figures of a report, read from the database: per office its totals (visits, sum and sum
of squares of the scores), the previous period's mean, section means, critical finding counts
and follow-up figures, with the labels of the form versions used. A half-year is read from the
summaries (rollup.py, a few thousand rows); other periods group the approved visits."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..db import utcnow
from ..extensions import db
from ..offices.models import Office, Region
from ..periods import Period
from ..recommendations.service import (follow_up, follow_up_as_of, follow_up_figures,
                                       follow_up_params)
from ..visits.models import Visit, VisitFinding, VisitSectionScore, VisitStatus
from . import rollup, stats, summaries
from .labels import Labels, labels_of
from .service import Scope, previous_period

_v = Visit.__table__
_o = Office.__table__
_r = Region.__table__
_s = VisitSectionScore.__table__
_f = VisitFinding.__table__
APPROVED = VisitStatus.APPROVED.value


@dataclass
class Totals:
    visits: int = 0      # approved visits
    scored: int = 0      # of them with a score
    total: float = 0.0   # sum(score)
    squares: float = 0.0  # sum(score²)
    versions: dict = field(default_factory=dict)  # form version id -> approved visits

    def add(self, version_id: int, visits: int, scored: int, total: float,
            squares: float) -> None:
        """One summary row's sums (an office, a period, a form version) into these."""
        self.visits += visits
        self.scored += scored
        self.total += total
        self.squares += squares
        self.versions[version_id] = self.versions.get(version_id, 0) + visits


@dataclass
class Data:
    offices: list = field(default_factory=list)  # rows: id, code, name, kind, active, region
    totals: dict = field(default_factory=dict)    # office id -> Totals
    previous: dict = field(default_factory=dict)  # office id -> previous period's mean
    sections: dict = field(default_factory=dict)  # office id -> {section: mean}
    findings: dict = field(default_factory=dict)  # office id -> {question: visits with it}
    recs: dict = field(default_factory=dict)      # office id -> follow-up figures
    labels: Labels | None = None
    localised: dict = field(default_factory=dict)  # labels and critical entries, made once
    sections_rounded: bool = False  # section means already rounded to 2 decimals


def office_clauses(*, kind: str | None, scope: Scope, office_id: int | None) -> list:
    """WHERE clauses on offices: of a kind, in the scope's regions, one office (each if given)."""
    clauses = []
    if kind is not None:
        clauses.append(_o.c.kind == kind)
    if scope.region_ids is not None:
        clauses.append(_o.c.region_id.in_(sorted(scope.region_ids)))
    if office_id is not None:
        clauses.append(_o.c.id == office_id)
    return clauses


def approved_in(period: Period, clauses: list) -> list:
    """WHERE clauses on visits: approved, started within the period, at one of the offices."""
    where = [_v.c.status == APPROVED, _v.c.started_at >= period.start,
             _v.c.started_at < period.end]
    if clauses:
        where.append(_v.c.office_id.in_(sa.select(_o.c.id).where(*clauses)))
    return where


def _totals(period: Period, clauses: list) -> tuple[dict, set[int]]:
    """Per office: visits, scored visits, sum and sum of squares; and the form versions used.
    Grouped by form version too, only to learn which versions label the sections."""
    if summaries.covers(period):  # a half-year: from the summaries
        rows = [row[1:] for row in rollup.totals([period.label], clauses)]
    else:
        rows = db.session.execute(
            sa.select(_v.c.office_id, _v.c.form_version_id, sa.func.count(),
                      sa.func.count(_v.c.score), sa.func.sum(_v.c.score),
                      sa.func.sum(_v.c.score * _v.c.score))
            .where(*approved_in(period, clauses))
            .group_by(_v.c.office_id, _v.c.form_version_id))
    totals: dict[int, Totals] = defaultdict(Totals)
    versions: set[int] = set()
    for office_id, version_id, visits, scored, total, squares in rows:
        t = totals[office_id]
        t.visits += visits
        t.scored += scored
        t.total += total or 0.0
        t.squares += squares or 0.0
        t.versions[version_id] = t.versions.get(version_id, 0) + visits
        versions.add(version_id)
    return dict(totals), versions


def means_of(period: Period, clauses: list) -> dict[int, stats.MeanInterval]:
    """Per office: the mean and interval of approved visits' scores (for change and trend)."""
    if summaries.covers(period):
        return rollup.means(period.label, clauses)
    query = (sa.select(_v.c.office_id, sa.func.count(_v.c.score), sa.func.sum(_v.c.score),
                       sa.func.sum(_v.c.score * _v.c.score))
             .where(*approved_in(period, clauses), _v.c.score.is_not(None))
             .group_by(_v.c.office_id))
    return {oid: stats.mean_interval(n, total or 0.0, squares or 0.0)
            for oid, n, total, squares in db.session.execute(query)}


def _section_means(period: Period, clauses: list) -> dict[int, dict[str, float]]:
    if summaries.covers(period):
        return rollup.section_means(period.label, clauses)
    query = (sa.select(_v.c.office_id, _s.c.section_id, sa.func.avg(_s.c.score))
             .select_from(_s.join(_v, _v.c.id == _s.c.visit_id))
             .where(*approved_in(period, clauses))
             .group_by(_v.c.office_id, _s.c.section_id))
    result: dict[int, dict[str, float]] = defaultdict(dict)
    for office_id, section_id, mean in db.session.execute(query):
        result[office_id][section_id] = float(mean)
    return dict(result)


def _finding_counts(period: Period, clauses: list) -> dict[int, dict[str, int]]:
    if summaries.covers(period):
        return rollup.finding_counts(period.label, clauses)
    # (visit_id, question_id) is the key of visit_findings: count(*) counts visits.
    query = (sa.select(_v.c.office_id, _f.c.question_id, sa.func.count())
             .select_from(_f.join(_v, _v.c.id == _f.c.visit_id))
             .where(*approved_in(period, clauses))
             .group_by(_v.c.office_id, _f.c.question_id))
    result: dict[int, dict[str, int]] = defaultdict(dict)
    for office_id, question_id, visits in db.session.execute(query):
        result[office_id][question_id] = visits
    return dict(result)


def follow_up_until(period: Period) -> tuple:
    """(cut-off, day overdue is judged on) of a period's follow-up figures: as they stood at
    the period's end, or as they stand now for a period not over yet."""
    return follow_up_as_of(period.end if period.end < utcnow() else None)


def recommendation_counts(period: Period, office_ids: list[int] | None) -> dict[int, dict]:
    """Per office: the follow-up figures as they stood at the period's end (now, for a period
    not over yet), by the definition of GET /recommendations/follow-up (docs/recommendations.md):
    share = verified / (verified + not_done + overdue)."""
    until = period.end if period.end < utcnow() else None
    return follow_up(office_ids, until=until)["offices"]


def offices_of(clauses: list) -> list:
    """Rows (id, code, name, kind, active, region code) of the offices these clauses select."""
    query = (sa.select(_o.c.id, _o.c.code, _o.c.name, _o.c.kind, _o.c.active,
                       _r.c.code.label("region"))
             .select_from(_o.join(_r, _r.c.id == _o.c.region_id)).where(*clauses))
    return list(db.session.execute(query))


def collect(period: Period, tz: str, clauses: list, lang: str | None = None) -> Data:
    """A report's figures of a period for the offices the clauses select (see Data)."""
    previous = previous_period(period, tz)
    if summaries.covers(period) and summaries.covers(previous):
        return _collect_summaries(period, previous, clauses, lang)
    data = Data()
    data.totals, versions = _totals(period, clauses)
    # An office closed since still appears for a period in which it has approved visits.
    data.offices = [o for o in offices_of(clauses) if o.active or o.id in data.totals]
    data.previous = means_of(previous_period(period, tz), clauses)
    data.sections = _section_means(period, clauses)
    data.findings = _finding_counts(period, clauses)
    data.recs = recommendation_counts(period, [o.id for o in data.offices])
    data.labels = labels_of(versions)
    return data


def _collect_summaries(period: Period, previous: Period, clauses: list,
                       lang: str | None = None) -> Data:
    """collect from the summaries in three queries: offices with this and the previous
    half-year's totals, section sums with finding counts, recommendations."""
    data = Data()
    offices: dict[int, object] = {}
    previous_sums: dict[int, list] = {}
    versions: dict[int, str] = {}  # form version id -> sha256
    label = period.label
    for row in rollup.offices_with_totals([label, previous.label], clauses, lang):
        office_id, row_period = row[0], row[6]
        if office_id not in offices:
            offices[office_id] = row
        if row_period == label:
            _, _, _, _, _, _, _, version_id, visits, scored, total, squares, sha = row
            t = data.totals.get(office_id)
            if t is None:
                t = data.totals[office_id] = Totals()
            t.add(version_id, visits, scored, total, squares)
            versions[version_id] = sha
        elif row_period is not None:
            p = previous_sums.setdefault(office_id, [0, 0.0, 0.0])
            p[0] += row[9]
            p[1] += row[10]
            p[2] += row[11]
    # An office closed since still appears for a period in which it has approved visits.
    data.offices = [o for o in offices.values() if o.active or o.id in data.totals]
    data.previous = {oid: stats.mean_interval(n, total, squares)
                     for oid, (n, total, squares) in previous_sums.items() if n}
    data.sections, data.findings = rollup.sections_and_findings(period.label, clauses)
    data.sections_rounded = True
    # Every office of the programme: no list of thousands of ids to send and match.
    data.recs = recommendation_counts(period, None if not clauses else
                                       [o.id for o in data.offices])
    data.labels = labels_of(set(versions), shas=versions)
    return data


def collect_office(office, period: Period, previous: Period,
                   labels: list[str]) -> tuple[Data, dict[str, dict[int, stats.MeanInterval]]]:
    """One office's figures for its page from the summaries, as collect() gives them for a
    half-year (`previous` and the trend's half-years `labels` covered too), with the means of
    each of `labels` for its trend: one read (rollup.office_rows)."""
    data = Data(sections_rounded=True)
    sums = {each: [0, 0.0, 0.0] for each in {*labels, previous.label}}  # scored, Σ, Σ²
    versions: dict[int, str] = {}  # form version id -> sha256
    sections: dict[str, list] = {}
    findings: dict[str, int] = {}
    totals = Totals()
    cutoff, today = follow_up_until(period)
    rows = rollup.office_rows(office.id, sorted(sums), period.label,
                              follow_up_params([office.id], cutoff, today), cutoff is not None)
    recs = None
    for kind, label, version_id, key, visits, scored, total, squares, extra in rows:
        if kind == "t":
            s = sums[label]
            s[0] += scored
            s[1] += total
            s[2] += squares
            if label == period.label:
                totals.add(version_id, visits, scored, total, squares)
                versions[version_id] = key
        elif kind == "s":  # summed over form versions, then divided (as sections_and_findings)
            s = sections.setdefault(key, [0, 0.0])
            s[0] += visits
            s[1] += total
        elif kind == "f":
            findings[key] = findings.get(key, 0) + visits
        else:
            recs = follow_up_figures((visits, scored, total, squares, extra))
    means = {each: {office.id: stats.mean_interval(*s)} for each, s in sums.items() if s[0]}
    if totals.visits:
        data.totals[office.id] = totals
    data.previous = means.get(previous.label, {})
    if sections:
        data.sections[office.id] = {sid: round(total / n, 2)
                                    for sid, (n, total) in sections.items()}
    if findings:
        data.findings[office.id] = findings
    # As collect(): a closed office without visits in the period is not listed, so its
    # follow-up figures are not counted.
    if recs is not None and (office.active or totals.visits):
        data.recs = {office.id: recs}
    data.labels = labels_of(set(versions), shas=versions)
    return data, means
