"""Office scores and rankings from approved visits, published snapshots and open data.

Everything is aggregated in the database (count, sum, sum of squares, averages grouped by office);
Python only turns those few rows per office into intervals, bands and ranks. How each figure is
computed: docs/reports.md.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from ..audit.service import append_event, canonical_json
from ..auth.models import User
from ..auth.scope import office_in_scope, region_ids as scope_region_ids
from ..db import utcnow
from ..errors import AppError, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..forms.models import FormVersion
from ..offices.models import OFFICE_KINDS, Office, Region
from ..periods import Period, parse_period
from ..recommendations.service import follow_up
from ..visits.models import Visit, VisitFinding, VisitSectionScore, VisitStatus
from . import rollup, stats, summaries
from .models import PublishedReport

log = logging.getLogger(__name__)

_v = Visit.__table__
_o = Office.__table__
_r = Region.__table__
_s = VisitSectionScore.__table__
_f = VisitFinding.__table__
APPROVED = VisitStatus.APPROVED.value
NOT_ENOUGH_VISITS = "not_enough_visits"
RANKED = "ranked"
TREND_PERIODS = 4


class SnapshotCorrupt(AppError):
    status, code, title = 500, "snapshot_corrupt", "Published report is corrupt"


@dataclass(frozen=True)
class Scope:
    """Which offices a report covers: one region asked for, the user's regions, or all (None)."""

    region: Region | None = None
    region_ids: frozenset[int] | None = None


@dataclass(frozen=True)
class Settings:
    tz: str
    green_min: float
    yellow_min: float
    min_visits: int


def settings(min_visits: int | None = None) -> Settings:
    """The report settings of the app, with a per-request minimum of visits if given."""
    config = current_app.config
    return Settings(config["TIMEZONE"], config["BAND_GREEN_MIN"], config["BAND_YELLOW_MIN"],
                    min_visits or config["RANKING_MIN_VISITS"])


def resolve_scope(*, user: User, region: str | None, location: str = "query") -> Scope:
    """The scope of a report for `user`: an asked-for region must exist and be in their scope
    (403 out_of_scope otherwise); without one, a region-restricted supervisor gets their own."""
    allowed = scope_region_ids(user)
    if region is None:
        return Scope(None, frozenset(allowed) if allowed is not None else None)
    row = db.session.scalar(sa.select(Region).where(Region.code == region))
    if row is None:
        messages = {"region": ["Unknown region."]}
        raise ValidationFailed(f"No region {region!r}.",
                               errors={location: messages} if location == "query" else messages)
    if allowed is not None and row.id not in allowed:
        raise Forbidden(f"Region {region!r} is outside your scope.", code="out_of_scope")
    return Scope(row, frozenset({row.id}))


def check_office_scope(*, user: User, office: Office) -> None:
    """403 out_of_scope for an office outside a region-restricted supervisor's regions."""
    if not office_in_scope(user, office):
        raise Forbidden(f"Office {office.code!r} is outside your scope.", code="out_of_scope")


# Aggregation ------------------------------------------------------------------------------

@dataclass
class _Totals:
    visits: int = 0      # approved visits
    scored: int = 0      # of them with a score
    total: float = 0.0   # sum(score)
    squares: float = 0.0  # sum(score²)
    versions: dict = field(default_factory=dict)  # form version id -> approved visits


@dataclass
class _Data:
    offices: list = field(default_factory=list)  # rows: id, code, name, kind, active, region
    totals: dict = field(default_factory=dict)    # office id -> _Totals
    previous: dict = field(default_factory=dict)  # office id -> previous period's mean
    sections: dict = field(default_factory=dict)  # office id -> {section: mean}
    findings: dict = field(default_factory=dict)  # office id -> {question: visits with it}
    recs: dict = field(default_factory=dict)      # office id -> follow-up figures
    labels: _Labels | None = None
    localised: dict = field(default_factory=dict)  # labels and critical entries, made once
    sections_rounded: bool = False  # section means already rounded to 2 decimals


def _office_clauses(*, kind: str | None, scope: Scope, office_id: int | None) -> list:
    clauses = []
    if kind is not None:
        clauses.append(_o.c.kind == kind)
    if scope.region_ids is not None:
        clauses.append(_o.c.region_id.in_(sorted(scope.region_ids)))
    if office_id is not None:
        clauses.append(_o.c.id == office_id)
    return clauses


def _approved_in(period: Period, clauses: list) -> list:
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
            .where(*_approved_in(period, clauses))
            .group_by(_v.c.office_id, _v.c.form_version_id))
    totals: dict[int, _Totals] = defaultdict(_Totals)
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


def _means(period: Period, clauses: list) -> dict[int, stats.MeanInterval]:
    """Per office: the mean and interval of approved visits' scores (for change and trend)."""
    if summaries.covers(period):
        return rollup.means(period.label, clauses)
    query = (sa.select(_v.c.office_id, sa.func.count(_v.c.score), sa.func.sum(_v.c.score),
                       sa.func.sum(_v.c.score * _v.c.score))
             .where(*_approved_in(period, clauses), _v.c.score.is_not(None))
             .group_by(_v.c.office_id))
    return {oid: stats.mean_interval(n, total or 0.0, squares or 0.0)
            for oid, n, total, squares in db.session.execute(query)}


def _section_means(period: Period, clauses: list) -> dict[int, dict[str, float]]:
    if summaries.covers(period):
        return rollup.section_means(period.label, clauses)
    query = (sa.select(_v.c.office_id, _s.c.section_id, sa.func.avg(_s.c.score))
             .select_from(_s.join(_v, _v.c.id == _s.c.visit_id))
             .where(*_approved_in(period, clauses))
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
             .where(*_approved_in(period, clauses))
             .group_by(_v.c.office_id, _f.c.question_id))
    result: dict[int, dict[str, int]] = defaultdict(dict)
    for office_id, question_id, visits in db.session.execute(query):
        result[office_id][question_id] = visits
    return dict(result)


def _recommendation_counts(period: Period, office_ids: list[int] | None) -> dict[int, dict]:
    """Per office: the follow-up figures as they stood at the period's end (now, for a period
    not over yet), by the definition of GET /recommendations/follow-up (docs/recommendations.md):
    share = verified / (verified + not_done + overdue)."""
    until = period.end if period.end < utcnow() else None
    return follow_up(office_ids, until=until)["offices"]


def _offices(clauses: list) -> list:
    query = (sa.select(_o.c.id, _o.c.code, _o.c.name, _o.c.kind, _o.c.active,
                       _r.c.code.label("region"))
             .select_from(_o.join(_r, _r.c.id == _o.c.region_id)).where(*clauses))
    return list(db.session.execute(query))


def _collect(period: Period, tz: str, clauses: list, lang: str | None = None) -> _Data:
    previous = previous_period(period, tz)
    if summaries.covers(period) and summaries.covers(previous):
        return _collect_summaries(period, previous, clauses, lang)
    data = _Data()
    data.totals, versions = _totals(period, clauses)
    # An office closed since still appears for a period in which it has approved visits.
    data.offices = [o for o in _offices(clauses) if o.active or o.id in data.totals]
    data.previous = _means(previous_period(period, tz), clauses)
    data.sections = _section_means(period, clauses)
    data.findings = _finding_counts(period, clauses)
    data.recs = _recommendation_counts(period, [o.id for o in data.offices])
    data.labels = _labels(versions)
    return data


def _collect_summaries(period: Period, previous: Period, clauses: list,
                       lang: str | None = None) -> _Data:
    """_collect from the summaries in three queries: offices with this and the previous
    half-year's totals, section sums with finding counts, recommendations."""
    data = _Data()
    offices: dict[int, object] = {}
    previous_sums: dict[int, list] = {}
    versions: dict[int, str] = {}  # form version id -> sha256
    for row in rollup.offices_with_totals([period.label, previous.label], clauses, lang):
        office_id = row[0]
        offices.setdefault(office_id, row)
        if row.period == period.label:
            t = data.totals.get(office_id)
            if t is None:
                t = data.totals[office_id] = _Totals()
            t.visits += row.visits
            t.scored += row.scored
            t.total += row.score_sum
            t.squares += row.score_squares
            t.versions[row.form_version_id] = t.versions.get(row.form_version_id, 0) + row.visits
            versions[row.form_version_id] = row.sha256
        elif row.period is not None:
            p = previous_sums.setdefault(office_id, [0, 0.0, 0.0])
            p[0] += row.scored
            p[1] += row.score_sum
            p[2] += row.score_squares
    # An office closed since still appears for a period in which it has approved visits.
    data.offices = [o for o in offices.values() if o.active or o.id in data.totals]
    data.previous = {oid: stats.mean_interval(n, total, squares)
                     for oid, (n, total, squares) in previous_sums.items() if n}
    data.sections, data.findings = rollup.sections_and_findings(period.label, clauses)
    data.sections_rounded = True
    # Every office of the programme: no list of thousands of ids to send and match.
    data.recs = _recommendation_counts(period, None if not clauses else
                                       [o.id for o in data.offices])
    data.labels = _labels(set(versions), shas=versions)
    return data


# Labels from the form versions ------------------------------------------------------------

@dataclass(frozen=True)
class _Labels:
    sections: dict  # section id -> title {lang: text}, in the newest form's order
    questions: dict  # question id -> label {lang: text}
    critical: dict = field(default_factory=dict)  # form version id -> its critical question ids


_definitions: dict[str, tuple[list, dict, tuple]] = {}  # sha256 -> labels, critical; immutable


def _definition_labels(definition: dict) -> tuple[list, dict, tuple]:
    """(sections, question labels, ids of the questions that can be a critical finding)."""
    sections, questions, critical = [], {}, []
    for section in definition.get("sections", []):
        sections.append((section["id"], section.get("title") or {}))
        for question in section.get("questions", []):
            questions[question["id"]] = question.get("label") or {}
            if question.get("critical"):
                critical.append(question["id"])
    return sections, questions, tuple(critical)


def _labels(version_ids: set[int], shas: dict[int, str] | None = None) -> _Labels:
    """Section titles and question labels of these form versions, newest first. A version
    never changes (its SHA-256 names its content), so each definition is read once."""
    if not version_ids:
        return _Labels({}, {})
    if shas is not None:  # read with the totals already
        rows = sorted(shas.items(), reverse=True)
    else:
        rows = db.session.execute(sa.select(FormVersion.id, FormVersion.sha256)
                                  .where(FormVersion.id.in_(sorted(version_ids)))
                                  .order_by(FormVersion.id.desc())).all()
    known = {sha: _definitions.get(sha) for _, sha in rows}
    missing = [sha for sha, labels in known.items() if labels is None]
    if missing:
        if len(_definitions) > 64:  # many forms over the years: start again, never grow
            _definitions.clear()
        for sha, definition in db.session.execute(
                sa.select(FormVersion.sha256, FormVersion.definition)
                .where(FormVersion.sha256.in_(missing))):
            known[sha] = _definitions[sha] = _definition_labels(definition)
    sections: dict = {}
    questions: dict = {}
    critical: dict = {}
    for version_id, sha in rows:
        version_sections, version_questions, critical[version_id] = known[sha]
        for section_id, title in version_sections:
            sections.setdefault(section_id, title)
        for question_id, label in version_questions.items():
            questions.setdefault(question_id, label)
    return _Labels(sections, questions, critical)


def localise(text: dict | str | None, lang: str | None, fallback: str = "") -> dict | str:
    """Text in `lang` (English, then any, if missing); the whole {lang: text} when lang is None."""
    if not isinstance(text, dict):
        return text if text else fallback
    if lang is None:
        return dict(text) if text else {"en": fallback}
    return text.get(lang) or text.get("en") or next(iter(text.values()), fallback) or fallback


# Items and ranking ------------------------------------------------------------------------

def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


FOLLOW_UP = ("created", "verified", "not_done", "overdue", "open")


def _share(figures: dict | None) -> dict:
    """The follow-up figures of the reports: `created` (recommendations made), `verified`,
    `not_done`, `overdue`, `open`, and share = verified / (verified + not_done + overdue)."""
    figures = figures or {}
    out = {"created": figures.get("total", 0), "verified": figures.get("verified", 0),
           "not_done": figures.get("not_done", 0), "overdue": figures.get("overdue", 0),
           "open": figures.get("open", 0)}
    judged = out["verified"] + out["not_done"] + out["overdue"]
    out["share"] = round(out["verified"] / judged, 4) if judged else None
    return out


def _critical_asked(totals: _Totals, labels: _Labels, found: dict) -> dict[str, int]:
    """Critical question id -> approved visits whose form version has it (the denominator of
    its rate); questions found but missing from every definition count all visits."""
    asked: dict[str, int] = {}
    for version_id, visits in totals.versions.items():
        for question in labels.critical.get(version_id, ()):
            asked[question] = asked.get(question, 0) + visits
    for question in found:
        asked.setdefault(question, totals.visits)
    return asked


def _section_scores(data: _Data, office_id: int) -> dict:
    sections = data.sections.get(office_id, {})
    if data.sections_rounded:  # rounded once where they were read (rollup)
        return dict(sections)
    return {k: round(v, 2) for k, v in sections.items()}


def _question_label(data: _Data, question: str, lang: str | None):
    """A question's label in `lang`, localised once per report (every office repeats it)."""
    key = (question, lang)
    label = data.localised.get(key)
    if label is None:
        label = data.localised[key] = localise(data.labels.questions.get(question), lang,
                                               question)
    return dict(label) if isinstance(label, dict) else label


def _item(office, data: _Data, cfg: Settings, lang: str | None) -> dict:
    """One office's figures, without its rank."""
    totals = data.totals.get(office.id, _Totals())
    interval = stats.mean_interval(totals.scored, totals.total, totals.squares)
    score = _round(interval.mean, 2)
    # A mean score lies in [0, 100]; the t interval of a few visits can reach past either end.
    low = _round(None if interval.low is None else max(0.0, interval.low), 2)
    high = _round(None if interval.high is None else min(100.0, interval.high), 2)
    previous = data.previous.get(office.id)
    previous_score = _round(previous.mean if previous else None, 2)
    critical = []
    found = data.findings.get(office.id, {})
    # The denominators depend on the versions and their visits only: offices that share them
    # (most, at 60 visits on one form) share the sorted list, made once per report.
    key = ("asked", *totals.versions.items())
    cached = data.localised.get(key)
    if cached is None:
        pairs = sorted(_critical_asked(totals, data.labels, {}).items())
        cached = data.localised[key] = (pairs, {q for q, _ in pairs})
    asked_of = cached[0]
    if not cached[1].issuperset(found):  # a finding no definition lists: counted on its own
        asked_of = sorted(_critical_asked(totals, data.labels, found).items())
    for question, asked in asked_of:
        # Every critical question of the office's forms, seen or not: 0 of 10 is a finding too.
        count = found.get(question, 0)
        key = (question, count, asked, lang)
        entry = data.localised.get(key)  # most offices share (0 of 60): figured out once
        if entry is None:
            rate_low, rate_high = stats.wilson_interval(count, asked)
            entry = data.localised[key] = {
                "question": question, "label": _question_label(data, question, lang),
                "visits_with": count, "rate": round(count / asked, 4),
                "ci_low": round(rate_low, 4), "ci_high": round(rate_high, 4)}
        critical.append(dict(entry))
    return {
        "office": {"code": office.code, "name": localise(office.name, lang, office.code)},
        "region": office.region, "kind": office.kind, "rank": None, "status": NOT_ENOUGH_VISITS,
        "visits": totals.visits, "score": score, "ci_low": low, "ci_high": high,
        "band": stats.band(score, green_min=cfg.green_min, yellow_min=cfg.yellow_min),
        "section_scores": _section_scores(data, office.id),
        "critical": critical,
        "change": (round(score - previous_score, 2)
                   if score is not None and previous_score is not None else None),
        "previous_score": previous_score,
        "recommendations": _share(data.recs.get(office.id)),
    }


def _rank_kind(items: list[dict], eligible: dict) -> list[dict]:
    """Rank one kind's items in place; ranked first (by rank), then the others."""
    ranked = stats.competition_rank([(item["office"]["code"], item["score"], item["visits"])
                                     for item in items if eligible[item["office"]["code"]]])
    by_code = {item["office"]["code"]: item for item in items}
    ordered = []
    for entry in ranked:
        item = by_code.pop(entry.key)
        item["rank"], item["status"] = entry.rank, RANKED
        ordered.append(item)
    rest = sorted(by_code.values(), key=lambda i: (i["score"] is None, -(i["score"] or 0),
                                                   -i["visits"], i["office"]["code"]))
    return ordered + rest


def _kind_order(kind: str) -> tuple:
    return (OFFICE_KINDS.index(kind), "") if kind in OFFICE_KINDS else (len(OFFICE_KINDS), kind)


def local_dates(period: Period) -> tuple[str, str]:
    """The first and last day of a period in the programme's time zone, ISO dates."""
    return _local_dates(period, settings().tz)


def _local_dates(period: Period, tz: str) -> tuple[str, str]:
    zone = ZoneInfo(tz)
    return (period.start.astimezone(zone).date().isoformat(),
            (period.end.astimezone(zone) - timedelta(days=1)).date().isoformat())


def ranking(*, period: Period, kind: str | None = None, scope: Scope = Scope(),
            lang: str | None = None, min_visits: int | None = None) -> dict:
    """The ranking of a period: every office of the kind(s) in scope, each kind ranked on its
    own; names and labels in `lang`, or in every language when lang is None (snapshots)."""
    cfg = settings(min_visits)
    data = _collect(period, cfg.tz, _office_clauses(kind=kind, scope=scope, office_id=None),
                    lang)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    eligible = {}
    for office in data.offices:
        by_kind[office.kind].append(_item(office, data, cfg, lang))
        eligible[office.code] = data.totals.get(office.id, _Totals()).scored >= cfg.min_visits
    items = []
    for office_kind in sorted(by_kind, key=_kind_order):
        items += _rank_kind(by_kind[office_kind], eligible)
    overall = dict.fromkeys(FOLLOW_UP, 0)
    for item in items:
        figures = item["recommendations"]
        if figures["created"]:  # the others count some of these: all 0 without any
            for name in FOLLOW_UP:
                overall[name] += figures[name]
    overall["total"] = overall.pop("created")
    start, end = _local_dates(period, cfg.tz)
    return {
        "period": period.label, "from": start, "to": end, "kind": kind,
        "region": scope.region.code if scope.region is not None else None,
        "min_visits": cfg.min_visits,
        "bands": {"green_min": cfg.green_min, "yellow_min": cfg.yellow_min},
        "sections": _section_list(data, lang),
        "items": items,
        "recommendations": _share(overall),
    }


def _section_list(data: _Data, lang: str | None) -> list[dict]:
    """The sections that have scores, in the form's order (unknown ids last, by id)."""
    present = {sid for sections in data.sections.values() for sid in sections}
    known = [sid for sid in data.labels.sections if sid in present]
    ordered = known + sorted(present - set(known))
    return [{"id": sid, "title": localise(data.labels.sections.get(sid), lang, sid)}
            for sid in ordered]


def previous_period(period: Period, tz: str) -> Period:
    """The period before: 2026H1 for 2026H2; for a custom date range, the same length before."""
    try:
        return period.previous(tz)
    except (AttributeError, TypeError, ValueError):  # a label periods.py does not know
        length = period.end - period.start
        return Period(f"before {period.label}", period.start - length, period.start)


def periods_before(period: Period, tz: str, count: int) -> list[Period]:
    """`count` periods ending with `period`, oldest first."""
    result = [period]
    while len(result) < count:
        result.insert(0, previous_period(result[0], tz))
    return result


def _trend_entry(label: str, interval: stats.MeanInterval, cfg: Settings) -> dict:
    score = _round(interval.mean, 2)
    return {"period": label, "visits": interval.n, "score": score,
            "ci_low": _round(None if interval.low is None else max(0.0, interval.low), 2),
            "ci_high": _round(None if interval.high is None else min(100.0, interval.high), 2),
            "band": stats.band(score, green_min=cfg.green_min, yellow_min=cfg.yellow_min)}


def _trends_of(periods: list[Period], means: dict, office_id: int, cfg: Settings) -> list[dict]:
    empty = stats.mean_interval(0, 0, 0)
    return [_trend_entry(each.label, means.get(each.label, {}).get(office_id) or empty, cfg)
            for each in periods]


def _trends(period: Period, cfg: Settings, clauses: list) -> tuple[list[str], dict[int, list]]:
    """(period labels oldest first, {office id: its trend}) over the last TREND_PERIODS periods
    ending with `period`, for the offices with approved visits in any of them: one grouped
    query per period."""
    periods = periods_before(period, cfg.tz, TREND_PERIODS)
    if all(summaries.covers(each) for each in periods):  # one query over the summaries
        means = rollup.means_by_period([each.label for each in periods], clauses)
    else:
        means = {each.label: _means(each, clauses) for each in periods}
    offices = {oid for by_office in means.values() for oid in by_office}
    return ([each.label for each in periods],
            {oid: _trends_of(periods, means, oid, cfg) for oid in offices})


def office_report(*, office: Office, period: Period, lang: str | None = None) -> dict:
    """One office in a period: scores, sections, findings, change, a trend over the last
    periods and the share of its recommendations carried out."""
    cfg = settings()
    clauses = _office_clauses(kind=None, scope=Scope(), office_id=office.id)
    data = _collect(period, cfg.tz, clauses)
    item = _item(_offices(clauses)[0], data, cfg, lang)  # listed even when inactive
    del item["rank"], item["status"]
    _, trends = _trends(period, cfg, clauses)
    trend = trends.get(office.id) or _trends_of(periods_before(period, cfg.tz, TREND_PERIODS),
                                                {}, office.id, cfg)
    start, end = _local_dates(period, cfg.tz)
    return {**item, "period": period.label, "from": start, "to": end,
            "office": {**item["office"], "active": office.active},
            "bands": {"green_min": cfg.green_min, "yellow_min": cfg.yellow_min},
            "sections": _section_list(data, lang), "trend": trend}


# Published snapshots ----------------------------------------------------------------------

def snapshot_hash(data: dict) -> str:
    """SHA-256 of the snapshot's canonical JSON (sorted keys, compact, UTF-8)."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def _slug(period: Period, kind: str | None) -> str:
    return f"{period.label.lower()}-{(kind or 'all').replace('_', '-')}-{secrets.token_hex(5)}"


def _snapshot_trend(period: Period, kind: str | None, scope: Scope, items: list[dict],
                    min_visits: int | None) -> dict:
    """The trend a snapshot freezes: {"periods": [labels, oldest first], "offices": {code:
    [{period, visits, score, ci_low, ci_high, band}, ...]}} for every listed office."""
    cfg = settings(min_visits)
    clauses = _office_clauses(kind=kind, scope=scope, office_id=None)
    labels, trends = _trends(period, cfg, clauses)
    codes = {o.code: o.id for o in _offices(clauses)}
    periods = periods_before(period, cfg.tz, TREND_PERIODS)
    offices = {}
    for item in items:
        oid = codes.get(item["office"]["code"])
        offices[item["office"]["code"]] = trends.get(oid) or _trends_of(periods, {}, oid, cfg)
    return {"periods": labels, "offices": offices}


def publish_report(*, period: Period, kind: str | None, scope: Scope, actor: User,
                   min_visits: int | None = None) -> PublishedReport:
    """Freeze the ranking (names in every language) with its hash; audited. Flushes only."""
    if scope.region is None and scope.region_ids is not None:
        # A report without a region reads as national: one limited to some regions is not.
        raise Forbidden("Supervisors limited to regions publish one region at a time; "
                        "give 'region'.", code="out_of_scope")
    published_at = utcnow().replace(microsecond=0)
    slug = _slug(period, kind)
    data = ranking(period=period, kind=kind, scope=scope, lang=None, min_visits=min_visits)
    data.update(slug=slug, published_at=published_at.isoformat(),
                trend=_snapshot_trend(period, kind, scope, data["items"], min_visits),
                open_data=opendata_snapshot(period, data["items"]))
    data = json.loads(canonical_json(data))  # exactly what is hashed is what is stored
    report = PublishedReport(slug=slug, period=period.key, kind=kind,
                             region=data["region"], data=data, sha256=snapshot_hash(data),
                             published_at=published_at, published_by_id=actor.id)
    db.session.add(report)
    db.session.flush()
    append_event("report_published", actor=actor, object_type="published_report",
                 object_id=slug, payload={"period": period.label, "kind": kind,
                                          "region": data["region"], "sha256": report.sha256,
                                          "offices": len(data["items"])})
    return report


def published_reports_query(*, period: str | None = None) -> sa.Select:
    """Published reports, newest first, of one period (a label) if given."""
    query = sa.select(PublishedReport).order_by(PublishedReport.published_at.desc(),
                                                PublishedReport.id.desc())
    if not period:
        return query
    try:  # a date range is stored by its short key (published_reports.period holds 16)
        period = parse_period(period, current_app.config["TIMEZONE"]).key
    except ValueError:
        pass  # not a period: matches nothing, as before
    return query.where(PublishedReport.period == period)


def get_published(slug: str) -> PublishedReport:
    """The published report with this slug, or 404."""
    if len(slug) > 64:
        raise NotFound(f"No published report {slug[:64]!r}.")
    report = db.session.scalar(sa.select(PublishedReport).where(PublishedReport.slug == slug))
    if report is None:
        raise NotFound(f"No published report {slug!r}.")
    return report


def verified_snapshot(report: PublishedReport) -> str:
    """The snapshot's canonical JSON, after checking it against its hash: altered data is
    never served (500 snapshot_corrupt, logged)."""
    text = canonical_json(report.data)
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != report.sha256:
        log.error("published report %s does not match its SHA-256 %s", report.slug,
                  report.sha256)
        raise SnapshotCorrupt(f"The published report {report.slug!r} no longer matches its "
                              "hash; it is withheld until restored.")
    return text


# Open data --------------------------------------------------------------------------------

OPENDATA_FIXED = ("office_code", "office_name", "kind", "region", "date", "score")


def _opendata_rows(period: Period, codes: list[str]) -> tuple[list[str], list[list]]:
    """(section ids, rows) of the approved visits now in the period at these offices: what a
    snapshot freezes at publication. Anonymous: no inspector, no visit id, no time of day."""
    if not codes:
        return [], []
    tz = current_app.config["TIMEZONE"]
    where = [*_approved_in(period, []), _o.c.code.in_(codes)]
    visits = db.session.execute(
        sa.select(_v.c.id, _v.c.form_version_id, _o.c.code, _o.c.name, _o.c.kind,
                  _r.c.code, _v.c.started_at, _v.c.score)
        .select_from(_v.join(_o, _o.c.id == _v.c.office_id).join(_r, _r.c.id == _o.c.region_id))
        .where(*where)).all()
    ids = sa.select(_v.c.id).join(_o, _o.c.id == _v.c.office_id).where(*where)
    sections: dict[int, dict] = defaultdict(dict)
    for visit_id, section_id, score in db.session.execute(
            sa.select(_s.c.visit_id, _s.c.section_id, _s.c.score).where(_s.c.visit_id.in_(ids))):
        sections[visit_id][section_id] = score
    findings: dict[int, list] = defaultdict(list)
    for visit_id, question_id in db.session.execute(
            sa.select(_f.c.visit_id, _f.c.question_id).where(_f.c.visit_id.in_(ids))):
        findings[visit_id].append(question_id)
    labels = _labels({v.form_version_id for v in visits})
    present = {sid for s in sections.values() for sid in s}
    section_ids = [sid for sid in labels.sections if sid in present]
    section_ids += sorted(present - set(section_ids))
    zone = ZoneInfo(tz)
    rows = []
    for visit_id, _, code, name, kind, region, started_at, score in visits:
        rows.append([code, localise(name, "en", code), kind, region,
                     started_at.astimezone(zone).date().isoformat(), score,
                     *[sections[visit_id].get(sid) for sid in section_ids],
                     ";".join(sorted(findings.get(visit_id, [])))])
    _sort_rows(rows)
    return section_ids, rows


def _sort_rows(rows: list[list]) -> None:
    # Sorted by what is exported, never by id or time: the order must not hint at who or when.
    rows.sort(key=lambda r: (r[0], r[4], -(r[5] if r[5] is not None else -1), repr(r[6:])))


def opendata_snapshot(period: Period, items: list[dict]) -> dict:
    """The open data a snapshot freezes: {"columns": [...], "rows": [[...], ...]}, one row per
    approved visit of the listed offices at publication (docs/reports.md "Open data")."""
    section_ids, rows = _opendata_rows(period, sorted({i["office"]["code"] for i in items}))
    return {"columns": [*OPENDATA_FIXED, *[f"section_{sid}" for sid in section_ids],
                        "critical_findings"], "rows": rows}


def opendata_visits(*, period: Period) -> tuple[list[str], list[list]]:
    """(section ids, rows) of the period's open data, read from its published snapshots (each
    checked against its hash), never from the live visits: approving or reopening a visit after
    publication changes nothing here. An office in several snapshots of the period gets the
    rows of the newest one. 404 when nothing of the period is published with open data."""
    reports = db.session.scalars(
        sa.select(PublishedReport).where(PublishedReport.period == period.key)
        .order_by(PublishedReport.published_at.desc(), PublishedReport.id.desc())).all()
    frozen = []
    for report in reports:
        data = json.loads(verified_snapshot(report))
        if data.get("period") == period.label and "open_data" in data:
            frozen.append(data)
    if not frozen:
        raise NotFound(f"Nothing of {period.label} is published with open data.",
                       code="not_published")
    fixed, section_ids, taken, merged = len(OPENDATA_FIXED), [], set(), []
    for data in frozen:  # newest first
        columns = data["open_data"]["columns"]
        own = [c.removeprefix("section_") for c in columns[fixed:-1]]
        section_ids += [sid for sid in own if sid not in section_ids]
        codes = {item["office"]["code"] for item in data["items"]} - taken
        for row in data["open_data"]["rows"]:
            if row[0] in codes:
                merged.append((dict(zip(own, row[fixed:-1])), row))
        taken |= codes
    rows = [[*row[:fixed], *[scores.get(sid) for sid in section_ids], row[-1]]
            for scores, row in merged]
    _sort_rows(rows)
    return section_ids, rows
