"""The inspector app under /app: one page shell for every screen, and its service worker.

The app itself runs in the phone's browser (vanilla ES modules in static/app/, docs/inspector-app.md):
it signs in for a bearer token and talks to /api/v1 like any other client, keeps drafts and media
in IndexedDB and works offline. Flask only hands out the shell, the interface strings and the
service worker; no rule and no data live here.
"""
from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request

from ..config import LANGUAGES
from ..errors import ValidationFailed
from ..i18n import page_language, translate
from ..i18n.formatting import app_catalog
from ..media import sniff

# The app's files are served under /app/static/ (inside the service worker's scope), not /static/:
# the Flask app's own /static route shadows the web blueprint's there (see the report in
# docs/inspector-app.md).
bp = Blueprint("inspector", __name__, url_prefix="/app", template_folder="templates",
               static_folder="static/app", static_url_path="/static")

HERE = Path(__file__).parent
ASSET_DIR = HERE / "static" / "app"
SHELL_TEMPLATE = HERE / "templates" / "app" / "shell.html"
SCREENS = ("/", "/signin", "/visits", "/visit/<uuid:visit_uuid>", "/amend/<uuid:visit_uuid>")


# The installed app (docs/inspector-app.md, "Installing the app"). Colours as in app.css and the
# shell's <meta name="theme-color">: the page background is white.
MANIFEST_URL = "/app/manifest.webmanifest"
MANIFEST_TYPE = "application/manifest+json"
MANIFEST_TEXTS = ("name", "short_name", "description")
THEME_COLOR = BACKGROUND_COLOR = "#ffffff"
ICONS = [
    {"src": "/app/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png",
     "purpose": "any"},
    {"src": "/app/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png",
     "purpose": "any"},
    {"src": "/app/static/icons/icon-maskable-192.png", "sizes": "192x192", "type": "image/png",
     "purpose": "maskable"},
    {"src": "/app/static/icons/icon-maskable-512.png", "sizes": "512x512", "type": "image/png",
     "purpose": "maskable"},
]


def manifest(lang: str) -> dict:
    """The web app manifest with its texts in `lang`; the other languages twice: under
    `translations` (the Web App Translations explainer) and as `*_localized` members (the W3C
    draft's localized members), since no browser has settled on either yet."""
    texts = {member: {code: translate(f"manifest_{member}", code) for code in LANGUAGES}
             for member in MANIFEST_TEXTS}
    others = [code for code in LANGUAGES if code != lang]
    body = {"id": "/app/", "lang": lang, "dir": "ltr",
            **{member: texts[member][lang] for member in MANIFEST_TEXTS},
            "start_url": "/app/", "scope": "/app/", "display": "standalone",
            "theme_color": THEME_COLOR, "background_color": BACKGROUND_COLOR, "icons": ICONS,
            "translations": {code: {member: texts[member][code] for member in MANIFEST_TEXTS}
                             for code in others}}
    for member in MANIFEST_TEXTS:
        body[f"{member}_localized"] = {code: texts[member][code] for code in others}
    return body


def _assets() -> list[Path]:
    return sorted(p for p in ASSET_DIR.rglob("*") if p.is_file() and p.name != "sw.js")


def media_rules() -> dict:
    """What the app checks a file against when it is attached, so that it refuses at once what the
    server would refuse after Finish: sniff.py's own tables (brands, atoms, magic numbers, MP3
    frame tables; static/app/sniff.js runs the same decisions on them) and the configured size
    limits. Sent in the shell as a JSON data block; tests/web/app/test_evidence_check.py holds the
    app's verdicts equal to the server's on a corpus of files."""
    config = current_app.config
    hexes = lambda items: sorted(b.hex() for b in items)  # noqa: E731
    return {
        "head_bytes": sniff.HEAD_BYTES,
        # The formats only ("JPEG, PNG, HEIC/HEIF, ..."): the words around them are English.
        "accepted": ", ".join(re.findall(r"[A-Z0-9][\w/]*(?: \([^)]*\))?", sniff.ACCEPTED)),
        "limits": {"upload": int(config["UPLOAD_MAX_BYTES"]),
                   **{kind: int(config[f"MEDIA_MAX_BYTES_{kind.upper()}"])
                      for kind in ("photo", "video", "audio")}},
        "brands": {"heic": hexes(sniff._HEIC_BRANDS), "heif": hexes(sniff._HEIF_GENERIC),
                   "audio": hexes(sniff._AUDIO_BRANDS), "quicktime": hexes(sniff._QT_BRANDS),
                   "3gpp": hexes(sniff._3GP_BRANDS), "mp4": hexes(sniff._MP4_BRANDS)},
        "refused_brands": {b.hex(): name for b, name in sorted(sniff._REFUSED_BRANDS.items())},
        "quicktime_atoms": hexes(sniff._QT_ATOMS),
        "mp3_bitrates": {str(k): list(v) for k, v in sniff._MP3_BITRATES.items()},
        "mp3_rates": {str(k): list(v) for k, v in sniff._MP3_RATES.items()},
        "magic": [[offset, magic.hex(), name] for offset, magic, name in sniff._MAGIC],
    }


def _build_id() -> str:
    """Changes whenever an asset, the shell, a string or a media rule changes: the service
    worker's cache name (the kept shell carries the media rules)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(media_rules(), sort_keys=True).encode())
    for path in [*_assets(), SHELL_TEMPLATE, ASSET_DIR / "sw.js"]:
        digest.update(path.relative_to(HERE).as_posix().encode())
        digest.update(path.read_bytes())
    for lang in LANGUAGES:
        digest.update(json.dumps(app_catalog(lang), sort_keys=True).encode())
    digest.update(json.dumps([manifest(code) for code in LANGUAGES], sort_keys=True).encode())
    return digest.hexdigest()[:16]


_cached_build_id = lru_cache(maxsize=1)(_build_id)


def build_id() -> str:
    """The build id, computed once per process (on every request while debugging)."""
    return _build_id() if current_app.debug else _cached_build_id()


def _no_cache(resp: Response) -> Response:
    # The service worker keeps the offline copy; the HTTP cache must not serve a stale shell.
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def shell(visit_uuid=None):
    """Every screen of the app: the same shell; the app routes on the path in the browser."""
    lang = current_app.config["DEFAULT_LANGUAGE"]
    html = render_template("app/shell.html", languages=LANGUAGES, default_language=lang,
                           title=translate("app_neutral_title", lang),
                           skip=translate("app_skip", lang),
                           noscript={code: translate("app_noscript", code) for code in LANGUAGES},
                           media_rules=media_rules(), build=build_id())
    return _no_cache(Response(html, mimetype="text/html"))


for _rule in SCREENS:
    bp.add_url_rule(_rule, endpoint="shell", view_func=shell)


@bp.get("")
def root():
    """/app without the slash: the service worker's scope is /app/."""
    return redirect("/app/", code=308)


@bp.get("/i18n/<lang>.json")
def catalog(lang: str):
    """The app's strings and CLDR formats in one language, from the gettext catalogs; the service
    worker keeps all four for offline use."""
    if lang not in LANGUAGES:
        abort(404)
    body = json.dumps(app_catalog(lang), ensure_ascii=False, sort_keys=True)
    return _no_cache(Response(body, mimetype="application/json"))


@bp.get("/sw.js")
def service_worker():
    """The service worker, at /app/sw.js so that its scope is /app/; it caches the shell and
    the assets listed here under a cache named after the build."""
    assets = ["/app/", MANIFEST_URL,
              *(f"/app/static/{p.relative_to(ASSET_DIR).as_posix()}" for p in _assets()),
              *(f"/app/i18n/{lang}.json" for lang in LANGUAGES)]
    head = f"const BUILD = {json.dumps(build_id())};\nconst ASSETS = {json.dumps(assets)};\n"
    body = head + (ASSET_DIR / "sw.js").read_text(encoding="utf-8")
    return _no_cache(Response(body, mimetype="text/javascript"))


@bp.get("/manifest.webmanifest")
def web_app_manifest():
    """The web app manifest that makes /app/ installable, in the language asked for (?lang=, then
    Accept-Language, then ADAL_DEFAULT_LANGUAGE); the other languages ride along inside it."""
    asked = request.args.get("lang")
    if asked is not None and asked not in LANGUAGES:
        raise ValidationFailed("1 field did not validate; see errors.", errors={
            "query": {"lang": [f"Must be one of: {', '.join(LANGUAGES)}."]}})
    lang = page_language()  # as every page: ?lang=, Accept-Language, the default
    body = json.dumps(manifest(lang), ensure_ascii=False, indent=1)
    resp = _no_cache(Response(body, mimetype=MANIFEST_TYPE))
    resp.headers["Vary"] = "Accept-Language"
    resp.headers["Content-Language"] = lang
    return resp
