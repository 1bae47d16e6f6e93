"""Published snapshots: a ranking frozen with its trend and open data, hashed (SHA-256 of its
canonical JSON) and audited; served only while it still matches its hash. The open data of a
period is read from its snapshots."""
from __future__ import annotations

import hashlib
import json
import logging
import secrets

import sqlalchemy as sa
from flask import current_app

from ..audit.service import append_event, canonical_json
from ..auth.models import User
from ..db import utcnow
from ..errors import AppError, Forbidden, NotFound
from ..extensions import db
from ..periods import Period, parse_period
from .collect import office_clauses, offices_of
from .models import PublishedReport
from .office import TREND_PERIODS, trend_of, trends
from .opendata import OPENDATA_FIXED, opendata_snapshot, sort_rows
from .ranking import ranking
from .service import Scope, periods_before, settings

log = logging.getLogger(__name__)


class SnapshotCorrupt(AppError):
    status, code, title = 500, "snapshot_corrupt", "Published report is corrupt"


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
    clauses = office_clauses(kind=kind, scope=scope, office_id=None)
    labels, by_office = trends(period, cfg, clauses)
    codes = {o.code: o.id for o in offices_of(clauses)}
    periods = periods_before(period, cfg.tz, TREND_PERIODS)
    offices = {}
    for item in items:
        oid = codes.get(item["office"]["code"])
        offices[item["office"]["code"]] = by_office.get(oid) or trend_of(periods, {}, oid, cfg)
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
    sort_rows(rows)
    return section_ids, rows
