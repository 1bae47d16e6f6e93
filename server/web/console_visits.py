"""The visits table of the console (/console/visits): every visit the supervisor may see (their
regions; admins all), with server-side filters, sort by any column, paging and counts.

The filters are the shared ones of server/visits/filters.py (docs/exports.md), so the table, the
visit list API and the answer exports (`/api/v1/exports/visits`) read a query string the same
way. They live in the URL: a view is shared by its address, and the CSV/XLSX/JSON buttons link
to the export with exactly the table's query string. A filter the shared schema or its look-ups
refuse is shown next to its field in the page's language (422; 403 for a region or office
outside the supervisor's regions) and no rows are shown.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, redirect, render_template, request, url_for

from ..db import utcnow
from ..errors import AppError, ValidationFailed
from ..extensions import db
from ..i18n import known, page_language
from ..periods import half_year_of
from ..visits import filters as visit_filters
from ..visits.models import Flag
from .console_access import _by_rules, staff, t

# The shared schema with paging (VisitTableArgs in newer versions of filters.py).
TableArgs = getattr(visit_filters, "VisitTableArgs", visit_filters.VisitFilterArgs)
FILTER_ARGS = ("period", "from", "to", "region", "office", "kind", "inspector", "status", "flag",
               "score_min", "score_max", "form_key", "form_version", "has_evidence")
SORT_ARGS = ("sort", "order")
PAGE_ARGS = ("page", "per_page")
TABLE_ARGS = FILTER_ARGS + SORT_ARGS + PAGE_ARGS
KEPT = ("lang",)  # not a filter; kept in the page's own links
EXPORT_PATH = "/api/v1/exports/visits"
EXPORT_FORMATS = ("csv", "xlsx", "json")
MAX_VALUE = 200  # longer than any valid value; what is shown back is cut there
# The table's columns: (sort key, header key, first order when chosen).
COLUMNS = (("started_at", "c_vt_started", "desc"), ("office", "col_office", "asc"),
           ("region", "col_region", "asc"), ("kind", "col_kind", "asc"),
           ("inspector", "c_inspector", "asc"), ("form", "c_form", "asc"),
           ("revision", "c_revision", "desc"), ("status", "col_status", "asc"),
           ("score", "c_score", "desc"), ("submitted_at", "c_submitted", "desc"))

# English messages of the shared filters -> catalog keys (the page's language).
MESSAGE_RULES: list[tuple[str, str]] = [
    (r".* is not a period; .*", "c_vt_err_period"),
    (r".* is not a date range: .*", "c_vt_err_period"),
    (r".* is outside the years \d+-\d+\.", "c_vt_err_years"),
    (r"'to' \(.*\) is before 'from' .*", "c_vt_err_to_before"),
    (r"The range spans \d+ days; .*", "c_vt_err_too_long_range"),
    (r"Give either period or from and to, not both\.", "c_vt_err_period_both"),
    (r"Give '(from|to)' too: .*", "c_vt_err_need_both"),
    (r"Not a valid date\.", "c_vt_err_date"),
    (r"Not a valid number\.", "c_vt_err_number"),
    (r"Special numeric values .*", "c_vt_err_number"),
    (r"Must be greater than or equal to 0 and less than or equal to 100\.",
     "c_vt_err_score_range"),
    (r"Must be greater than or equal to 1 and less than or equal to \d+\.",
     "c_vt_err_version_range"),
    (r"Less than score_min \((?P<value>.*)\)\.", "c_vt_err_score_order"),
    (r"Not a valid integer\.", "c_vt_err_whole"),
    (r"Give form_key too: .*", "c_vt_err_version_needs_form"),
    (r"Must be one of: .*", "c_vt_err_choice"),
    (r"Not a valid boolean\.", "c_vt_err_choice"),
    (r"Not a valid string\.", "c_vt_err_choice"),
    (r"Use 1-32 letters, digits, .*", "c_vt_err_code"),
    (r"(Length must be between|Longer than maximum length) .*", "c_vt_err_length"),
    (r"Control character U\+(?P<value>[0-9A-F]{4}) is not allowed\.", "c_off_err_control"),
    (r"No region (?P<value>.*)\.", "c_vt_err_no_region"),
    (r"No office (?P<value>.*)\.", "c_vt_err_no_office"),
    (r"No user with the login (?P<value>.*)\.", "c_vt_err_no_inspector"),
    (r"No form (?P<value>.*)\.", "c_vt_err_no_form"),
    (r"Form (?P<form>.*) has no version (?P<version>\d+)\.", "c_vt_err_no_version"),
    (r"(Region|Office) (?P<value>.*) is not in your scope\.", "c_vt_err_scope"),
]


def message(text) -> str:
    """One message of the shared filters in the page's language, else as written."""
    text = str(text)
    return _by_rules(text, MESSAGE_RULES) or text


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [m for sub in value.values() for m in _messages(sub)]
    if isinstance(value, (list, tuple)):
        return [m for sub in value for m in _messages(sub)]
    return [message(value)]


def _field_errors(errors: dict | None) -> dict[str, list[str]]:
    """{field: [message]} in the page's language; the look-ups' errors come under "query"."""
    errors = errors or {}
    if isinstance(errors.get("query"), dict):
        errors = errors["query"]
    return {str(field): _messages(value) for field, value in errors.items()}


def _scope_field(error: AppError) -> str:
    found = re.match(r"(Region|Office) ", str(error.detail or ""))
    return found.group(1).lower() if found else "region"


def _given() -> dict[str, str]:
    """The table's arguments that have a value, as typed (cut at MAX_VALUE)."""
    return {key: request.args.get(key, "").strip()[:MAX_VALUE] for key in TABLE_ARGS
            if request.args.get(key, "").strip()}


def _flags_of(visit_ids: list[int]) -> dict[int, list[str]]:
    """The flag kinds of the shown visits, in one query."""
    out: dict[int, list[str]] = {}
    if visit_ids:
        rows = db.session.execute(sa.select(Flag.visit_id, Flag.kind).distinct()
                                  .where(Flag.visit_id.in_(visit_ids))
                                  .order_by(Flag.visit_id, Flag.kind))
        for visit_id, kind in rows:
            out.setdefault(visit_id, []).append(kind)
    return out


def flag_name(kind: str) -> str:
    """A flag kind by its name in the page's language."""
    for key in (f"flag_{kind}", f"c_vt_flag_{kind}"):
        if known(key):
            return t(key)
    return kind


def visits():
    """The visits table: the filters, the sort and the page from the query string."""
    user = staff()
    lang = request.args.get("lang")
    given = _given()
    wanted = {**given, **({"lang": lang} if lang else {})}
    if set(request.args) - set(wanted) or any(len(v) != len(request.args.get(k, ""))
                                              for k, v in given.items()):
        # Empty fields of the filter form and arguments the table does not know are dropped,
        # so the address bar holds the view to share and nothing else.
        return redirect(url_for("console.visits", **wanted))
    errors: dict[str, list[str]] = {}
    listing = None
    status = 200
    try:
        try:
            loaded = TableArgs().load(given)
        except ma.ValidationError as exc:
            raise ValidationFailed("Validation failed", errors=exc.messages) from exc
        listing = visit_filters.visits_page(user=user, filters=loaded)
    except AppError as exc:
        if exc.status not in (403, 422):
            raise
        status = exc.status
        errors = ({_scope_field(exc): [message(exc.detail)]} if exc.status == 403
                  else _field_errors(exc.errors))
    if listing and not listing["items"] and listing["total"] and listing["page"] > 1:
        # past the last page (a shared link after visits went away): the last page instead
        last = (listing["total"] - 1) // listing["per_page"] + 1
        return redirect(_table_url(page=str(last)))
    choices = visit_filters.filter_choices(user=user, lang=page_language())
    sort = given.get("sort", visit_filters.DEFAULT_SORT)
    order = given.get("order", visit_filters.DEFAULT_ORDER)
    if sort not in visit_filters.SORTS or order not in visit_filters.ORDERS:
        sort, order = visit_filters.DEFAULT_SORT, visit_filters.DEFAULT_ORDER
    exported = {k: v for k, v in given.items() if k not in PAGE_ARGS}
    return render_template(
        "console/visits.html", listing=listing, errors=errors, given=given, choices=choices,
        columns=COLUMNS, sort=sort, order=order,
        flags=_flags_of([v.id for v in listing["items"]]) if listing else {},
        flag_name=flag_name, table_url=_table_url, sort_url=_sort_url,
        exports=[(fmt.upper(), _export_url(exported, fmt)) for fmt in EXPORT_FORMATS]
        if listing else [],
        periods=_period_suggestions(), field_names=_field_names(), **_options(choices)), status


def _options(choices: dict) -> dict:
    """(value, text) pairs of the filter selects, in the page's language."""
    return {
        "region_options": [(r["code"], f"{r['code']} · {r['name']}") for r in choices["regions"]],
        "kind_options": [(k, t(f"kind_{k}") if known(f"kind_{k}") else k)
                         for k in choices["kinds"]],
        "status_options": [(s, t(f"vstatus_{s}") if known(f"vstatus_{s}") else s)
                           for s in choices["statuses"]],
        "flag_options": [(f, flag_name(f)) for f in choices["flags"]],
        "form_key_options": [(k, k) for k in sorted({f["form_key"] for f in choices["forms"]})],
    }


FIELD_KEYS = {"period": "period", "from": "c_vt_from", "to": "c_vt_to", "region": "col_region",
              "office": "col_office", "kind": "col_kind", "inspector": "c_inspector",
              "status": "col_status", "flag": "c_flag", "score_min": "c_vt_score_min",
              "score_max": "c_vt_score_max", "form_key": "c_form",
              "form_version": "c_vt_form_version", "has_evidence": "c_vt_evidence"}


def _field_names() -> dict[str, str]:
    return {name: t(key) for name, key in FIELD_KEYS.items()}


def _kept() -> dict[str, str]:
    return {k: request.args[k] for k in KEPT if request.args.get(k)}


def _table_url(**changes) -> str:
    """This view with some arguments changed (None drops one)."""
    args = {**_given(), **_kept(), **changes}
    return url_for("console.visits", **{k: v for k, v in args.items() if v is not None})


def _sort_url(column: str, first_order: str, sort: str, order: str) -> str:
    """The header link of a column: sort by it (its first order), or flip the order when the
    table is sorted by it already; back to the first page."""
    if column == sort:
        new_order = "asc" if order == "desc" else "desc"
    else:
        new_order = first_order
    return _table_url(sort=column, order=new_order, page=None)


def _export_url(filters: dict[str, str], fmt: str) -> str:
    """The export of exactly the table's filters and sort (every page), names in the page's
    language; the session cookie authenticates it (a GET needs no CSRF token)."""
    return f"{EXPORT_PATH}?{urlencode({'format': fmt, **filters, 'lang': page_language()})}"


def _period_suggestions() -> list[str]:
    """Recent half-years and quarters for the period field's list (any label may be typed)."""
    now = half_year_of(utcnow(), current_app.config["TIMEZONE"])
    year = int(now.label[:4])
    out = []
    for y in (year, year - 1):
        out += [f"{y}H2", f"{y}H1", f"{y}Q4", f"{y}Q3", f"{y}Q2", f"{y}Q1", str(y)]
    return out


def register(bp) -> None:
    """The visits table's route on the console blueprint."""
    bp.add_url_rule("/visits", view_func=visits)
