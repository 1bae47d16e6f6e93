"""Issue 12 (5, 6): nothing shown to a signed-in user is cacheable; Secure cookies and HSTS in
production (a non-debug run seeing HTTPS, or ADAL_SECURE_COOKIES=1)."""
from __future__ import annotations

import re

import pytest

from server.transport import HSTS
from tests import factories

HTTPS = "https://adal.example"


def _sign_in(client, login: str, base_url: str = "http://localhost"):
    html = client.get("/login", base_url=base_url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    # Over HTTPS, Flask-WTF also wants a same-origin Referer, as a browser sends it.
    return client.post("/login", base_url=base_url, headers={"Referer": f"{base_url}/login"},
                       data={"csrf_token": token, "login": login, "password": factories.PASSWORD})


@pytest.fixture
def sup(commit):
    commit(lambda: factories.user(role="supervisor", login="sup"))
    return "sup"


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/visits", "/api/v1/offices"])
def test_api_answers_to_a_signed_in_user_are_not_stored(client, supervisor_headers, path):
    resp = client.get(path, headers=supervisor_headers)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"


def test_console_pages_are_not_stored(client, sup):
    _sign_in(client, sup)
    resp = client.get("/console/queue")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"


def test_anonymous_answers_keep_their_own_caching(client):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    assert client.get("/app/").headers["Cache-Control"] == "no-cache"  # the shell names nobody


def test_over_https_the_session_cookie_is_secure_and_hsts_is_sent(client, sup):
    resp = _sign_in(client, sup, HTTPS)
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert resp.headers["Strict-Transport-Security"] == HSTS


def test_over_plain_http_in_development_nothing_is_forced(client, sup):
    resp = _sign_in(client, sup)
    assert "Secure" not in resp.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in resp.headers


def test_adal_secure_cookies_forces_both_even_over_http(app, client, sup):
    app.config["SECURE_COOKIES"] = True  # read per request, as ADAL_SECURE_COOKIES=1 sets it
    resp = _sign_in(client, sup)
    assert "Secure" in resp.headers["Set-Cookie"]
    assert resp.headers["Strict-Transport-Security"] == HSTS


def test_adal_secure_cookies_off_turns_both_off_over_https(app, client):
    app.config["SECURE_COOKIES"] = False
    resp = client.get("/login", base_url=HTTPS)
    assert "Strict-Transport-Security" not in resp.headers
    assert "Secure" not in resp.headers.get("Set-Cookie", "")
