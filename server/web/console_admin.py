"""Console admin pages (admins only): users (create, deactivate, reset token), forms (publish a
version from a YAML or XLSForm upload, every problem shown), the audit log with its verification
status. Pages call services; no rules live here."""
from __future__ import annotations

import tempfile
from pathlib import Path

import marshmallow as ma
import sqlalchemy as sa
from flask import redirect, render_template, request, session, url_for
from werkzeug.utils import secure_filename

from ..audit.models import AuditEvent
from ..audit.service import verify_chain
from ..auth import service as auth_service
from ..auth.models import ApiToken, Role
from ..auth.schemas import UserIn
from ..db import unit_of_work
from ..errors import AppError, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..forms.loader import MAX_FILE_BYTES, FormInvalid, check_definition, read_yaml
from ..forms.service import list_forms_query, publish_form
from .console_access import staff, t

AUDIT_ROWS = 100
XLSX_MAGIC = b"PK\x03\x04"
# The secret of a reset token waits here for the one GET after the POST (then it is removed).
SECRET_KEY = "console_token_secret"


def _admin():
    user = staff()
    if user.role != Role.ADMIN:
        raise Forbidden(t("c_err_admin_only"))
    return user


def render_admin(user, *, error: AppError | None = None, status: int = 200,
                 entered: dict | None = None, problems: list | None = None,
                 secret: tuple[str, str] | None = None, published: str | None = None,
                 warnings: list | None = None):
    """Users, forms and the audit log on one page."""
    users = db.session.scalars(auth_service.list_users_query()).all()
    forms = db.session.scalars(list_forms_query()).all()
    chain = verify_chain()
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())
                                .limit(AUDIT_ROWS)).all()
    return render_template("console/admin.html", users=users, forms=forms, chain=chain,
                           events=events, roles=[r.value for r in Role], error=error,
                           entered=entered or {}, problems=problems or [], secret=secret,
                           published=published, warnings=warnings or []), status


def admin():
    """The admin page; after a token reset it shows the new secret once (popped from the session)."""
    user = _admin()
    shown = session.pop(SECRET_KEY, None)
    secret = tuple(shown) if isinstance(shown, list) and len(shown) == 2 else None
    published = request.args.get("published", "")[:200] or None
    return render_admin(user, secret=secret, published=published)


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
            raise ValidationFailed(t("c_err_user"), errors=exc.messages) from exc
        with unit_of_work():
            auth_service.create_user(**data, actor=user)
    except AppError as exc:
        return render_admin(user, error=exc, status=exc.status, entered=entered)
    return redirect(url_for("console.admin", lang=request.args.get("lang")) + "#users")


def _user_or_404(login: str):
    found = auth_service.get_user(login[:64])
    if found is None:
        raise NotFound(t("c_err_no_user", value=repr(login[:64])))
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
    """Reset a user's app token: every earlier token is revoked, a new one is issued, and the
    browser is redirected (a reload re-issues nothing); the secret is shown once there."""
    user = _admin()
    with unit_of_work():
        target = _user_or_404(login)
        for old in db.session.scalars(sa.select(ApiToken).where(
                ApiToken.user_id == target.id, ApiToken.revoked_at.is_(None))).all():
            auth_service.revoke_token(token=old, actor=user)
        secret, _token = auth_service.issue_token(user=target, label="console", actor=user)
        login = target.login
    session[SECRET_KEY] = [login, secret]
    return redirect(url_for("console.admin", lang=request.args.get("lang")) + "#token-secret",
                    code=303)


def _read_xlsform(raw: bytes, name: str) -> tuple[dict, list[str]]:
    """An uploaded XLSForm workbook through server/forms/xlsform.py: definition and warnings."""
    from ..forms.xlsform import import_xlsform  # openpyxl only when needed

    stem = secure_filename(name) or "form.xlsx"
    if not stem.lower().endswith(".xlsx"):
        stem += ".xlsx"
    with tempfile.TemporaryDirectory(prefix="adal-xlsform-") as folder:
        path = Path(folder) / stem
        path.write_bytes(raw)
        result = import_xlsform(path)
    return result.definition, list(result.warnings)


def publish_form_file():
    """Check an uploaded form file (YAML, or an XLSForm .xlsx converted first) and publish it as a
    new version; every problem of the checker is listed and nothing is stored then."""
    user = _admin()
    upload = request.files.get("file")
    raw = upload.read(MAX_FILE_BYTES + 1) if upload else b""
    name = ((upload.filename if upload else "") or "upload.yaml")[:200]
    warnings: list[str] = []
    try:
        if not raw:
            raise ValidationFailed(t("c_err_form_file"), errors={"file": [t("c_err_required")]})
        if len(raw) > MAX_FILE_BYTES:
            size = f"{MAX_FILE_BYTES // (1024 * 1024)} MB"
            raise ValidationFailed(t("c_err_too_large", size=size),
                                   errors={"file": [t("c_err_too_large", size=size)]})
        try:
            if raw.startswith(XLSX_MAGIC) or name.lower().endswith(".xlsx"):
                definition, warnings = _read_xlsform(raw, name)
            else:
                definition = check_definition(read_yaml(raw, name), name)
        except FormInvalid as exc:
            return render_admin(user, problems=[str(p) for p in exc.problems], status=422)
        with unit_of_work():
            version, new = publish_form(definition=definition, source=name[:255], actor=user)
            label = f"{version.form.key} v{version.version}" + ("" if new else f" ({t('c_unchanged')})")
    except AppError as exc:
        return render_admin(user, error=exc, status=exc.status)
    return render_admin(user, published=label, warnings=warnings)
