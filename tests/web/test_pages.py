"""Sign-in pages, the session cookie, CSRF, redirects and the headers every page carries."""
from __future__ import annotations

import re

import pytest

from server.auth.models import User
from tests import factories
from tests.auth import assert_problem, audit_events

ME = "/api/v1/auth/me"
USERS = "/api/v1/users"
JSON = {"Accept": "application/json"}


def _csrf(client, path: str = "/login") -> str:
    """The CSRF token a page hands the browser in its hidden form field."""
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _sign_in(client, login: str, password: str = factories.PASSWORD, **form):
    data = {"csrf_token": _csrf(client), "login": login, "password": password, **form}
    return client.post("/login", data=data)


@pytest.fixture
def ann(commit) -> str:
    commit(lambda: factories.user(role="inspector", login="ann", display_name="Ann A."))
    return "ann"


@pytest.fixture
def root(commit) -> str:
    commit(lambda: factories.user(role="admin", login="root"))
    return "root"


# The sign-in page

@pytest.mark.parametrize("lang, heading", [("kk", "Кіру"), ("ru", "Вход"), ("en", "Sign in"),
                                           ("uz", "Kirish")])
def test_login_page_renders_in_each_language(client, lang, heading):
    resp = client.get(f"/login?lang={lang}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{heading}</h1>" in html


def test_login_page_has_a_csrf_field_and_sets_a_session_cookie(client):
    resp = client.get("/login")
    assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]+">',
                     resp.get_data(as_text=True))
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only


def test_login_page_follows_the_browser_language(client):
    resp = client.get("/login", headers={"Accept-Language": "kk-KZ,kk;q=0.9,ru;q=0.8"})
    assert '<html lang="kk">' in resp.get_data(as_text=True)


def test_login_page_defaults_to_russian_for_unknown_languages(client):
    resp = client.get("/login?lang=fr", headers={"Accept-Language": "fr"})
    assert '<html lang="ru">' in resp.get_data(as_text=True)


# Signing in

def test_sign_in_with_csrf_token_redirects_and_the_session_opens_the_api(client, ann):
    resp = _sign_in(client, ann)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    me = client.get(ME)
    assert me.status_code == 200
    assert me.json["login"] == "ann"


def test_sign_in_without_csrf_token_is_400_and_opens_no_session(client, ann):
    client.get("/login")
    resp = client.post("/login", data={"login": ann, "password": factories.PASSWORD},
                       headers=JSON)
    assert_problem(resp, 400, "csrf_failed")
    assert_problem(client.get(ME), 401, "unauthorized")


def test_sign_in_without_csrf_token_shows_an_error_page_to_browsers(client, ann):
    resp = client.post("/login", data={"login": ann, "password": factories.PASSWORD},
                       headers={"Accept": "text/html"})
    assert resp.status_code == 400
    assert resp.mimetype == "text/html"
    assert "csrf_failed" in resp.get_data(as_text=True)
    assert client.get(ME).status_code == 401


def test_sign_in_with_a_foreign_csrf_token_is_400(app, client, ann):
    other = app.test_client()
    stolen = _csrf(other)
    client.get("/login")
    resp = client.post("/login", data={"csrf_token": stolen, "login": ann,
                                       "password": factories.PASSWORD}, headers=JSON)
    assert_problem(resp, 400, "csrf_failed")
    assert client.get(ME).status_code == 401


def test_sign_in_with_a_wrong_password_shows_the_form_again(app, client, ann):
    resp = _sign_in(client, ann, "not the password", next="/x")
    assert resp.status_code == 401
    html = resp.get_data(as_text=True)
    assert 'role="alert"' in html
    assert 'name="next" value="/x"' in html
    assert client.get(ME).status_code == 401
    [event] = audit_events(app, "login_failed")
    assert event.payload["source"] == "web"


def test_deactivated_user_cannot_sign_in(client, commit, ann, root):
    from server.auth import service
    commit(lambda: service.deactivate_user(user=service.get_user(ann), actor=None))
    assert _sign_in(client, ann).status_code == 401
    assert client.get(ME).status_code == 401


def test_sign_in_with_nul_in_the_login_is_401_not_500(client, ann):
    assert _sign_in(client, "ann\x00").status_code == 401


def test_eleventh_failed_sign_in_is_429(client, ann):
    for _ in range(10):
        assert _sign_in(client, ann, "not the password").status_code == 401
    resp = _sign_in(client, ann, factories.PASSWORD)
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert client.get(ME).status_code == 401


def test_ten_good_sign_ins_in_a_row_all_succeed(client, ann):
    for _ in range(12):
        resp = _sign_in(client, ann)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    token = {"login": ann, "password": factories.PASSWORD}
    for _ in range(12):
        assert client.post("/api/v1/auth/token", json=token).status_code == 201


def test_good_sign_ins_do_not_bring_failures_to_the_limit(client, ann):
    for _ in range(9):
        assert _sign_in(client, ann, "not the password").status_code == 401
    for _ in range(5):
        assert _sign_in(client, ann).status_code == 302
    assert _sign_in(client, ann, "not the password").status_code == 401  # the 10th failure
    assert _sign_in(client, ann).status_code == 429


@pytest.mark.parametrize("lang, limited, wait", [
    ("en", "Too many failed sign-ins.", r"Try again in \d+ seconds?\."),
    ("ru", "Слишком много неудачных попыток входа.",
     r"Повторите через \d+ секунд[уы]?\."),
    ("kk", "Кіру әрекеттерінің тым көбі сәтсіз болды.",
     r"\d+ секундтан кейін қайталап көріңіз\.")])
def test_the_limited_sign_in_page_has_the_form_and_the_wait(client, ann, lang, limited, wait):
    for _ in range(10):
        _sign_in(client, ann, "not the password")
    token = _csrf(client, f"/login?lang={lang}")
    resp = client.post(f"/login?lang={lang}", data={"csrf_token": token, "login": ann,
                                                    "password": "not the password",
                                                    "next": "/console/queue"})
    assert resp.status_code == 429
    seconds = int(resp.headers["Retry-After"])
    assert 0 < seconds <= 61  # a minute's window, rounded up
    html = resp.get_data(as_text=True)
    assert resp.mimetype == "text/html" and "rate_limited" not in html
    alert = re.search(r'<p class="error" role="alert" id="login-limited">(.*?)</p>', html).group(1)
    assert alert.startswith(limited) and re.search(wait, alert)
    assert str(seconds) in alert
    # the form again, with its token and where to go after signing in
    assert '<input name="password" type="password"' in html
    assert re.search(r'name="csrf_token" value="[^"]+"', html)
    assert '<input type="hidden" name="next" value="/console/queue">' in html
    assert f'<html lang="{lang}">' in html


def test_the_wait_is_plural_aware_and_in_minutes_when_long(app):
    from server.web.views import _wait_text

    with app.test_request_context("/"):
        assert _wait_text(1, "en") == "Try again in 1 second."
        assert _wait_text(40, "en") == "Try again in 40 seconds."
        assert _wait_text(21, "ru") == "Повторите через 21 секунду."
        assert _wait_text(22, "ru") == "Повторите через 22 секунды."
        assert _wait_text(40, "ru") == "Повторите через 40 секунд."
        assert _wait_text(3000, "ru") == "Повторите через 50 минут."
        assert _wait_text(40, "uz") == "40 soniyadan keyin qayta urinib koʻring."


def test_the_api_still_answers_problem_json_when_limited(client, ann):
    for _ in range(10):
        _sign_in(client, ann, "not the password")
    resp = client.post("/api/v1/auth/token", json={"login": ann, "password": "x"},
                       headers={"Accept": "application/json"})
    assert_problem(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) > 0


def test_page_stays_reachable_when_the_empty_login_is_limited(client):
    for _ in range(11):
        _sign_in(client, "", "not the password")
    other_address = {"REMOTE_ADDR": "198.51.100.7"}
    assert client.get("/login", environ_base=other_address).status_code == 200


def test_failed_web_sign_ins_count_toward_the_api_limit(client, ann):
    for _ in range(10):
        _sign_in(client, ann, "not the password")
    resp = client.post("/api/v1/auth/token", json={"login": ann,
                                                   "password": factories.PASSWORD})
    assert_problem(resp, 429, "rate_limited")


# Where sign-in leads

def test_next_path_on_this_site_is_followed(client, ann):
    resp = _sign_in(client, ann, next="/api/v1/auth/me?x=1")
    assert resp.headers["Location"] == "/api/v1/auth/me?x=1"


@pytest.mark.parametrize("target", [
    "//evil.example",
    "//evil.example/login",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    " //evil.example",
    "evil.example",
])
def test_next_to_another_site_is_refused(client, ann, target):
    resp = _sign_in(client, ann, next=target)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


# The session and CSRF on the API

def test_session_post_to_the_api_without_csrf_header_is_400(client, root, count):
    _sign_in(client, root)
    resp = client.post(USERS, json={"login": "bob", "role": "inspector",
                                    "password": "long enough password"})
    assert_problem(resp, 400, "csrf_failed")
    assert count(User) == 1


def test_session_post_to_the_api_with_csrf_header_is_allowed(client, root, count):
    _sign_in(client, root)
    resp = client.post(USERS, json={"login": "bob", "role": "inspector",
                                    "password": "long enough password"},
                       headers={"X-CSRFToken": _csrf(client, "/")})
    assert resp.status_code == 201, resp.json
    assert count(User) == 2


def test_session_patch_to_the_api_needs_the_csrf_header(client, root, ann):
    _sign_in(client, root)
    assert_problem(client.patch(f"{USERS}/ann", json={"display_name": "X"}), 400, "csrf_failed")
    resp = client.patch(f"{USERS}/ann", json={"display_name": "X"},
                        headers={"X-CSRFToken": _csrf(client, "/")})
    assert resp.status_code == 200


def test_csrf_token_from_before_sign_in_no_longer_works(client, root, count):
    old = _csrf(client)
    _sign_in(client, root)
    resp = client.post(USERS, json={"login": "bob", "role": "inspector",
                                    "password": "long enough password"},
                       headers={"X-CSRFToken": old})
    assert_problem(resp, 400, "csrf_failed")
    assert count(User) == 1


def test_bearer_request_needs_no_csrf_token_even_with_a_session(client, root, admin_headers):
    _sign_in(client, root)
    resp = client.post(USERS, json={"login": "bob", "role": "inspector",
                                    "password": "long enough password"}, headers=admin_headers)
    assert resp.status_code == 201


def test_session_of_a_deactivated_user_ends(client, commit, ann, root):
    from server.auth import service
    _sign_in(client, ann)
    commit(lambda: service.deactivate_user(user=service.get_user(ann), actor=None))
    assert_problem(client.get(ME), 401, "unauthorized")


def test_session_ends_when_the_password_changes(client, commit, ann):
    from server.auth import service
    _sign_in(client, ann)
    commit(lambda: service.update_user(user=service.get_user(ann),
                                       changes={"password": "a brand new password"}, actor=None))
    assert_problem(client.get(ME), 401, "unauthorized")


def test_session_role_is_checked_on_every_request(client, ann):
    _sign_in(client, ann)
    assert_problem(client.get(USERS), 403, "forbidden")


def test_tampered_session_cookie_is_ignored(client, ann):
    _sign_in(client, ann)
    cookie = client.get_cookie("session")
    client.set_cookie("session", cookie.value[:-2] + "xx")
    assert_problem(client.get(ME), 401, "unauthorized")


# Signing out

def test_logout_ends_the_session(client, ann):
    _sign_in(client, ann)
    resp = client.post("/logout", data={"csrf_token": _csrf(client, "/")})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login"
    assert_problem(client.get(ME), 401, "unauthorized")


def test_logout_without_csrf_token_is_400_and_keeps_the_session(client, ann):
    _sign_in(client, ann)
    assert_problem(client.post("/logout", headers=JSON), 400, "csrf_failed")
    assert client.get(ME).status_code == 200


# The start page and headers

def test_start_page_offers_sign_in_to_strangers(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert 'href="/login?lang=en"' in html
    assert "Sign out" not in html


def test_start_page_shows_who_is_signed_in(client, ann):
    _sign_in(client, ann)
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "<strong>Ann A.</strong> (inspector)" in html
    assert "Sign out" in html


def test_display_name_is_escaped_on_the_start_page(client, commit):
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    commit(lambda: factories.user(login="mallory", display_name=name))
    _sign_in(client, "mallory")
    html = client.get("/").get_data(as_text=True)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


@pytest.mark.parametrize("path", ["/", "/login", "/no-such-page"])
def test_html_responses_carry_csp_nosniff_and_no_framing(client, path):
    resp = client.get(path, headers={"Accept": "text/html"})
    assert resp.mimetype == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_api_responses_carry_nosniff(client):
    resp = client.get(ME)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
