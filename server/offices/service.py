"""Regions and offices: create, change, import. Functions flush; the caller commits."""
from __future__ import annotations

import csv
from collections import Counter
import io

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles

from ..audit.service import append_event
from ..config import LANGUAGES
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from .models import Office, Region
from .schemas import OfficeIn

CSV_REQUIRED = ("code", *(f"name_{lang}" for lang in LANGUAGES), "region", "kind")
CSV_OPTIONAL = ("address", "lat", "lon", "active")
CSV_TRUE = {"1", "true", "yes", "y"}
CSV_FALSE = {"0", "false", "no", "n"}


def get_region(code: str) -> Region | None:
    """The region with `code`, or None."""
    return db.session.scalar(sa.select(Region).where(Region.code == code))


def get_office(code: str) -> Office | None:
    """The office with `code`, or None."""
    return db.session.scalar(sa.select(Office).where(Office.code == code))


def _require_region(code: str) -> Region:
    region = get_region(code)
    if region is None:
        raise ValidationFailed(f"There is no region {code!r}.",
                               errors={"region": [f"Unknown region {code!r}."]})
    return region


def _flush_new(conflict: str) -> None:
    """Flush new rows; a unique code taken by a concurrent transaction since we looked is a 409,
    not a 500. The caller's unit of work rolls the transaction back."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        unique = (getattr(exc.orig, "sqlstate", None) == "23505"  # PostgreSQL unique_violation
                  or "UNIQUE constraint failed" in str(exc.orig))  # SQLite
        if not unique:
            raise
        raise Conflict(conflict, code="duplicate_code") from exc


def create_region(*, code: str, name: dict, actor) -> Region:
    """Add a region; its code must be new."""
    if get_region(code) is not None:
        raise Conflict(f"A region with code {code!r} exists.", code="duplicate_code")
    region = Region(code=code, name=name)
    db.session.add(region)
    _flush_new(f"A region with code {code!r} exists.")
    append_event("region_created", actor=actor, object_type="region", object_id=code,
                 payload={"name": name})
    return region


def update_region(*, region: Region, name: dict, actor) -> Region:
    """Rename a region; the code stays."""
    if name != region.name:
        append_event("region_updated", actor=actor, object_type="region", object_id=region.code,
                     payload={"name": {"old": region.name, "new": name}})
        region.name = name
        db.session.flush()
    return region


def create_office(*, data: dict, actor) -> Office:
    """Add an office from validated data; its code must be new and its region known."""
    if get_office(data["code"]) is not None:
        raise Conflict(f"An office with code {data['code']!r} exists.", code="duplicate_code")
    fields = dict(data)
    office = Office(**{**fields, "region": _require_region(fields.pop("region"))})
    db.session.add(office)
    _flush_new(f"An office with code {data['code']!r} exists.")
    append_event("office_created", actor=actor, object_type="office", object_id=office.code,
                 payload=data)
    return office


def update_office(*, office: Office, changes: dict, actor) -> Office:
    """Apply validated changes; the audit event records each field's old and new value."""
    logged = {}
    for key, value in changes.items():
        old = office.region.code if key == "region" else getattr(office, key)
        if old == value:
            continue
        logged[key] = {"old": old, "new": value}
        if key == "region":
            office.region = _require_region(value)
        else:
            setattr(office, key, value)
    if logged:
        db.session.flush()
        append_event("office_updated", actor=actor, object_type="office", object_id=office.code,
                     payload=logged)
    return office


def list_regions_query() -> sa.Select:
    """Every region, by code."""
    return sa.select(Region).order_by(Region.code)


class UnicodeLower(sa.sql.functions.GenericFunction):
    """Unicode lower case in SQL: lower() on PostgreSQL; on SQLite, whose lower() only knows
    ASCII, the Python function that `register_sqlite_functions` installs."""

    type = sa.String()
    name = "adal_fold"
    inherit_cache = True


@compiles(UnicodeLower)
def _fold_default(element, compiler, **kw) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(UnicodeLower, "sqlite")
def _fold_sqlite(element, compiler, **kw) -> str:
    return f"adal_fold({compiler.process(element.clauses, **kw)})"


def _sqlite_fold(value):
    """adal_fold() on SQLite: Python's Unicode lower case; NULL stays NULL."""
    return value.lower() if isinstance(value, str) else value


def register_sqlite_functions(engine: sa.Engine) -> None:
    """Give every new SQLite connection of `engine` the adal_fold() that searches need."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.create_function("adal_fold", 1, _sqlite_fold, deterministic=True)


def _contains(column, text: str):
    """Case-insensitive substring match with LIKE's % and _ taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return UnicodeLower(column).like(f"%{escaped}%", escape="\\")


def list_offices_query(*, region: str | None = None, kind: str | None = None,
                       active: bool | None = None, q: str | None = None) -> sa.Select:
    """Offices matching the filters, by code."""
    query = sa.select(Office).order_by(Office.code)
    if region is not None:
        query = query.join(Office.region).where(Region.code == region)
    if kind is not None:
        query = query.where(Office.kind == kind)
    if active is not None:
        query = query.where(Office.active.is_(active))
    if q is not None:
        # Each language's text on its own: the JSON text form would match keys ("ru") and, on
        # SQLite, hold Cyrillic as \u escapes.
        names = [Office.name[lang].as_string() for lang in LANGUAGES]
        query = query.where(sa.or_(*(_contains(column, q) for column in (Office.code, *names))))
    return query


# --- CSV import -----------------------------------------------------------------------------

def decode_csv(raw: bytes) -> str:
    """UTF-8 text with or without BOM; any other encoding is refused with where it went wrong."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ValidationFailed(
            f"The file is not UTF-8 (line {line}, byte {exc.start}). Save it as 'CSV UTF-8'.",
            code="csv_not_utf8") from exc


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


# An office or assignment file has a dozen columns; a header of thousands is not a list of offices
# (and used to cost quadratic time to check). Lines are capped so a file cannot hide a huge cell.
MAX_CSV_COLUMNS = 64
MAX_CSV_LINE_CHARS = 16_384


def csv_shape(text: str) -> tuple[str, str]:
    """The header line and its delimiter; 422 for a header of too many columns or an overlong
    line, in time linear in the file's size."""
    header_line = text.splitlines()[0] if text.strip() else ""
    delimiter = _delimiter(header_line)
    if header_line.count(delimiter) + 1 > MAX_CSV_COLUMNS:
        raise ValidationFailed(
            f"The header has {header_line.count(delimiter) + 1} columns; at most "
            f"{MAX_CSV_COLUMNS} are read.", code="csv_bad_header",
            errors={"columns": [f"At most {MAX_CSV_COLUMNS} columns."]})
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_CSV_LINE_CHARS:
            raise ValidationFailed(
                f"Line {number} has {len(line)} characters; at most {MAX_CSV_LINE_CHARS}.",
                code="csv_malformed", errors={"line": [f"Line {number} is too long."]})
    return header_line, delimiter


def duplicates(columns: list[str]) -> list[str]:
    """Columns named more than once, sorted (linear: a Counter, not list.count per column)."""
    return sorted(c for c, n in Counter(columns).items() if n > 1)


def parse_office_csv(text: str) -> list[tuple[int, dict]]:
    """(line number, OfficeIn-shaped dict) per data row; structural problems raise at once."""
    if not text.strip():
        raise ValidationFailed("The file is empty.", code="csv_empty")
    _, delimiter = csv_shape(text)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        columns = [(c or "").strip().lower() for c in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ValidationFailed(f"The header cannot be read: {exc}.", code="csv_malformed") from exc
    reader.fieldnames = columns
    missing = [c for c in CSV_REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in CSV_REQUIRED + CSV_OPTIONAL]
    duplicate = duplicates(columns)
    if missing or unknown or duplicate:
        errors = {}
        if missing:
            errors["missing_columns"] = missing
        if unknown:
            errors["unknown_columns"] = unknown
        if duplicate:
            errors["duplicate_columns"] = duplicate
        raise ValidationFailed(
            f"The header must have the columns {', '.join(CSV_REQUIRED)} "
            f"and may have {', '.join(CSV_OPTIONAL)}.", code="csv_bad_header", errors=errors)
    rows = []
    try:
        for record in reader:
            line = reader.line_num
            if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
                continue  # blank line
            rows.append((line, record))
    except csv.Error as exc:
        raise ValidationFailed(f"Line {reader.line_num}: {exc}.", code="csv_malformed") from exc
    return rows


def _row_to_input(record: dict) -> tuple[dict, list[str]]:
    problems = []
    if None in record:  # DictReader puts surplus cells under the key None
        problems.append("more cells than columns in the header")
    value = {k: (record.get(k) or "").strip() for k in CSV_REQUIRED + CSV_OPTIONAL if k in record}
    data = {"code": value["code"], "region": value["region"], "kind": value["kind"],
            "name": {lang: value[f"name_{lang}"] for lang in LANGUAGES},
            "address": value.get("address", "")}
    for key in ("lat", "lon"):
        raw = value.get(key, "")
        if raw:
            try:
                data[key] = float(raw.replace(",", "."))  # Excel in ru/kk locales writes 51,12
            except ValueError:
                problems.append(f"{key}: {raw!r} is not a number")
    raw_active = value.get("active", "").lower()
    if raw_active in CSV_TRUE:
        data["active"] = True
    elif raw_active in CSV_FALSE:
        data["active"] = False
    elif raw_active:
        problems.append(f"active: {raw_active!r} is not one of yes/no/true/false/1/0")
    return data, problems


def _flatten(messages, prefix: str = "") -> list[str]:
    """marshmallow's nested messages as "field.sub: message" lines."""
    if isinstance(messages, dict):
        out = []
        for key, sub in messages.items():
            name = "position" if key == "_schema" else f"{prefix}{key}"
            out += _flatten(sub, f"{name}.")
        return out
    if isinstance(messages, list):  # a validator's dict comes wrapped in a list
        return [line for m in messages for line in _flatten(m, prefix)]
    return [f"{prefix[:-1]}: {messages}"]


IN_CHUNK = 500  # values per IN (...): well under SQLite's and PostgreSQL's parameter limits


def _existing_codes(codes: set[str]) -> set[str]:
    """Which of `codes` already belong to an office."""
    ordered, found = sorted(codes), set()
    for start in range(0, len(ordered), IN_CHUNK):
        found.update(db.session.scalars(
            sa.select(Office.code).where(Office.code.in_(ordered[start:start + IN_CHUNK]))))
    return found


def import_offices(*, raw: bytes, actor, source: str) -> list[Office]:
    """Create every office in a CSV file, or none: all bad rows are reported with line numbers."""
    rows = parse_office_csv(decode_csv(raw))
    if not rows:
        raise ValidationFailed("The file has a header but no offices.", code="csv_empty")
    schema = OfficeIn()
    checked: list[tuple[int, dict, list[str]]] = []
    seen: dict[str, int] = {}
    for line, record in rows:
        data, problems = _row_to_input(record)
        try:
            data = schema.load(data)
        except ma.ValidationError as exc:
            problems += _flatten(exc.messages)
        code = data["code"]
        if code and code in seen:
            problems.append(f"code: {code!r} is also on line {seen[code]}")
        elif code:
            seen[code] = line
        checked.append((line, data, problems))
    # The database checks run on every row, bad or not, so each row's report is complete.
    taken = _existing_codes(set(seen))
    regions = {r.code: r for r in db.session.scalars(sa.select(Region))}  # a few dozen at most
    errors: dict[str, list[str]] = {}
    for line, data, problems in checked:
        if data["code"] in taken:
            problems.append(f"code: an office {data['code']!r} already exists")
        region_ok = not any(p.startswith("region:") for p in problems)
        if region_ok and data["region"] not in regions:
            problems.append(f"region: unknown region {data['region']!r}")
        if problems:
            errors[f"line {line}"] = problems
    if errors:
        raise ValidationFailed(
            f"{len(errors)} of {len(rows)} rows are invalid; nothing was imported.",
            code="csv_invalid_rows", errors=errors)  # rows are in file order already
    offices = []
    for _, data, _ in checked:
        office = Office(**{**data, "region": regions[data["region"]]})
        db.session.add(office)
        offices.append(office)
    _flush_new("Another request created one of these offices meanwhile; nothing was imported. "
               "Send the file again to see which rows.")
    append_event("offices_imported", actor=actor, object_type="office", object_id=None,
                 payload={"source": source, "codes": [o.code for o in offices]})
    return offices
