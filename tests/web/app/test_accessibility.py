"""Discreet and accessible: no app name while a visit is open, a name for every control, text
contrast of at least 4.5:1, a layout that still fits a 390 px phone at 200 % text and a 360 px
one without scrolling sideways, tap targets of 48 px, a visible focus ring, a translated skip
link."""
from __future__ import annotations

import pytest

from tests.web.app import flows
from tests.web.app.checks import (FOCUS_RING, LOW_CONTRAST, MIN_TARGET_PX, NO_HORIZONTAL_SCROLL,
                                  SMALL_TARGETS, TEXTS_IN, UNNAMED_CONTROLS)
from tests.web.app.conftest import NARROW_PHONE

def test_the_visit_screens_are_discreet_named_readable_and_fit_at_200_percent(phone, world, shot):
    page = phone
    flows.sign_in(page)
    page.wait_for_selector("[data-assignment]")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    assert page.evaluate(TEXTS_IN, "[data-assignment]")
    assert page.evaluate(LOW_CONTRAST) == []
    flows.start_visit(page, world["assignment"])
    flows.answer(page, "A01", "no")  # shows the "photo expected" warning and the note
    for step in ("section", "finish"):
        assert "Adal" not in page.inner_text("body"), step
        assert "Adal" not in page.title()
        assert page.evaluate(UNNAMED_CONTROLS) == [], step
        assert page.evaluate(LOW_CONTRAST) == [], step
        page.select_option("#jump", "6")
        page.wait_for_selector("#finish")
    page.select_option("#jump", "0")
    page.wait_for_selector("#q-A01")
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    shot(page, "12-text-at-200-percent")


def test_the_top_bar_shows_the_section_title_and_never_the_app_name(phone, world):
    page = phone
    flows.sign_in(page)
    assert page.inner_text("#top .brand") == "Adal"  # outside a visit the bar names the app
    flows.start_visit(page, world["assignment"])
    assert page.inner_text("#top-title") == "Accessibility"
    page.select_option("#jump", "1")
    page.wait_for_selector("#q-B03")
    assert page.inner_text("#top-title") == page.inner_text(".section-body h2") != ""
    page.select_option("#jump", "6")
    page.wait_for_selector("#finish")
    assert page.inner_text("#top-title") == "Check and finish"
    assert "Adal" not in page.inner_text("#top") and page.locator("#top .brand").count() == 0


@pytest.mark.parametrize("lang, text", [("en", "Skip to the content"), ("ru", "Перейти к содержимому"),
                                        ("kk", "Мазмұнға өту"), ("uz", "Asosiy qismga oʻtish")])
def test_the_skip_link_has_a_translated_label_and_moves_to_the_content(phone, lang, text):
    page = phone
    page.goto("/app/")
    page.wait_for_selector("#login")
    page.select_option("#lang", lang)
    page.wait_for_function("(t) => document.getElementById('skip').textContent === t", arg=text)
    for _ in range(8):  # back through the form and the bar: the skip link comes first
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.id") == "skip":
            break
    assert page.evaluate("document.activeElement.id") == "skip"
    box = page.locator("#skip").bounding_box()
    assert box["x"] >= 0 and box["height"] >= MIN_TARGET_PX, "shown on screen when focused"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def _tab_through(page, presses: int) -> list[dict]:
    seen = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUS_RING))
    return seen


def _screen_drawn(page) -> None:
    """Until the app has drawn the screen and put the focus on <main> (no ring: not a control)."""
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'main'")


def test_every_focused_control_draws_a_visible_outline(phone, world):
    page = phone
    flows.sign_in(page)
    page.wait_for_selector("[data-assignment]")
    _screen_drawn(page)
    seen = _tab_through(page, 8)  # consent, Start visit, sign out …
    flows.start_visit(page, world["assignment"])
    _screen_drawn(page)
    flows.answer(page, "A01", "no")  # the evidence buttons, its note open
    page.locator("#top a.back").focus()
    seen += _tab_through(page, 45)
    page.select_option("#jump", "6")
    page.wait_for_selector("#finish")
    page.locator("#top a.back").focus()
    seen += _tab_through(page, 12)
    missing = [f for f in seen if f["tag"] != "BODY" and (f["style"] == "none" or f["width"] < 3)]
    assert missing == [], missing
    kinds = {(f["tag"], f["type"]) for f in seen}
    for kind in [("A", ""), ("SELECT", ""), ("INPUT", "radio"), ("INPUT", "checkbox"), ("INPUT", "text"),
                 ("BUTTON", "button"), ("LABEL", ""), ("SUMMARY", ""), ("TEXTAREA", "")]:
        assert kind in kinds, f"no {kind} was focused: {sorted(kinds)}"
    assert {f["color"] for f in seen if f["tag"] != "BODY"} == {"rgb(11, 87, 208)"}


def test_a_360_px_phone_has_no_sideways_scroll_and_targets_of_48_px(open_phone, world, shot):
    page = open_phone(viewport=NARROW_PHONE)

    def check(where: str) -> None:
        assert page.evaluate(NO_HORIZONTAL_SCROLL), f"{where}: scrolls sideways"
        targets = page.evaluate(SMALL_TARGETS, MIN_TARGET_PX)
        assert targets["count"] > 0 and targets["small"] == [], (where, targets["small"])

    page.goto("/app/")
    page.wait_for_selector("#login")
    check("sign in")
    flows.sign_in(page)
    check("assignments")
    flows.start_visit(page, world["assignment"])
    flows.answer(page, "A01", "no")  # capture buttons, the note
    page.wait_for_selector("#q-A01 .warn-text:not([hidden])")
    check("section with evidence")
    page.select_option("#jump", "1")
    page.wait_for_selector("#q-B03 .timer button")
    check("section with timers")
    page.select_option("#jump", "6")
    page.wait_for_selector("#finish")
    check("finish")
    page.click("#top a.back")
    page.wait_for_selector("#visit-list")
    check("my visits")
    page.context.set_offline(True)
    page.wait_for_selector("#offline-banner")
    check("offline")
    assert page.evaluate(TEXTS_IN, "#offline-banner") and page.evaluate(LOW_CONTRAST) == []
