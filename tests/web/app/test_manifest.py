"""The installable app: the web app manifest at /app/manifest.webmanifest in the language asked
for, its icons, the favicon of every page, and the service worker keeping them. No browser here
(test_manifest_browser.py runs Chromium's installability check)."""
from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image, ImageChops, ImageStat

from server.config import LANGUAGES
from server.web import app_icons, inspector
from server.i18n import MESSAGES, translate
from tests.problems import assert_problem

MANIFEST = "/app/manifest.webmanifest"
TEXTS = ("name", "short_name", "description")


def _manifest(client, query: str = "", **headers) -> dict:
    resp = client.get(MANIFEST + query, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"] == "application/manifest+json"
    assert resp.headers["Cache-Control"] == "no-cache"
    return json.loads(resp.get_data(as_text=True))


def test_the_manifest_makes_the_app_installable_from_its_own_scope(client):
    data = _manifest(client, "?lang=en")
    assert (data["start_url"], data["scope"], data["id"], data["display"]) == (
        "/app/", "/app/", "/app/", "standalone")
    assert data["name"] == translate("manifest_name", "en")
    # the colours of the app: its CSS background and the shell's <meta name="theme-color">
    shell = client.get("/app/").get_data(as_text=True)
    meta = re.search(r'<meta name="theme-color" content="(#[0-9a-f]{6})">', shell).group(1)
    css = client.get("/app/static/app.css").get_data(as_text=True)
    root = re.search(r":root \{[^}]*background: (#[0-9a-f]+);", css).group(1)
    assert data["theme_color"] == meta
    assert _hex(data["background_color"]) == _hex(root)


def _hex(colour: str) -> str:
    colour = colour.lower().lstrip("#")
    return "".join(c * 2 for c in colour) if len(colour) == 3 else colour


def test_every_icon_exists_is_a_png_of_its_size_and_one_is_maskable(client):
    icons = _manifest(client)["icons"]
    purposes = {}
    for icon in icons:
        resp = client.get(icon["src"])
        assert resp.status_code == 200, icon["src"]
        assert resp.mimetype == icon["type"] == "image/png"
        image = Image.open(io.BytesIO(resp.data))
        assert image.format == "PNG" and f"{image.width}x{image.height}" == icon["sizes"]
        purposes.setdefault(icon["purpose"], set()).add(icon["sizes"])
    assert purposes == {"any": {"192x192", "512x512"}, "maskable": {"192x192", "512x512"}}


def test_a_maskable_icon_keeps_its_mark_inside_the_safe_circle_and_fills_every_corner(client):
    """Outside the central circle of 80 % (the safe zone) only the background colour; no
    transparent pixel anywhere, since a launcher may mask any shape."""
    for size in (192, 512):
        image = Image.open(io.BytesIO(client.get(
            f"/app/static/icons/icon-maskable-{size}.png").data)).convert("RGBA")
        background = image.getpixel((0, 0))
        assert background[3] == 255 and background[:3] == app_icons.ACCENT[:3]
        assert image.getextrema()[3] == (255, 255)
        centre, safe = size / 2, 0.4 * size
        for x in range(0, size, 4):
            for y in range(0, size, 4):
                if (x - centre) ** 2 + (y - centre) ** 2 > safe ** 2:
                    assert image.getpixel((x, y)) == background, (size, x, y)


def test_the_committed_icons_are_what_app_icons_draws():
    """The PNGs and the ICO are made by server/web/app_icons.py (docs/inspector-app.md); drawing
    them again gives the same pictures (a small tolerance for another Pillow's resampling)."""
    for name, (size, maskable) in app_icons.FILES.items():
        committed = Image.open(app_icons.ICON_DIR / name).convert("RGBA")
        drawn = app_icons.draw_icon(size, maskable=maskable)
        diff = ImageStat.Stat(ImageChops.difference(committed, drawn)).mean
        assert max(diff) < 1.0, (name, diff)
    ico = Image.open(app_icons.ICON_DIR / "favicon.ico")
    assert ico.format == "ICO" and ico.info["sizes"] == {(16, 16), (32, 32), (48, 48)}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_manifest_speaks_the_language_asked_for_and_carries_the_others(client, lang):
    data = _manifest(client, f"?lang={lang}")
    assert data["lang"] == lang and data["dir"] == "ltr"
    for member in TEXTS:
        assert data[member] == translate(f"manifest_{member}", lang)
    others = set(LANGUAGES) - {lang}
    assert set(data["translations"]) == others
    for code in others:
        assert data["translations"][code] == {
            member: translate(f"manifest_{member}", code) for member in TEXTS}
        for member in TEXTS:
            assert data[f"{member}_localized"][code] == translate(f"manifest_{member}", code)


def test_without_lang_the_browser_language_decides_then_the_default(client, app):
    assert _manifest(client, **{"Accept-Language": "kk-KZ,kk;q=0.9,ru;q=0.8"})["lang"] == "kk"
    assert _manifest(client, **{"Accept-Language": "de-DE,uz;q=0.5"})["lang"] == "uz"
    assert _manifest(client, **{"Accept-Language": "ru-RU"})["lang"] == "ru"
    assert _manifest(client, **{"Accept-Language": "de-DE"})["lang"] == \
        app.config["DEFAULT_LANGUAGE"]
    resp = client.get(MANIFEST, headers={"Accept-Language": "ru"})
    assert resp.headers["Vary"] == "Accept-Language" and resp.headers["Content-Language"] == "ru"


@pytest.mark.parametrize("query", ["?lang=fr", "?lang=", "?lang=EN", "?lang=ru-RU",
                                   "?lang=%D0%BA%D0%BA"])
def test_a_language_that_is_not_one_of_the_four_is_refused(client, query):
    resp = client.get(MANIFEST + query, headers={"Accept": "application/json"})
    assert_problem(resp, 422, "validation_failed")
    assert resp.json["errors"] == {"query": {"lang": ["Must be one of: kk, ru, en, uz."]}}


def _texts(key: str) -> dict:
    return {code: translate(key, code) for code in LANGUAGES}


def test_the_manifest_strings_exist_in_four_languages_and_uzbek_uses_the_okina():
    for member in TEXTS:
        texts = _texts(f"manifest_{member}")
        assert set(texts) == set(LANGUAGES) and all(t.strip() for t in texts.values())
        assert not re.search(r"[a-zA-Z]['‘’`][a-zA-Z]", texts["uz"]), member
    assert len(translate("manifest_short_name", "kk")) <= 12  # fits under a home-screen icon


def test_the_shell_links_the_manifest_and_every_page_has_an_icon(client):
    shell = client.get("/app/").get_data(as_text=True)
    assert f'<link rel="manifest" href="{MANIFEST}">' in shell
    assert re.search(r'<link rel="icon" href="/app/static/icons/favicon.ico"', shell)
    for path in ("/", "/login", "/console/", "/no-such-page"):
        html = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert '<link rel="icon" href="/favicon.ico"' in html, path


def test_the_favicon_is_served_by_the_site(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/x-icon"
    assert resp.data == (app_icons.ICON_DIR / "favicon.ico").read_bytes()
    assert Image.open(io.BytesIO(resp.data)).format == "ICO"


def test_the_service_worker_keeps_the_manifest_and_the_icons(client):
    text = client.get("/app/sw.js").get_data(as_text=True)
    assets = json.loads(re.search(r"^const ASSETS = (\[.*\]);", text, re.M).group(1))
    assert MANIFEST in assets
    for icon in _manifest(client)["icons"]:
        assert icon["src"] in assets
    assert "/app/static/icons/favicon.ico" in assets
    assert 'url.pathname === MANIFEST' in text  # answered from the cache like the app's files


def test_a_change_to_the_manifest_changes_the_build(app, monkeypatch):
    """The service worker's cache is named after the build: a new name or icon must renew it."""
    with app.app_context():  # the build also covers the configured media limits
        before = inspector._build_id()
        monkeypatch.setitem(MESSAGES, "manifest_name", "Jottings")  # the English source text
        assert inspector._build_id() != before
