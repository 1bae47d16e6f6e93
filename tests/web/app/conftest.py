"""Browser tests of the inspector app (/app): a phone-sized context in the shared Chromium
(tests/web/conftest.py), on the `world` fixture's data.
Screenshots are taken only with ADAL_SCREENSHOTS=1, into docs/screenshots/.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.config import PROJECT_ROOT
from tests.web.screens import screenshot_taker

PHONE = {"width": 390, "height": 844}
OFFICE_POSITION = {"latitude": 51.1284, "longitude": 71.4305, "accuracy": 15}
# Next to the repository (../shared/samples/photos), or where ADAL_SAMPLE_PHOTOS says (a worktree).
SAMPLES = Path(os.environ.get("ADAL_SAMPLE_PHOTOS")
               or Path(PROJECT_ROOT).parent / "shared" / "samples" / "photos")
TIMEOUT_MS = 15_000


NARROW_PHONE = {"width": 360, "height": 740}


def new_context(browser, base_url: str, *, service_workers: str = "allow", viewport=None,
                permissions=("geolocation",)):
    """A phone: 390×844 unless told, touch, a position next to the office, geolocation allowed."""
    context = browser.new_context(viewport=viewport or PHONE, base_url=base_url, is_mobile=True,
                                  has_touch=True, geolocation=OFFICE_POSITION,
                                  permissions=list(permissions), locale="en-GB",
                                  service_workers=service_workers)
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
def open_phone(browser, live):
    """open_phone(**new_context options): a page in a phone made to measure; errors checked."""
    opened = []

    def make(*, browser_=None, **options):
        context = new_context(browser_ or browser, live, **options)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        opened.append((context, errors))
        return page
    yield make
    for context, errors in opened:
        context.close()
        assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def shot():
    """shot(page, name): a PNG into docs/screenshots/ with ADAL_SCREENSHOTS=1 only."""
    return screenshot_taker("")


@pytest.fixture
def sample_photo() -> Path:
    """A real phone photo from ../shared/samples/photos/ (the test skips without it)."""
    path = SAMPLES / "DSCN0010.jpg"
    if not path.exists():
        pytest.skip(f"sample photos are missing: {SAMPLES}")
    return path
