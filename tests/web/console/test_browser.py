"""Browser tests of the console: Debian's Chromium driven by Playwright against the app served
by a real HTTP server in a thread (the inspector app's fixtures in tests/web/app/conftest.py).

Skipped with a reason when Playwright or /usr/bin/chromium is missing. Screenshots (1280 px
wide) go to the test's tmp_path, or to docs/screenshots/console-*.png with ADAL_SCREENSHOTS=1.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from server.config import PROJECT_ROOT
from tests import factories
from tests.media.conftest import Tus, jpeg_bytes
from tests.web.conftest import CHROMIUM

from .helpers import far_away, submit

DESK = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000
# base.html's /static/adal.css is shadowed by the app's own empty /static route (a 404 outside
# the console, reported in docs/console.md); the console links its own copy.
KNOWN_MISSING = ("/static/adal.css", "/favicon.ico")
SCREENSHOTS = Path(PROJECT_ROOT) / "docs" / "screenshots"

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="Playwright is not installed "
                    "(pip install -r requirements-dev.txt)")


@pytest.fixture
def shot(tmp_path):
    folder = SCREENSHOTS if os.environ.get("ADAL_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = False) -> Path:
        path = folder / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path
    return take


@pytest.fixture
def desk(browser, live):
    """A desktop browser (1280 px) signed in as the world's supervisor."""
    context = browser.new_context(viewport=DESK, base_url=live, locale="en-GB",
                                  accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda resp: errors.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 and resp.request.resource_type != "document"
            and not resp.url.endswith(KNOWN_MISSING) else None)
    page.goto("/console/queue?lang=en")
    assert "/login" in page.url
    page.fill("input[name=login]", "sup")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/queue.*"))
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


def _photo(client, world) -> str:
    tus = Tus(client, world["inspector"])
    resp = tus.send(jpeg_bytes(width=800, height=600, seed=5), filename="entrance.jpg")
    assert resp.status_code == 204, resp.get_data(as_text=True)
    return resp.headers["Adal-Media-Sha256"]


def _visits(app, world, default_form) -> dict:
    """A flagged visit with a photo, a plain one to approve and one to correct."""
    from tests.visits.builders import visit_payload

    client = app.test_client()
    sha = _photo(client, world)
    from .helpers import new_assignment
    body = visit_payload(default_form, assignment=new_assignment(app, world), **far_away())
    for answer in body["answers"]:
        if answer["question"] == "A01":
            answer["evidence"] = [sha]
    resp = client.post("/api/v1/visits", json=body, headers=world["inspector"])
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return {"flagged": resp.json, "plain": submit(client, world, default_form),
            "to_correct": submit(client, world, default_form), "sha": sha}


def test_review_a_day(desk, app, world, default_form, live, shot, tmp_path):
    """Return a flagged visit with a comment, approve another, correct an answer, publish the
    ranking and open its public page, export XLSX and read it."""
    visits = _visits(app, world, default_form)
    page = desk
    page.goto("/console/queue?lang=en")
    assert page.locator("#queue tbody tr").count() == 3
    assert page.locator("#count-waiting strong").inner_text() == "3"
    shot(page, "queue")

    # Keyboard: j selects the first row, o opens it (oldest first: the flagged one).
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(re.compile(rf".*/console/visits/{visits['flagged']['uuid']}.*"))
    flags = page.locator("#flags")
    assert "Far from the office" in flags.inner_text()
    assert "distance_m" in flags.inner_text()
    img = page.locator("td.evidence img").first
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "visit")
    shot(page, "visit-full", full_page=True)
    # The thumbnail opens its preview in a dialog; Escape closes it.
    img.click()
    zoom = page.locator("#zoom")
    zoom.wait_for(state="visible")
    page.wait_for_function("() => { const i = document.querySelector('#zoom img');"
                           " return i.complete && i.naturalWidth > 0; }")
    assert f"/api/v1/media/{visits['sha']}/preview" in zoom.locator("img").get_attribute("src")
    shot(page, "photo-zoom")
    page.keyboard.press("Escape")
    zoom.wait_for(state="hidden")
    page.fill("#comment", "Take the entrance photo at the office, please.")
    page.click("button[value=return]")
    page.wait_for_url(re.compile(r".*done=return.*"))
    assert page.locator("#visit-status").inner_text() == "Returned"
    assert "Take the entrance photo" in page.locator("#history").inner_text()

    # Approve the plain visit from the queue with the keyboard: j selects it, a opens it with
    # Approve focused, Enter presses it.
    page.goto("/console/queue?lang=en")
    assert page.locator("#queue tbody tr").count() == 2
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.wait_for_url(re.compile(rf".*/console/visits/{visits['plain']['uuid']}.*focus=approve.*"))
    page.wait_for_function("() => document.activeElement && "
                           "document.activeElement.value === 'approve'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*done=approve.*"))
    assert page.locator("#visit-status").inner_text() == "Approved"

    # Correct an answer and see the score change.
    page.goto(f"/console/visits/{visits['to_correct']['uuid']}?lang=en")
    before = page.locator("#visit-score").inner_text()
    page.select_option("#question", "A01")
    page.fill("#value", "no")
    page.fill("#reason", "The photo shows steps and no ramp.")
    page.click("#correct-form button[type=submit]")
    page.wait_for_url(re.compile(r".*done=correct.*"))
    after = page.locator("#visit-score").inner_text()
    assert float(after.split()[0]) < float(before.split()[0])
    assert "The photo shows steps" in page.locator("#q-A01").inner_text()
    shot(page, "visit-corrected")

    # Rankings: export XLSX, then publish and open the public page.
    year = visits["plain"]["started_at"][:4]
    page.goto(f"/console/rankings?period={year}&lang=en")
    assert world["office"] in page.locator("#ranking").inner_text()
    shot(page, "rankings")
    with page.expect_download() as info:
        page.click("#export-xlsx")
    path = tmp_path / "ranking.xlsx"
    info.value.save_as(path)
    import openpyxl
    book = openpyxl.load_workbook(path)
    cells = [str(c.value) for row in book.active.iter_rows() for c in row if c.value is not None]
    assert world["office"] in cells
    page.click("#publish-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/public/reports/.*"))
    assert world["office"] in page.content()
    shot(page, "public-report")

    page.goto(f"/console/offices/{world['office']}/recommendations?lang=en")
    assert page.locator("#recommendations").is_visible()
    shot(page, "recommendations")


def test_stale_page_in_the_browser_shows_the_message(desk, app, world, default_form):
    """The supervisor's page is at revision 1 while the inspector amends the visit."""
    from tests.visits.builders import visit_payload

    client = app.test_client()
    visit = submit(client, world, default_form)
    page = desk
    page.goto(f"/console/visits/{visit['uuid']}?lang=en")
    resp = client.post(f"/api/v1/visits/{visit['uuid']}/review", headers=world["admin"],
                       json={"decision": "return", "comment": "again", "revision": 1})
    assert resp.status_code == 201
    body = visit_payload(default_form, assignment=visit["assignment"], overrides={"C02": "no"})
    body["uuid"] = visit["uuid"]
    assert client.put(f"/api/v1/visits/{visit['uuid']}", json=body,
                      headers=world["inspector"]).status_code == 200
    page.click("button[value=approve]")
    error = page.locator("#console-error")
    assert "revision 2 is current" in error.inner_text()
    assert "Nothing was changed" in error.inner_text()
    assert page.locator("#visit-status").inner_text() == "Submitted"


def test_planning_and_admin_pages(desk, browser, live, world, shot):
    """Planning shows coverage and creates an assignment; an admin sees the audit status."""
    page = desk
    page.goto("/console/planning?lang=en")
    assert world["office"] in page.locator("#coverage").inner_text()
    page.fill("#assign-form input[name=office]", world["other_office"])
    page.fill("#assign-form input[name=inspector]", "insp2")
    page.fill("#assign-form input[name=window_start]", "2030-01-10T09:00")
    page.fill("#assign-form input[name=window_end]", "2030-01-20T18:00")
    page.click("#assign-form button[type=submit]")
    page.wait_for_url(re.compile(r".*created=1.*"))
    assert "insp2" in page.locator("#assignments").inner_text()
    shot(page, "planning")

    context = browser.new_context(viewport=DESK, base_url=live, locale="en-GB")
    admin = context.new_page()
    admin.goto("/login?next=/console/admin%3Flang%3Den")
    admin.fill("input[name=login]", "adm")
    admin.fill("input[name=password]", factories.PASSWORD)
    admin.click("button[type=submit]")
    admin.wait_for_url(re.compile(r".*/console/admin.*"))
    assert "intact" in admin.locator("#chain-status").inner_text()
    shot(admin, "admin")
    context.close()
