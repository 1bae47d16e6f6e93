"""Faults on the phone and on the way: a network lost mid-upload, a server error, a token that
expired while offline, a full phone, and a form version published while a draft is open."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from server.assignments.models import Assignment
from server.auth.models import ApiToken, User
from server.config import PROJECT_ROOT
from server.db import utcnow
from server.extensions import db
from server.forms.models import FormVersion
from server.forms.service import publish_file
from server.media.models import MediaObject, Upload
from server.offices.models import Office
from server.visits.models import Visit
from tests.web.app import flows
from tests.web.app.checks import LOW_CONTRAST, TEXTS_IN
from tests.web.app.helpers import answers_by_question, make_video, rows, sha256_of, visit

QUOTA_SWITCH = """
(() => {
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (...args) {
    if (window.__quotaFull) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    return put.apply(this, args);
  };
})();
"""


def _finish(page, uuid: str) -> None:
    page.click("#finish")
    page.wait_for_url("**/app/visits")
    page.wait_for_selector(f"[data-uuid='{uuid}']")


def test_a_video_upload_cut_twice_resumes_and_is_stored_once(bare_phone, world, app, client,
                                                             tmp_path):
    page = bare_phone
    video = make_video(tmp_path / "counter.mp4")
    patches, posts = [], []

    def uploads(route, request):
        if request.method == "POST":
            posts.append(request.url)
        if request.method != "PATCH":
            route.continue_()
            return
        patches.append(int(request.headers["upload-offset"]))
        if len(patches) == 2:  # the server stores the chunk, the answer is lost on the way back
            route.fetch()
            route.abort("connectionreset")
        elif len(patches) == 3:  # the network goes while the next chunk is sent
            page.context.set_offline(True)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/api/v1/uploads**", uploads)
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    flows.answer_section(page, flows.ANSWERS["accessibility"])
    flows.next_section(page)
    flows.answer_section(page, flows.ANSWERS["queue"])
    flows.next_section(page)
    page.set_input_files("#q-C04 .capture input[accept='video/*']", str(video))
    page.wait_for_selector("#q-C04 .media-item video")
    answers = {k: v for k, v in flows.ANSWERS.items() if k not in ("accessibility", "queue")}
    flows.fill_checklist(page, answers)
    _finish(page, uuid)
    page.wait_for_selector("#offline-banner")
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=outbox]")
    assert rows(app, Visit) == 0

    page.context.set_offline(False)
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)

    chunk = 1024 * 1024
    assert len(posts) == 1, "the upload was resumed, not started again"
    assert patches[:3] == [0, chunk, 2 * chunk]
    assert patches[3:] == sorted(patches[3:]) and patches[3] == 2 * chunk
    assert patches.count(2 * chunk) == 2 and len(patches) == len(set(patches)) + 1
    assert (rows(app, Upload), rows(app, MediaObject), rows(app, Visit)) == (1, 1, 1)
    detail = visit(client, world["inspector"], uuid)
    assert answers_by_question(detail)["C04"]["evidence"] == [sha256_of(video)]


def test_a_server_error_once_is_retried_and_the_visit_stored_once(bare_phone, world, app, client):
    page = bare_phone
    answers = []

    def visits(route, request):
        if request.method != "POST":
            route.continue_()
            return
        if not answers:  # the server stores the visit, then something on the way answers 500
            answers.append(route.fetch().status)
            route.fulfill(status=500, content_type="application/problem+json",
                          body='{"type": "about:blank", "title": "Internal error", "status": 500, '
                               '"code": "internal_error", "detail": "boom"}')
            return
        response = route.fetch()
        answers.append(response.status)
        route.fulfill(response=response)

    page.route("**/api/v1/visits", visits)
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    flows.fill_checklist(page)
    _finish(page, uuid)
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    assert answers == [201, 200]  # the retry was answered as a replay of the stored visit
    assert rows(app, Visit) == 1
    assert visit(client, world["inspector"], uuid)["revision"] == 1


def test_a_token_expired_offline_asks_to_sign_in_again_and_keeps_the_visit(phone, world, app, shot):
    page = phone
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # reloads work offline
    page.context.set_offline(True)
    flows.fill_checklist(page)
    with app.app_context():  # the token's 30 days ran out while the phone was offline
        inspector = db.session.scalar(sa.select(User).where(User.login == "insp"))
        db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == inspector.id)
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    _finish(page, uuid)
    page.reload()
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=outbox]")

    page.context.set_offline(False)
    page.wait_for_selector("#session-ended")
    shot(page, "10-session-ended")
    assert page.evaluate(TEXTS_IN, "#session-ended") and page.evaluate(LOW_CONTRAST) == []
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=outbox]")
    assert rows(app, Visit) == 0
    page.click("#session-ended a")
    page.wait_for_selector("#password")
    assert page.input_value("#login") == "insp"
    page.fill("#password", flows.factories.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/app/")
    page.click("nav a[href='/app/visits']")
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    assert rows(app, Visit) == 1


def test_a_full_phone_says_so_and_loses_nothing(bare_phone, world, shot, sample_photo):
    page = bare_phone
    page.add_init_script(QUOTA_SWITCH)
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    flows.answer(page, "A01", "no")
    flows.wait_saved(page)

    page.evaluate("window.__quotaFull = true")
    flows.answer(page, "A04", "95")
    page.set_input_files("#q-A01 .capture input[accept='image/*'][capture]", str(sample_photo))
    page.wait_for_selector("#storage-full")
    page.wait_for_selector("body[data-save=full]", state="attached")
    page.wait_for_selector("#q-A01 .media-item img")  # still on screen
    shot(page, "11-storage-full")
    assert page.evaluate(TEXTS_IN, "#storage-full") and page.evaluate(LOW_CONTRAST) == []

    page.evaluate("window.__quotaFull = false")
    page.click("#storage-full button")
    flows.wait_saved(page)
    assert page.locator("#storage-full").count() == 0
    page.reload()
    page.wait_for_selector("#q-A01 .media-item img")
    assert page.is_checked("#q-A01-no")
    assert page.input_value("#q-A04-input") == "95"
    assert page.url.endswith(uuid)


def test_a_draft_keeps_its_form_version_when_a_new_one_is_published(bare_phone, world, app,
                                                                   client, tmp_path):
    page = bare_phone
    flows.sign_in(page)
    uuid = flows.start_visit(page, world["assignment"])
    flows.answer(page, "A01", "yes")
    flows.wait_saved(page)

    source = (Path(PROJECT_ROOT) / "survey_forms" / "service_centre_visit.v1.yaml").read_text("utf-8")
    old_label = "Is there step-free access to the service hall (level entrance, ramp or lift)?"
    new_label = "Version 2: can a wheelchair user reach the hall without steps?"
    changed = source.replace("version: 1\n", "version: 2\n", 1).replace(old_label, new_label)
    (tmp_path / "service_centre_visit.v2.yaml").write_text(changed, "utf-8")
    with app.app_context():
        version, _ = publish_file(path=tmp_path / "service_centre_visit.v2.yaml")
        inspector = db.session.scalar(sa.select(User).where(User.login == "insp"))
        office = db.session.scalar(sa.select(Office).where(Office.code == world["other_office"]))
        second = Assignment(office=office, inspector=inspector, form_version=version,
                            window_start=utcnow() - timedelta(hours=1),
                            window_end=utcnow() + timedelta(days=1))
        db.session.add(second)
        db.session.commit()
        second_id = second.id

    page.reload()
    page.wait_for_selector(f"#q-A01:has-text('{old_label}')")
    assert page.is_checked("#q-A01-yes")
    page.click("a.back")
    page.click("nav a[href='/app/']")
    flows.start_visit(page, second_id)
    page.wait_for_selector(f"#q-A01:has-text('{new_label}')")

    page.goto(f"/app/visit/{uuid}")
    page.wait_for_selector(f"#q-A01:has-text('{old_label}')")
    flows.fill_checklist(page)
    _finish(page, uuid)
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=sent]", timeout=30_000)
    with app.app_context():
        stored = db.session.scalar(sa.select(Visit).where(Visit.assignment_id == world["assignment"]))
        assert db.session.get(FormVersion, stored.form_version_id).version == 1
