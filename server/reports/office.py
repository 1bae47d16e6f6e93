"""One office's page (office_report) and the trend of offices over the last periods."""
from __future__ import annotations

from typing import NamedTuple

from ..offices.models import Office
from ..periods import Period
from . import rollup, stats, summaries
from .collect import collect, collect_office, means_of, office_clauses, offices_of
from .ranking import item_of, round_or_none, section_list
from .service import Scope, Settings, dates_in, periods_before, previous_period, settings

TREND_PERIODS = 4


def _trend_entry(label: str, interval: stats.MeanInterval, cfg: Settings) -> dict:
    score = round_or_none(interval.mean, 2)
    return {"period": label, "visits": interval.n, "score": score,
            "ci_low": None if interval.low is None else round(max(0.0, interval.low), 2),
            "ci_high": None if interval.high is None else round(min(100.0, interval.high), 2),
            "band": stats.band(score, green_min=cfg.green_min, yellow_min=cfg.yellow_min)}


def trend_of(periods: list[Period], means: dict, office_id: int, cfg: Settings) -> list[dict]:
    """An office's trend entries over `periods` from {label: {office id: mean interval}}."""
    empty = stats.mean_interval(0, 0, 0)
    return [_trend_entry(each.label, means.get(each.label, {}).get(office_id) or empty, cfg)
            for each in periods]


def trends(period: Period, cfg: Settings, clauses: list) -> tuple[list[str], dict[int, list]]:
    """(period labels oldest first, {office id: its trend}) over the last TREND_PERIODS periods
    ending with `period`, for the offices with approved visits in any of them: one grouped
    query per period."""
    periods = periods_before(period, cfg.tz, TREND_PERIODS)
    if all(summaries.covers(each) for each in periods):  # one query over the summaries
        means = rollup.means_by_period([each.label for each in periods], clauses)
    else:
        means = {each.label: means_of(each, clauses) for each in periods}
    offices = {oid for by_office in means.values() for oid in by_office}
    return ([each.label for each in periods],
            {oid: trend_of(periods, means, oid, cfg) for oid in offices})


def office_report(*, office: Office, period: Period, lang: str | None = None) -> dict:
    """One office in a period: scores, sections, findings, change, a trend over the last
    periods and the share of its recommendations carried out."""
    cfg = settings()
    periods = periods_before(period, cfg.tz, TREND_PERIODS)
    previous = previous_period(period, cfg.tz)
    if all(summaries.covers(each) for each in (*periods, previous)):
        # A half-year: one read (summaries and follow-up in one UNION ALL), not one per figure.
        data, means = collect_office(office, period, previous, [each.label for each in periods])
        row = OfficeRow(office.id, office.code, office.name, office.kind, office.active,
                        office.region.code)
        trend = trend_of(periods, means, office.id, cfg)
    else:
        clauses = office_clauses(kind=None, scope=Scope(), office_id=office.id)
        data = collect(period, cfg.tz, clauses)
        row = offices_of(clauses)[0]  # listed even when inactive
        _, by_office = trends(period, cfg, clauses)
        trend = by_office.get(office.id) or trend_of(periods, {}, office.id, cfg)
    item = item_of(row, data, cfg, lang)
    del item["rank"], item["status"]
    start, end = dates_in(period, cfg.tz)
    return {**item, "period": period.label, "from": start, "to": end,
            "office": {**item["office"], "active": office.active},
            "bands": {"green_min": cfg.green_min, "yellow_min": cfg.yellow_min},
            "sections": section_list(data, lang), "trend": trend}


class OfficeRow(NamedTuple):
    """An office as item_of() reads it (the shape of collect.offices_of() rows)."""

    id: int
    code: str
    name: dict
    kind: str
    active: bool
    region: str  # its code
