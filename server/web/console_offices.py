"""The offices page of the console (/console/offices, admins only): the offices with search and
paging, an office's edit form (names in four languages, region, kind, address, coordinates,
active flag) and the CSV import with every wrong row shown as row, column and message.

Pages call the offices service (server/offices/service.py): `list_offices_query`,
`update_office` (audit event `office_updated` with each field's old and new value) and
`import_offices` (all rows or none, audit event `offices_imported`). The shapes are the API's
(`OfficeQuery`, `OfficePatch`); the English messages of the schemas and the service are shown
in the page's language by the rules below, and as written when no rule knows them.
"""
from __future__ import annotations

import math
import re

import marshmallow as ma
from flask import redirect, render_template, request, url_for

from ..auth.models import Role
from ..config import LANGUAGES
from ..db import paginate, unit_of_work
from ..errors import AppError, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..offices import service as office_service
from ..offices.models import OFFICE_KINDS, Office
from ..offices.schemas import OfficePatch, OfficeQuery
from ..validators import CODE_PATTERN
from .console_access import _by_rules, staff, t, uploaded_csv

PER_PAGE = 50

# English messages of the office schemas, the CSV reader and the service -> catalog keys.
MESSAGE_RULES: list[tuple[str, str]] = [
    (r"Must not be blank\.", "c_off_err_blank"),
    (r"Missing data for required field\.", "c_err_required"),
    (r"Must be greater than or equal to (?P<min>-?\d+) and less than or equal to "
     r"(?P<max>-?\d+)\.", "c_off_err_range"),
    (r"[Uu]nknown region (?P<value>.*?)\.?", "c_off_err_region"),
    (r"Give lat and lon together, or neither\.", "c_off_err_lat_lon"),
    (r"Must be one of: .*", "c_off_err_kind"),
    (r"Longer than maximum length (?P<max>\d+)\.", "c_off_err_too_long"),
    (r"Control character U\+(?P<value>[0-9A-F]{4}) is not allowed\.", "c_off_err_control"),
    (r"(?P<value>'.*') is not a number", "c_off_err_number"),
    (r"(?P<value>'.*') is not one of yes/no/true/false/1/0", "c_off_err_active"),
    (r"more cells than columns in the header", "c_off_err_surplus"),
    (r"(?P<value>'.*') is also on line (?P<line>\d+)", "c_off_err_dup_line"),
    (r"an office (?P<value>'.*') already exists", "c_off_err_exists"),
    (r"Use 1-32 letters, digits, .*", "c_off_err_code"),
]
# The import's problem codes: (pattern over the service's detail, catalog key).
DETAIL_RULES: dict[str, list[tuple[str, str]]] = {
    "csv_invalid_rows": [(r"(?P<bad>\d+) of (?P<total>\d+) rows are invalid; nothing was "
                          r"imported\.", "c_off_csv_rows")],
    "csv_empty": [(r"The file is empty\.", "c_off_csv_empty"),
                  (r"The file has a header but no offices\.", "c_off_csv_empty")],
    "csv_not_utf8": [(r"The file is not UTF-8 \(line (?P<line>\d+), byte \d+\)\. .*",
                      "c_off_csv_utf8")],
    "csv_bad_header": [(r"The header must have the columns (?P<required>.*) and may have "
                        r"(?P<optional>.*)\.", "c_off_csv_header")],
    "csv_malformed": [(r"Line (?P<line>\d+): .*", "c_off_csv_malformed"),
                      (r"The header cannot be read: .*", "c_off_csv_header_unreadable")],
}
HEADER_ERRORS = {"missing_columns": "c_off_missing_columns",
                 "unknown_columns": "c_off_unknown_columns",
                 "duplicate_columns": "c_off_duplicate_columns"}


def message(text) -> str:
    """A schema's or the service's English message in the page's language, else as written."""
    text = str(text)
    return _by_rules(text, MESSAGE_RULES) or text


def _flat(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for sub in messages.values() for m in _flat(sub)]
    if isinstance(messages, (list, tuple)):
        return [m for sub in messages for m in _flat(sub)]
    return [message(messages)]


def field_errors(errors: dict | None) -> dict[str, list[str]]:
    """Errors by form field (name_kk, ..., lat, lon, region, ...), in the page's language."""
    out: dict[str, list[str]] = {}
    for field, messages in (errors or {}).items():
        if field == "name" and isinstance(messages, dict):
            for lang, sub in messages.items():
                out.setdefault(f"name_{lang}", []).extend(_flat(sub))
        else:
            out.setdefault(field, []).extend(_flat(messages))
    return out


def row_errors(errors: dict | None) -> list[tuple[int | None, str, str]]:
    """The import's errors ({"line 3": ["region: unknown region 'X'", ...]}) as
    (row, column, message) in file order, each message in the page's language."""
    rows = []
    for where, problems in (errors or {}).items():
        found = re.fullmatch(r"line (\d+)", str(where))
        line = int(found.group(1)) if found else None
        for problem in problems if isinstance(problems, list) else [problems]:
            column, sep, text = str(problem).partition(": ")
            if not sep or " " in column:
                column, text = "", str(problem)
            column = {"position": "lat, lon"}.get(column, column.replace(".", "_"))
            rows.append((line, column, message(text)))
    return rows


def problem_text(error: AppError) -> str:
    """The import's or the page's error detail in the page's language, else as written."""
    text = str(error.detail or "")
    if error.code == "csv_bad_header":
        return t("c_off_csv_header", required=", ".join(office_service.CSV_REQUIRED),
                 optional=", ".join(office_service.CSV_OPTIONAL))
    return _by_rules(text, DETAIL_RULES.get(error.code, [])) or text


def _admin():
    user = staff()
    if user.role != Role.ADMIN:
        raise Forbidden(t("c_err_admin_only"))
    return user


def _office(code: str) -> Office:
    found = office_service.get_office(code[:32]) if re.match(CODE_PATTERN, code) else None
    if found is None:
        raise NotFound(t("c_vt_err_no_office", value=repr(code[:32])))
    return found


def _query_args() -> tuple[dict, dict[str, list[str]]]:
    """The list's search and filters from the query string (OfficeQuery, the API's shape)."""
    raw = {k: v.strip() for k, v in request.args.items()
           if k in ("q", "region", "kind", "active", "page") and v.strip()}
    try:
        return OfficeQuery().load(raw), {}
    except ma.ValidationError as exc:
        return {"page": 1, "per_page": PER_PAGE}, field_errors(exc.messages)


def render_offices(*, status: int = 200, import_error: AppError | None = None):
    """The list page: search, region filter, one page of offices, the import form."""
    args, errors = _query_args()
    page = args.pop("page", 1)
    args.pop("per_page", None)
    listing = ({"items": [], "total": 0, "page": 1, "per_page": PER_PAGE} if errors else
               paginate(office_service.list_offices_query(**args), page=page,
                        per_page=PER_PAGE))
    regions = db.session.scalars(office_service.list_regions_query()).all()
    return render_template(
        "console/offices.html", listing=listing, regions=regions, kinds=OFFICE_KINDS,
        filters={k: request.args.get(k, "")[:100] for k in ("q", "region", "kind", "active")},
        query_errors=errors, import_error=import_error,
        import_problem=problem_text(import_error) if import_error else None,
        import_rows=row_errors(import_error.errors) if import_error and
        import_error.code == "csv_invalid_rows" else [],
        header_errors=[(t(key), import_error.errors[name]) for name, key in HEADER_ERRORS.items()
                       if import_error and import_error.errors and name in import_error.errors],
        csv_columns=(*office_service.CSV_REQUIRED, *office_service.CSV_OPTIONAL),
        saved=request.args.get("saved", "")[:32] or None,
        unchanged=request.args.get("unchanged", "")[:32] or None,
        imported=request.args.get("imported", "")[:9] or None,
        page_url=_page_url), status


def _page_url(number: int) -> str:
    return url_for("console.offices", **{**request.args.to_dict(), "page": number})


def offices():
    """Every office, 50 a page, searched by code or a name in any language, by region."""
    _admin()
    return render_offices()


def import_offices():
    """Create the offices of an uploaded CSV file, all or none; wrong rows listed on the page."""
    user = _admin()
    upload = request.files.get("file")
    try:
        raw = uploaded_csv()
        name = "".join(ch for ch in (upload.filename or "") if ch.isprintable())[:200]
        with unit_of_work():
            count = len(office_service.import_offices(raw=raw, actor=user,
                                                      source=name or "upload"))
    except AppError as exc:
        return render_offices(status=exc.status, import_error=exc)
    return redirect(url_for("console.offices", imported=count, lang=request.args.get("lang")),
                    code=303)


def _entered(office: Office | None = None) -> dict:
    """The edit form's values: the office's, or what was posted."""
    if office is not None:
        return {**{f"name_{lang}": (office.name or {}).get(lang, "") for lang in LANGUAGES},
                "region": office.region.code, "kind": office.kind, "address": office.address,
                "lat": "" if office.lat is None else f"{office.lat:g}",
                "lon": "" if office.lon is None else f"{office.lon:g}", "active": office.active}
    form = request.form
    values = {k: (form.get(k) or "")[:600] for k in
              (*(f"name_{lang}" for lang in LANGUAGES), "region", "kind", "address", "lat",
               "lon")}
    return {**values, "active": form.get("active") == "1"}


def _coordinate(raw: str) -> tuple[float | None, bool]:
    """A typed coordinate as (number or None when empty, whether it reads as a number); a
    comma as decimal mark too (Excel and phones in ru/kk write 51,12)."""
    raw = raw.strip()
    if not raw:
        return None, True
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        return None, False
    return value, math.isfinite(value)


def _changes(entered: dict) -> dict:
    """The posted form as OfficePatch data; ValidationFailed names every wrong field."""
    errors: dict[str, list[str]] = {}
    raw: dict = {"name": {lang: entered[f"name_{lang}"] for lang in LANGUAGES},
                 "region": entered["region"].strip(), "kind": entered["kind"].strip(),
                 "address": entered["address"].strip(), "active": entered["active"]}
    for key in ("lat", "lon"):
        value, readable = _coordinate(entered[key])
        if not readable:
            errors[key] = [t("c_off_err_number", value=repr(entered[key].strip()[:40]))]
        else:
            raw[key] = value
    try:
        data = OfficePatch().load(raw)
    except ma.ValidationError as exc:
        for field, messages in field_errors(exc.messages).items():
            errors.setdefault(field, []).extend(messages)
        data = {}
    if errors:
        raise ValidationFailed(t("c_off_fix"), errors=errors)
    return data


def render_edit(office: Office, *, entered: dict | None = None, errors: dict | None = None,
                status: int = 200):
    """One office's edit form."""
    regions = db.session.scalars(office_service.list_regions_query()).all()
    return render_template("console/offices.html", editing=office,
                           entered=entered or _entered(office), errors=errors or {},
                           regions=regions, kinds=OFFICE_KINDS, languages=LANGUAGES), status


def edit_office(code):
    """The edit form of one office."""
    _admin()
    return render_edit(_office(code))


def update_office(code):
    """Save the edit form through offices.service.update_office (audit event office_updated)."""
    user = _admin()
    office = _office(code)
    entered = _entered()
    try:
        changes = _changes(entered)
        with unit_of_work():
            office = _office(code)
            before = _entered(office)
            office_service.update_office(office=office, changes=changes, actor=user)
            changed = _entered(office) != before
            code = office.code
    except AppError as exc:
        if exc.status == 404:
            raise
        db.session.rollback()
        return render_edit(_office(code), entered=entered, status=exc.status,
                           errors=field_errors(exc.errors) or {"": [exc.detail]})
    done = "saved" if changed else "unchanged"
    return redirect(url_for("console.offices", lang=request.args.get("lang"), **{done: code})
                    + f"#office-{code}", code=303)


def register(bp) -> None:
    """The offices page's routes on the console blueprint."""
    bp.add_url_rule("/offices", view_func=offices)
    bp.add_url_rule("/offices/import", view_func=import_offices, methods=["POST"])
    bp.add_url_rule("/offices/<code>", view_func=edit_office)
    bp.add_url_rule("/offices/<code>", view_func=update_office, methods=["POST"],
                    endpoint="update_office")
