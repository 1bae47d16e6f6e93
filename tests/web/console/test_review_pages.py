"""The review queue and the visit page: access, filters, counts, decisions, corrections, CSRF,
stale revisions and escaping."""
from __future__ import annotations

import re
import uuid as uuid_module

import sqlalchemy as sa

from server.extensions import db
from server.offices.models import Office
from server.review.models import AnswerCorrection, Review
from server.visits.models import Visit

from tests.visits.builders import visit_payload

from .helpers import far_away, page_token, sign_in, submit

QUEUE = "/console/queue"


def _visit_path(uuid) -> str:
    return f"/console/visits/{uuid}"


def _status(app, uuid) -> tuple[str, int]:
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid_module.UUID(uuid)))
        return visit.status, visit.revision


# Access

def test_signed_out_goes_to_the_login_page_with_next(client, world):
    resp = client.get(QUEUE + "?flag=too_short")
    assert resp.status_code == 302
    assert "/login?next=" in resp.headers["Location"]
    assert "console/queue" in resp.headers["Location"]


def test_console_root_redirects_to_the_queue(sup):
    resp = sup.get("/console/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/queue")


def test_an_inspector_gets_a_403_page(client, world):
    sign_in(client, "insp")
    for path in (QUEUE, "/console/rankings", "/console/"):
        resp = client.get(path, headers={"Accept": "text/html", "Accept-Language": "en"})
        assert resp.status_code == 403
        assert resp.mimetype == "text/html"
        assert "supervisors and admins" in resp.get_data(as_text=True)
    resp = client.get(QUEUE + "?lang=kk", headers={"Accept": "text/html"})
    assert resp.status_code == 403
    assert "басшылар мен әкімшілерге" in resp.get_data(as_text=True)


def test_an_admin_may_use_the_console(client, world):
    sign_in(client, "adm")
    assert client.get(QUEUE).status_code == 200


# The queue

def test_queue_lists_waiting_visits_with_counts_and_flags(sup, world, default_form):
    flagged = submit(sup, world, default_form, **far_away())
    plain = submit(sup, world, default_form)
    html = sup.get(QUEUE + "?lang=en").get_data(as_text=True)
    assert flagged["uuid"] in html and plain["uuid"] in html
    assert re.search(r'id="count-waiting">[^<]*<strong>2</strong>', html)
    assert "Far from the office: <strong>1</strong>" in html
    assert 'src="/console/static/console/console.js"' in html
    assert sup.get("/console/static/console/console.js").status_code == 200
    assert sup.get("/console/static/adal.css").status_code == 200


def test_queue_filters_by_flag_office_inspector_and_age(sup, world, default_form):
    flagged = submit(sup, world, default_form, **far_away())
    plain = submit(sup, world, default_form)
    html = sup.get(QUEUE + "?flag=far_from_office").get_data(as_text=True)
    assert flagged["uuid"] in html and plain["uuid"] not in html
    assert re.search(r'id="count-shown">[^<]*<strong>1</strong>', html)
    html = sup.get(QUEUE + f"?office={world['other_office']}").get_data(as_text=True)
    assert flagged["uuid"] not in html and plain["uuid"] not in html
    html = sup.get(QUEUE + "?inspector=insp&office=" + world["office"]).get_data(as_text=True)
    assert flagged["uuid"] in html and plain["uuid"] in html
    html = sup.get(QUEUE + "?older_than_days=5").get_data(as_text=True)
    assert plain["uuid"] not in html


def test_queue_refuses_a_bad_age_with_a_page(sup):
    resp = sup.get(QUEUE + "?older_than_days=abc&lang=en", headers={"Accept": "text/html"})
    assert resp.status_code == 422
    assert "number of days" in resp.get_data(as_text=True)
    resp = sup.get(QUEUE + "?older_than_days=abc&lang=ru", headers={"Accept": "text/html"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "число дней" in html and "number of days" not in html


def test_queue_in_each_language(sup):
    for lang, heading in (("kk", "Тексеру кезегі"), ("ru", "Очередь проверки"),
                          ("en", "Review queue"), ("uz", "Koʻrib chiqish navbati")):
        html = sup.get(QUEUE + f"?lang={lang}").get_data(as_text=True)
        assert f"<h1>{heading}</h1>" in html


def test_office_name_with_script_is_shown_as_text(sup, world, app, default_form):
    def rename():
        office = db.session.scalar(sa.select(Office).where(Office.code == world["office"]))
        office.name = {k: "<script>alert(1)</script>" for k in ("kk", "ru", "en", "uz")}
        db.session.commit()
    with app.app_context():
        rename()
    visit = submit(sup, world, default_form)
    for path in (QUEUE, _visit_path(visit["uuid"])):
        html = sup.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# The visit page

def test_visit_page_shows_answers_flags_score_and_history(sup, world, default_form):
    visit = submit(sup, world, default_form, **far_away())
    resp = sup.get(_visit_path(visit["uuid"]) + "?lang=en")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="flags"' in html and "Far from the office" in html
    # The flag's numbers with their names and units, not raw keys.
    assert re.search(r'<span class="kv">Distance: 10(\.\d)? km</span>', html)
    assert "Allowed up to: " in html and "distance_m" not in html
    assert f'id="visit-score">{visit["score"]:.1f}' in html
    assert 'id="history"' in html and "visit submitted" in html
    assert "visit_submitted" not in html


def test_visit_page_shows_labels_not_codes_in_each_language(sup, world, default_form):
    visit = submit(sup, world, default_form, overrides={"A06": "working", "A01": "yes"},
                   **far_away())
    path = _visit_path(visit["uuid"])
    expected = {"en": ("Button works, staff responded", "Yes", "Distance", "visit submitted"),
                "ru": ("Кнопка работает, сотрудник отреагировал", "Да", "Расстояние",
                       "проверка отправлена"),
                "kk": ("Түйме істейді, қызметкер жауап берді", "Иә", "Қашықтық",
                       "тексеру жіберілді"),
                "uz": ("Tugma ishlaydi, xodim javob berdi", "Ha", "Masofa",
                       "tekshiruv yuborildi")}
    for lang, (choice, yes, distance, submitted) in expected.items():
        html = sup.get(f"{path}?lang={lang}").get_data(as_text=True)
        a06 = re.search(r'<tr id="q-A06".*?</tr>', html, re.S).group(0)
        a01 = re.search(r'<tr id="q-A01".*?</tr>', html, re.S).group(0)
        assert choice in a06 and ">working<" not in a06 and "\nworking\n" not in a06, lang
        assert re.search(rf'<td>{yes}\s*(<a class="correct-link"[^>]*>[^<]*</a>)?</td>', a01), (
            lang, a01)
        assert f'<span class="kv">{distance}: ' in html, lang
        # The correction offers the question's choices by their labels.
        widget = sup.get(f"{path}?lang={lang}&correct=A06").get_data(as_text=True)
        assert f'<input type="radio" name="value" value="working" checked> {choice}' in widget
        assert submitted in html, lang
    assert f'name="revision" value="{visit["revision"]}"' in html
    assert 'name="csrf_token"' in html


def test_unknown_visit_is_a_404_page(sup):
    assert sup.get("/console/visits/not-a-uuid").status_code == 404
    assert sup.get("/console/visits/00000000-0000-0000-0000-000000000000").status_code == 404


def test_approve_changes_the_status(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    resp = sup.post(path + "/decide", data={"csrf_token": page_token(sup, path),
                                            "decision": "approve", "revision": "1"})
    assert resp.status_code == 302
    assert _status(app, visit["uuid"]) == ("approved", 1)
    html = sup.get(resp.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "The visit was approved." in html


def test_return_needs_a_comment(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    resp = sup.post(path + "/decide?lang=en", data={"csrf_token": page_token(sup, path),
                                                    "decision": "return", "revision": "1",
                                                    "comment": "  "})
    assert resp.status_code == 422
    assert "Say why" in resp.get_data(as_text=True)
    assert _status(app, visit["uuid"]) == ("submitted", 1)


def test_return_with_a_script_comment_shows_it_as_text(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    resp = sup.post(path + "/decide", data={"csrf_token": page_token(sup, path),
                                            "decision": "return", "revision": "1",
                                            "comment": "<script>alert('x')</script> photo?"})
    assert resp.status_code == 302
    assert _status(app, visit["uuid"]) == ("returned", 1)
    html = sup.get(path).get_data(as_text=True)
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in html


def test_a_post_without_csrf_token_is_refused(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    resp = sup.post(path + "/decide", data={"decision": "approve", "revision": "1"})
    assert resp.status_code == 400
    resp = sup.post(path + "/correct", data={"question": "A01", "value": "no",
                                             "reason": "x", "revision": "1"})
    assert resp.status_code == 400
    resp = sup.post("/console/rankings/publish", data={"period": "2026"})
    assert resp.status_code == 400
    assert _status(app, visit["uuid"]) == ("submitted", 1)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Review.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(AnswerCorrection.id))) == 0


def test_an_inspector_cannot_post_decisions(client, world, app, default_form):
    visit = submit(client, world, default_form)
    sign_in(client, "insp")
    token = page_token(client, "/login")
    resp = client.post(_visit_path(visit["uuid"]) + "/decide",
                       data={"csrf_token": token, "decision": "approve", "revision": "1"},
                       headers={"Accept": "text/html"})
    assert resp.status_code == 403
    assert _status(app, visit["uuid"]) == ("submitted", 1)


def test_stale_page_gets_a_clear_409_and_changes_nothing(sup, world, app, client,
                                                        default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    old_token = page_token(sup, path)  # the page at revision 1
    # Meanwhile another supervisor returns it and the inspector amends it (revision 2).
    other = app.test_client()
    resp = other.post(f"/api/v1/visits/{visit['uuid']}/review", headers=world["admin"],
                      json={"decision": "return", "comment": "Add the photo", "revision": 1})
    assert resp.status_code == 201
    payload = visit_payload(default_form, assignment=visit["assignment"], overrides={"C02": "no"})
    payload["uuid"] = visit["uuid"]
    resp = other.put(f"/api/v1/visits/{visit['uuid']}", json=payload, headers=world["inspector"])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert _status(app, visit["uuid"]) == ("submitted", 2)

    resp = sup.post(path + "/decide?lang=en", data={"csrf_token": old_token,
                                                    "decision": "approve", "revision": "1"})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "revision 2 is current" in html and "stale_revision" in html
    assert "Nothing was changed" in html
    assert _status(app, visit["uuid"]) == ("submitted", 2)

    resp = sup.post(path + "/correct?lang=en", data={"csrf_token": old_token, "question": "A01",
                                                     "value": "no", "reason": "seen",
                                                     "revision": "1"})
    assert resp.status_code == 409 and "stale_revision" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AnswerCorrection.id))) == 0


def test_deciding_twice_shows_already_reviewed(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    token = page_token(sup, path)
    data = {"csrf_token": token, "decision": "approve", "revision": "1"}
    assert sup.post(path + "/decide", data=data).status_code == 302
    resp = sup.post(path + "/decide?lang=en", data={**data, "decision": "reject",
                                                    "comment": "no"})
    assert resp.status_code == 409
    assert "already decided: Approved (revision 1)" in resp.get_data(as_text=True)
    assert _status(app, visit["uuid"]) == ("approved", 1)


def test_correct_an_answer_changes_the_score(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    resp = sup.post(path + "/correct", data={"csrf_token": page_token(sup, path),
                                             "question": "A01", "value": "no",
                                             "reason": "The photo shows steps", "revision": "1"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        correction = db.session.scalar(sa.select(AnswerCorrection))
        assert correction.new_value == "no" and correction.reason == "The photo shows steps"
        assert correction.score_after < correction.score_before
        after = correction.score_after
    html = sup.get(path + "?lang=en").get_data(as_text=True)
    assert f'id="visit-score">{after:.1f}' in html
    assert "The photo shows steps" in html


def test_a_refused_correction_value_is_shown_and_nothing_stored(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    resp = sup.post(path + "/correct?lang=en", data={"csrf_token": page_token(sup, path),
                                                     "question": "A01", "value": "maybe",
                                                     "reason": "r", "revision": "1"})
    assert resp.status_code == 422
    assert "The form refuses this value" in resp.get_data(as_text=True)
    # the question stays chosen (a yes/no widget has no place for "maybe")
    assert '<input type="hidden" name="question" value="A01">' in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AnswerCorrection.id))) == 0


def test_a_successful_reject_is_stored_with_its_comment(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = _visit_path(visit["uuid"])
    resp = sup.post(path + "/decide", data={"csrf_token": page_token(sup, path),
                                            "decision": "reject", "revision": "1",
                                            "comment": "Photos are from another office"})
    assert resp.status_code == 302 and "done=reject" in resp.headers["Location"]
    assert _status(app, visit["uuid"]) == ("rejected", 1)
    with app.app_context():
        review = db.session.scalar(sa.select(Review))
        assert (review.decision, review.comment) == ("reject", "Photos are from another office")
    html = sup.get(resp.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "The visit was rejected." in html and 'id="decide-form"' not in html
    assert "Photos are from another office" in html  # in the history


def test_deciding_from_the_queue_opens_the_next_visit(sup, world, app, default_form):
    first = submit(sup, world, default_form)
    second = submit(sup, world, default_form)
    html = sup.get(QUEUE).get_data(as_text=True)
    assert f'/console/visits/{first["uuid"]}?lang=' in html and "from=queue" in html
    page = sup.get(_visit_path(first["uuid"]) + "?from=queue&focus=approve&lang=en")
    html = page.get_data(as_text=True)
    assert 'name="next_queue" value="1" id="next-queue" checked' in html
    assert '<input type="hidden" name="focus" value="approve">' in html
    resp = sup.post(_visit_path(first["uuid"]) + "/decide?lang=en", data={
        "csrf_token": page_token(sup, QUEUE), "decision": "approve", "revision": "1",
        "next_queue": "1", "focus": "approve"})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert f"/console/visits/{second['uuid']}" in location
    assert "done=approve" in location and "focus=approve" in location
    assert _status(app, first["uuid"]) == ("approved", 1)
    html = sup.get(location).get_data(as_text=True)
    assert re.search(rf'<a id="decided-visit" href="/console/visits/{first["uuid"]}[^"]*">'
                     rf'Approved: the visit to', html)
    assert 'name="next_queue" value="1" id="next-queue" checked' in html
    # The last one: back to the queue, which says so.
    resp = sup.post(_visit_path(second["uuid"]) + "/decide?lang=en", data={
        "csrf_token": page_token(sup, QUEUE), "decision": "return", "revision": "1",
        "comment": "Add the photo", "next_queue": "1"})
    assert resp.status_code == 302 and "/console/queue" in resp.headers["Location"]
    html = sup.get(resp.headers["Location"]).get_data(as_text=True)
    assert "That was the last visit of the queue." in html
    # Without next_queue the page stays on the decided visit.
    third = submit(sup, world, default_form)
    resp = sup.post(_visit_path(third["uuid"]) + "/decide", data={
        "csrf_token": page_token(sup, QUEUE), "decision": "approve", "revision": "1"})
    assert f"/console/visits/{third['uuid']}" in resp.headers["Location"]


def test_previous_revisions_show_what_the_answers_were(sup, world, app, default_form):
    visit = submit(sup, world, default_form, overrides={"A01": "yes"})
    other = app.test_client()
    resp = other.post(f"/api/v1/visits/{visit['uuid']}/review", headers=world["admin"],
                      json={"decision": "return", "comment": "Check the ramp", "revision": 1})
    assert resp.status_code == 201
    payload = visit_payload(default_form, assignment=visit["assignment"],
                            overrides={"A01": "no"})
    payload["uuid"] = visit["uuid"]
    resp = other.put(f"/api/v1/visits/{visit['uuid']}", json=payload, headers=world["inspector"])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    html = sup.get(_visit_path(visit["uuid"]) + "?lang=en").get_data(as_text=True)
    first = re.search(r'<li id="revision-1">.*?</li>', html, re.S).group(0)
    second = re.search(r'<li id="revision-2">.*?</li>', html, re.S).group(0)
    a01_then = re.search(r'<tr class="changed"><td>A01 · [^<]*</td><td>([^<]*)', first).group(1)
    assert a01_then.strip() == "Yes" and "changed later" in first
    assert "(current)" in second and 'class="changed"' not in second
    assert re.search(r"<td>A01 · [^<]*</td><td>No</td>", second)
