"""Fixtures shared by every browser test (tests/web/app and tests/web/console): one headless
Debian Chromium per test process, driven by Playwright's sync API, and the test app served by a
real HTTP server in a thread.

Playwright's sync API allows one instance per thread, so `browser` must be defined once, here:
a session fixture imported into two conftests is two fixtures, and the second one to start
fails with "using Playwright Sync API inside the asyncio loop".

Skipped with a reason when Playwright or /usr/bin/chromium is missing (.ci/run installs both).
"""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -r requirements-dev.txt)")
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)")
    return sync_playwright


# Only for the browser that records audio (tests/web/app): a fake microphone, allowed without a
# prompt. Not in CHROMIUM_ARGS, so that every other test sees a browser without any device.
FAKE_MEDIA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="session")
def playwright_driver():
    """The one Playwright of this test process (its sync API allows one per thread)."""
    sync_playwright = _sync_playwright()
    pw = sync_playwright().start()
    yield pw
    pw.stop()


def _launch(pw, args: list[str]):
    try:
        return pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
    except Exception as exc:  # noqa: BLE001 - a broken browser install is a skip, not a failure
        pytest.skip(f"Chromium does not start: {exc}")


@pytest.fixture(scope="session")
def browser(playwright_driver):
    """One headless Chromium per test process."""
    chromium = _launch(playwright_driver, CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def media_browser(playwright_driver):
    """A second Chromium with a fake camera and microphone (FAKE_MEDIA_ARGS), launched only by
    the tests that record."""
    chromium = _launch(playwright_driver, [*CHROMIUM_ARGS, *FAKE_MEDIA_ARGS])
    yield chromium
    chromium.close()


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
