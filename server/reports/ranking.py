"""The ranking of a period: each office's figures (score, interval, band, sections, critical
findings, change, follow-up) made from what collect.py read, each kind ranked on its own."""
from __future__ import annotations

import gc
import threading
from collections import defaultdict
from contextlib import contextmanager

from ..offices.models import OFFICE_KINDS
from ..periods import Period
from . import stats
from .collect import Data, Totals, collect, office_clauses
from .labels import Labels, localise
from .service import Scope, Settings, dates_in, settings

NOT_ENOUGH_VISITS = "not_enough_visits"
RANKED = "ranked"


def round_or_none(value: float | None, digits: int) -> float | None:
    """`value` rounded to `digits`, None stays None."""
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


def _critical_asked(totals: Totals, labels: Labels, found: dict) -> dict[str, int]:
    """Critical question id -> approved visits whose form version has it (the denominator of
    its rate); questions found but missing from every definition count all visits."""
    asked: dict[str, int] = {}
    for version_id, visits in totals.versions.items():
        for question in labels.critical.get(version_id, ()):
            asked[question] = asked.get(question, 0) + visits
    for question in found:
        asked.setdefault(question, totals.visits)
    return asked


def _section_scores(data: Data, office_id: int) -> dict:
    sections = data.sections.get(office_id, {})
    if data.sections_rounded:  # rounded once where they were read (rollup)
        return dict(sections)
    return {k: round(v, 2) for k, v in sections.items()}


def _question_label(data: Data, question: str, lang: str | None):
    """A question's label in `lang`, localised once per report (every office repeats it)."""
    key = (question, lang)
    label = data.localised.get(key)
    if label is None:
        label = data.localised[key] = localise(data.labels.questions.get(question), lang,
                                               question)
    return dict(label) if isinstance(label, dict) else label


_NO_VISITS = Totals()  # an office without approved visits in the period; never changed


def item_of(office, data: Data, cfg: Settings, lang: str | None) -> dict:
    """One office's figures, without its rank."""
    # Run once per office (5,000 times at national scale): plain ifs, no helper per figure.
    totals = data.totals.get(office.id) or _NO_VISITS
    interval = stats.mean_interval(totals.scored, totals.total, totals.squares)
    score = None if interval.mean is None else round(interval.mean, 2)
    # A mean score lies in [0, 100]; the t interval of a few visits can reach past either end.
    low = None if interval.low is None else round(max(0.0, interval.low), 2)
    high = None if interval.high is None else round(min(100.0, interval.high), 2)
    previous = data.previous.get(office.id)
    previous_score = (None if previous is None or previous.mean is None
                      else round(previous.mean, 2))
    critical = []
    found = data.findings.get(office.id) or {}
    localised = data.localised
    # The denominators depend on the versions and their visits only: offices that share them
    # (most, at 60 visits on one form) share the sorted list, made once per report.
    key = ("asked", *totals.versions.items())
    cached = localised.get(key)
    if cached is None:
        pairs = sorted(_critical_asked(totals, data.labels, {}).items())
        cached = localised[key] = (pairs, {q for q, _ in pairs})
    asked_of = cached[0]
    if found and not cached[1].issuperset(found):  # found where no definition lists it
        asked_of = sorted(_critical_asked(totals, data.labels, found).items())
    for question, asked in asked_of:
        # Every critical question of the office's forms, seen or not: 0 of 10 is a finding too.
        count = found.get(question, 0)
        key = (question, count, asked, lang)
        entry = localised.get(key)  # most offices share (0 of 60): figured out once
        if entry is None:
            rate_low, rate_high = stats.wilson_interval(count, asked)
            entry = localised[key] = {
                "question": question, "label": _question_label(data, question, lang),
                "visits_with": count, "rate": round(count / asked, 4),
                "ci_low": round(rate_low, 4), "ci_high": round(rate_high, 4)}
        critical.append(entry)  # shared by the items: read-only (see ranking())
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


def ranking(*, period: Period, kind: str | None = None, scope: Scope = Scope(),
            lang: str | None = None, min_visits: int | None = None) -> dict:
    """The ranking of a period: every office of the kind(s) in scope, each kind ranked on its
    own; names and labels in `lang`, or in every language when lang is None (snapshots).
    Items with the same critical figures share their entry dicts in "critical" (5,000 offices
    would otherwise copy 30,000 of them): read the result, copy before changing it."""
    with _collector_paused():
        return _ranking(period=period, kind=kind, scope=scope, lang=lang, min_visits=min_visits)


_PAUSE_LOCK = threading.Lock()
_pauses = {"depth": 0, "was_on": False}  # rankings being built now; whether gc was on before


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off while a ranking is built: the ~100,000 dicts and
    tuples of 5,000 offices set off collections that walk every object the process holds, a
    third of the ranking's time in the bench (docs/benchmarks.md). Nothing made here is
    cyclic; reference counting frees it as before. Rankings built at once in several threads
    share one pause: the first turns the collector off, the last puts it back as the first
    found it (each restoring its own reading could leave it off for good)."""
    with _PAUSE_LOCK:
        if _pauses["depth"] == 0:
            _pauses["was_on"] = gc.isenabled()
            gc.disable()
        _pauses["depth"] += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _pauses["depth"] -= 1
            if _pauses["depth"] == 0 and _pauses["was_on"]:
                gc.enable()


def _ranking(*, period: Period, kind: str | None, scope: Scope, lang: str | None,
             min_visits: int | None) -> dict:
    cfg = settings(min_visits)
    data = collect(period, cfg.tz, office_clauses(kind=kind, scope=scope, office_id=None),
                    lang)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    eligible = {}
    for office in data.offices:
        by_kind[office.kind].append(item_of(office, data, cfg, lang))
        totals = data.totals.get(office.id) or _NO_VISITS
        eligible[office.code] = totals.scored >= cfg.min_visits
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
    start, end = dates_in(period, cfg.tz)
    return {
        "period": period.label, "from": start, "to": end, "kind": kind,
        "region": scope.region.code if scope.region is not None else None,
        "min_visits": cfg.min_visits,
        "bands": {"green_min": cfg.green_min, "yellow_min": cfg.yellow_min},
        "sections": section_list(data, lang),
        "items": items,
        "recommendations": _share(overall),
    }


def section_list(data: Data, lang: str | None) -> list[dict]:
    """The sections that have scores, in the form's order (unknown ids last, by id)."""
    present = {sid for sections in data.sections.values() for sid in sections}
    known = [sid for sid in data.labels.sections if sid in present]
    ordered = known + sorted(present - set(known))
    return [{"id": sid, "title": localise(data.labels.sections.get(sid), lang, sid)}
            for sid in ordered]
