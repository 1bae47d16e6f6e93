"""The visits table in Chromium, keyboard only: filters chosen and sent from the keyboard, Tab
reaches the sort links in the table's header and Enter sorts (aria-sort follows). What only a
browser shows: focus order, a select's type-ahead, implicit submission of the filter form."""
from __future__ import annotations

import os
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import factories
from tests.web.conftest import CHROMIUM

from .test_visits_table import H1, H2, _insert, _office_id, _user_id

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="Playwright is not installed "
                    "(pip install -r requirements-dev.txt)")

TIMEOUT_MS = 15_000


def test_filters_and_sort_with_the_keyboard_only(browser, live, world, commit):
    def build():
        insp, v1 = _user_id("insp"), world["version_id"]
        ast1, ast2 = _office_id("AST-1"), _office_id("AST-2")
        _insert(office_id=ast1, inspector_id=insp, version_id=v1, when=H2, score=70.0)
        _insert(office_id=ast2, inspector_id=insp, version_id=v1, when=H2, score=30.0,
                status="approved")
        _insert(office_id=ast2, inspector_id=insp, version_id=v1,
                when=H1 + timedelta(days=1), score=90.0, status="approved")
    commit(build)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live,
                                  locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/console/visits?lang=en")
    page.fill("input[name=login]", "sup")
    page.fill("input[name=password]", factories.PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/console/visits.*"))
    assert page.locator("#visits-count").inner_text() == "1–3 of 3 visits"

    # Status: a native select, chosen by typing its first letter; office: a text field with
    # the offices in scope as suggestions (datalist); Enter in it sends the form.
    page.focus("#f-status")
    page.keyboard.type("Appr")
    assert page.locator("#f-status").input_value() == "approved"
    page.keyboard.press("Tab")  # to the flag select, then on to the score fields
    assert page.evaluate("document.activeElement.id") == "f-flag"
    page.focus("#f-office")
    page.keyboard.type("AST-2")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*office=AST-2.*"))
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"office": ["AST-2"], "status": ["approved"], "lang": ["en"]}
    assert page.locator("#visits-count").inner_text() == "1–2 of 2 visits"

    # Tab from the form's last control reaches the sort links of the header, in order.
    page.focus("#apply-filters")
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        seen.append(focused)
        if focused == "sort-score":
            break
    assert "sort-started_at" in seen and seen[-1] == "sort-score", seen
    assert seen.index("sort-started_at") < seen.index("sort-office") < seen.index("sort-score")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*sort=score.*"))
    header = page.locator("th:has(#sort-score)")
    assert header.get_attribute("aria-sort") == "descending"
    scores = page.locator("#visits-table tbody td.num:nth-child(9)").all_inner_texts()
    assert scores == ["90.0", "30.0"]
    assert parse_qs(urlsplit(page.url).query)["office"] == ["AST-2"]  # filters kept

    # Enter on the same header again flips the order; focus stays reachable.
    page.focus("#sort-score")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*order=asc.*"))
    assert page.locator("th:has(#sort-score)").get_attribute("aria-sort") == "ascending"
    assert page.locator("#visits-table tbody td.num:nth-child(9)").all_inner_texts() == [
        "30.0", "90.0"]
    context.close()
    assert not errors, errors
