"""Console planning pages: offices by region with their coverage this period, assignments
(list, create one, create many from CSV), inspectors with their conflict lists (seen and edited
here through auth.service.update_user, audit-logged). Pages call services; no rules live here."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, redirect, render_template, request, url_for

from ..assignments import service as assignment_service
from ..assignments.models import AssignmentStatus
from ..assignments.schemas import AssignmentIn
from ..auth import service as auth_service
from ..auth.models import Role
from ..auth.scope import office_in_scope
from ..db import paginate, unit_of_work, utcnow
from ..errors import AppError, NotFound, ValidationFailed
from ..extensions import db
from ..forms.service import list_forms_query
from ..offices.models import Office
from ..periods import half_year_of
from ..reports import service as report_service
from ..reports.ranking import ranking
from ..validators import CODE_PATTERN
from .console_access import staff, t, uploaded_csv
from ..i18n import page_language

PER_PAGE = 50


def _local_iso(raw: str) -> str:
    """A datetime-local field ("2026-07-01T09:00") read in the deployment's time zone."""
    raw = (raw or "").strip()[:32]
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw  # the schema names the problem
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))
    return moment.isoformat()


def _form_data() -> dict:
    form = request.form
    version = (form.get("form") or "").strip()
    key, _, number = version.rpartition("/v")
    raw = {"office": (form.get("office") or "").strip()[:32],
           "inspector": (form.get("inspector") or "").strip()[:64],
           "form_key": key[:64], "form_version": int(number) if number.isdigit() else number,
           "window_start": _local_iso(form.get("window_start")),
           "window_end": _local_iso(form.get("window_end"))}
    try:
        return AssignmentIn().load(raw)
    except ma.ValidationError as exc:
        raise ValidationFailed(t("c_err_assignment"), errors=exc.messages) from exc


def render_planning(user, *, error: AppError | None = None, status: int = 200,
                    entered: dict | None = None, created: int | None = None,
                    conflicts_of: str | None = None):
    """Offices by region with approved visits this period, coverage gaps, assignments."""
    tz = current_app.config["TIMEZONE"]
    period = half_year_of(utcnow(), tz)
    scope = report_service.resolve_scope(user=user, region=None)
    report = ranking(period=period, scope=scope, lang=page_language())
    offices = sorted(report["items"], key=lambda i: (_region_code(i), i["office"]["code"]))
    short = [i for i in offices if i["visits"] < report["min_visits"]]
    args = request.args
    filters = {"status": args.get("status") if args.get("status") in
               [s.value for s in AssignmentStatus] else None,
               "office": (args.get("office") or "").strip()[:32] or None,
               "inspector": (args.get("inspector") or "").strip()[:64] or None}
    try:
        page = max(1, min(int(args.get("page", 1)), 10_000))
    except ValueError:
        page = 1
    listing = paginate(assignment_service.list_assignments_query(user=user, **filters),
                       page=page, per_page=PER_PAGE)
    versions = [(f"{f.key}/v{v.version}", f.key, v.version)
                for f in db.session.scalars(list_forms_query()).all() for v in f.versions
                if v.retired_at is None]
    inspectors = db.session.scalars(auth_service.list_users_query(
        role=Role.INSPECTOR.value, active=True)).all()
    return render_template("console/planning.html", period=period, offices=offices,
                           short=short, min_visits=report["min_visits"], listing=listing,
                           filters=filters, statuses=[s.value for s in AssignmentStatus],
                           versions=versions, error=error, entered=entered or {},
                           created=created, now=utcnow(), inspectors=inspectors,
                           conflicts_of=conflicts_of,
                           saved=request.args.get("saved", "")[:64] or None), status


def _region_code(item: dict) -> str:
    region = item.get("region")
    return getattr(region, "code", None) or str(region or "")


def planning():
    """Offices by region, coverage this period and the assignments."""
    return render_planning(staff())


def create_assignment():
    """Plan one visit from the form."""
    user = staff()
    entered = {k: request.form.get(k, "") for k in
               ("office", "inspector", "form", "window_start", "window_end")}
    try:
        data = _form_data()
        with unit_of_work():
            assignment_service.create_assignment(data=data, actor=user)
    except AppError as exc:
        return render_planning(user, error=exc, status=exc.status, entered=entered)
    return redirect(url_for("console.planning", created=1, lang=request.args.get("lang")))


def upload_assignments():
    """Plan many visits from a CSV file: all rows or none, bad rows listed by line."""
    user = staff()
    try:
        raw = uploaded_csv()
        with unit_of_work():
            made = assignment_service.create_assignments_from_csv(raw=raw, actor=user)
            count = len(made)
    except AppError as exc:
        return render_planning(user, error=exc, status=exc.status)
    return redirect(url_for("console.planning", created=count, lang=request.args.get("lang")))


def _codes(raw: str) -> list[str]:
    seen: list[str] = []
    for part in (raw or "").replace(";", ",").replace("\n", ",").split(","):
        code = part.strip()[:32]
        if code and code not in seen:
            seen.append(code)
    return seen[:500]


def update_conflicts(login):
    """Replace an inspector's conflict list with the offices typed in (codes, comma-separated).

    A supervisor with regions sees and edits only the offices of their regions: offices of other
    regions already on the list stay on it, and naming one is refused like an unknown code.
    The change goes through auth.service.update_user, which audit-logs it (user_updated)."""
    user = staff()
    raw = (request.form.get("offices") or "")[:4000]
    try:
        target = auth_service.get_user(login[:64])
        if target is None:
            raise NotFound(t("c_err_no_user", value=repr(login[:64])))
        if target.role != Role.INSPECTOR:
            raise ValidationFailed(t("c_err_conflicts"), errors={
                "conflict_offices": [t("c_err_not_inspector", value=target.login)]})
        codes = _codes(raw)
        valid = [c for c in codes if re.fullmatch(CODE_PATTERN, c)]  # no NUL to the database
        found = {o.code: o for o in db.session.scalars(
            sa.select(Office).where(Office.code.in_(valid))).all()} if valid else {}
        refused = [c for c in codes if c not in found or not office_in_scope(user, found[c])]
        refused = [c.encode("unicode_escape").decode("ascii") for c in refused]
        if refused:
            raise ValidationFailed(t("c_err_conflicts"), errors={
                "conflict_offices": [t("c_err_unknown_offices", value=", ".join(refused))]})
        kept = [o.code for o in target.conflict_offices if not office_in_scope(user, o)]
        wanted = kept + [c for c in codes if c not in kept]
        with unit_of_work():
            auth_service.update_user(user=target, changes={"conflict_offices": wanted},
                                     actor=user)
            login = target.login
    except AppError as exc:
        if exc.status == 404:
            raise
        return render_planning(user, error=exc, status=exc.status, conflicts_of=login[:64],
                               entered={"offices": raw})
    return redirect(url_for("console.planning", saved=login, lang=request.args.get("lang"))
                    + "#inspectors")
