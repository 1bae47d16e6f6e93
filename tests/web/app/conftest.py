"""Browser tests of the inspector app (/app): Debian's Chromium driven by Playwright, against the
app served by a real HTTP server in a thread, on the `world` fixture's data.

Skipped with a reason when Playwright or /usr/bin/chromium is missing (.ci/run installs both).
Screenshots go to the test's tmp_path, or to docs/screenshots/ when ADAL_SCREENSHOTS=1.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from server.config import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
OFFICE_POSITION = {"latitude": 51.1284, "longitude": 71.4305, "accuracy": 15}
SCREENSHOTS = Path(PROJECT_ROOT) / "docs" / "screenshots"
SAMPLES = Path(PROJECT_ROOT).parent / "shared" / "samples" / "photos"
TIMEOUT_MS = 15_000


def _sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -r requirements-dev.txt)")
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)")
    return sync_playwright


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process."""
    sync_playwright = _sync_playwright()
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:  # noqa: BLE001 - a broken browser install is a skip, not a failure
        pw.stop()
        pytest.skip(f"Chromium does not start: {exc}")
    yield chromium
    chromium.close()
    pw.stop()


@pytest.fixture
def live(app, world):
    """The test app on http://127.0.0.1:<port>, with the world's data; the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


def new_context(browser, base_url: str, *, service_workers: str = "allow"):
    """A phone: 390×844, touch, a position next to the office, geolocation allowed."""
    context = browser.new_context(viewport=PHONE, base_url=base_url, is_mobile=True, has_touch=True,
                                  geolocation=OFFICE_POSITION, permissions=["geolocation"],
                                  locale="en-GB", service_workers=service_workers)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def phone(browser, live):
    """A fresh phone (browser context) with the service worker allowed, and its page."""
    context = new_context(browser, live)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def bare_phone(browser, live):
    """A phone without the service worker, so that page.route() sees every API request."""
    context = new_context(browser, live, service_workers="block")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def shot(tmp_path):
    """shot(page, name): a PNG of the screen, into docs/screenshots/ with ADAL_SCREENSHOTS=1."""
    folder = SCREENSHOTS if os.environ.get("ADAL_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = False) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path
    return take


@pytest.fixture
def sample_photo() -> Path:
    """A real phone photo from ../shared/samples/photos/ (the test skips without it)."""
    path = SAMPLES / "DSCN0010.jpg"
    if not path.exists():
        pytest.skip(f"sample photos are missing: {SAMPLES}")
    return path
