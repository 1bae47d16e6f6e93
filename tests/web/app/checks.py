"""Checks run inside the page by the browser tests: names, contrast, tap targets, focus ring, and
a counter of the position requests the app makes."""
from __future__ import annotations

# Every visible control has a name: its label, aria-label, or (buttons and links) its text.
UNNAMED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button, a[href]")]
  .filter((el) => !el.closest("[hidden]") && el.type !== "hidden")
  .filter((el) => {
    const named = (el.labels && [...el.labels].some((l) => l.textContent.trim())) || el.getAttribute("aria-label")
      || (["BUTTON", "A"].includes(el.tagName) && el.textContent.trim());
    return !named;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""

# Every visible text has a contrast of at least 4.5:1 with the background it is drawn on.
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
    if (!el.offsetParent && el.tagName !== "BODY" && getComputedStyle(el).position !== "fixed") continue;
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

# How many texts the contrast check looked at inside `selector` (so a check cannot pass on nothing).
TEXTS_IN = """(selector) => [...document.querySelectorAll(`${selector}, ${selector} *`)]
  .filter((el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())).length"""

MIN_TARGET_PX = 48
# Controls on screen smaller than 48×48 px. A checkbox or radio is tapped through its label (the
# .choice row), a file input through its label button; links inside running text are exempt
# (WCAG 2.5.8), the app has none outside the list of problems on the finish step.
SMALL_TARGETS = """(min) => {
  const selector = ["button", "select", "textarea", "a.button", ".top a", "label.choice", "label.button", "summary",
    "input:not([type=checkbox]):not([type=radio]):not([type=file]):not([type=hidden])"].join(", ");
  const seen = [...document.querySelectorAll(selector)]
    .filter((el) => !el.closest("[hidden]") && !el.classList.contains("visually-hidden"))
    .map((el) => [el, el.getBoundingClientRect()])
    .filter(([, r]) => r.width > 0 && r.height > 0 && r.right > 0);
  return { count: seen.length, small: seen.filter(([, r]) => r.width < min - 0.5 || r.height < min - 0.5)
    .map(([el, r]) => `${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${r.width.toFixed(0)}×${r.height.toFixed(0)}`) };
}"""

# Compared with the layout viewport (clientWidth), not innerWidth: a mobile browser zooms out to
# show content that is too wide, so innerWidth grows with the content.
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"

# [width, height] -> {scroll: page width, bar: what is wrong with the bottom bar or null,
# wide: the elements reaching past `width`}, for the width and height the test set.
FITS = """([width, height]) => {
  const scroll = document.documentElement.scrollWidth;
  const out = (r) => r.width > 0 && (r.left < -0.5 || r.right > width + 0.5);
  const name = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/ +/g, ".") : ""}`;
  const wide = scroll <= width ? [] : [...document.querySelectorAll("body *")]
    .filter((el) => !el.closest(".visually-hidden, .skip, [hidden]") && out(el.getBoundingClientRect()))
    .filter((el) => !el.parentElement || !out(el.parentElement.getBoundingClientRect()))
    .slice(0, 4).map((el) => `${name(el)} ${Math.round(el.getBoundingClientRect().right)}px "${el.textContent.trim().slice(0, 30)}"`);
  let bar = null;
  const nav = document.querySelector(".step-nav");
  if (nav) {
    for (const el of [nav, ...nav.querySelectorAll("button:not([hidden])")]) {
      const r = el.getBoundingClientRect();
      if (r.left < -0.5 || r.right > width + 0.5 || r.bottom > height + 0.5 || r.top < 0)
        bar = `${name(el)} at ${Math.round(r.left)}..${Math.round(r.right)} x ${Math.round(r.top)}..${Math.round(r.bottom)}`;
    }
  }
  return { scroll, bar, wide };
}"""

# The outline drawn around the focused control (a hidden file input shows it on its label).
FOCUS_RING = """() => {
  let el = document.activeElement;
  if (el && el.classList.contains("visually-hidden") && el.labels && el.labels.length) el = el.labels[0];
  const s = getComputedStyle(el);
  return { tag: el.tagName, type: el.getAttribute("type") || "", cls: el.className, text: (el.textContent || "").trim().slice(0, 30),
    style: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0, color: s.outlineColor };
}"""

# Counts every position request of the page in sessionStorage["geo-calls"] (it survives reloads).
GEO_COUNTER = """(() => {
  const proto = Geolocation.prototype;
  for (const name of ["getCurrentPosition", "watchPosition"]) {
    const original = proto[name];
    proto[name] = function (...args) {
      sessionStorage.setItem("geo-calls", String(Number(sessionStorage.getItem("geo-calls") || 0) + 1));
      return original.apply(this, args);
    };
  }
})();"""
GEO_CALLS = "Number(sessionStorage.getItem('geo-calls') || 0)"
