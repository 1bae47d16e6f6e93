"""A whole visit on a phone-size browser: sign in, an assignment, the default checklist with its
skip logic, a photo, offline finish and reload, then exactly one visit with its evidence on the
server; the language switch; a returned visit amended and sent again."""
from __future__ import annotations

import pytest

from server.media.models import MediaObject, Upload
from server.visits.models import Visit
from tests.visits.builders import visit_payload
from tests.web.app import flows
from tests.web.app.helpers import answers_by_question, rows, sha256_of, visit, visits


def _hidden(page, qid: str) -> bool:
    return page.eval_on_selector(f"#q-{qid}", "el => el.hidden")


def test_a_visit_finished_offline_arrives_once_with_its_photo(phone, world, app, client, shot,
                                                              sample_photo):
    page = phone
    page.goto("/app/")
    page.wait_for_selector("#login")
    shot(page, "01-sign-in")
    flows.sign_in(page)
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
    flows.answer_section(page, flows.ANSWERS["accessibility"])
    assert _hidden(page, "A07")  # A06 is "absent" now
    assert page.is_hidden("#q-A04 .error")
    page.locator("#q-A04").scroll_into_view_if_needed()
    shot(page, "03-visit-section")

    page.context.set_offline(True)
    page.wait_for_selector("#offline-banner")
    answers = dict(flows.ANSWERS)
    answers.pop("accessibility")
    flows.next_section(page)
    flows.fill_checklist(page, answers)
    shot(page, "04-finish")
    page.click("#finish")
    page.wait_for_url("**/app/visits")
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=outbox]")
    shot(page, "05-visits-waiting-offline")

    page.reload()  # still offline: the service worker serves the app, IndexedDB keeps the visit
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=outbox]")
    assert rows(app, Visit) == 0

    page.context.set_offline(False)
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    shot(page, "06-visits-sent")

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
    page.click("#finish")
    page.wait_for_url("**/app/visits")
    page.wait_for_selector(f"[data-uuid='{payload['uuid']}'][data-status=sent]")

    detail = visit(client, world["inspector"], payload["uuid"])
    assert (detail["status"], detail["revision"]) == ("submitted", 2)
    assert answers_by_question(detail)["C06"]["value"] == "yes"
    assert detail["started_at"] == visit(client, world["supervisor"], payload["uuid"])["started_at"]
    assert rows(app, Visit) == 1
