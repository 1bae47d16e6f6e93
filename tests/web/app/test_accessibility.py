"""Discreet and accessible: no app name while a visit is open, a name for every control, text
contrast of at least 4.5:1, and a layout that still fits a 390 px phone at 200 % text."""
from __future__ import annotations

from tests.web.app import flows

UNNAMED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button, a[href]")]
  .filter((el) => !el.closest("[hidden]") && el.type !== "hidden")
  .filter((el) => {
    const named = (el.labels && [...el.labels].some((l) => l.textContent.trim())) || el.getAttribute("aria-label")
      || (["BUTTON", "A"].includes(el.tagName) && el.textContent.trim());
    return !named;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""

LOW_CONTRAST = """() => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.offsetParent && el.tagName !== "BODY") continue;
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join("");
    if (!text) continue;
    const style = getComputedStyle(el);
    if (parseFloat(style.opacity) < 1 || el.closest(":disabled")) continue;
    const a = lum(rgb(style.color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(`${text.slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


def test_the_visit_screens_are_discreet_named_readable_and_fit_at_200_percent(phone, world, shot):
    page = phone
    flows.sign_in(page)
    assert page.evaluate(UNNAMED_CONTROLS) == []
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
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "12-text-at-200-percent")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement !== document.body")
