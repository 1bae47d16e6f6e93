"""The console fixes of issue 15: the notice names the visit decided, flags name their question
once, distances in m/km, positions, corrections typed with the question's own widget, queue
filters from the user's scope, admin split into pages with a filtered, paged audit log, the
office report's one language switcher, and the start page's links by role."""
from __future__ import annotations

import re
import uuid as uuid_module

import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.extensions import db
from server.offices.models import Office
from server.review.models import AnswerCorrection
from server.visits.models import Flag, Visit
from tests import factories

from .helpers import far_away, page_token, sign_in, submit

QUEUE = "/console/queue"


def _path(uuid) -> str:
    return f"/console/visits/{uuid}"


def _visit_id(app, uuid) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Visit.id).where(Visit.uuid == uuid_module.UUID(uuid)))


def _add_flags(app, uuid, *flags) -> None:
    visit_id = _visit_id(app, uuid)
    with app.app_context():
        for kind, detail in flags:
            db.session.add(Flag(visit_id=visit_id, kind=kind, severity="warning", detail=detail))
        db.session.commit()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# 1. After a decision the notice names the visit decided, not the one now shown

def test_after_approve_the_notice_names_the_decided_visit_with_a_link(sup, world, app,
                                                                      default_form):
    first = submit(sup, world, default_form)
    second = submit(sup, world, default_form)
    path = _path(first["uuid"])
    resp = sup.post(path + "/decide?lang=en", data={
        "csrf_token": page_token(sup, path), "revision": "1", "decision": "approve",
        "next_queue": "1"})
    assert resp.status_code == 302
    assert second["uuid"] in resp.headers["Location"]
    html = sup.get(resp.headers["Location"]).get_data(as_text=True)
    notice = re.search(r'<p class="notice" role="status" id="done-notice">(.*?)</p>', html,
                       re.S).group(1)
    assert f'href="/console/visits/{first["uuid"]}' in notice
    assert first["uuid"][:8] in notice and world["office"] in notice
    assert "Approved" in notice and "next visit of the queue" in notice
    assert second["uuid"][:8] not in notice
    # the page below is the next visit, still waiting
    assert re.search(r'id="visit-status">Submitted<', html)
    assert "The visit was approved." not in html


def test_a_decision_without_the_queue_still_names_the_visit(sup, world, default_form):
    visit = submit(sup, world, default_form)
    path = _path(visit["uuid"])
    resp = sup.post(path + "/decide?lang=ru", data={
        "csrf_token": page_token(sup, path), "revision": "1", "decision": "approve"})
    html = sup.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Проверка одобрена." in html  # the visit shown is the one decided


def test_a_decided_id_out_of_scope_or_malformed_adds_no_notice(sup, world, default_form):
    visit = submit(sup, world, default_form)
    for decided in ("not-a-uuid", str(uuid_module.uuid4())):
        resp = sup.get(f"{_path(visit['uuid'])}?done=approve&decided={decided}&lang=en")
        assert resp.status_code == 200
        assert 'id="decided-visit"' not in resp.get_data(as_text=True)


# 2. Flags name their question (in the page language) and repeats are shown once

def test_flags_name_their_question_and_repeats_are_merged(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    far = {"question": "A01", "media": "aaaaaaaaaaaa", "distance_m": 4443842,
           "threshold_m": 300}
    _add_flags(app, visit["uuid"], ("photo_far_from_office", far),
               ("photo_far_from_office", dict(far)),
               ("photo_far_from_office", {**far, "media": "bbbbbbbbbbbb", "distance_m": 1234}))
    html = sup.get(_path(visit["uuid"]) + "?lang=ru").get_data(as_text=True)
    flags = re.search(r'<ul class="flags" id="flags">(.*?)</ul>', html, re.S).group(1)
    assert flags.count("Фото далеко от офиса") == 1
    # the question by its Russian label, linked to its answer
    assert re.search(r'<a href="#q-A01" class="flag-question">A01 · Можно ли попасть', flags)
    assert flags.count("aaaaaaaaaaaa") == 1 and "bbbbbbbbbbbb" in flags
    assert "Вопрос:" not in flags  # named in the heading, not repeated in the details
    queue = sup.get(QUEUE + "?lang=ru").get_data(as_text=True)
    row = re.search(r'<td class="queue-flags">(.*?)</td>', queue, re.S).group(1)
    assert row.count("Фото далеко от офиса") == 1
    assert "A01 · Можно ли попасть" in row


# 4. Distances: metres below 1 km, km from 1 km, in the page's language

def test_distances_are_metres_or_kilometres_in_the_page_language(app):
    from server.web.console_format import distance

    cases = {"en": {850: "850 m", 999.6: "1.0 km", 1234: "1.2 km", 4443842: "4,444 km"},
             "ru": {850: "850 м", 1234: "1,2 км", 4443842: "4\xa0444 км"},
             "kk": {1234: "1,2 км"}, "uz": {4443842: "4\xa0444 km"}}
    for lang, expected in cases.items():
        with app.test_request_context(f"/?lang={lang}"):
            for metres, text in expected.items():
                assert distance(metres) == text, (lang, metres)


def test_a_far_visit_shows_its_distance_in_km(sup, world, default_form):
    visit = submit(sup, world, default_form, **far_away())
    html = sup.get(_path(visit["uuid"]) + "?lang=en").get_data(as_text=True)
    flags = _text(re.search(r'<ul class="flags" id="flags">(.*?)</ul>', html, re.S).group(1))
    assert re.search(r"Distance: 10(\.\d)? km", flags)
    assert not re.search(r"\d{4,} m\b", flags)


# 5. A missing position is said, not left as a dangling "· Office"

def test_a_visit_without_positions_says_so(sup, world, default_form):
    visit = submit(sup, world, default_form, position_start=None, position_end=None)
    html = sup.get(_path(visit["uuid"]) + "?lang=en").get_data(as_text=True)
    dd = _text(re.search(r'<dd id="visit-positions">(.*?)</dd>', html, re.S).group(1)).strip()
    assert dd.startswith("start: no position · end: no position · Office: 51.12830, 71.43040")


def test_positions_are_rounded(sup, world, default_form):
    visit = submit(sup, world, default_form, position_end={"lat": 51.180200000000006,
                                                           "lon": 71.4098, "accuracy": 20})
    html = sup.get(_path(visit["uuid"]) + "?lang=en").get_data(as_text=True)
    assert "51.18020, 71.40980 (±20 m)" in html and "51.180200000000006" not in html


# 6. A correction is typed with the question's own widget

def _correct_form(html: str) -> str:
    return re.search(r'<form method="post"[^>]*id="correct-form">(.*?)</form>', html,
                     re.S).group(1)


def test_a_single_choice_is_corrected_with_its_labels(sup, world, default_form):
    visit = submit(sup, world, default_form)
    html = sup.get(_path(visit["uuid"]) + "?lang=ru&correct=B01").get_data(as_text=True)
    form = _correct_form(html)
    assert '<input type="hidden" name="question" value="B01">' in form
    assert re.search(r'<input type="radio" name="value" value="working_no_display"> '
                     r'Талоны выдаются, но табло не показывает номер и окно', form)
    assert re.search(r'value="working" checked>', form)  # the current answer
    assert 'list="answer-codes"' not in html  # no more typing of internal codes


def test_yes_no_is_two_radios_in_the_page_language(sup, world, default_form):
    visit = submit(sup, world, default_form)
    form = _correct_form(sup.get(_path(visit["uuid"]) + "?lang=kk&correct=A01")
                         .get_data(as_text=True))
    assert re.findall(r'type="radio" name="value" value="(\w+)"', form) == ["yes", "no"]
    assert "> Иә</label>" in form and "> Жоқ</label>" in form


def test_a_number_has_its_unit_and_its_bounds(sup, world, default_form):
    visit = submit(sup, world, default_form)
    form = _correct_form(sup.get(_path(visit["uuid"]) + "?lang=en&correct=A04")
                         .get_data(as_text=True))
    assert re.search(r'<input id="value" name="value" type="number" inputmode="decimal" '
                     r'step="any" min="30" max="300"', form)
    assert '<span class="unit">cm</span>' in form and "from 30 to 300" in form
    minutes = _correct_form(sup.get(_path(visit["uuid"]) + "?lang=ru&correct=B02")
                            .get_data(as_text=True))
    assert 'step="1" min="0" max="600"' in minutes and '<span class="unit">мин</span>' in minutes


def test_a_multiple_choice_is_checkboxes_and_is_stored_as_a_list(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _path(visit["uuid"])
    form = _correct_form(sup.get(path + "?lang=en&correct=E01").get_data(as_text=True))
    assert re.findall(r'type="checkbox" name="value" value="(\w+)"', form) == [
        "hours", "head_hours", "rating", "none"]
    resp = sup.post(path + "/correct?lang=en", data={
        "csrf_token": page_token(sup, path), "revision": "1", "question": "E01",
        "value": ["hours", "rating"], "reason": "The board shows the hours and a rating"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(AnswerCorrection.new_value)) == ["hours", "rating"]


def test_a_refused_number_keeps_the_question_and_the_value_typed(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _path(visit["uuid"])
    resp = sup.post(path + "/correct?lang=en", data={
        "csrf_token": page_token(sup, path), "revision": "1", "question": "A04",
        "value": "500", "reason": "measured again"})
    assert resp.status_code == 422
    form = _correct_form(resp.get_data(as_text=True))
    assert 'name="question" value="A04"' in form and 'value="500"' in form
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AnswerCorrection.id))) == 0


def test_each_answer_links_to_its_correction(sup, world, default_form):
    visit = submit(sup, world, default_form)
    html = sup.get(_path(visit["uuid"]) + "?lang=en&from=queue").get_data(as_text=True)
    assert re.search(r'<a class="correct-link" href="/console/visits/[^"]*correct=A04[^"]*'
                     r'#correct-heading">Correct</a>', html)


# 3. The queue's filters offer only values in the user's scope

def test_queue_filters_are_choices_from_the_scope(client, world, commit, default_form):
    def other_region():
        outside = factories.office(code="ELSEWHERE-1")
        sup = factories.user(role="supervisor", login="regional")
        home = db.session.scalar(sa.select(Office).where(Office.code == world["office"]))
        sup.regions = [home.region]
        return outside.region.code, home.region.code
    outside_region, home_region = commit(other_region)
    sign_in(client, "regional")
    submit(client, world, default_form)
    html = client.get(QUEUE + "?lang=en").get_data(as_text=True)
    region = re.search(r'<select name="region" id="filter-region">(.*?)</select>', html,
                       re.S).group(1)
    assert f'value="{home_region}"' in region and outside_region not in region
    offices = re.search(r'<datalist id="office-choices">(.*?)</datalist>', html, re.S).group(1)
    assert 'value="AST-1"' in offices and 'value="AST-2"' in offices
    assert "ELSEWHERE-1" not in offices
    inspectors = re.search(r'<datalist id="inspector-choices">(.*?)</datalist>', html,
                           re.S).group(1)
    assert 'value="insp"' in inspectors and 'value="insp2"' not in inspectors
    assert 'list="office-choices"' in html and 'name="office"' in html
    assert 'name="inspector"' in html


# 7. Admin pages: users, forms and the audit log, each its own page

def _adm(client):
    sign_in(client, "adm")
    return client


def test_admin_is_split_into_pages_with_a_sub_navigation(client, world):
    _adm(client)
    users = client.get("/console/admin?lang=en").get_data(as_text=True)
    assert 'id="users-table"' in users and 'id="audit-table"' not in users
    assert 'id="form-upload"' not in users
    assert re.search(r'<a id="admin-users" href="[^"]*" aria-current="page">Users</a>', users)
    forms = client.get("/console/admin/forms?lang=en").get_data(as_text=True)
    assert 'id="form-upload"' in forms and "service-centre-visit" in forms
    assert 'id="users-table"' not in forms
    audit = client.get("/console/admin/audit?lang=en").get_data(as_text=True)
    assert 'id="audit-table"' in audit and 'id="chain-status"' in audit


def _events(app, n: int, action: str = "test_event") -> None:
    from server.audit.service import append_event

    with app.app_context():
        for i in range(n):
            append_event(action, object_type="thing", object_id=str(i),
                         payload={"n": i, "nested": {"a": "b"}, "list": [1, 2]})
        db.session.commit()


def test_the_audit_log_pages_and_filters(client, world, app):
    _events(app, 60)
    _adm(client)
    first = client.get("/console/admin/audit?lang=en&action=test_event").get_data(as_text=True)
    assert "60 events" in first and "Page 1 of 2" in first
    assert first.count('<tr><td class="num">') == 50
    nxt = re.search(r'<a href="([^"]+)" rel="next" id="audit-next">', first).group(1)
    second = client.get(nxt.replace("&amp;", "&")).get_data(as_text=True)
    assert second.count('<tr><td class="num">') == 10 and "Page 2 of 2" in second
    one = client.get("/console/admin/audit?lang=en&object_type=thing&object_id=7")
    html = one.get_data(as_text=True)
    assert "1 event" in html
    # the payload as key: value lines, not JSON
    assert "<dt>n</dt><dd>7</dd>" in html and "<dt>nested.a</dt><dd>b</dd>" in html
    assert "<dt>list</dt><dd>1, 2</dd>" in html and '{"n"' not in html
    assert "No events match" in client.get(
        "/console/admin/audit?lang=en&actor=nobody").get_data(as_text=True)
    with app.app_context():
        today = db.session.scalar(sa.select(sa.func.max(AuditEvent.at))).date().isoformat()
    dated = client.get(f"/console/admin/audit?lang=en&action=test_event&from={today}&to={today}")
    assert "60 events" in dated.get_data(as_text=True)
    before = client.get("/console/admin/audit?lang=en&action=test_event&to=2000-01-01")
    assert "No events match" in before.get_data(as_text=True)


def test_bad_audit_filters_are_shown_on_the_page_not_a_500(client, world):
    _adm(client)
    for query, field, message in (
            ("from=yesterday", "From", "“yesterday” is not a date"),
            ("from=2026-05-02&to=2026-05-01", "To", "The end of the range is before its start"),
            ("page=0", "Page", "The page must be a whole number"),
            ("page=abc", "Page", "The page must be a whole number")):
        resp = client.get(f"/console/admin/audit?lang=en&{query}")
        assert resp.status_code == 422, query
        html = resp.get_data(as_text=True)
        assert 'id="console-error"' in html and message in html and f"{field}:" in html
        assert 'id="audit-filters"' in html  # the filters stay to be fixed
    ru = client.get("/console/admin/audit?lang=ru&from=x").get_data(as_text=True)
    assert "не дата" in ru


def test_the_audit_log_is_for_admins_only(sup):
    resp = sup.get("/console/admin/audit", headers={"Accept": "text/html"})
    assert resp.status_code == 403


# 8. The office report: one language switcher, no doubled dash

def test_office_report_has_one_language_switcher_and_no_doubled_dash(sup, world):
    html = sup.get(f"/reports/offices/{world['office']}?lang=en").get_data(as_text=True)
    assert html.count('<nav class="langs">') == 1 and 'class="report-langs' not in html
    follow_up = _text(re.search(r'<p class="follow-up">(.*?)</p>', html, re.S).group(1))
    assert "—" not in follow_up and follow_up.strip().startswith("0 verified")


# 9. The start page leads on by role

def test_the_start_page_links_to_the_console_or_the_app_by_role(client, world):
    sign_in(client, "sup")
    html = client.get("/?lang=en").get_data(as_text=True)
    assert re.search(r'<a class="button" id="home-console" href="/console/queue[^"]*">', html)
    assert 'id="home-app"' not in html and "(supervisor)" in html
    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    sign_in(client, "insp")
    html = client.get("/?lang=ru").get_data(as_text=True)
    assert '<a class="button" id="home-app" href="/app/">' in html
    assert 'id="home-console"' not in html
    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    sign_in(client, "adm")
    assert 'id="home-console"' in client.get("/").get_data(as_text=True)
