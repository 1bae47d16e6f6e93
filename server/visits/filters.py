"""The visit filters shared by the visits table (/console/visits), the answer exports
(/api/v1/exports/visits) and the visit list (GET /api/v1/visits).

Three steps, each usable on its own:

1. ``VisitFilterArgs`` (marshmallow, query strings): shapes only, no database. Loads
   ``period`` (or ``from`` and ``to``) into one ``period`` (a ``server.periods.Period``),
   checks enums (``status``, ``kind``, ``flag``, ``sort``, ``order``) and ranges
   (``score_min`` <= ``score_max``, ``form_version`` needs ``form_key``). A bad value is a
   422 naming the field.
2. ``visit_conditions(user=, filters=)``: the WHERE clauses over ``visits`` alone (no join),
   in the user's scope. Looks codes and logins up: an unknown region, office, inspector or
   form is a 422 naming the field (``ValidationFailed``, errors under ``query``); a region or
   office outside a supervisor's regions is a 403 ``out_of_scope``. ``strict=False`` skips the
   look-ups (an unknown code then matches nothing), for the visit list's older contract.
3. ``select_visits(user=, filters=)``: ``select(Visit)`` with those clauses and the sort;
   ``order_by(filters)`` gives the sort alone (correlated sub-selects, no join), so a query of
   other columns (the exports) can use the same WHERE and ORDER BY.

``visits_page`` pages the select and adds ``counts`` per status; ``filter_choices`` lists what
the selects of a filter form may offer to this user. See docs/exports.md.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app
from marshmallow import fields, post_load, validate, validates_schema

from ..auth.models import Role, User
from ..auth.scope import region_ids, scoped
from ..config import LANGUAGES
from ..errors import Forbidden, ValidationFailed
from ..extensions import db
from ..forms.models import FormVersion, SurveyForm
from ..offices.models import OFFICE_KINDS, Office, Region
from ..periods import RangeError, date_range, period_from_range
from ..reports.schemas import PeriodField  # one parser for every period in the API
from ..rest import PageArgs
from ..validators import code_validator, plain_text
from .models import Flag, Visit, VisitEvidence, VisitStatus

# Every kind of flag the evidence checks and the intake raise (docs/visits.md "At intake").
FLAG_KINDS = ("far_from_office", "too_short", "outside_window", "evidence_missing",
              "photo_far_from_office", "photo_outside_window", "media_reused",
              "critical_finding", "clock_ahead")
STATUSES = tuple(s.value for s in VisitStatus)
SORTS = ("started_at", "ended_at", "submitted_at", "score", "status", "office", "region",
         "kind", "inspector", "form", "revision")
ORDERS = ("asc", "desc")
DEFAULT_SORT, DEFAULT_ORDER = "started_at", "desc"
FILTER_NAMES = ("period", "region", "office", "kind", "inspector", "status", "flag",
                "score_min", "score_max", "form_key", "form_version", "has_evidence")


class VisitFilterArgs(ma.Schema):
    """The visit filters and the sort as query arguments; every one optional. Unknown
    arguments are refused by the API's strict parser (a mistyped filter must not be ignored)."""

    period = PeriodField(metadata={
        "description": "Visits that started in it (local time, ADAL_TIMEZONE): half-year "
                       "2026H2 as the reports use, quarter 2026Q3, month 2026-07, year 2026 or "
                       "2026-07-01..2026-09-15. Or `from` and `to`.", "example": "2026H2"})
    from_ = fields.Date(data_key="from", metadata={
        "description": "First day (local time), included; needs `to`."})
    to = fields.Date(metadata={"description": "Last day (local time), included; needs `from`."})
    region = fields.String(validate=code_validator, metadata={"description": "Region code."})
    office = fields.String(validate=code_validator, metadata={"description": "Office code."})
    kind = fields.String(validate=validate.OneOf(OFFICE_KINDS),
                         metadata={"description": "Office kind."})
    inspector = fields.String(validate=[validate.Length(min=1, max=64), plain_text],
                              metadata={"description": "Inspector login (any case)."})
    status = fields.String(validate=validate.OneOf(STATUSES))
    flag = fields.String(validate=validate.OneOf(FLAG_KINDS),
                         metadata={"description": "Visits with at least one flag of this kind."})
    score_min = fields.Float(allow_nan=False, validate=validate.Range(0, 100),
                             metadata={"description": "Score at least this (0-100); visits "
                                                      "without a score are left out."})
    score_max = fields.Float(allow_nan=False, validate=validate.Range(0, 100),
                             metadata={"description": "Score at most this (0-100)."})
    form_key = fields.String(validate=[validate.Length(min=1, max=64), plain_text],
                             metadata={"description": "Survey form key."})
    form_version = fields.Integer(validate=validate.Range(1, 2_147_483_647), metadata={
        "description": "Version number of `form_key` (which it needs)."})
    has_evidence = fields.Boolean(metadata={
        "description": "true: visits with at least one media file; false: without any."})
    sort = fields.String(load_default=DEFAULT_SORT, validate=validate.OneOf(SORTS))
    order = fields.String(load_default=DEFAULT_ORDER, validate=validate.OneOf(ORDERS))

    @validates_schema
    def ranges(self, data, **kw):
        errors: dict[str, list[str]] = {}
        given = [name for name, key in (("from", "from_"), ("to", "to")) if key in data]
        if given and "period" in data:
            errors["period"] = ["Give either period or from and to, not both."]
        elif given:
            for name in ("from", "to"):
                if name not in given:
                    errors[name] = [f"Give {name!r} too: a date range needs from and to."]
            if not errors:
                try:
                    date_range(data["from_"], data["to"], current_app.config["TIMEZONE"])
                except RangeError as exc:
                    errors[exc.field] = [str(exc)]
        low, high = data.get("score_min"), data.get("score_max")
        if low is not None and high is not None and low > high:
            errors["score_max"] = [f"Less than score_min ({low:g})."]
        if "form_version" in data and "form_key" not in data:
            errors["form_version"] = ["Give form_key too: a version number belongs to a form."]
        if errors:
            raise ma.ValidationError(errors)

    @post_load
    def as_period(self, data, **kw):
        return period_from_range(data, current_app.config["TIMEZONE"])


class VisitTableArgs(VisitFilterArgs, PageArgs):
    """The filters, the sort and `page`/`per_page` (1-200, capped by ADAL_PAGE_SIZE_MAX):
    what a page of the visits table takes."""


def query_args(filters: dict[str, Any]) -> dict[str, str]:
    """Loaded filters back as query arguments (for links: the next page, the export buttons,
    a shared URL); a date range becomes `period=2026-07-01..2026-09-15`, the default sort and
    page arguments are left out."""
    out: dict[str, str] = {}
    for name in FILTER_NAMES:
        value = filters.get(name)
        if value is None:
            continue
        if name == "period":
            value = value.label
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, float):
            value = f"{value:g}"
        out[name] = str(value)
    if filters.get("sort", DEFAULT_SORT) != DEFAULT_SORT:
        out["sort"] = filters["sort"]
    if filters.get("order", DEFAULT_ORDER) != DEFAULT_ORDER:
        out["order"] = filters["order"]
    return out


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors={"query": {field: [message]}})


def _office_codes(codes) -> sa.Select:
    return sa.select(Office.id).where(codes)


def visit_conditions(*, user: User, filters: dict[str, Any], strict: bool = True) -> list:
    """WHERE clauses over `visits` (no join needed) for loaded `filters`, in `user`'s scope:
    inspectors their own visits, region-restricted supervisors their regions, admins all.

    strict (default): an unknown region, office, inspector, form key or version is a 422
    naming the field; a region or office outside a supervisor's regions is 403 out_of_scope.
    strict=False: no look-ups, an unknown code simply matches nothing."""
    clauses: list = []
    allowed = region_ids(user)
    if user.role == Role.INSPECTOR:
        clauses.append(Visit.inspector_id == user.id)
    elif allowed is not None:
        clauses.append(Visit.office_id.in_(_office_codes(Office.region_id.in_(allowed))))
    region, office = filters.get("region"), filters.get("office")
    if region is not None:
        if strict:
            found = db.session.scalar(sa.select(Region.id).where(Region.code == region))
            if found is None:
                raise _refuse("region", f"No region {region!r}.")
            if allowed is not None and found not in allowed:
                raise Forbidden(f"Region {region!r} is not in your scope.", code="out_of_scope")
            clauses.append(Visit.office_id.in_(_office_codes(Office.region_id == found)))
        else:
            clauses.append(Visit.office_id.in_(sa.select(Office.id).join(Office.region)
                                               .where(Region.code == region)))
    if office is not None:
        if strict:
            found = db.session.execute(sa.select(Office.id, Office.region_id)
                                       .where(Office.code == office)).first()
            if found is None:
                raise _refuse("office", f"No office {office!r}.")
            if allowed is not None and found.region_id not in allowed:
                raise Forbidden(f"Office {office!r} is not in your scope.", code="out_of_scope")
            clauses.append(Visit.office_id == found.id)
        else:
            clauses.append(Visit.office_id.in_(_office_codes(Office.code == office)))
    if filters.get("kind") is not None:
        clauses.append(Visit.office_id.in_(_office_codes(Office.kind == filters["kind"])))
    if filters.get("inspector") is not None:
        login = filters["inspector"].strip().lower()
        if strict:
            found = db.session.scalar(sa.select(User.id).where(User.login == login))
            if found is None:
                raise _refuse("inspector", f"No user with the login {login!r}.")
            clauses.append(Visit.inspector_id == found)
        else:
            clauses.append(Visit.inspector_id.in_(sa.select(User.id).where(User.login == login)))
    if filters.get("status") is not None:
        clauses.append(Visit.status == filters["status"])
    period = filters.get("period")
    if period is not None:
        clauses += [Visit.started_at >= period.start, Visit.started_at < period.end]
    if filters.get("flag") is not None:
        clauses.append(Visit.id.in_(sa.select(Flag.visit_id).where(Flag.kind == filters["flag"])))
    if filters.get("score_min") is not None:
        clauses.append(Visit.score >= filters["score_min"])
    if filters.get("score_max") is not None:
        clauses.append(Visit.score <= filters["score_max"])
    if filters.get("form_key") is not None:
        clauses.append(_form_clause(filters["form_key"], filters.get("form_version"), strict))
    if filters.get("has_evidence") is not None:
        has = sa.exists().where(VisitEvidence.visit_id == Visit.id)
        clauses.append(has if filters["has_evidence"] else ~has)
    return clauses


def _form_clause(key: str, number: int | None, strict: bool):
    versions = sa.select(FormVersion.id).join(FormVersion.form).where(SurveyForm.key == key)
    if number is not None:
        versions = versions.where(FormVersion.version == number)
    if strict:
        if db.session.scalar(sa.select(SurveyForm.id).where(SurveyForm.key == key)) is None:
            raise _refuse("form_key", f"No form {key!r}.")
        if number is not None and db.session.scalar(versions) is None:
            raise _refuse("form_version", f"Form {key!r} has no version {number}.")
    return Visit.form_version_id.in_(versions)


def _sort_key(name: str) -> list:
    office = lambda column: (sa.select(column).where(Office.id == Visit.office_id)  # noqa: E731
                             .scalar_subquery())
    if name == "office":
        return [office(Office.code)]
    if name == "kind":
        return [office(Office.kind)]
    if name == "region":
        return [sa.select(Region.code).join(Office, Office.region_id == Region.id)
                .where(Office.id == Visit.office_id).scalar_subquery()]
    if name == "inspector":
        return [sa.select(User.login).where(User.id == Visit.inspector_id).scalar_subquery()]
    if name == "form":
        return [sa.select(SurveyForm.key).join(FormVersion, FormVersion.form_id == SurveyForm.id)
                .where(FormVersion.id == Visit.form_version_id).scalar_subquery(),
                sa.select(FormVersion.version).where(FormVersion.id == Visit.form_version_id)
                .scalar_subquery()]
    return [getattr(Visit, name)]


def order_by(filters: dict[str, Any]) -> list:
    """ORDER BY for `sort` and `order` (default started_at desc); visits without a score
    last either way; ties broken by the visit's id in the same direction (a stable order for
    paging). Correlated sub-selects, so it needs no join."""
    descending = filters.get("order", DEFAULT_ORDER) == "desc"
    keys = _sort_key(filters.get("sort", DEFAULT_SORT))
    ordered = [(k.desc() if descending else k.asc()).nulls_last() for k in keys]
    return [*ordered, Visit.id.desc() if descending else Visit.id.asc()]


def select_visits(*, user: User, filters: dict[str, Any], strict: bool = True) -> sa.Select:
    """select(Visit) of the visits `user` may see that match `filters`, sorted; no paging."""
    return (sa.select(Visit).where(*visit_conditions(user=user, filters=filters, strict=strict))
            .order_by(*order_by(filters)))


def visits_page(*, user: User, filters: dict[str, Any]) -> dict:
    """One page: {items (Visit rows), total, page, per_page, counts}. `counts` gives the
    number of matching visits per status with every filter but `status` applied (for tabs
    such as "submitted 12 · approved 40")."""
    page, per_page = filters.get("page", 1), filters.get("per_page", 50)
    per_page = min(per_page, current_app.config["PAGE_SIZE_MAX"])
    clauses = visit_conditions(user=user, filters=filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(*clauses))
    items = db.session.scalars(sa.select(Visit).where(*clauses).order_by(*order_by(filters))
                               .limit(per_page).offset((page - 1) * per_page)).unique().all()
    unfiltered = visit_conditions(user=user, filters={**filters, "status": None})
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(db.session.execute(sa.select(Visit.status, sa.func.count())
                                     .where(*unfiltered).group_by(Visit.status)).all())
    return {"items": items, "total": total, "page": page, "per_page": per_page,
            "counts": counts}


def _name(names: dict | None, lang: str) -> str:
    names = names or {}
    return names.get(lang) or names.get("en") or next(iter(names.values()), "")


def filter_choices(*, user: User, lang: str = "en") -> dict[str, list]:
    """What a filter form may offer `user` in its selects, names in `lang`:
    regions and offices in scope ({code, name}; offices with `region` and `kind`), inspectors
    who made a visit in scope ({login, name}), form versions with visits in scope
    ({form_key, form_version}), and the fixed lists of kinds, statuses, flags and sorts."""
    if lang not in LANGUAGES:
        lang = "en"
    allowed = region_ids(user)
    regions = sa.select(Region).order_by(Region.code)
    offices = sa.select(Office).order_by(Office.code)
    if allowed is not None:
        regions = regions.where(Region.id.in_(allowed))
        offices = offices.where(Office.region_id.in_(allowed))
    seen = scoped(sa.select(Visit.inspector_id, Visit.form_version_id).distinct(), user,
                  inspector_column=Visit.inspector_id, office_column=Visit.office_id).subquery()
    inspectors = db.session.execute(
        sa.select(User.login, User.display_name).where(User.id.in_(sa.select(seen.c.inspector_id)))
        .order_by(User.login)).all()
    versions = db.session.execute(
        sa.select(SurveyForm.key, FormVersion.version).join(FormVersion.form)
        .where(FormVersion.id.in_(sa.select(seen.c.form_version_id)))
        .order_by(SurveyForm.key, FormVersion.version)).all()
    return {
        "regions": [{"code": r.code, "name": _name(r.name, lang)}
                    for r in db.session.scalars(regions)],
        "offices": [{"code": o.code, "name": _name(o.name, lang), "region": o.region.code,
                     "kind": o.kind} for o in db.session.scalars(offices)],
        "kinds": list(OFFICE_KINDS),
        "inspectors": [{"login": login, "name": name} for login, name in inspectors],
        "statuses": list(STATUSES),
        "flags": list(FLAG_KINDS),
        "forms": [{"form_key": key, "form_version": number} for key, number in versions],
        "sorts": list(SORTS),
    }
