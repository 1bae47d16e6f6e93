"""Console admin pages (admins only): users (create, deactivate, new token), forms (publish a
version from a YAML upload, every problem shown), the audit log with its verification status.
Pages call services; no rules live here."""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import redirect, render_template, request, url_for

from ..audit.models import AuditEvent
from ..audit.service import verify_chain
from ..auth import service as auth_service
from ..auth.models import Role
from ..auth.schemas import UserIn
from ..db import unit_of_work
from ..errors import AppError, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..forms.loader import MAX_FILE_BYTES, FormInvalid, check_definition, read_yaml
from ..forms.service import list_forms_query, publish_form
from .console_access import staff

AUDIT_ROWS = 100


def _admin():
    user = staff()
    if user.role != Role.ADMIN:
        raise Forbidden("Admin pages are for admins.")
    return user


def render_admin(user, *, error: AppError | None = None, status: int = 200,
                 entered: dict | None = None, problems: list | None = None,
                 secret: tuple[str, str] | None = None, published: str | None = None):
    """Users, forms and the audit log on one page."""
    users = db.session.scalars(auth_service.list_users_query()).all()
    forms = db.session.scalars(list_forms_query()).all()
    chain = verify_chain()
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())
                                .limit(AUDIT_ROWS)).all()
    return render_template("console/admin.html", users=users, forms=forms, chain=chain,
                           events=events, roles=[r.value for r in Role], error=error,
                           entered=entered or {}, problems=problems or [], secret=secret,
                           published=published), status


def admin():
    """The admin page."""
    return render_admin(_admin())


def _codes(raw: str) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def create_user():
    """Add a user from the form."""
    user = _admin()
    form = request.form
    entered = {k: form.get(k, "") for k in ("login", "role", "display_name", "regions")}
    raw = {"login": form.get("login", "")[:64], "role": form.get("role", ""),
           "password": form.get("password", "")[:256],
           "regions": _codes(form.get("regions", ""))[:500]}
    if form.get("display_name", "").strip():
        raw["display_name"] = form["display_name"][:200]
    try:
        try:
            data = UserIn().load(raw)
        except ma.ValidationError as exc:
            raise ValidationFailed("The user cannot be created; see errors.",
                                   errors=exc.messages) from exc
        with unit_of_work():
            auth_service.create_user(**data, actor=user)
    except AppError as exc:
        return render_admin(user, error=exc, status=exc.status, entered=entered)
    return redirect(url_for("console.admin", lang=request.args.get("lang")) + "#users")


def _user_or_404(login: str):
    found = auth_service.get_user(login[:64])
    if found is None:
        raise NotFound(f"No user {login[:64]!r}.")
    return found


def deactivate_user(login):
    """Shut a user out; their tokens are revoked."""
    user = _admin()
    try:
        with unit_of_work():
            auth_service.deactivate_user(user=_user_or_404(login), actor=user)
    except AppError as exc:
        if exc.status == 404:
            raise
        return render_admin(user, error=exc, status=exc.status)
    return redirect(url_for("console.admin", lang=request.args.get("lang")) + "#users")


def new_token(login):
    """Issue a new token for a user's app; the secret is shown once on this page."""
    user = _admin()
    with unit_of_work():
        target = _user_or_404(login)
        secret, _token = auth_service.issue_token(user=target, label="console", actor=user)
        login = target.login
    return render_admin(user, secret=(login, secret))


def publish_form_file():
    """Check an uploaded YAML form file and publish it as a new version."""
    user = _admin()
    upload = request.files.get("file")
    raw = upload.read(MAX_FILE_BYTES + 1) if upload else b""
    name = (upload.filename if upload else "") or "upload.yaml"
    try:
        if not raw:
            raise ValidationFailed("Choose a form file (YAML).", errors={"file": ["Required."]})
        try:
            definition = check_definition(read_yaml(raw, name), name)
        except FormInvalid as exc:
            return render_admin(user, problems=[str(p) for p in exc.problems], status=422)
        with unit_of_work():
            version, new = publish_form(definition=definition, source=name[:255], actor=user)
            label = f"{version.form.key} v{version.version}" + ("" if new else " (unchanged)")
    except AppError as exc:
        return render_admin(user, error=exc, status=exc.status)
    return render_admin(user, published=label)
