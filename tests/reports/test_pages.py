"""Report pages: signed-in staff only (public snapshots for anyone), every language, escaped."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from server.i18n.formatting import format_date
from tests import factories

HEADINGS = {"kk": "Кеңселер рейтингі", "ru": "Рейтинг офисов", "en": "Office ranking",
            "uz": "Idoralar reytingi"}
OFFICE_HEADINGS = {"kk": "Кеңсе бойынша есеп", "ru": "Отчёт по офису", "en": "Office report",
                   "uz": "Idora hisoboti"}
EVIL = "<script>alert(1)</script>"


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
    # The CSP allows no inline script: the map's are files, its data a JSON block.
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(' src="/static/' in tag or 'type="application/json"' in tag
                           for tag in scripts)


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


@pytest.fixture
def with_recommendations(commit, ranked):
    """Three recommendations to A: one verified, one open and overdue, one made after 2026H1."""
    from datetime import date

    from server.extensions import db
    from server.offices.models import Office
    from server.recommendations.models import Recommendation, RecommendationEvent
    from tests.reports.builders import local

    def build():
        office = db.session.query(Office).filter_by(code="A").one()
        for text, status, made, due in [
                ("Brief the staff " + EVIL, "verified", local(2026, 2, 1), None),
                ("Put up the fee list", "open", local(2026, 2, 2), date(2026, 3, 1)),
                ("Fix the ramp", "open", local(2026, 8, 2), None)]:
            rec = Recommendation(office_id=office.id, text=text, status=status, due_date=due,
                                 created_by_id=ranked.inspector_id, created_at=made)
            db.session.add(rec)
            db.session.flush()
            db.session.add(RecommendationEvent(recommendation_id=rec.id, status=status,
                                               actor_id=ranked.inspector_id, at=made))
    commit(build)
    return ranked


@pytest.mark.parametrize("lang, verified, overdue", [
    ("en", "verified", "overdue"), ("ru", "выполнение подтверждено", "просрочено"),
    ("kk", "орындалуы расталды", "мерзімі өткен"), ("uz", "bajarilishi tasdiqlandi",
                                                   "muddati oʻtgan")])
def test_the_office_page_lists_the_recommendations_with_their_status(
        client, sign_in, with_recommendations, lang, verified, overdue):
    sign_in("supervisor")
    html = client.get(f"/reports/offices/A?period=2026H1&lang={lang}").get_data(as_text=True)
    table = html[html.index('<table class="recommendations">'):]
    table = table[:table.index("</table>")]
    assert "Put up the fee list" in table and format_date(date(2026, 3, 1), lang) in table
    assert verified in table and overdue in table
    assert "Fix the ramp" not in table  # made after the period
    assert EVIL not in html and "Brief the staff &lt;script&gt;" in table
    assert "2026H2" in client.get(f"/reports/offices/A?period=2026H2&lang={lang}").get_data(
        as_text=True)


def test_the_office_page_says_when_no_recommendations_were_made(client, sign_in, ranked):
    sign_in("supervisor")
    html = client.get("/reports/offices/B?period=2026H2&lang=en").get_data(as_text=True)
    assert "No recommendations were made to this office by the end of the period." in html


@pytest.fixture
def published_with_history(client, commit, headers_for, ranked):
    from tests.reports.builders import MID_H1
    commit(lambda: ranked.visits("A", [60, 70], when=MID_H1, sections={"queue": 65}))
    resp = client.post("/api/v1/reports/publish", json={"period": "2026H2"},
                       headers=headers_for("admin"))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.mark.parametrize("lang", ["kk", "ru", "en", "uz"])
def test_the_public_page_shows_the_sections_and_the_trend_from_the_snapshot(
        client, published_with_history, lang):
    snapshot = client.get(published_with_history["url"]).get_json()
    assert snapshot["trend"]["periods"] == ["2025H1", "2025H2", "2026H1", "2026H2"]
    assert [t["score"] for t in snapshot["trend"]["offices"]["A"]] == [None, None, 65.0, 90.0]
    html = client.get(f"/public/reports/{published_with_history['slug']}?lang={lang}") \
        .get_data(as_text=True)
    sections = html[html.index('<table class="sections-by-office">'):]
    sections = sections[:sections.index("</table>")]
    queue = "Queue" if lang == "en" else f"Queue ({lang})"
    assert queue in sections and "80.0" in sections and "60.0" in sections
    trend = html[html.index('<table class="trend-by-office">'):]
    trend = trend[:trend.index("</table>")]
    assert "2026H1" in trend and "65.0" in trend and "90.0" in trend


def test_the_public_snapshot_and_page_name_no_inspector_visit_or_time(
        app, client, published_with_history):
    """Test plan B34: nothing in the public report links to an inspector or a visit."""
    import sqlalchemy as sa

    from server.auth.models import User
    from server.extensions import db
    from server.visits.models import Visit
    from tests.reports.builders import TZ

    slug = published_with_history["slug"]
    texts = [client.get(published_with_history["url"]).get_data(as_text=True)]
    texts += [client.get(f"/public/reports/{slug}?lang={lang}").get_data(as_text=True)
              for lang in ("kk", "ru", "en", "uz")]
    with app.app_context():
        logins = db.session.scalars(sa.select(User.login)).all()
        visits = db.session.execute(sa.select(Visit.uuid, Visit.started_at, Visit.ended_at,
                                              Visit.id)).all()
    secrets = [*logins]
    for uuid, started, ended, _ in visits:
        for moment in (started, ended, started.astimezone(TZ), ended.astimezone(TZ)):
            secrets += [moment.isoformat(), moment.strftime("%H:%M")]
        secrets += [str(uuid), uuid.hex]
    for text in texts:
        for secret in secrets:
            assert secret not in text
        for word in ("inspector", "uuid", "started_at", "ended_at", "visit_id"):
            assert word not in text.lower()


def test_the_report_pages_take_a_date_range(client, sign_in, ranked):
    sign_in("admin")
    html = client.get("/reports/ranking?from=2026-09-01&to=2026-09-30&lang=en").get_data(
        as_text=True)
    assert "<strong>2026-09-01..2026-09-30</strong>" in html
    assert "Office A" in html
    office = client.get("/reports/offices/A?period=2026-09-01..2026-09-30&lang=en")
    assert office.status_code == 200
    assert "<strong>2026-09-01..2026-09-30</strong>" in office.get_data(as_text=True)


@pytest.mark.parametrize("query", ["from=2026-09-30&to=2026-09-01", "from=2026-09-01",
                                   "from=2026-13-01&to=2026-12-31",
                                   "period=2026-09-30..2026-09-01"])
def test_a_bad_date_range_on_a_page_is_a_422_page(client, sign_in, query):
    sign_in("admin")
    resp = client.get(f"/reports/ranking?{query}", headers={"Accept": "text/html"})
    assert resp.status_code == 422
    assert resp.mimetype == "text/html"
    if query == "from=2026-09-01":
        assert "Give &#39;to&#39; too" in resp.get_data(as_text=True)
