"""Open data: the anonymous rows of a period's approved visits that a published snapshot freezes
(docs/reports.md "Open data"). They are served from the snapshots (published.opendata_visits),
never from the live visits."""
from __future__ import annotations

from collections import defaultdict
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..offices.models import Office, Region
from ..periods import Period
from ..visits.models import Visit, VisitFinding, VisitSectionScore
from .collect import approved_in
from .labels import labels_of, localise

_v = Visit.__table__
_o = Office.__table__
_r = Region.__table__
_s = VisitSectionScore.__table__
_f = VisitFinding.__table__


OPENDATA_FIXED = ("office_code", "office_name", "kind", "region", "date", "score")


def _opendata_rows(period: Period, codes: list[str]) -> tuple[list[str], list[list]]:
    """(section ids, rows) of the approved visits now in the period at these offices: what a
    snapshot freezes at publication. Anonymous: no inspector, no visit id, no time of day."""
    if not codes:
        return [], []
    tz = current_app.config["TIMEZONE"]
    where = [*approved_in(period, []), _o.c.code.in_(codes)]
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
    labels = labels_of({v.form_version_id for v in visits})
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
    sort_rows(rows)
    return section_ids, rows


def sort_rows(rows: list[list]) -> None:
    """Sort open data rows in place by what they show (never by id or time)."""
    # Sorted by what is exported, never by id or time: the order must not hint at who or when.
    rows.sort(key=lambda r: (r[0], r[4], -(r[5] if r[5] is not None else -1), repr(r[6:])))


def opendata_snapshot(period: Period, items: list[dict]) -> dict:
    """The open data a snapshot freezes: {"columns": [...], "rows": [[...], ...]}, one row per
    approved visit of the listed offices at publication (docs/reports.md "Open data")."""
    section_ids, rows = _opendata_rows(period, sorted({i["office"]["code"] for i in items}))
    return {"columns": [*OPENDATA_FIXED, *[f"section_{sid}" for sid in section_ids],
                        "critical_findings"], "rows": rows}
