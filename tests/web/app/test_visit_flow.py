"""A whole visit on a phone-size browser: sign in, an assignment, the default checklist with its
skip logic, a photo, offline finish and reload, then exactly one visit with its evidence on the
server; the language switch; a returned visit amended and sent again."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.auth.models import ApiToken
from server.extensions import db
from server.media.models import MediaObject, Upload
from server.visits.models import Visit
from tests.visits.builders import visit_payload
from tests.web.app import flows
from tests.web.app.checks import GEO_CALLS, GEO_COUNTER, LOW_CONTRAST, TEXTS_IN
from tests.web.app.helpers import answers_by_question, rows, sha256_of, visit, visits


def _hidden(page, qid: str) -> bool:
    return page.eval_on_selector(f"#q-{qid}", "el => el.hidden")


def test_a_visit_finished_offline_arrives_once_with_its_photo(phone, world, app, client, shot,
                                                              sample_photo):
    page = phone
    page.add_init_script(GEO_COUNTER)
    page.goto("/app/")
    page.wait_for_selector("#login")
    shot(page, "01-sign-in")
    flows.sign_in(page)
    # The position is asked before the visit starts: off until the inspector turns it on.
    assert not page.is_checked("#positions")
    page.check("#positions")
    page.reload()
    page.wait_for_selector("[data-assignment]")
    assert page.is_checked("#positions"), "the choice is remembered on the phone"
    assert page.evaluate(GEO_CALLS) == 0
    shot(page, "02-assignments")
    uuid = flows.start_visit(page, world["assignment"])
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # the shell is kept for offline

    # Skip logic, live: A02/A03 only after A01 == 'yes'; A07 only when there is a call button.
    assert _hidden(page, "A02") and _hidden(page, "A03")
    flows.answer(page, "A01", "yes")
    assert not _hidden(page, "A02") and not _hidden(page, "A03")
    flows.answer(page, "A06", "working")
    assert not _hidden(page, "A07")
    # A constraint's message shows next to its question, before anything is sent.
    flows.answer(page, "A04", "500")
    page.wait_for_selector("#q-A04 .error:not([hidden])")
    assert "300" in page.inner_text("#q-A04 .error")
    page.set_input_files("#q-A04 .capture input[accept='image/*'][capture]", str(sample_photo))
    page.wait_for_selector("#q-A04 .media-item img")
    flows.answer_section(page, flows.ANSWERS["accessibility"], by_hand=True)
    assert _hidden(page, "A07")  # A06 is "absent" now
    assert page.is_hidden("#q-A04 .error")
    page.locator("#q-A04").scroll_into_view_if_needed()
    shot(page, "03-visit-section")

    page.context.set_offline(True)
    page.wait_for_selector("#offline-banner")
    answers = dict(flows.ANSWERS)
    answers.pop("accessibility")
    flows.next_section(page)
    flows.fill_checklist(page, answers, by_hand=True)
    shot(page, "04-finish")
    page.click("#finish")
    page.wait_for_url("**/app/visits")
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=outbox]")
    shot(page, "05-visits-waiting-offline")
    assert page.evaluate(GEO_CALLS) == 2  # at "Start visit" and at the finish, as agreed
    assert page.evaluate(TEXTS_IN, "#offline-banner") and page.evaluate(TEXTS_IN, "#visit-list")
    assert page.evaluate(LOW_CONTRAST) == []  # the offline banner and the list of visits

    page.reload()  # still offline: the service worker serves the app, IndexedDB keeps the visit
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=outbox]")
    assert rows(app, Visit) == 0

    page.context.set_offline(False)
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    shot(page, "06-visits-sent")
    assert page.evaluate(LOW_CONTRAST) == []

    [summary] = visits(client, world["inspector"])
    assert summary["uuid"] == uuid
    detail = visit(client, world["inspector"], uuid)
    got = answers_by_question(detail)
    assert got["A04"]["evidence"] == [sha256_of(sample_photo)]
    assert got["A02"]["value"] == 4.5
    assert got["A12"]["not_applicable"] is True
    assert "A07" not in got and "A01" in got
    assert detail["position_start"]["lat"] == pytest.approx(51.1284)
    assert detail["position_end"] is not None
    assert detail["ended_at"] >= detail["started_at"]
    assert (rows(app, Visit), rows(app, MediaObject), rows(app, Upload)) == (1, 1, 1)


def test_no_position_is_requested_when_the_inspector_leaves_it_off(phone, world, client):
    page = phone
    page.add_init_script(GEO_COUNTER)
    flows.sign_in(page)
    assert not page.is_checked("#positions")  # nothing chosen yet: off
    uuid = flows.start_visit(page, world["assignment"])
    flows.answer(page, "A01", "yes")
    flows.wait_saved(page)
    page.reload()  # a reload does not ask for it either
    page.wait_for_selector("#q-A01")
    flows.fill_checklist(page)
    assert not page.is_checked("#positions")
    assert page.inner_text("label[for=positions]") == "Record my position now, at the end of the visit"
    page.click("#finish")
    page.wait_for_url("**/app/visits")
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    assert page.evaluate(GEO_CALLS) == 0, "the browser was asked for the position"
    detail = visit(client, world["inspector"], uuid)
    assert (detail["position_start"], detail["position_end"]) == (None, None)


def test_a_position_refused_by_the_browser_is_sent_as_null(open_phone, world, client):
    page = open_phone(permissions=())  # the inspector agreed in the app, the browser says no
    page.add_init_script(GEO_COUNTER)
    flows.sign_in(page)
    page.check("#positions")
    uuid = flows.start_visit(page, world["assignment"])
    flows.fill_checklist(page)
    assert page.is_checked("#positions")
    page.click("#finish")
    page.wait_for_url("**/app/visits")
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    assert page.evaluate(GEO_CALLS) == 2
    detail = visit(client, world["inspector"], uuid)
    assert (detail["position_start"], detail["position_end"]) == (None, None)


def test_a_supervisor_signing_in_to_the_app_is_sent_to_the_console(phone, world, app):
    page = phone
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)
                                   .where(ApiToken.revoked_at.is_(None)))
    page.goto("/app/")
    page.wait_for_url("**/app/signin")
    page.fill("#login", "sup")
    page.fill("#password", flows.factories.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_selector("form .error:not([hidden]) #open-console")
    message = page.inner_text("form .error")
    assert "This app is for inspectors only." in message and "console" in message
    assert page.get_attribute("#open-console", "href") == "/console/"
    assert page.url.endswith("/app/signin")
    assert page.locator("[data-assignment], #visit-list, nav").count() == 0
    page.reload()  # no session was kept: still the sign-in screen
    page.wait_for_selector("#login")
    assert page.input_value("#login") == ""
    with app.app_context():  # the token issued for the check was revoked at once
        after = db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)
                                  .where(ApiToken.revoked_at.is_(None)))
    assert after == before


def test_the_language_switch_changes_labels_and_is_remembered(phone, world, shot):
    page = phone
    flows.sign_in(page)
    page.select_option("#lang", "kk")
    page.wait_for_selector("h1:has-text('Тапсырмалар')")
    assert page.get_attribute("html", "lang") == "kk"
    flows.start_visit(page, world["assignment"])
    page.wait_for_selector(".section-body h2:has-text('Қолжетімділік')")
    assert "Иә" in page.inner_text("#q-A01")
    shot(page, "07-visit-in-kazakh")
    page.reload()
    page.wait_for_selector(".section-body h2:has-text('Қолжетімділік')")
    page.select_option("#lang", "uz")
    page.wait_for_selector(".section-body h2:has-text('Toʻsiqsiz muhit')")
    assert "Ha" in page.inner_text("#q-A01")


def test_a_returned_visit_is_amended_and_sent_again(phone, world, app, client, default_form,
                                                    shot):
    payload = visit_payload(default_form, assignment=world["assignment"],
                            overrides={"C06": "no"})
    assert client.post("/api/v1/visits", json=payload, headers=world["inspector"]).status_code == 201
    comment = "Please check the fee question (C06) again."
    resp = client.post(f"/api/v1/visits/{payload['uuid']}/review", headers=world["supervisor"],
                       json={"decision": "return", "comment": comment, "revision": 1})
    assert resp.status_code == 201, resp.get_data(as_text=True)

    page = phone
    flows.sign_in(page)
    page.click("nav a[href='/app/visits']")
    item = f"[data-uuid='{payload['uuid']}'][data-status=returned]"
    page.wait_for_selector(f"{item} .comment:has-text('fee question')")
    shot(page, "08-visits-returned")
    page.click(f"{item} a.button")
    page.wait_for_url(f"**/app/visit/{payload['uuid']}")
    page.wait_for_selector(".banner.info:has-text('fee question')")
    shot(page, "09-amend")
    page.select_option("#jump", "2")  # the service section
    flows.answer(page, "C06", "yes")
    page.select_option("#jump", "6")  # check and finish
    page.wait_for_selector("#finish")
    assert page.locator("#positions").count() == 0  # an amendment keeps the recorded positions
    page.click("#finish")
    page.wait_for_url("**/app/visits")
    page.wait_for_selector(f"[data-uuid='{payload['uuid']}'][data-status=sent]")

    detail = visit(client, world["inspector"], payload["uuid"])
    assert (detail["status"], detail["revision"]) == ("submitted", 2)
    assert answers_by_question(detail)["C06"]["value"] == "yes"
    assert detail["started_at"] == visit(client, world["supervisor"], payload["uuid"])["started_at"]
    assert rows(app, Visit) == 1
