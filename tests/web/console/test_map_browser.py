"""The office map in Chromium with the tile server unreachable (every tile request aborted, as
on a closed network): the shipped region outlines are drawn, every office with coordinates has
a marker of its band's colour, a marker is reached with Tab and Enter opens a popup with the
right score, Escape closes it. One page load per page that shows the map (console map, ranking
page, published report); no script error, no CSP violation, no failed request but the tiles.

Skipped with a reason when Playwright or /usr/bin/chromium is missing."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from server.config import PROJECT_ROOT
from server.periods import parse_period
from server.reports import published, service
from tests import factories
from tests.reports.conftest import rw  # noqa: F401
from tests.reports.test_map import bands  # noqa: F401
from tests.web.conftest import CHROMIUM

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="Playwright is not installed "
                    "(pip install -r requirements-dev.txt)")

TILES = "https://tile.openstreetmap.org/**"
COLOURS = {"green": "rgb(47, 143, 70)", "yellow": "rgb(217, 164, 0)",
           "red": "rgb(192, 57, 43)", "none": "rgb(138, 138, 138)"}
KNOWN_MISSING = ("/favicon.ico",)


def _markers(page) -> dict:
    return page.eval_on_selector_all(
        ".leaflet-marker-icon.map-marker",
        "els => Object.fromEntries(els.map(e => [e.dataset.code,"
        " [e.dataset.band, getComputedStyle(e).backgroundColor]]))")


def _drawn(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#office-map[data-ready='1']")
    assert page.get_attribute("#office-map", "data-outlines") == "30"
    assert page.locator("#office-map path.map-outline").count() == 30


def test_markers_draw_over_the_outlines_when_tiles_cannot_load(browser, live, commit, bands):
    expected = {code: band or "none" for code, band in bands.items() if code != "U"}
    expected.update({"AST-1": "none", "AST-2": "none"})  # the world's offices: no visits
    slug = commit(lambda: published.publish_report(
        period=parse_period("2026H2", "Asia/Almaty"), kind=None, scope=service.Scope(),
        actor=factories.user(role="admin")).slug)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live,
                                  locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    tiles: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text)
            if "Content Security Policy" in msg.text or msg.type == "error"
            and "tile.openstreetmap.org" not in msg.text
            and "ERR_FAILED" not in msg.text else None)
    page.on("response", lambda resp: problems.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 and not resp.url.endswith(KNOWN_MISSING) else None)
    page.route(TILES, lambda route: (tiles.append(route.request.url), route.abort()))
    try:
        page.goto("/login?lang=en")
        page.fill("input[name=login]", "sup")
        page.fill("input[name=password]", factories.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/$|.*/console/.*"))

        _drawn(page, "/console/map?period=2026H2&lang=en")
        markers = _markers(page)
        assert {code: band for code, (band, _) in markers.items()} == expected
        assert all(colour == COLOURS[band] for band, colour in markers.values())
        assert tiles, "the map asked for tiles"

        # Keyboard: Tab from the map reaches a marker; Enter opens its popup, focus inside.
        page.focus("#office-map")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.classList.contains('map-marker')")
        page.focus(".map-marker[data-code='G']")
        page.keyboard.press("Enter")
        popup = page.wait_for_selector(".leaflet-popup .map-popup[data-code='G']")
        assert page.evaluate("!!document.activeElement.closest('.map-popup')")
        assert popup.query_selector(".map-score").inner_text().startswith("90.0")
        assert popup.query_selector(".map-visits").inner_text() == "3"
        assert popup.query_selector("a").get_attribute("href") == \
            "/reports/offices/G?period=2026H2&lang=en"
        if os.environ.get("ADAL_SCREENSHOTS") == "1":  # docs/screenshots, as the console's
            page.locator(".office-map").screenshot(
                path=str(Path(PROJECT_ROOT) / "docs" / "screenshots" / "console-map.png"))
        page.keyboard.press("Escape")
        page.wait_for_selector(".leaflet-popup", state="detached")
        assert page.evaluate("document.activeElement.dataset.code") == "G"

        _drawn(page, "/reports/ranking?period=2026H2&lang=en")
        assert _markers(page) == markers

        _drawn(page, f"/public/reports/{slug}?lang=ru")
        assert {code: band for code, (band, _) in _markers(page).items()} == expected
        page.click(".map-marker[data-code='R']")
        score = page.wait_for_selector(".map-popup[data-code='R'] .map-score").inner_text()
        assert score.startswith("45.0")
        assert "#office-R" in page.get_attribute(".map-popup[data-code='R'] a", "href")
        assert not problems, problems
    finally:
        context.close()
