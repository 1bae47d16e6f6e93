"""Report pages: signed-in staff only (public snapshots for anyone), every language, escaped."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from server.auth.access import SESSION_PASSWORD_KEY, SESSION_USER_KEY, password_fingerprint
from tests import factories

HEADINGS = {"kk": "Кеңселер рейтингі", "ru": "Рейтинг офисов", "en": "Office ranking",
            "uz": "Idoralar reytingi"}
OFFICE_HEADINGS = {"kk": "Кеңсе бойынша есеп", "ru": "Отчёт по офису", "en": "Office report",
                   "uz": "Idora hisoboti"}
EVIL = "<script>alert(1)</script>"


@pytest.fixture
def sign_in(client, commit):
    """Sign the test client in to the pages as a new user with `role` (session cookie)."""
    def run(role: str, **kw) -> None:
        def create():
            user = factories.user(role=role, **kw)
            return user.id, password_fingerprint(user)
        uid, fingerprint = commit(create)
        with client.session_transaction() as session:
            session[SESSION_USER_KEY], session[SESSION_PASSWORD_KEY] = uid, fingerprint
    return run


@pytest.fixture
def ranked(commit, rw):
    def build():
        rw.visits(rw.office("A"), [80, 90, 100], findings=["D01"],
                  sections={"queue": 80, "integrity": 60})
        rw.visits(rw.office("B"), [70, 70, 70])
        rw.visits(rw.office("C"), [95, 99])
    commit(build)
    return rw


def test_the_ranking_page_sends_strangers_to_sign_in(client):
    resp = client.get("/reports/ranking?period=2026H2")
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/reports/ranking?period=2026H2"]


def test_an_inspector_may_not_see_the_ranking_page(client, sign_in):
    sign_in("inspector")
    resp = client.get("/reports/ranking?period=2026H2")
    assert resp.status_code == 403
    assert resp.mimetype == "text/html"


@pytest.mark.parametrize("lang", ["kk", "ru", "en", "uz"])
def test_the_ranking_page_renders_in_each_language(client, sign_in, ranked, lang):
    sign_in("supervisor")
    resp = client.get(f"/reports/ranking?period=2026H2&lang={lang}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{HEADINGS[lang]}</h1>" in html
    assert f"Office A ({lang})" in html or (lang == "en" and "Office A" in html)


def test_the_ranking_page_draws_a_dot_and_an_interval_per_office(client, sign_in, ranked):
    sign_in("admin")
    html = client.get("/reports/ranking?period=2026H2&lang=en").get_data(as_text=True)
    chart = html[html.index('<svg class="interval-chart"'):html.index("</svg>")]
    assert chart.count("<circle") == 3 and chart.count('class="interval"') == 3
    assert 'class="dot dot-green"' in chart
    assert "<script" not in html  # the CSP allows none inline; nothing needs one


def test_the_ranking_page_links_the_exports(client, sign_in, ranked):
    sign_in("admin")
    html = client.get("/reports/ranking?period=2026H2&lang=en").get_data(as_text=True)
    assert "/api/v1/reports/ranking?period=2026H2&amp;lang=en&amp;format=csv" in html
    assert client.get("/api/v1/reports/ranking?period=2026H2&lang=en&format=xlsx").status_code \
        == 200  # the session cookie is enough for the download


def test_office_names_are_escaped(client, sign_in, commit, rw):
    commit(lambda: rw.visits(rw.office("X", name=EVIL), [50, 60, 70]))
    sign_in("admin")
    for path in ("/reports/ranking?period=2026H2", "/reports/offices/X?period=2026H2"):
        html = client.get(path).get_data(as_text=True)
        assert EVIL not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_unknown_period_on_a_page_is_a_422_page(client, sign_in):
    sign_in("admin")
    resp = client.get("/reports/ranking?period=2026H7", headers={"Accept": "text/html"})
    assert resp.status_code == 422
    assert resp.mimetype == "text/html"


def test_the_ranking_page_defaults_to_the_current_half_year(client, sign_in):
    sign_in("admin")
    html = client.get("/reports/ranking?lang=en").get_data(as_text=True)
    assert re.search(r"<strong>20\d\dH[12]</strong>", html)


@pytest.mark.parametrize("lang", ["kk", "ru", "en", "uz"])
def test_the_office_page_renders_in_each_language(client, sign_in, ranked, lang):
    sign_in("supervisor")
    resp = client.get(f"/reports/offices/A?period=2026H2&lang={lang}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert f"{OFFICE_HEADINGS[lang]}:" in html
    assert 'class="section-bar"' in html and 'class="trend-chart"' in html


def test_the_office_page_outside_a_supervisors_regions_is_403(client, sign_in, commit, rw):
    commit(lambda: rw.office("AWAY", region="FAR"))
    sign_in("supervisor", regions=[rw.region])
    assert client.get("/reports/offices/AWAY?period=2026H2").status_code == 403


def test_the_office_page_sends_strangers_to_sign_in(client, ranked):
    assert client.get("/reports/offices/A?period=2026H2").status_code == 302


@pytest.mark.parametrize("lang", ["kk", "ru", "en", "uz"])
def test_a_published_report_page_needs_no_sign_in(client, headers_for, ranked, lang):
    slug = client.post("/api/v1/reports/publish", json={"period": "2026H2"},
                       headers=headers_for("admin")).get_json()["slug"]
    resp = client.get(f"/public/reports/{slug}?lang={lang}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert HEADINGS[lang] in html
    assert "/reports/offices/" not in html  # no links into the signed-in pages


def test_a_published_report_page_escapes_names(client, headers_for, commit, rw):
    commit(lambda: rw.visits(rw.office("X", name=EVIL), [50, 60, 70]))
    slug = client.post("/api/v1/reports/publish", json={"period": "2026H2"},
                       headers=headers_for("admin")).get_json()["slug"]
    html = client.get(f"/public/reports/{slug}").get_data(as_text=True)
    assert EVIL not in html and "&lt;script&gt;" in html


def test_report_pages_carry_the_strict_csp(client, sign_in, ranked):
    sign_in("admin")
    resp = client.get("/reports/ranking?period=2026H2")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
