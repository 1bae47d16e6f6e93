"""What Flask serves for the inspector app: the shell on every screen, its files, the service
worker and the strings. No browser needed."""
from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape

from server.i18n import LANGUAGES, translate

SCREENS = ["/app/", "/app/signin", "/app/visits", "/app/visit/0b0e6f4c-8a1d-4b5e-9f3a-2c7d1e6b9a40",
           "/app/amend/0b0e6f4c-8a1d-4b5e-9f3a-2c7d1e6b9a40"]


@pytest.mark.parametrize("path", SCREENS)
def test_every_screen_is_the_shell_with_a_strict_csp_and_no_inline_script(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["Cache-Control"] == "no-cache"
    html = resp.get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/app/static/' in tag or 'type="application/json"' in tag, tag
    assert "Adal" not in re.search(r"<title>(.*)</title>", html).group(1)


@pytest.mark.parametrize("lang", ["kk", "ru", "en", "uz"])
def test_each_language_is_one_json_from_the_catalogs(client, lang):
    resp = client.get(f"/app/i18n/{lang}.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    data = resp.get_json()
    assert data["strings"]["start_visit"] == translate("app_start_visit", lang)
    assert data["strings"]["sign_in"] == translate("sign_in", lang)
    assert len(data["months"]["abbr"]) == 12 and not data["months"]["abbr"][11].startswith("M")
    assert data["patterns"]["time"] == "HH:mm"


def test_kazakh_and_uzbek_month_names_come_from_cldr_not_the_browser(client):
    assert client.get("/app/i18n/kk.json").get_json()["months"]["abbr"][11] == "жел."
    assert client.get("/app/i18n/uz.json").get_json()["months"]["abbr"][11] == "dek"
    assert client.get("/app/i18n/ru.json").get_json()["number"]["decimal"] == ","


def test_russian_plurals_carry_three_forms_and_kazakh_two(client):
    ru = client.get("/app/i18n/ru.json").get_json()["plurals"]["n_unsent"]
    kk = client.get("/app/i18n/kk.json").get_json()["plurals"]["n_unsent"]
    assert len(ru) == 3 and len(set(ru)) == 3 and len(kk) == 2


def test_an_unknown_language_file_is_a_404(client):
    assert client.get("/app/i18n/de.json").status_code == 404
    assert client.get("/app/i18n/..%2Fsw.json").status_code == 404


def test_the_service_worker_keeps_every_language_file(client):
    body = client.get("/app/sw.js").get_data(as_text=True)
    for lang in LANGUAGES:
        assert f"/app/i18n/{lang}.json" in body


def test_app_strings_in_uzbek_use_the_okina():
    for key in [k for k in __import__("server.i18n", fromlist=["MESSAGES"]).MESSAGES
                if k.startswith("app_")]:
        assert not re.search(r"[a-zA-Z]['‘’`][a-zA-Z]", translate(key, "uz")), key


def test_the_skip_link_and_the_noscript_message_are_translated(client):
    html = client.get("/app/").get_data(as_text=True)
    skip = re.search(r'<a class="skip" id="skip" href="#main">(.*?)</a>', html).group(1)
    assert skip == translate("app_skip", "ru")  # the default language until the app runs
    noscript = re.search(r"<noscript>(.*?)</noscript>", html, re.S).group(1)
    for code in ("kk", "ru", "en", "uz"):
        assert f'<p lang="{code}">{escape(translate("app_noscript", code))}</p>' in noscript, code


def test_app_without_slash_goes_to_the_service_worker_scope(client):
    resp = client.get("/app")
    assert resp.status_code == 308
    assert resp.headers["Location"].endswith("/app/")


def test_unknown_app_paths_are_404(client):
    assert client.get("/app/visit/not-a-uuid").status_code == 404


def test_the_service_worker_lists_files_that_exist(client):
    resp = client.get("/app/sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache"
    text = resp.get_data(as_text=True)
    build = re.search(r'^const BUILD = "([0-9a-f]{16})";', text, re.M).group(1)
    assets = json.loads(re.search(r"^const ASSETS = (\[.*\]);", text, re.M).group(1))
    assert "/app/" in assets and "/app/static/app.js" in assets and "/app/static/sw.js" not in assets
    for path in assets:
        got = client.get(path)
        assert got.status_code == 200, path
        if path.endswith(".js"):
            assert got.mimetype == "text/javascript", path
    assert f'data-build="{build}"' in client.get("/app/").get_data(as_text=True)


def test_the_shell_carries_the_servers_media_rules(client, app):
    """What the app judges attached files by: sniff.py's tables and this server's limits."""
    from server.media import sniff

    html = client.get("/app/").get_data(as_text=True)
    block = re.search(r'<script type="application/json" id="media-rules">(.*?)</script>', html, re.S)
    rules = json.loads(block.group(1))
    assert rules["limits"] == {"upload": app.config["UPLOAD_MAX_BYTES"],
                               "photo": app.config["MEDIA_MAX_BYTES_PHOTO"],
                               "video": app.config["MEDIA_MAX_BYTES_VIDEO"],
                               "audio": app.config["MEDIA_MAX_BYTES_AUDIO"]}
    assert rules["head_bytes"] == sniff.HEAD_BYTES
    assert bytes.fromhex(rules["brands"]["heic"][0]) in sniff._HEIC_BRANDS
    assert [bytes.fromhex(m[1]) for m in rules["magic"]] == [m[1] for m in sniff._MAGIC]
    assert rules["accepted"].startswith("JPEG, PNG") and "photos" not in rules["accepted"]
