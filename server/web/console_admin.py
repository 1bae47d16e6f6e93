"""Console admin pages (admins only), each its own page under one sub-navigation: users
(/console/admin: create, deactivate, reset token), forms (/console/admin/forms: publish a version
from a YAML or XLSForm upload, every problem shown); the audit log is console_audit.py. Pages call
services; no rules live here."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import marshmallow as ma
import sqlalchemy as sa
import yaml
from flask import redirect, render_template, request, session, url_for
from werkzeug.utils import secure_filename

from ..auth import service as auth_service
from ..auth.models import ApiToken, Role
from ..auth.schemas import UserIn
from ..db import unit_of_work
from ..errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..forms.definition import FormInvalid, check_definition
from ..forms.loader import MAX_FILE_BYTES, read_yaml
from ..forms.service import list_forms_query, publish_form
from .console_access import staff, t
from ..i18n import page_language

XLSX_MAGIC = b"PK\x03\x04"
# The secret of a reset token waits here for the one GET after the POST (then it is removed).
SECRET_KEY = "console_token_secret"
# The SHA-256 of the converted forms (YAML) this session was shown and may publish, newest last.
PREVIEWS_KEY = "console_form_previews"
MAX_PREVIEWS = 5
SHA256_HEX = frozenset("0123456789abcdef")


def _admin():
    user = staff()
    if user.role != Role.ADMIN:
        raise Forbidden(t("c_err_admin_only"))
    return user


def render_admin(user, *, error: AppError | None = None, status: int = 200,
                 entered: dict | None = None, secret: tuple[str, str] | None = None):
    """The users page: every account, a form for a new one, token resets."""
    users = db.session.scalars(auth_service.list_users_query()).all()
    return render_template("console/admin.html", users=users, roles=[r.value for r in Role],
                           error=error, entered=entered or {}, secret=secret), status


def render_forms(user, *, error: AppError | None = None, status: int = 200,
                 problems: list | None = None, published: str | None = None,
                 warnings: list | None = None, preview: dict | None = None):
    """The forms page: published forms and versions, the upload, an XLSForm's preview."""
    forms = db.session.scalars(list_forms_query()).all()
    return render_template("console/admin_forms.html", forms=forms, error=error,
                           problems=problems or [], published=published,
                           warnings=warnings or [], preview=preview), status


def admin():
    """The users page; after a token reset it shows the new secret once (popped from the
    session)."""
    user = _admin()
    shown = session.pop(SECRET_KEY, None)
    secret = tuple(shown) if isinstance(shown, list) and len(shown) == 2 else None
    return render_admin(user, secret=secret)


def forms_page():
    """The forms page (GET); publishing posts to /console/admin/forms and .../forms/publish."""
    user = _admin()
    published = request.args.get("published", "")[:200] or None
    return render_forms(user, published=published)


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


def _converted_yaml(definition: dict) -> str:
    """The converted form as the YAML text that is shown, hashed and published (LF newlines)."""
    return yaml.safe_dump(definition, allow_unicode=True, sort_keys=False,
                          default_flow_style=False, width=100)


def _summary(definition: dict) -> dict:
    """What the preview shows of a converted form: key, version, title, counts, languages."""
    lang = page_language()
    title = definition.get("title") or {}
    sections = definition.get("sections") or []
    return {"key": definition.get("key"), "version": definition.get("version"),
            "title": (title.get(lang) or title.get("en") or next(iter(title.values()), ""))
            if isinstance(title, dict) else str(title),
            "languages": definition.get("languages") or [],
            "sections": len(sections),
            "questions": sum(len(sect.get("questions") or []) for sect in sections)}


def _preview_xlsform(user, raw: bytes, name: str):
    """Step 1 for a workbook: convert and check it, store nothing; show the summary, the
    import's notes and a Publish form carrying the YAML and its SHA-256."""
    try:
        definition, warnings = _read_xlsform(raw, name)
    except FormInvalid as exc:
        return render_forms(user, problems=[str(p) for p in exc.problems], status=422)
    text = _converted_yaml(definition)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    shown = [h for h in session.get(PREVIEWS_KEY) or [] if isinstance(h, str) and h != sha]
    session[PREVIEWS_KEY] = (shown + [sha])[-MAX_PREVIEWS:]
    return render_forms(user, warnings=warnings, preview={
        "summary": _summary(definition), "yaml": text, "sha256": sha, "source": name[:255]})


def publish_converted_form():
    """Step 2: publish exactly the converted form the preview showed. The YAML comes back with
    the SHA-256 shown; a text whose hash differs, or a hash this session was not shown, is
    refused (409 preview_mismatch) and nothing is stored."""
    user = _admin()
    form = request.form
    text = (form.get("yaml") or "")[:MAX_FILE_BYTES + 1].replace("\r\n", "\n")
    sha = (form.get("sha256") or "").strip().lower()[:64]
    source = (form.get("source") or "").strip()[:255] or "upload.xlsx"
    try:
        missing = {field: [t("c_err_required")] for field, value in
                   (("yaml", text), ("sha256", sha)) if not value}
        if missing:
            raise ValidationFailed(t("c_err_preview_fields"), errors=missing)
        if len(sha) != 64 or not set(sha) <= SHA256_HEX:
            raise ValidationFailed(t("c_err_preview_fields"),
                                   errors={"sha256": [t("c_err_sha256")]})
        raw = text.encode("utf-8")
        if hashlib.sha256(raw).hexdigest() != sha:
            raise Conflict(t("c_err_preview_changed"), code="preview_mismatch")
        if sha not in (session.get(PREVIEWS_KEY) or []):
            raise Conflict(t("c_err_preview_unknown"), code="preview_mismatch")
        try:
            definition = check_definition(read_yaml(raw, source), source)
        except FormInvalid as exc:
            return render_forms(user, problems=[str(p) for p in exc.problems], status=422)
        with unit_of_work():
            version, new = publish_form(definition=definition, source=source, actor=user)
            label = f"{version.form.key} v{version.version}" + ("" if new else f" ({t('c_unchanged')})")
    except AppError as exc:
        return render_forms(user, error=exc, status=exc.status)
    session[PREVIEWS_KEY] = [h for h in session.get(PREVIEWS_KEY) or [] if h != sha]
    return render_forms(user, published=label)


def publish_form_file():
    """Check an uploaded form file and publish it: a YAML file as a new version at once; an
    XLSForm .xlsx is converted first and shown (_preview_xlsform) for a second step that
    publishes it. Every problem of the checker is listed and nothing is stored then."""
    user = _admin()
    upload = request.files.get("file")
    raw = upload.read(MAX_FILE_BYTES + 1) if upload else b""
    name = ((upload.filename if upload else "") or "upload.yaml")[:200]
    try:
        if not raw:
            raise ValidationFailed(t("c_err_form_file"), errors={"file": [t("c_err_required")]})
        if len(raw) > MAX_FILE_BYTES:
            size = f"{MAX_FILE_BYTES // (1024 * 1024)} MB"
            raise ValidationFailed(t("c_err_too_large", size=size),
                                   errors={"file": [t("c_err_too_large", size=size)]})
        if raw.startswith(XLSX_MAGIC) or name.lower().endswith(".xlsx"):
            return _preview_xlsform(user, raw, name)
        try:
            definition = check_definition(read_yaml(raw, name), name)
        except FormInvalid as exc:
            return render_forms(user, problems=[str(p) for p in exc.problems], status=422)
        with unit_of_work():
            version, new = publish_form(definition=definition, source=name[:255], actor=user)
            label = f"{version.form.key} v{version.version}" + ("" if new else f" ({t('c_unchanged')})")
    except AppError as exc:
        return render_forms(user, error=exc, status=exc.status)
    return render_forms(user, published=label)
