"""Services' problems shown in the page's language: each known code (and the known messages of
its error fields) from the catalog with the service's numbers filled in, never the English text;
unknown text as the service wrote it. Assignment warnings named, not raw codes."""
from __future__ import annotations

import uuid as uuid_module

import sqlalchemy as sa

from server.assignments.models import Assignment
from server.errors import AppError, Conflict, ValidationFailed
from server.extensions import db
from server.review.models import AnswerCorrection
from server.visits.models import Visit

from tests.visits.builders import visit_payload

from .helpers import page_token, submit

PLANNING = "/console/planning"


def _amended(sup, app, world, default_form) -> tuple[dict, str]:
    """A visit the page saw at revision 1 that is now at revision 2; (visit, the old token)."""
    visit = submit(sup, world, default_form)
    path = f"/console/visits/{visit['uuid']}"
    token = page_token(sup, path)
    other = app.test_client()
    assert other.post(f"/api/v1/visits/{visit['uuid']}/review", headers=world["admin"], json={
        "decision": "return", "comment": "Add the photo", "revision": 1}).status_code == 201
    payload = visit_payload(default_form, assignment=visit["assignment"], overrides={"C02": "no"})
    payload["uuid"] = visit["uuid"]
    assert other.put(f"/api/v1/visits/{visit['uuid']}", json=payload,
                     headers=world["inspector"]).status_code == 200
    return visit, token


def _state(app, uuid) -> tuple[str, int, int]:
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid_module.UUID(uuid)))
        corrections = db.session.scalar(sa.select(sa.func.count(AnswerCorrection.id)))
        return visit.status, visit.revision, corrections


def test_a_stale_decision_is_told_in_russian_and_kazakh(sup, world, app, default_form):
    visit, token = _amended(sup, app, world, default_form)
    path = f"/console/visits/{visit['uuid']}"
    expected = {"ru": ("текущая редакция 2, вы смотрели 1", "Текущая редакция: 2."),
                "kk": ("ағымдағы нұсқа 2, сіз 1 нұсқасын қарадыңыз", "Ағымдағы нұсқа: 2.")}
    for lang, (detail, field) in expected.items():
        resp = sup.post(f"{path}/decide?lang={lang}", data={
            "csrf_token": token, "decision": "approve", "revision": "1"})
        assert resp.status_code == 409
        html = resp.get_data(as_text=True)
        assert detail in html and field in html and "stale_revision" in html
        assert "revision 2 is current" not in html and "Current revision is" not in html
    assert _state(app, visit["uuid"]) == ("submitted", 2, 0)


def test_a_value_the_form_refuses_is_told_in_russian_and_kazakh(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = f"/console/visits/{visit['uuid']}"
    expected = {"ru": "Анкета не принимает это значение: Ответьте «yes» или «no».",
                "kk": "Сауалнама бұл мәнді қабылдамайды: «yes» немесе «no» деп жауап беріңіз."}
    for lang, text in expected.items():
        resp = sup.post(f"{path}/correct?lang={lang}", data={
            "csrf_token": page_token(sup, path), "question": "A01", "value": "maybe",
            "reason": "r", "revision": "1"})
        assert resp.status_code == 422
        html = resp.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"')
        assert text in html
        assert "The form refuses this value" not in html and "Answer 'yes' or 'no'" not in html
    resp = sup.post(f"{path}/correct?lang=en", data={
        "csrf_token": page_token(sup, path), "question": "A01", "value": "maybe",
        "reason": "r", "revision": "1"})
    assert "The form refuses this value: Answer &#39;yes&#39; or &#39;no&#39;." in \
        resp.get_data(as_text=True)
    assert _state(app, visit["uuid"]) == ("submitted", 1, 0)


def test_a_second_decision_is_already_reviewed_in_russian(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = f"/console/visits/{visit['uuid']}"
    token = page_token(sup, path)
    assert sup.post(path + "/decide", data={"csrf_token": token, "decision": "approve",
                                            "revision": "1"}).status_code == 302
    resp = sup.post(path + "/decide?lang=ru", data={"csrf_token": token, "decision": "reject",
                                                    "revision": "1", "comment": "no"})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "Проверка уже рассмотрена" in html and "(редакция 1)" in html
    assert "already approved" not in html
    assert _state(app, visit["uuid"])[0] == "approved"


def test_an_assignment_on_a_conflict_list_is_refused_in_kazakh(sup, world, app):
    resp = sup.post("/console/planning/inspectors/insp/conflicts", data={
        "csrf_token": page_token(sup, PLANNING), "offices": world["other_office"]})
    assert resp.status_code == 302
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count(Assignment.id)))
    resp = sup.post(PLANNING + "/assignments?lang=kk", data={
        "csrf_token": page_token(sup, PLANNING), "office": world["other_office"],
        "inspector": "insp", "form": "service-centre-visit/v1",
        "window_start": "2030-01-10T09:00", "window_end": "2030-01-20T18:00"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True).replace("&#39;", "'")
    assert "conflict_of_interest" in html
    assert "Тапсырманы құру мүмкін емес" in html
    assert f"'insp' тексерушісі '{world['other_office']}' кеңсесін тексере алмайды" in html
    assert "must not visit" not in html and "see errors" not in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Assignment.id))) == before


def test_a_repeat_visit_warning_is_named_in_the_page_language(sup, world, app):
    made = []
    for start, end in (("2030-01-10T09:00", "2030-01-20T18:00"),
                       ("2030-02-10T09:00", "2030-02-20T18:00")):
        resp = sup.post(PLANNING + "/assignments", data={
            "csrf_token": page_token(sup, PLANNING), "office": world["office"],
            "inspector": "insp", "form": "service-centre-visit/v1",
            "window_start": start, "window_end": end})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        made.append(resp)
    with app.app_context():
        warned = db.session.scalars(sa.select(Assignment).where(
            Assignment.warnings != sa.null())).all()
        assert any(a.warnings == ["repeat_visit"] for a in warned)
    html = sup.get(PLANNING + "?lang=ru").get_data(as_text=True)
    assert "Повторная проверка" in html and "repeat_visit" not in html


def test_recommendation_refusals_are_told_in_the_page_language(app):
    from server.web.console_access import field_messages, problem_detail

    with app.test_request_context("/console/x?lang=ru"):
        refusal = Conflict("A recommendation that is open cannot become verified; allowed next: "
                           "in_progress, reported_done.", code="invalid_transition",
                           errors={"status": ["Allowed next: in_progress, reported_done."]})
        assert problem_detail(refusal) == (
            "Рекомендация в статусе «открыта» не может стать «выполнение подтверждено»; "
            "можно: выполняется, офис сообщил о выполнении.")
        assert field_messages(refusal.errors["status"]) == \
            "Можно перейти в: выполняется, офис сообщил о выполнении."
        final = Conflict("The recommendation is verified, which is final.",
                         code="invalid_transition")
        assert problem_detail(final) == \
            "Рекомендация в статусе «выполнение подтверждено», он окончательный."


def test_unknown_codes_and_texts_stay_as_the_service_wrote_them(app):
    from server.web.console_access import field_messages, problem_detail

    with app.test_request_context("/console/x?lang=kk"):
        assert problem_detail(AppError("Something new.", code="brand_new")) == "Something new."
        # a known code whose text has another shape: the service's text, not a half-filled one
        assert problem_detail(AppError("Revision moved.", code="stale_revision")) == \
            "Revision moved."
        assert field_messages(["Not a known message.", "Give a whole number."]) == \
            "Not a known message.; Бүтін сан жазыңыз."
        assert problem_detail(ValidationFailed(errors={"x": ["y"]})) == \
            "Қабылданбады; қателерді қараңыз."


def test_a_refused_constraint_is_told_with_the_forms_own_message(sup, world, app, default_form):
    visit = submit(sup, world, default_form)
    path = f"/console/visits/{visit['uuid']}"
    expected = {"ru": "Анкета не принимает это значение: Введите температуру от −30 до 60 °C.",
                "kk": "Сауалнама бұл мәнді қабылдамайды: Температураны −30-дан 60 °C-қа дейін "
                      "енгізіңіз.",
                "en": "The form refuses this value: Enter a temperature between −30 and 60 °C."}
    for lang, text in expected.items():
        resp = sup.post(f"{path}/correct?lang={lang}", data={
            "csrf_token": page_token(sup, path), "question": "F01", "value": "75",
            "reason": "the thermometer", "revision": "1"})
        assert resp.status_code == 422
        html = resp.get_data(as_text=True)
        assert text in html
        if lang != "en":
            assert "Enter a temperature" not in html
    assert _state(app, visit["uuid"]) == ("submitted", 1, 0)
