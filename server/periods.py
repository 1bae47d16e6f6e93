"""Reporting periods: half-years by default (2026H2), also years, quarters, months and any date
range (2026-07-01..2026-09-15, both days included).

Boundaries are midnights in ADAL_TIMEZONE (default Asia/Almaty), the offices' local time, so a
visit at 02:00 on 1 July local time belongs to H2 although it is still 30 June in UTC.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

_PATTERN = re.compile(r"^(\d{4})(?:H([12])|Q([1-4])|-(0[1-9]|1[0-2]))?\Z")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})\Z")
FIRST_YEAR, LAST_YEAR = 2000, 2999
MAX_RANGE_DAYS = 3660  # ten years: longer spans are no reporting period
LABEL_MAX = 22  # "2026-07-01..2026-12-31"


class RangeError(ValueError):
    """A date range that is not a period; `field` names the culprit ("from" or "to")."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime  # inclusive, aware UTC
    end: datetime    # exclusive, aware UTC

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def key(self) -> str:
        """At most 16 characters, what published_reports.period stores: the label, or for a
        date range its first day and length (2026-07-01..2026-12-31 -> 20260701+184)."""
        match = _RANGE.match(self.label)
        if match is None:
            return self.label
        first, last = (date.fromisoformat(d) for d in match.groups())
        return f"{first:%Y%m%d}+{(last - first).days + 1}"

    def previous(self, tz: str) -> Period:
        """The period of the same length just before this one (2026H2 -> 2026H1)."""
        days = _RANGE.match(self.label)
        if days is not None:  # a date range: the same number of days just before it
            first, last = (date.fromisoformat(d) for d in days.groups())
            return date_range(first - (last - first) - timedelta(days=1),
                              first - timedelta(days=1), tz)
        match = _PATTERN.match(self.label)
        if match is None:  # a Period made by hand: the same span just before it
            return Period(f"before {self.label}", self.start - (self.end - self.start),
                          self.start)
        year, half, quarter, month = match.groups()
        year = int(year)
        if half:
            return parse_period(f"{year}H1" if half == "2" else f"{year - 1}H2", tz)
        if quarter:
            q = int(quarter)
            return parse_period(f"{year}Q{q - 1}" if q > 1 else f"{year - 1}Q4", tz)
        if month:
            m = int(month)
            return parse_period(f"{year}-{m - 1:02d}" if m > 1 else f"{year - 1}-12", tz)
        return parse_period(str(year - 1), tz)


def date_range(first: date, last: date, tz: str) -> Period:
    """The days `first` to `last`, both included, in the offices' time zone, labelled
    '2026-07-01..2026-12-31'. RangeError (a ValueError naming "from" or "to") unless both years
    are within 2000-2999, first <= last and the range spans at most MAX_RANGE_DAYS days."""
    for name, day in (("from", first), ("to", last)):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise RangeError(f"{day.isoformat()} is outside the years {FIRST_YEAR}-{LAST_YEAR}.",
                             name)
    if last < first:
        raise RangeError(f"'to' ({last.isoformat()}) is before 'from' ({first.isoformat()}); "
                         "'to' is the last day included.", "to")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise RangeError(f"The range spans {(last - first).days + 1} days; at most "
                         f"{MAX_RANGE_DAYS} are allowed.", "to")
    zone = ZoneInfo(tz)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    after = last + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, tzinfo=zone)
    return Period(f"{first.isoformat()}..{last.isoformat()}", start.astimezone(timezone.utc),
                  end.astimezone(timezone.utc))


def parse_period(label: str, tz: str) -> Period:
    """'2026H2', '2026Q3', '2026-07', '2026' or '2026-07-01..2026-09-15' (both days included)
    as a Period; ValueError for anything else."""
    days = _RANGE.match(label or "")
    if days is not None:
        try:
            first, last = (date.fromisoformat(d) for d in days.groups())
        except ValueError as exc:
            raise ValueError(f"{label!r} is not a date range: {exc}") from exc
        return date_range(first, last, tz)
    match = _PATTERN.match(label or "")
    if not match or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise ValueError(f"{label!r} is not a period; use e.g. 2026H2, 2026Q3, 2026-07, 2026 "
                         "or a date range 2026-07-01..2026-09-15")
    year, half, quarter, month = match.groups()
    year = int(year)
    if half:
        first, months = (1 if half == "1" else 7), 6
    elif quarter:
        first, months = 3 * (int(quarter) - 1) + 1, 3
    elif month:
        first, months = int(month), 1
    else:
        first, months = 1, 12
    end_month = first + months
    zone = ZoneInfo(tz)
    start = datetime(year, first, 1, tzinfo=zone)
    end = (datetime(year + 1, end_month - 12, 1, tzinfo=zone) if end_month > 12
           else datetime(year, end_month, 1, tzinfo=zone))
    return Period(label, start.astimezone(timezone.utc), end.astimezone(timezone.utc))


def half_year_of(moment: datetime, tz: str) -> Period:
    """The half-year that contains `moment` in the offices' local time."""
    local = moment.astimezone(ZoneInfo(tz))
    return parse_period(f"{local.year}H{1 if local.month <= 6 else 2}", tz)


def period_from_range(data: dict, tz: str) -> dict:
    """Loaded query arguments with `from_`/`to` replaced by one `period` (a date range in `tz`);
    unchanged when no range was given. The schemas' post_load of every period filter."""
    first, last = data.pop("from_", None), data.pop("to", None)
    if first is not None:
        data["period"] = date_range(first, last, tz)
    return data
