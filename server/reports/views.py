"""Report pages: the ranking and an office's report (supervisors, admins) and published snapshots
(anyone). Printable; charts are inline SVG drawn here, since the CSP allows no inline script."""
from __future__ import annotations

import json
from itertools import groupby

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ..auth.access import current_user
from ..auth.models import Role
from ..config import LANGUAGES
from ..db import get_or_404, utcnow
from ..extensions import db
from ..errors import Forbidden, NotFound, ValidationFailed
from ..offices.models import OFFICE_KINDS, Office, Region
from ..periods import LABEL_MAX, half_year_of, parse_period
from ..i18n import page_language, translate
from ..i18n.formatting import format_number
from ..web.views import allow_map_tiles
from ..recommendations import service as rec_service
from . import answers, charts, published, service
from .labels import localise
from .office import office_report
from .ranking import ranking
from . import map as report_map
from .export import kind_name

bp = Blueprint("report_pages", __name__)

STAFF = (Role.SUPERVISOR, Role.ADMIN)
LEFT, WIDTH, ROW, TOP = 190, 480, 22, 26  # the interval chart's geometry, in SVG units


@bp.context_processor
def _helpers() -> dict:
    lang = page_language()
    return {"fmt": _fmt, "pct": _pct, "kind_name": lambda kind: kind_name(kind, lang),
            "lang_links": _lang_links}


def _fmt(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _lang_links() -> list[tuple[str, str]]:
    """This page in each language, keeping its other parameters (period, kind, ...)."""
    args = {**request.args.to_dict(), **(request.view_args or {})}
    return [(code, url_for(request.endpoint, **{**args, "lang": code})) for code in LANGUAGES]


def _staff():
    """The signed-in supervisor or admin; None sends the browser to sign in first."""
    user = current_user()
    if user is None:
        return None
    if user.role not in STAFF:
        raise Forbidden("Reports are for supervisors and admins.")
    return user


def _by_code(model, code: str, what: str):
    """The office or region named in the path; 404 for a code no row could have."""
    if len(code) > 32 or "\x00" in code:
        raise NotFound(f"No {what} with code={code[:40]!r}.")
    return get_or_404(model, code=code)


def _to_login():
    return redirect(url_for("web.login", next=request.full_path.rstrip("?"),
                            lang=request.args.get("lang")))


def _period():
    """?period= (or ?from=&to=, both days included), else the current half-year; a 422 page for
    anything that is not a period."""
    tz = current_app.config["TIMEZONE"]
    label = request.args.get("period", "").strip()
    first, last = (request.args.get(name, "").strip()[:10] for name in ("from", "to"))
    if not label and (first or last):
        for name, value in (("from", first), ("to", last)):
            if not value:
                message = f"Give {name!r} too: a date range needs from and to."
                raise ValidationFailed(message, errors={"query": {name: [message]}})
        label = f"{first}..{last}"  # checked below like any date range
    if not label:
        return half_year_of(utcnow(), tz)
    try:
        return parse_period(label[:LABEL_MAX + 10], tz)
    except ValueError as exc:
        field = getattr(exc, "field", "period") if not request.args.get("period") else "period"
        raise ValidationFailed(str(exc), errors={"query": {field: [str(exc)]}}) from exc


def _kind() -> str | None:
    kind = request.args.get("kind") or None
    if kind is not None and kind not in OFFICE_KINDS:
        raise ValidationFailed(f"Unknown kind {kind[:40]!r}.",
                               errors={"query": {"kind": ["Unknown kind."]}})
    return kind


def interval_chart(items: list[dict], bands: dict) -> dict:
    """Geometry of the dot-and-interval chart: a row per office with a score, 0-100 across."""
    def x(score: float) -> float:
        return round(LEFT + WIDTH * max(0.0, min(100.0, score)) / 100, 1)

    rows = []
    for item in (i for i in items if i["score"] is not None):
        y = TOP + len(rows) * ROW + ROW / 2
        low = item["ci_low"] if item["ci_low"] is not None else item["score"]
        high = item["ci_high"] if item["ci_high"] is not None else item["score"]
        rows.append({"y": y, "x": x(item["score"]), "x1": x(low), "x2": x(high),
                     "band": item["band"], "ranked": item.get("rank") is not None,
                     "label": f"{item['rank'] or '–'} {_short(item['office']['name'])}",
                     "title": f"{item['office']['name']}: {_fmt(item['score'])} "
                              f"[{_fmt(item['ci_low'])}–{_fmt(item['ci_high'])}]"})
    bottom = TOP + len(rows) * ROW
    zones = [("red", x(0), x(bands["yellow_min"])),
             ("yellow", x(bands["yellow_min"]), x(bands["green_min"])),
             ("green", x(bands["green_min"]), x(100))]
    return {"width": LEFT + WIDTH + 20, "height": bottom + 22, "top": TOP, "bottom": bottom,
            "label_x": LEFT - 8,
            "rows": rows, "ticks": [(x(v), v) for v in (0, 25, 50, 75, 100)],
            "zones": [(band, x1, round(x2 - x1, 1)) for band, x1, x2 in zones]}


def _short(name: str, length: int = 26) -> str:
    return name if len(name) <= length else name[:length - 1] + "…"


def trend_chart(trend: list[dict]) -> dict:
    """Geometry of the trend chart: a column per period, 0-100 upwards."""
    height, top, step, left = 160, 10, 90, 40

    def y(score: float) -> float:
        return round(top + height * (1 - max(0.0, min(100.0, score)) / 100), 1)

    points = []
    for i, entry in enumerate(trend):
        cx = left + step * i + step / 2
        point = {"x": cx, "period": entry["period"], "score": entry["score"],
                 "band": entry["band"], "visits": entry["visits"]}
        if entry["score"] is not None:
            point.update(y=y(entry["score"]),
                         y1=y(entry["ci_high"] if entry["ci_high"] is not None
                              else entry["score"]),
                         y2=y(entry["ci_low"] if entry["ci_low"] is not None
                              else entry["score"]))
        points.append(point)
    line = " ".join(f"{p['x']},{p['y']}" for p in points if "y" in p)
    return {"width": left + step * len(trend) + 10, "height": top + height + 30,
            "axis_y": top + height, "left": left, "points": points, "line": line,
            "ticks": [(y(v), v) for v in (0, 50, 100)]}


def _by_kind(report: dict) -> list[tuple[str, list[dict], dict]]:
    return [(kind, items, interval_chart(items, report["bands"]))
            for kind, items in ((k, list(g)) for k, g in
                                groupby(report["items"], key=lambda i: i["kind"]))]


@bp.get("/reports/ranking")
def ranking_page():
    """The ranking of a period as a printable page: table, bands and the interval chart."""
    user = _staff()
    if user is None:
        return _to_login()
    scope = service.resolve_scope(user=user, region=request.args.get("region") or None)
    lang = page_language()
    report = ranking(period=_period(), kind=_kind(), scope=scope, lang=lang)
    office_map = _map(report, lambda code: url_for("report_pages.office_page", code=code,
                                                    period=report["period"], lang=lang),
                      "c_office_report")
    return render_template("reports/ranking.html", report=report, groups=_by_kind(report),
                           kinds=OFFICE_KINDS, office_map=office_map)


def _map(report: dict, link, link_key: str) -> dict:
    """The office map's data for a ranking (aggregates only, docs/reports.md "Map"); this
    response's CSP then lets the map tiles in."""
    lang = page_language()
    data = report_map.office_markers(report["items"], link)
    data.update(tiles=report_map.tiles(), bands=report["bands"], lang=lang,
                outlines=url_for("web.static", filename="map/regions.geojson"),
                strings=report_map.popup_strings(lambda key: translate(key, lang),
                                                 translate(link_key, lang)))
    allow_map_tiles()
    return data


@bp.get("/reports/offices/<code>")
def office_page(code):
    """One office's report for a period: sections, trend, critical findings, recommendations."""
    user = _staff()
    if user is None:
        return _to_login()
    office = _by_code(Office, code, "office")
    service.check_office_scope(user=user, office=office)
    period = _period()
    report = office_report(office=office, period=period, lang=page_language())
    recommendations = rec_service.office_report_list(office=office, made_before=period.end)
    region_offices = db.session.scalars(sa.select(Office.id).where(
        Office.region_id == office.region_id)).all()
    groups = [({office.id: "office"}, ("office", office.code)),
              (dict.fromkeys(region_offices, "region"), ("region", office.region.code))]
    return render_template("reports/office.html", report=report,
                           trend=trend_chart(report["trend"]), recommendations=recommendations,
                           answer_charts=_answer_charts(period, groups),
                           region_code=office.region.code)


def _answer_charts(period, groups: list[tuple[dict, tuple[str, str]]]) -> list[dict]:
    """The per-question charts for offices grouped as given: [(office id -> group key,
    (group key, label))], one tally per grouping, in the page's language."""
    lang = page_language()
    tallies, definition = {}, None
    for members, _ in groups:
        found, counted = answers.tally(period=period, groups=members)
        definition = definition or found
        tallies.update(counted)
    if definition is None:
        return []
    names = {"na": translate("chart_na", lang)}
    return charts.question_charts(answers.questions(definition, lang), tallies,
                                  [label for _, label in groups], names,
                                  lambda v: format_number(v, lang))


@bp.get("/reports/regions/<code>")
def region_page(code):
    """A region's answers per question, one bar per office, for a period."""
    user = _staff()
    if user is None:
        return _to_login()
    region = _by_code(Region, code, "region")
    service.resolve_scope(user=user, region=region.code)  # 403 outside a supervisor's regions
    period = _period()
    lang = page_language()
    offices = db.session.scalars(sa.select(Office).where(Office.region_id == region.id)
                                 .order_by(Office.code)).all()
    groups = [({o.id: o.code}, (o.code, f"{o.code} {localise(o.name, lang, o.code)}"))
              for o in offices]
    start, end = service.local_dates(period)
    return render_template("reports/region.html", region=region,
                           region_name=localise(region.name, lang, region.code),
                           period=period, start=start, end=end,
                           answer_charts=_answer_charts(period, groups), offices=offices)


def _localised(data: dict, lang: str) -> dict:
    """A snapshot (texts in every language) with each text in `lang`."""
    data = json.loads(json.dumps(data))
    for section in data["sections"]:
        section["title"] = localise(section["title"], lang, section["id"])
    for item in data["items"]:
        item["office"]["name"] = localise(item["office"]["name"], lang,
                                                  item["office"]["code"])
        for finding in item["critical"]:
            finding["label"] = localise(finding["label"], lang, finding["question"])
    return data


@bp.get("/public/reports/<slug>")
def public_report(slug):
    """A published report as a page, from its frozen snapshot, checked against its hash."""
    report = published.get_published(slug)
    data = _localised(json.loads(published.verified_snapshot(report)), page_language())
    trend = data.get("trend") or {"periods": [], "offices": {}}  # older snapshots: none
    # Markers from the snapshot's figures; only where the offices are comes from the office
    # table (a public fact about public offices, not part of the frozen report).
    office_map = _map(data, lambda code: f"#office-{code}", "map_in_table")
    return render_template("reports/public.html", report=data, groups=_by_kind(data),
                           sha256=report.sha256, slug=report.slug, trend=trend,
                           office_map=office_map)
