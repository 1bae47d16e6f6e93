"""Sign-in, sign-out and the start page. Views call services; no rules live here."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import (Blueprint, Response, redirect, render_template, request, send_from_directory,
                   session, url_for)
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth import service as auth_service
from ..auth.access import SAFE_METHODS, current_user, start_session
from ..auth.api import rate_limited
from ..db import unit_of_work
from ..extensions import csrf
from .i18n import page_language, translate

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

FAVICON_DIR = Path(__file__).parent / "static" / "app" / "icons"
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")


@bp.before_request
def check_csrf() -> None:
    """Every form post from a page carries the session's CSRF token."""
    if request.method not in SAFE_METHODS:
        limit = request.max_content_length
        if limit is not None and (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()  # before the CSRF check, which would read no token
        csrf.protect()


def template_helpers() -> dict:
    lang = page_language()
    return {"lang": lang, "_": lambda key: translate(key, lang), "current_user": current_user,
            "lang_url": _lang_url}


def _lang_url(code: str) -> str:
    """This page in another language, keeping its other query parameters."""
    args = request.args.to_dict()
    args["lang"] = code
    if request.endpoint is None:
        return f"?lang={code}"
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def security_headers(response: Response) -> Response:
    """No sniffing anywhere; pages get a strict CSP and may not be framed."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _safe_next(target: str | None) -> str:
    """Only same-site paths; never an open redirect to another host."""
    if not target:
        return url_for("web.index")
    # Browsers read a backslash as "/" and drop tabs and newlines, so "/<backslash>evil" or
    # "/<tab>/evil" would become "//evil"; refuse them rather than trust the header's quoting.
    if "\\" in target or any(ch.isspace() or not ch.isprintable() for ch in target):
        return url_for("web.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.index")
    return target


@bp.get("/favicon.ico")
def favicon():
    """The site's icon (made by server/web/app_icons.py), kept by browsers for a day."""
    return send_from_directory(FAVICON_DIR, "favicon.ico", mimetype="image/x-icon", max_age=86400)


@bp.get("/")
def index():
    """The start page: who is signed in, and where to go."""
    return render_template("index.html")


@bp.route("/login", methods=["GET", "POST"])
@rate_limited
def login():
    """Sign in to the pages with login and password (session cookie)."""
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    with unit_of_work():
        user = auth_service.check_credentials(login=request.form.get("login", "")[:256],
                                              password=request.form.get("password", "")[:256],
                                              source="web", address=request.remote_addr)
    if user is None:
        return render_template("login.html", failed=True, next=request.form.get("next", "")), 401
    start_session(user)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    """Sign out of the pages."""
    session.clear()
    return redirect(url_for("web.login"))
