// Keyboard shortcuts for the review queue: j / k move, Enter or o opens, a approve, r return.
// a and r open the visit with its decision form focused; the decision is always a form post.
// Single-key shortcuts can be turned off (WCAG 2.1.4): the choice is kept in localStorage.
var ADAL_SHORTCUTS_KEY = "adal.console.shortcuts";
function adalShortcutsOn() {
  "use strict";
  try { return window.localStorage.getItem(ADAL_SHORTCUTS_KEY) !== "off"; } catch (e) { return true; }
}
(function () {
  "use strict";
  var toggle = document.getElementById("shortcuts-toggle");
  if (!toggle) { return; }
  toggle.checked = adalShortcutsOn();
  toggle.addEventListener("change", function () {
    try { window.localStorage.setItem(ADAL_SHORTCUTS_KEY, toggle.checked ? "on" : "off"); } catch (e) { /* private mode */ }
  });
}());
(function () {
  "use strict";
  var table = document.getElementById("queue");
  if (!table) { return; }
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-href]"));
  var current = -1;
  function select(index) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("selected", i === current); });
    rows[current].scrollIntoView({block: "nearest"});
    var link = rows[current].querySelector("a");
    if (link) { link.focus(); }
  }
  function open(suffix) {
    if (current < 0) { select(0); }
    if (current >= 0) { window.location.href = rows[current].getAttribute("data-href") + suffix; }
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey || !adalShortcutsOn()) { return; }
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) { return; }
    if (event.key === "j") { select(current + 1); event.preventDefault(); }
    else if (event.key === "k") { select(current - 1); event.preventDefault(); }
    else if (event.key === "o" || (event.key === "Enter" && current >= 0)) { open(""); event.preventDefault(); }
    else if (event.key === "a") { open(sep() + "focus=approve"); event.preventDefault(); }
    else if (event.key === "r") { open(sep() + "focus=return"); event.preventDefault(); }
  });
  function sep() {
    return rows[current < 0 ? 0 : current].getAttribute("data-href").indexOf("?") >= 0 ? "&" : "?";
  }
}());

// On a visit page opened with ?focus=approve|return: focus that button (or the comment first).
(function () {
  "use strict";
  var form = document.getElementById("decide-form");
  if (!form) { return; }
  var want = new URLSearchParams(window.location.search).get("focus");
  if (want === "approve" || want === "return") { form.scrollIntoView({block: "start"}); }
  if (want === "approve") {
    var button = form.querySelector("button[value=approve]");
    if (button) { button.focus(); }
  } else if (want === "return") {
    var comment = form.querySelector("textarea[name=comment]");
    if (comment) { comment.focus(); }
  }
}());

// Photo zoom: a click on a thumbnail shows its preview in a dialog; "Zoom" shows it at full
// size inside a scrolling frame. Without script the link opens the preview in a new tab.
(function () {
  "use strict";
  var dialog = document.getElementById("zoom");
  if (!dialog || typeof dialog.showModal !== "function") { return; }
  var img = dialog.querySelector("img");
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.photo");
    if (!link) { return; }
    event.preventDefault();
    dialog.classList.remove("zoomed");
    img.src = link.getAttribute("href");
    img.alt = link.querySelector("img") ? link.querySelector("img").alt : "";
    dialog.showModal();
  });
  dialog.querySelector(".zoom-close").addEventListener("click", function () { dialog.close(); });
  dialog.querySelector(".zoom-toggle").addEventListener("click", function () {
    dialog.classList.toggle("zoomed");
  });
  img.addEventListener("click", function () { dialog.classList.toggle("zoomed"); });
}());
