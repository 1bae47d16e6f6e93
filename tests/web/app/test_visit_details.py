"""Parts of a visit the whole-visit test passes over: the timer of duration questions, upload
progress per file and overall, required evidence that is missing, a visit the server refused
("needs your attention"), and audio recorded with MediaRecorder."""
from __future__ import annotations

import json
import re

import sqlalchemy as sa

from server.extensions import db
from server.media.models import MediaObject
from server.visits.models import Visit
from tests.web.app import flows
from tests.web.app.checks import LOW_CONTRAST, TEXTS_IN
from tests.web.app.helpers import answers_by_question, make_video, rows, sha256_of, visit

CHUNK = 1024 * 1024


def _finish(page, uuid: str) -> None:
    page.click("#finish")
    page.wait_for_url("**/app/visits")
    page.wait_for_selector(f"[data-uuid='{uuid}']")


def test_the_timer_fills_the_minutes_from_start_waiting_to_called_to_the_counter(phone, world):
    page = phone
    page.clock.install()
    flows.sign_in(page)
    flows.start_visit(page, world["assignment"])
    page.select_option("#jump", "1")  # the queue section
    page.wait_for_selector("#q-B03")
    button = page.locator("#q-B03 .timer button")
    assert button.inner_text() == "Start timer" and button.get_attribute("aria-pressed") == "false"
    button.click()  # the ticket is in hand: the wait begins
    assert button.inner_text() == "Stop timer" and button.get_attribute("aria-pressed") == "true"
    assert "Timing since" in page.inner_text("#q-B03 .timer-status")
    flows.wait_saved(page)

    page.reload()  # a running timer survives a reload
    page.wait_for_selector("#q-B03")
    assert page.locator("#q-B03 .timer button").inner_text() == "Stop timer"
    page.clock.fast_forward("12:30")  # twelve and a half minutes later the number is called
    page.locator("#q-B03 .timer button").click()
    assert page.input_value("#q-B03-input") in ("12", "13")
    minutes = page.input_value("#q-B03-input")
    assert page.locator("#q-B03 .timer button").inner_text() == "Start timer"
    assert page.inner_text("#q-B03 .timer-status") == ""
    assert page.is_hidden("#q-B03 .error")
    page.fill("#q-B03-input", "14")  # the minutes can be corrected
    flows.wait_saved(page)
    page.reload()
    page.wait_for_selector("#q-B03")
    assert page.input_value("#q-B03-input") == "14" and minutes != "14"
    # The other duration question kept its own (unstarted) timer.
    assert page.locator("#q-B02 .timer button").inner_text() == "Start timer"


def test_upload_progress_is_shown_per_file_and_overall(bare_phone, world, app, client, shot,
                                                      sample_photo, tmp_path):
    page = bare_phone
    video = make_video(tmp_path / "queue.mp4")
    held = []

    def uploads(route, request):
        # The second chunk of the video waits until the test has looked at the progress.
        if request.method == "PATCH" and int(request.headers["upload-offset"]) == CHUNK and not held:
            held.append(route)
            return
        route.continue_()

    page.route("**/api/v1/uploads**", uploads)
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    flows.answer_section(page, flows.ANSWERS["accessibility"])
    page.set_input_files("#q-A04 .capture input[accept='image/*'][capture]", str(sample_photo))
    page.wait_for_selector("#q-A04 .media-item img")
    flows.next_section(page)
    flows.answer_section(page, flows.ANSWERS["queue"])
    flows.next_section(page)
    page.set_input_files("#q-C04 .capture input[accept='video/*']", str(video))
    page.wait_for_selector("#q-C04 .media-item video")
    answers = {k: v for k, v in flows.ANSWERS.items() if k not in ("accessibility", "queue")}
    flows.fill_checklist(page, answers)
    _finish(page, uuid)

    item = f"[data-uuid='{uuid}'][data-status=sending]"
    page.wait_for_selector(f"{item} .sending")
    page.wait_for_function(
        f"""() => [...document.querySelectorAll("{item} .sending .media progress")]
               .some((p) => Number(p.value) === {CHUNK})""",
        timeout=30_000)  # after the photo, which the server decodes first
    assert held, "the second chunk of the video was sent"
    files_text = page.inner_text(f"{item} .sending > p")
    assert re.fullmatch(r"Files: [01] of 2 sent", files_text), files_text
    overall = page.eval_on_selector(f"{item} .sending > progress", "p => [Number(p.value), Number(p.max)]")
    per_file = page.eval_on_selector_all(f"{item} .sending .media progress",
                                         "ps => ps.map((p) => [Number(p.value), Number(p.max)])")
    sizes = sorted([sample_photo.stat().st_size, video.stat().st_size])
    assert sorted(m for _, m in per_file) == sizes
    assert overall[1] == sum(sizes)
    assert overall[0] == sum(v for v, _ in per_file)  # overall is the sum of the files
    assert 0 < overall[0] < overall[1]
    names = page.eval_on_selector_all(f"{item} .sending .media li span", "ss => ss.map((s) => s.textContent)")
    assert any(n.endswith(".mp4") for n in names) and any(n.endswith(".jpg") for n in names)
    assert page.evaluate(LOW_CONTRAST) == []
    shot(page, "14-upload-progress")
    assert rows(app, Visit) == 0

    held[0].continue_()
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    assert page.locator(f"[data-uuid='{uuid}'] .sending").count() == 0
    got = answers_by_question(visit(client, world["inspector"], uuid))
    assert got["C04"]["evidence"] == [sha256_of(video)]
    assert got["A04"]["evidence"] == [sha256_of(sample_photo)]


def test_missing_required_evidence_is_explained_in_the_note_and_flagged_for_the_reviewer(
        phone, world, client):
    page = phone
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    flows.answer(page, "A01", "no")  # "no" needs a photo (evidence: {photo: "required_when:no"})
    hint = page.locator("#q-A01 .warn-text")
    hint.wait_for()
    assert "A photo is expected here" in hint.inner_text()
    assert page.eval_on_selector("#q-A01 details.note", "d => d.open"), "the note opens by itself"
    reason = "The guard asked me not to take photos."
    page.fill("#q-A01-note", reason)
    answers = {section: dict(values) for section, values in flows.ANSWERS.items()}
    answers["accessibility"].update({"A01": "no"})
    for hidden in ("A02", "A03"):  # asked only when A01 is "yes"
        answers["accessibility"].pop(hidden)
    flows.fill_checklist(page, answers)
    assert page.locator("#finish").is_enabled()
    assert page.locator(".problems").count() == 0, "missing evidence does not stop the visit"
    _finish(page, uuid)
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)

    got = answers_by_question(visit(client, world["inspector"], uuid))
    assert (got["A01"]["value"], got["A01"]["note"], got["A01"]["evidence"]) == ("no", reason, [])
    detail = visit(client, world["supervisor"], uuid)  # what the reviewer sees
    flags = [f for f in detail["flags"] if f["kind"] == "evidence_missing"]
    assert {"question": "A01", "kind": "photo", "rule": "required_when:no"} in [f["detail"] for f in flags]
    resp = client.get("/api/v1/visits", headers=world["supervisor"])
    [summary] = [v for v in resp.json["items"] if v["uuid"] == uuid]
    assert "evidence_missing" in summary["flags"]


def test_a_visit_the_server_refused_needs_attention_and_is_sent_once_fixed(bare_phone, world,
                                                                           app, client, shot):
    page = bare_phone
    refused = []

    def visits(route, request):
        if request.method == "POST" and not refused:
            # What the server answers when it judges an answer differently from the phone.
            refused.append(json.loads(request.post_data)["uuid"])
            route.fulfill(status=422, content_type="application/problem+json", body=json.dumps({
                "type": "urn:adal:problem:validation_failed", "title": "Validation failed",
                "status": 422, "code": "validation_failed",
                "detail": "1 field did not validate; see errors.",
                "errors": {"answers": {"B03": ["Not a plausible waiting time for this office."]}}}))
            return
        route.continue_()

    page.route("**/api/v1/visits", visits)
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    flows.fill_checklist(page)
    _finish(page, uuid)
    item = f"[data-uuid='{uuid}'][data-status=attention]"
    page.wait_for_selector(item)
    assert refused == [uuid] and rows(app, Visit) == 0
    assert page.inner_text(f"{item} .chip") == "Needs your attention"
    assert "did not validate" in page.inner_text(f"{item} .error")
    assert page.evaluate(TEXTS_IN, item) and page.evaluate(LOW_CONTRAST) == []
    shot(page, "13-needs-attention")

    page.click(f"{item} a.button")
    page.wait_for_url(f"**/app/visit/{uuid}")
    page.wait_for_selector(".banner.warn:has-text('did not accept')")
    page.select_option("#jump", "1")
    page.wait_for_selector("#q-B03 .error:not([hidden])")
    assert "Not a plausible waiting time for this office." in page.inner_text("#q-B03 .error")
    assert page.get_attribute("#q-B03-input", "aria-invalid") == "true"
    assert page.evaluate(LOW_CONTRAST) == []
    page.locator("#q-B03").scroll_into_view_if_needed()
    shot(page, "15-needs-attention-question")
    page.fill("#q-B03-input", "20")
    assert page.is_hidden("#q-B03 .error")  # the server's message goes once the answer changes
    page.select_option("#jump", "6")
    _finish(page, uuid)
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    assert rows(app, Visit) == 1
    assert answers_by_question(visit(client, world["inspector"], uuid))["B03"]["value"] == 20


def test_audio_recorded_with_media_recorder_is_sent_as_evidence(open_phone, media_browser,
                                                                world, app, client):
    page = open_phone(browser_=media_browser, permissions=("geolocation", "microphone"))
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    assert page.evaluate("typeof MediaRecorder") == "function"
    flows.answer_section(page, flows.ANSWERS["accessibility"])
    flows.next_section(page)
    flows.answer_section(page, flows.ANSWERS["queue"])
    flows.next_section(page)
    record = page.locator("#q-C04 .capture button", has_text="Record audio")
    record.click()
    stop = page.locator("#q-C04 .capture button[aria-pressed=true]")
    stop.wait_for()
    assert stop.inner_text() == "Stop recording"
    page.wait_for_timeout(1500)  # a second and a half of the fake microphone's tone
    stop.click()
    page.wait_for_selector("#q-C04 .media-item audio")
    name = page.inner_text("#q-C04 .media-item .media-name")
    assert re.fullmatch(r"audio-[0-9TZ-]+\.(webm|ogg|m4a)", name), name
    assert page.locator("#q-C04 .capture button", has_text="Record audio").get_attribute("aria-pressed") == "false"
    answers = {k: v for k, v in flows.ANSWERS.items() if k not in ("accessibility", "queue")}
    flows.fill_checklist(page, answers)
    _finish(page, uuid)
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)

    [sha] = answers_by_question(visit(client, world["inspector"], uuid))["C04"]["evidence"]
    with app.app_context():
        media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha))
        assert media.kind == "audio" and media.size > 1000
