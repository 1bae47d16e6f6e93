"""The visits table (/console/visits): scope, filters, sort, paging, counts, bad filters, the
export links. Visits are bulk-inserted with core insert() (no API round trips)."""
from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.forms.models import FormVersion, SurveyForm
from server.media.models import MediaObject
from server.offices.models import Office
from server.visits.models import Flag, Visit, VisitEvidence
from tests import factories

from .helpers import sign_in

VISITS = "/console/visits"
H2 = datetime(2026, 9, 15, 5, 0, tzinfo=timezone.utc)   # 2026H2 in Asia/Almaty
H1 = datetime(2026, 3, 16, 5, 0, tzinfo=timezone.utc)   # 2026H1


def _insert(*, office_id: int, inspector_id: int, version_id: int, when: datetime,
            status: str = "submitted", score: float | None = 50.0, count: int = 1,
            flags: tuple = (), media_id: int | None = None) -> list[str]:
    rows = []
    for i in range(count):
        start = when + timedelta(minutes=i)
        rows.append({"uuid": uuid.uuid4(), "office_id": office_id, "form_version_id": version_id,
                     "inspector_id": inspector_id, "started_at": start,
                     "ended_at": start + timedelta(minutes=30), "status": status,
                     "score": score, "section_scores": {}, "critical": [], "device": {},
                     "revision": 1, "submitted_at": start + timedelta(hours=1),
                     "updated_at": start})
    ids = db.session.execute(sa.insert(Visit).returning(Visit.id, sort_by_parameter_order=True),
                             rows).scalars().all()
    if flags:
        db.session.execute(sa.insert(Flag), [{"visit_id": vid, "kind": kind,
                                              "severity": "warning", "detail": {}}
                                             for vid in ids for kind in flags])
    if media_id is not None:
        db.session.execute(sa.insert(VisitEvidence), [
            {"visit_id": vid, "question_id": "Q1", "media_id": media_id} for vid in ids])
    db.session.flush()
    return [str(row["uuid"]) for row in rows]


def _office_id(code: str) -> int:
    return db.session.scalar(sa.select(Office.id).where(Office.code == code))


def _user_id(login: str) -> int:
    return db.session.scalar(sa.select(factories.User.id).where(factories.User.login == login))


@pytest.fixture
def data(world, commit):
    """World's region (AST-1, AST-2) and NORTH (N-1, a registry); supervisor `sup-a` of the
    world's region only; visits (uuids by name):
      a40, a60, a80: AST-1 by insp, submitted, 2026H2; a40 flagged too_short, a80 with a photo
      b90, bnone: AST-2 by insp, approved, 2026H1, scores 90 and none
      n1, n2: N-1 by insp2, rejected, 2026H2, score 50, on the form other-form v1"""
    def build():
        world_region = db.session.get(Office, _office_id(world["office"])).region
        north = factories.region(code="NORTH")
        factories.office(code="N-1", region=north, kind="registry")
        factories.user(role="supervisor", login="sup-a", regions=[world_region.code])
        other = SurveyForm(key="other-form")
        db.session.add(other)
        db.session.flush()
        version = FormVersion(form=other, version=1, definition={"key": "other-form"},
                              sha256="0" * 64, source="tests")
        db.session.add(version)
        photo = MediaObject(sha256=hashlib.sha256(b"photo").hexdigest(), size=5,
                            content_type="image/jpeg", kind="photo", storage_backend="local",
                            storage_key="originals/x")
        db.session.add(photo)
        db.session.flush()
        insp, insp2 = _user_id("insp"), _user_id("insp2")
        ast1, ast2, n1 = _office_id("AST-1"), _office_id("AST-2"), _office_id("N-1")
        v1 = world["version_id"]
        made = {}
        made["a40"], = _insert(office_id=ast1, inspector_id=insp, version_id=v1, when=H2,
                               score=40.0, flags=("too_short",))
        made["a60"], = _insert(office_id=ast1, inspector_id=insp, version_id=v1,
                               when=H2 + timedelta(days=1), score=60.0)
        made["a80"], = _insert(office_id=ast1, inspector_id=insp, version_id=v1,
                               when=H2 + timedelta(days=2), score=80.0, media_id=photo.id)
        made["b90"], = _insert(office_id=ast2, inspector_id=insp, version_id=v1, when=H1,
                               status="approved", score=90.0)
        made["bnone"], = _insert(office_id=ast2, inspector_id=insp, version_id=v1,
                                 when=H1 + timedelta(days=1), status="approved", score=None)
        made["n1"], made["n2"] = _insert(office_id=n1, inspector_id=insp2,
                                         version_id=version.id, when=H2 + timedelta(days=3),
                                         status="rejected", count=2)
        return made
    return commit(build)


def uuids(html: str) -> list[str]:
    """The visits of the table, in its order (each row links to its visit page)."""
    if 'id="visits-table"' not in html:
        return []
    body = html.split('id="visits-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'href="/console/visits/([0-9a-f-]{36})', body)


def names(data: dict, html: str) -> list[str]:
    by_uuid = {v: k for k, v in data.items()}
    return [by_uuid[u] for u in uuids(html)]


def page(client, query: str = "", status: int = 200) -> str:
    resp = client.get(f"{VISITS}?{query}", headers={"Accept": "text/html"})
    assert resp.status_code == status, resp.get_data(as_text=True)[:2000]
    return resp.get_data(as_text=True)


# --- who sees what ---------------------------------------------------------------------------

def test_signed_out_goes_to_sign_in_and_an_inspector_gets_403(client, data):
    assert client.get(VISITS).status_code == 302
    sign_in(client, "insp")
    page(client, status=403)


def test_an_admin_sees_every_visit_newest_first_with_links_to_the_visit_pages(client, data):
    sign_in(client, "adm")
    html = page(client, "lang=en")
    assert names(data, html) == ["n2", "n1", "a80", "a60", "a40", "bnone", "b90"]
    assert "1–7 of 7 visits" in html
    assert f'href="/console/visits/{data["a40"]}?lang=en"' in html
    assert 'href="/console/visits?lang=en"' in html  # the console's navigation links the table


def test_a_supervisor_never_sees_rows_or_filter_options_outside_their_regions(client, data):
    sign_in(client, "sup-a")
    html = page(client, "lang=en")
    assert sorted(names(data, html)) == ["a40", "a60", "a80", "b90", "bnone"]
    assert "N-1" not in html and "NORTH" not in html
    assert "insp2" not in html and "other-form" not in html  # seen only on NORTH's visits
    assert 'value="AST-1"' in html and 'value="insp"' in html
    # the status counts are of the scope too
    assert "Rejected <strong>0</strong>" in html


@pytest.mark.parametrize("query, field", [("region=NORTH", "region"), ("office=N-1", "office")])
def test_asking_for_another_region_is_refused_next_to_the_field(client, data, query, field):
    sign_in(client, "sup-a")
    html = page(client, f"{query}&lang=en", status=403)
    assert f'id="err-{field}"' in html and "Not in your regions:" in html
    assert uuids(html) == [] and 'id="exports"' not in html


# --- filters -------------------------------------------------------------------------------

FILTER_CASES = [
    ("period=2026H1", ["bnone", "b90"]),
    ("from=2026-09-15&to=2026-09-16", ["a60", "a40"]),
    ("region=NORTH", ["n2", "n1"]),
    ("office=AST-2", ["bnone", "b90"]),
    ("kind=registry", ["n2", "n1"]),
    ("inspector=INSP2", ["n2", "n1"]),
    ("status=approved", ["bnone", "b90"]),
    ("flag=too_short", ["a40"]),
    ("score_min=55&score_max=85", ["a80", "a60"]),
    ("score_min=90", ["b90"]),
    ("form_key=other-form&form_version=1", ["n2", "n1"]),
    ("has_evidence=true", ["a80"]),
    ("has_evidence=false&office=AST-1", ["a60", "a40"]),
    ("status=submitted&score_max=50&period=2026H2", ["a40"]),
]


def test_each_filter_narrows_the_rows(client, data):
    sign_in(client, "adm")
    for query, expected in FILTER_CASES:
        html = page(client, query + "&lang=en")
        assert names(data, html) == expected, query
        n = len(expected)
        assert f"1–{n} of {n} visit{'s' if n != 1 else ''}" in html, query


def test_filters_are_kept_in_the_form_and_empty_fields_leave_the_address(client, data):
    sign_in(client, "adm")
    resp = client.get(f"{VISITS}?period=&region=&status=approved&score_min=+&foo=1&lang=en")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"{VISITS}?status=approved&lang=en"
    html = page(client, "status=approved&lang=en")
    assert '<option value="approved" selected>' in html


def test_the_counts_by_status_ignore_the_status_filter_and_link_to_it(client, data):
    sign_in(client, "adm")
    html = page(client, "status=approved&lang=en")
    counts = html.split('id="status-counts"', 1)[1].split("</p>", 1)[0]
    assert "Submitted <strong>3</strong>" in counts and "Approved <strong>2</strong>" in counts
    assert "Rejected <strong>2</strong>" in counts
    assert 'href="/console/visits?status=rejected&amp;lang=en"' in counts


def test_the_counts_line_is_plural_aware_in_each_language(client, data):
    sign_in(client, "adm")
    assert "1–1 of 1 visit<" in page(client, "flag=too_short&lang=en")
    assert "1–1 из 1 проверки" in page(client, "flag=too_short&lang=ru")
    assert "1–2 из 2 проверок" in page(client, "region=NORTH&lang=ru")
    assert "1 тексерудің 1–1" in page(client, "flag=too_short&lang=kk")
    assert "1 ta tekshiruvdan 1–1" in page(client, "flag=too_short&lang=uz")
    assert "No visits match these filters." in page(client, "score_min=99&lang=en")


# --- sort ----------------------------------------------------------------------------------

SORT_CASES = [
    ("score", "asc", ["a40", "n1", "n2", "a60", "a80", "b90", "bnone"]),
    ("score", "desc", ["b90", "a80", "a60", "n2", "n1", "a40", "bnone"]),
    ("started_at", "asc", ["b90", "bnone", "a40", "a60", "a80", "n1", "n2"]),
    ("office", "desc", ["n2", "n1", "bnone", "b90", "a80", "a60", "a40"]),
    ("inspector", "desc", ["n2", "n1", "bnone", "b90", "a80", "a60", "a40"]),
    ("status", "asc", ["b90", "bnone", "n1", "n2", "a40", "a60", "a80"]),
]


def test_sort_by_a_column(client, data):
    sign_in(client, "adm")
    for sort, order, expected in SORT_CASES:
        html = page(client, f"sort={sort}&order={order}&lang=en")
        assert names(data, html) == expected, (sort, order)
        header = re.search(rf'<th scope="col"[^>]*><a href="[^"]*" id="sort-{sort}"',
                           html).group(0)
        assert f'aria-sort="{"ascending" if order == "asc" else "descending"}"' in header
        assert html.count("aria-sort=") == 1


def test_header_links_sort_flip_the_order_and_keep_the_filters(client, data):
    sign_in(client, "adm")
    html = page(client, "status=submitted&page=1&lang=en")
    link = re.search(r'href="([^"]+)" id="sort-score"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {"status": ["submitted"], "sort": ["score"],
                                              "order": ["desc"], "lang": ["en"]}
    html = page(client, "status=submitted&sort=score&order=desc&lang=en")
    link = re.search(r'href="([^"]+)" id="sort-score"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query)["order"] == ["asc"]
    assert names(data, page(client, urlsplit(link).query)) == ["a40", "a60", "a80"]


# --- paging --------------------------------------------------------------------------------

def test_paging_50_a_page_with_the_counts_and_links(client, world, commit):
    def build():
        return _insert(office_id=_office_id("AST-1"), inspector_id=_user_id("insp"),
                       version_id=world["version_id"], when=H2, count=1234)
    made = commit(build)
    sign_in(client, "adm")
    first = page(client, "lang=en")
    assert "1–50 of 1,234 visits" in first and len(uuids(first)) == 50
    assert uuids(first)[0] == made[-1]  # newest first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert "1–50 из 1 234 проверок" in page(client, "lang=ru").replace("\u00a0", " ")
    last = page(client, "page=25&lang=en")
    assert "1,201–1,234 of 1,234 visits" in last and len(uuids(last)) == 34
    assert uuids(last)[-1] == made[0] and 'rel="next"' not in last
    assert "Page 25 of 25" in last
    link = re.search(r'href="([^"]+)" rel="prev"', last).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query)["page"] == ["24"]
    assert len(set(uuids(first)) | set(uuids(page(client, "page=2&lang=en")))) == 100
    past = client.get(f"{VISITS}?page=99&status=submitted&lang=en")
    assert past.status_code == 302
    assert parse_qs(urlsplit(past.headers["Location"]).query) == {
        "page": ["25"], "status": ["submitted"], "lang": ["en"]}


# --- bad filters ---------------------------------------------------------------------------

BAD_FILTERS = [
    ("period=2026X", "period", "Not a period: use 2026H2"),
    ("period=2026H2&from=2026-01-01&to=2026-02-01", "period",
     "Give either a period or From and To, not both."),
    ("from=2026-01-01", "to", "A date range needs both From and To."),
    ("from=2026-02-30&to=2026-03-01", "from", "Not a date: use YYYY-MM-DD."),
    ("from=2026-03-01&to=2026-02-01", "to", "Before the first day."),
    ("from=1999-03-01&to=2026-02-01", "from", "Outside the years 2000–2999."),
    ("region=NOPE", "region", "No region &#39;NOPE&#39;."),
    ("region=no%20pe", "region", "Not a code"),
    ("office=NOPE-1", "office", "No office &#39;NOPE-1&#39;."),
    ("inspector=nobody", "inspector", "No user with the login &#39;nobody&#39;."),
    ("kind=palace", "kind", "Not one of the choices."),
    ("status=lost", "status", "Not one of the choices."),
    ("flag=pretty", "flag", "Not one of the choices."),
    ("score_min=abc", "score_min", "Not a number."),
    ("score_min=nan", "score_min", "Not a number."),
    ("score_max=150", "score_max", "Give a score from 0 to 100."),
    ("score_min=70&score_max=20", "score_max", "Less than the lowest score (70)."),
    ("form_key=nope", "form_key", "No form &#39;nope&#39;."),
    ("form_version=1", "form_version", "Choose the form too"),
    ("form_key=other-form&form_version=9", "form_version",
     "Form &#39;other-form&#39; has no version 9."),
    ("form_key=other-form&form_version=x", "form_version", "Not a whole number."),
    ("has_evidence=maybe", "has_evidence", "Not one of the choices."),
    ("inspector=a%01b", "inspector", "Control character U+0001 is not allowed."),
]


def test_a_bad_filter_is_shown_next_to_its_field_and_no_rows(client, data):
    sign_in(client, "adm")
    for query, field, shown in BAD_FILTERS:
        html = page(client, query + "&lang=en", status=422)
        assert f'id="err-{field}"' in html and shown in html, query
        assert re.search(rf'aria-describedby="[^"]*err-{field}"', html), query
        assert 'id="filter-errors"' in html and uuids(html) == [], query
        assert 'id="exports"' not in html, query


def test_a_bad_sort_or_page_is_a_422_listed_above_the_table(client, data):
    sign_in(client, "adm")
    for query in ("sort=nope", "order=up", "page=0", "per_page=9999"):
        html = page(client, query + "&lang=en", status=422)
        assert 'id="filter-errors"' in html and uuids(html) == [], query


def test_bad_filter_messages_are_in_the_page_language(client, data):
    sign_in(client, "adm")
    assert "Нет региона &#39;NOPE&#39;." in page(client, "region=NOPE&lang=ru", status=422)
    assert "0-ден 100-ге дейінгі балл" in page(client, "score_max=101&lang=kk", status=422)
    assert "Davr emas" in page(client, "period=zzz&lang=uz", status=422)


# --- exports -------------------------------------------------------------------------------

def _export_links(html: str) -> dict[str, str]:
    block = html.split('id="exports"', 1)[1].split("</p>", 1)[0]
    return {name: href.replace("&amp;", "&") for href, name in
            re.findall(r'<a class="button" href="([^"]+)" download>(\w+)</a>', block)}


def test_the_export_buttons_carry_exactly_the_table_filters_and_sort(client, data):
    sign_in(client, "adm")
    query = ("period=2026H2&region=NORTH&status=rejected&score_min=10&form_key=other-form"
             "&has_evidence=false&sort=score&order=asc&page=1&per_page=20&lang=ru")
    links = _export_links(page(client, query))
    assert set(links) == {"CSV", "XLSX", "JSON"}
    for fmt, href in links.items():
        parts = urlsplit(href)
        assert parts.path == "/api/v1/exports/visits"
        assert parse_qs(parts.query) == {
            "format": [fmt.lower()], "period": ["2026H2"], "region": ["NORTH"],
            "status": ["rejected"], "score_min": ["10"], "form_key": ["other-form"],
            "has_evidence": ["false"], "sort": ["score"], "order": ["asc"], "lang": ["ru"]}


def test_the_export_has_exactly_the_rows_of_the_table(client, data, app):
    if not any(rule.rule == "/api/v1/exports/visits" for rule in app.url_map.iter_rules()):
        pytest.skip("GET /api/v1/exports/visits is not on this branch yet (h/exports)")
    sign_in(client, "sup-a")
    for query in ("lang=en", "status=submitted&sort=score&order=asc&lang=en",
                  "period=2026H1&lang=en", "has_evidence=false&score_min=50&lang=en"):
        html = page(client, query)
        resp = client.get(_export_links(html)["JSON"])
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        body = resp.get_json()
        rows = body if isinstance(body, list) else body.get("visits") or body.get("rows")
        exported = [row.get("visit_uuid") or row.get("uuid") for row in rows]
        assert exported == uuids(html), query
