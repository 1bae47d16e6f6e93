"""What Flask serves for the inspector app: the shell on every screen, its files, the service
worker and the strings. No browser needed."""
from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape

from server.web.i18n import STRINGS

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


def test_the_shell_carries_the_app_strings_in_every_language(client):
    html = client.get("/app/").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="app-strings">(.*?)</script>',
                                html, re.S).group(1))
    assert data["start_visit"]["kk"] == STRINGS["app_start_visit"]["kk"]
    assert data["sign_in"] == STRINGS["sign_in"]


def test_app_strings_exist_in_four_languages_and_uzbek_uses_the_okina():
    for key, texts in STRINGS.items():
        if key.startswith("app_"):
            assert set(texts) == {"kk", "ru", "en", "uz"}, key
            assert not re.search(r"[a-zA-Z]['‘’`][a-zA-Z]", texts["uz"]), key


def test_the_skip_link_and_the_noscript_message_are_translated(client):
    html = client.get("/app/").get_data(as_text=True)
    skip = re.search(r'<a class="skip" id="skip" href="#main">(.*?)</a>', html).group(1)
    assert skip == STRINGS["app_skip"]["ru"]  # the default language until the app runs
    noscript = re.search(r"<noscript>(.*?)</noscript>", html, re.S).group(1)
    for code in ("kk", "ru", "en", "uz"):
        assert f'<p lang="{code}">{escape(STRINGS["app_noscript"][code])}</p>' in noscript, code


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
