"""What every report shares: its scope (which offices), its settings and its periods.

The reports themselves live next to this: collect.py reads the figures (from the summaries or the
visits), ranking.py ranks a period, office.py makes one office's page, published.py freezes
snapshots and serves open data from them (rows from opendata.py), labels.py names sections and
questions. How each figure is computed: docs/reports.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from ..auth.models import User
from ..auth.scope import office_in_scope, region_ids as scope_region_ids
from ..errors import Forbidden, ValidationFailed
from ..extensions import db
from ..offices.models import Office, Region
from ..periods import Period


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


def local_dates(period: Period) -> tuple[str, str]:
    """The first and last day of a period in the programme's time zone, ISO dates."""
    return dates_in(period, settings().tz)


def dates_in(period: Period, tz: str) -> tuple[str, str]:
    """The first and last day of a period in time zone `tz`, ISO dates."""
    zone = ZoneInfo(tz)
    return (period.start.astimezone(zone).date().isoformat(),
            (period.end.astimezone(zone) - timedelta(days=1)).date().isoformat())
