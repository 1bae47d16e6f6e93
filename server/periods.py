"""Reporting periods: half-years by default (2026H2), also years, quarters and months.

Boundaries are midnights in ADAL_TIMEZONE (default Asia/Almaty), the offices' local time, so a
visit at 02:00 on 1 July local time belongs to H2 although it is still 30 June in UTC.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

_PATTERN = re.compile(r"^(\d{4})(?:H([12])|Q([1-4])|-(0[1-9]|1[0-2]))?\Z")


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime  # inclusive, aware UTC
    end: datetime    # exclusive, aware UTC

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def previous(self, tz: str) -> Period:
        """The period of the same length just before this one (2026H2 -> 2026H1)."""
        match = _PATTERN.match(self.label)
        if match is None:  # a custom date range: the same span just before it
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


def parse_period(label: str, tz: str) -> Period:
    """'2026H2', '2026Q3', '2026-07' or '2026' as a Period; ValueError for anything else."""
    match = _PATTERN.match(label or "")
    if not match or not 2000 <= int(match.group(1)) <= 2999:
        raise ValueError(f"{label!r} is not a period; use e.g. 2026H2, 2026Q3, 2026-07 or 2026")
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
