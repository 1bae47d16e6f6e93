"""The console's audit log page (/console/admin/audit, admins only): the events newest first,
50 a page, filtered by action, actor, object and a date range, each event's payload written as
"key: value" lines; the result of verify_chain above. A bad filter value is shown on the page
(422) with the filters kept, never a 500. Read only: nothing here changes anything.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask import render_template, request, url_for

from ..audit.models import AuditEvent
from ..audit.service import verify_chain
from ..db import paginate
from ..errors import AppError, ValidationFailed
from ..extensions import db
from ..i18n.formatting import format_number
from ..i18n import page_language
from .console_access import t

PER_PAGE = 50
MAX_PAGE = 100_000
FILTERS = ("action", "actor", "object_type", "object_id", "from", "to")
# A payload value longer than this is cut (the whole event is in the database and the API).
MAX_VALUE = 300


def _text(value) -> str:
    if isinstance(value, bool):
        return t("c_yes") if value else t("c_no")
    if isinstance(value, (int, float)):
        return format_number(value, page_language())
    if value is None:
        return "—"
    text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"


def payload_lines(payload, prefix: str = "") -> list[tuple[str, str]]:
    """A payload as (key, value) lines: nested objects as "outer.inner", lists of plain values
    joined by commas, lists of objects numbered ("items.1.question")."""
    lines: list[tuple[str, str]] = []
    if isinstance(payload, dict):
        for key, value in payload.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value:
                lines += payload_lines(value, name + ".")
            elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
                for number, item in enumerate(value, 1):
                    lines += payload_lines(item, f"{name}.{number}.") if isinstance(
                        item, (dict, list)) else [(f"{name}.{number}", _text(item))]
            elif isinstance(value, list):
                lines.append((name, _text(", ".join(str(v) for v in value)) if value else "—"))
            else:
                lines.append((name, _text(value)))
    elif isinstance(payload, list):
        for number, item in enumerate(payload, 1):
            lines += payload_lines(item, f"{prefix}{number}.")
    elif payload is not None:
        lines.append((prefix.rstrip(".") or "value", _text(payload)))
    return lines


def _date(field: str, raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        message = t("cf_err_audit_date", value=raw[:20])
        raise ValidationFailed(message, errors={field: [message]}) from exc


def audit_filters(args) -> dict:
    """The filters from the query string; a date that is not YYYY-MM-DD, a range that ends
    before it starts or a page that is not a number is a ValidationFailed naming the field."""
    raw = {key: (args.get(key) or "").strip()[:128] for key in FILTERS}
    start, end = _date("from", raw["from"]), _date("to", raw["to"])
    if start and end and end < start:
        message = t("cf_err_audit_range")
        raise ValidationFailed(message, errors={"to": [message]})
    page_raw = (args.get("page") or "1").strip()
    if not page_raw.isdigit() or not 1 <= int(page_raw) <= MAX_PAGE:
        message = t("cf_err_audit_page", max=MAX_PAGE)
        raise ValidationFailed(message, errors={"page": [message]})
    return {**raw, "start": start, "end": end, "page": int(page_raw)}


def audit_query(filters: dict) -> sa.Select:
    query = sa.select(AuditEvent).order_by(AuditEvent.seq.desc())
    if filters.get("action"):
        query = query.where(AuditEvent.action == filters["action"])
    if filters.get("actor"):
        query = query.where(AuditEvent.actor_login == filters["actor"].lower())
    if filters.get("object_type"):
        query = query.where(AuditEvent.object_type == filters["object_type"])
    if filters.get("object_id"):
        query = query.where(AuditEvent.object_id == filters["object_id"])
    if filters.get("start"):
        query = query.where(AuditEvent.at >= datetime.combine(filters["start"], time.min,
                                                              tzinfo=timezone.utc))
    if filters.get("end"):
        query = query.where(AuditEvent.at < datetime.combine(
            filters["end"] + timedelta(days=1), time.min, tzinfo=timezone.utc))
    return query


def _choices() -> dict:
    """The values the action, actor and object filters offer: those in the log."""
    def distinct(column):
        return [v for v in db.session.scalars(sa.select(column).distinct().where(
            column.is_not(None)).order_by(column)) if v]
    return {"action": distinct(AuditEvent.action), "actor": distinct(AuditEvent.actor_login),
            "object_type": distinct(AuditEvent.object_type)}


def _page_url(filters: dict, number: int) -> str:
    args = {k: filters[k] for k in FILTERS if filters.get(k)}
    return url_for("console.audit_page", lang=request.args.get("lang"), page=number, **args)


def audit_page():
    """The audit log with its filters and paging (admins only)."""
    from .console_admin import _admin

    _admin()
    error: AppError | None = None
    try:
        filters = audit_filters(request.args)
    except ValidationFailed as exc:
        error = exc
        filters = {**{key: (request.args.get(key) or "").strip()[:128] for key in FILTERS},
                   "start": None, "end": None, "page": 1}
    listing = None
    if error is None:
        listing = paginate(audit_query(filters), page=filters["page"], per_page=PER_PAGE)
    return render_template("console/audit.html", chain=verify_chain(), listing=listing,
                           filters=filters, choices=_choices(), error=error,
                           payload_lines=payload_lines,
                           page_url=lambda n: _page_url(filters, n)), (
        error.status if error else 200)
