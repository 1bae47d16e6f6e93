"""Console map page (/console/map): the offices of the caller's scope as markers coloured by
band, with their figures in a popup and in a table, for a period (period, or from and to).
Supervisors see the offices of their regions, admins all. Pages call services; no rules here."""
from __future__ import annotations

from flask import current_app, render_template, request, url_for

from ..db import utcnow
from ..errors import ValidationFailed
from ..offices.models import OFFICE_KINDS
from ..periods import half_year_of, parse_period
from ..reports import map as report_map
from ..reports import service as report_service
from ..reports.ranking import ranking
from .console_access import staff, t
from ..i18n import page_language
from .views import allow_map_tiles


def _period():
    """?period=, or ?from=&to= (both days included), else the current half-year."""
    tz = current_app.config["TIMEZONE"]
    label = (request.args.get("period") or "").strip()[:32]
    first, last = ((request.args.get(name) or "").strip()[:10] for name in ("from", "to"))
    field = "period"
    if not label and (first or last):
        field = "from" if not first else ("to" if not last else "period")
        label = f"{first}..{last}"
    if not label:
        return half_year_of(utcnow(), tz)
    try:
        if label.startswith("..") or label.endswith(".."):
            raise ValueError(label)
        return parse_period(label, tz)
    except ValueError as exc:
        message = t("c_err_period", value=repr(label))
        raise ValidationFailed(message, errors={field: [message]}) from exc


def _kind() -> str | None:
    kind = request.args.get("kind") or None
    if kind is not None and kind not in OFFICE_KINDS:
        raise ValidationFailed(t("c_err_kind"), errors={"kind": [t("c_err_kind")]})
    return kind


def office_map():
    """The offices of the period on a map, coloured by band; the same figures in a table."""
    user = staff()
    period, kind = _period(), _kind()
    region = (request.args.get("region") or "").strip()[:32] or None
    lang = page_language()
    scope = report_service.resolve_scope(user=user, region=region)
    report = ranking(period=period, kind=kind, scope=scope, lang=lang)
    data = report_map.office_markers(report["items"], lambda code: url_for(
        "report_pages.office_page", code=code, period=report["period"], lang=lang))
    data.update(tiles=report_map.tiles(), bands=report["bands"], lang=lang,
                outlines=url_for("web.static", filename="map/regions.geojson"),
                strings=report_map.popup_strings(t, t("c_office_report")))
    allow_map_tiles()
    return render_template("console/map.html", report=report, period=period, kind=kind,
                           region=region, kinds=OFFICE_KINDS, map=data,
                           dates=(request.args.get("from", "")[:10],
                                  request.args.get("to", "")[:10]))
