"""Sign-in, sign-out and the start page. Views call services; no rules live here."""
from __future__ import annotations

import math
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import (Blueprint, Response, current_app, g, redirect, render_template, request,
                   send_from_directory, session, url_for)
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth import service as auth_service
from ..auth.access import SAFE_METHODS, current_user, end_session, start_session
from ..auth.api import rate_limited
from ..config import tile_origin
from ..db import unit_of_work
from ..auth.models import Role
from ..extensions import csrf, limiter
from ..i18n import page_language, translate, translate_plural
from ..i18n import formatting

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

FAVICON_DIR = Path(__file__).parent / "static" / "app" / "icons"

def content_security_policy(tiles: str | None = None) -> str:
    """The pages' strict CSP; a page showing the office map also allows images from the map
    tiles' origin (ADAL_MAP_TILE_URL), and from nowhere else."""
    images = "img-src 'self' data: blob:" + (f" {tiles}" if tiles else "")
    return (f"default-src 'self'; {images}; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'")


CSP = content_security_policy()


def allow_map_tiles() -> None:
    """This response shows the office map: its CSP lets the tiles in (nothing when tiles are
    off)."""
    g.csp_tile_origin = tile_origin(current_app.config.get("MAP_TILE_URL"))


@bp.before_request
def check_csrf() -> None:
    """Every form post from a page carries the session's CSRF token."""
    if request.method not in SAFE_METHODS:
        limit = request.max_content_length
        if limit is not None and (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()  # before the CSRF check, which would read no token
        csrf.protect()


def template_helpers() -> dict:
    """Strings, plurals, numbers and dates in the page's language for every template."""
    lang = page_language()
    return {"lang": lang, "_": lambda key, **values: translate(key, lang, **values),
            "_n": lambda key, n, **values: translate_plural(key, n, lang, **values),
            "fmt_date": lambda value, skeleton="yMMMd": formatting.format_date(value, lang,
                                                                               skeleton),
            "fmt_datetime": lambda value, skeleton="yMMMd": formatting.format_datetime(
                value, lang, skeleton),
            "fmt_number": lambda value, digits=None: formatting.format_number(value, lang, digits),
            "fmt_percent": lambda value, digits=0: formatting.format_percent(value, lang, digits),
            "current_user": current_user, "lang_url": _lang_url}


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
        response.headers.setdefault("Content-Security-Policy",
                                    content_security_policy(g.get("csp_tile_origin")))
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
    """The start page: who is signed in, and where to go (the console for supervisors and
    admins, the inspector app for inspectors)."""
    user = current_user()
    links = []
    if user is not None:
        if user.role in (Role.SUPERVISOR, Role.ADMIN):
            links.append(("console", url_for("console.queue", lang=request.args.get("lang")),
                          "home_console"))
        if user.role == Role.INSPECTOR:
            links.append(("app", "/app/", "home_app"))
    return render_template("index.html", links=links)


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
        return render_template("login.html", failed=True, next=request.form.get("next", ""),
                               entered_login=request.form.get("login", "")[:64]), 401
    with unit_of_work():
        start_session(user)
    return redirect(_safe_next(request.form.get("next")))


def _retry_after() -> int:
    """Seconds until the limit that was hit lets the next attempt through (at least 1)."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def _wait_text(seconds: int, lang: str) -> str:
    """"Try again in 40 seconds" (or minutes from two minutes on), plural-aware."""
    if seconds < 120:
        return translate_plural("cf_login_wait_seconds", seconds, lang)
    return translate_plural("cf_login_wait_minutes", math.ceil(seconds / 60), lang)


@bp.errorhandler(RateLimitExceeded)
def limited(_error):
    """Too many failed sign-ins on the sign-in page (only it is limited among the pages): the
    form again with the wait in the page's language, 429 and Retry-After. The API's token
    endpoint keeps its problem+json 429 (server/errors.py)."""
    seconds = _retry_after()
    html = render_template("login.html", limited=_wait_text(seconds, page_language()),
                           next=(request.form.get("next") or request.args.get("next") or "")[:2000],
                           entered_login=(request.form.get("login") or "")[:64])
    return Response(html, status=429, mimetype="text/html",
                    headers={"Retry-After": str(seconds)})


@bp.post("/logout")
def logout():
    """Sign out of the pages: this session ends on the server, so a copied cookie stops working."""
    with unit_of_work():
        end_session()
    return redirect(url_for("web.login"))
