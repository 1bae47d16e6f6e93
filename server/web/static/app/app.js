// The inspector app: boot, the bar at the top, notices, and routing between the screens.
// Screens: /app/signin, /app/ (assignments), /app/visits, /app/visit/<uuid>, /app/amend/<uuid>.

import { clockOffset } from "./api.js";
import * as data from "./data.js";
import * as editlock from "./editlock.js";
import { fill, h } from "./dom.js";
import { LANGUAGES, chosen, lang, ready, setLang, t } from "./i18n.js";
import * as outbox from "./outbox.js";
import { prepareAmend, showAssignments, showSignIn, showVisits } from "./screens.js";
import * as session from "./session.js";
import * as store from "./store.js";
import { geolocate, showVisit } from "./visit.js";

const BUILD = document.documentElement.dataset.build || "dev";
const NAMES = { kk: "Қазақша", ru: "Русский", en: "English", uz: "Oʻzbekcha" };
const main = document.getElementById("main");
const top = document.getElementById("top");
const banners = document.getElementById("banners");
let cleanup = null;
let notice = null;
let generation = 0; // a screen drawn for an older route must not overwrite the current one
let editing = null; // {uuid, owned}: the visit on screen and whether this tab is its editor

const deps = {
  navigate,
  authEnded,
  signOut,
  message: (text) => { notice = text; drawBanners(); },
  // The position is recorded only once the inspector turned it on (the choice before "Start
  // visit", remembered on the phone); off by default, so nothing is asked before consent.
  positions: () => localStorage.getItem("adal.positions") === "1",
  setPositions: (on) => localStorage.setItem("adal.positions", on ? "1" : "0"),
  device: () => ({
    app_version: `web-${BUILD}`.slice(0, 64),
    platform: String(navigator.userAgentData?.platform || navigator.platform || "web").slice(0, 64),
    user_agent: navigator.userAgent.slice(0, 300),
    ...(clockOffset() !== null ? { clock_offset_ms: clockOffset() } : {}),
  }),
  chrome: (options) => drawTop({ visit: true, ...options }),
};

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  route();
}

function languageSelect() {
  const select = h("select", { id: "lang", onchange: (event) => { setLang(event.target.value).then(route, route); } },
    LANGUAGES.map((code) => h("option", { value: code, lang: code, selected: code === lang()}, NAMES[code])));
  return h("span", { class: "lang" }, h("label", { for: "lang", class: "visually-hidden" }, t("language")), select);
}

/** The top bar: plain while a visit is open (no name of the app), with navigation elsewhere. */
function drawTop({ visit = false, title = "" } = {}) {
  document.title = t("neutral_title");
  const skip = document.getElementById("skip");
  if (skip) skip.textContent = t("skip");
  const s = session.current();
  if (visit) {
    // The section's title (from the form), never the app's name.
    fill(top, h("a", { class: "back", href: "/app/visits", "data-nav": "", "aria-label": t("visits") }, "←"),
      h("span", { class: "title", id: "top-title" }, title), languageSelect());
    top.dataset.mode = "visit";
    return;
  }
  top.dataset.mode = "list";
  const here = location.pathname;
  const link = (href, text) => h("a", { href, "data-nav": "", "aria-current": here === href ? "page" : undefined }, text);
  fill(top, h("span", { class: "brand" }, "Adal"),
    s?.login && here !== "/app/signin" ? h("nav", { "aria-label": t("menu") }, link("/app/", t("assignments")), link("/app/visits", t("visits"))) : null,
    languageSelect());
}

function drawBanners() {
  const s = session.current();
  const items = [];
  if (!navigator.onLine) items.push(h("p", { class: "banner info", id: "offline-banner" }, t("offline")));
  if (store.saveState() === "full") {
    items.push(h("div", { class: "banner warn", role: "alert", id: "storage-full" }, h("p", {}, t("storage_full")),
      h("button", { type: "button", class: "button", onclick: () => store.flush().catch(() => {}) }, t("try_again"))));
  }
  if (s?.login && !s.token && location.pathname !== "/app/signin") {
    items.push(h("div", { class: "banner warn", role: "alert", id: "session-ended" }, h("p", {}, t("session_ended")),
      h("a", { class: "button", href: "/app/signin", "data-nav": "" }, t("sign_in_again"))));
  }
  if (notice) items.push(h("p", { class: "banner warn", role: "alert" }, notice));
  fill(banners, items);
}

async function authEnded(refused = null) {
  await session.ended(refused);
  drawBanners();
}

async function signOut() {
  const s = session.current();
  const unsent = (await store.visitsOf(s.login)).filter((v) => v.status !== "sent").length;
  if (unsent && !window.confirm(t("unsent_on_sign_out", { n: unsent }))) return;
  await session.signOut();
  navigate("/app/signin", { replace: true });
}

async function route() {
  if (cleanup) cleanup();
  cleanup = null;
  notice = null;
  const mine = ++generation;
  const screen = { ...deps, stale: () => mine !== generation };
  const path = location.pathname.replace(/\/+$/, "") || "/app";
  const s = session.current();
  drawBanners();
  if (path === "/app/signin" || !s?.login) {
    editlock.releaseExcept(null);
    if (path !== "/app/signin") history.replaceState(null, "", "/app/signin");
    drawTop();
    showSignIn(main, { onDone: afterSignIn });
    document.body.dataset.drawn = String(mine);
    return;
  }
  const visit = path.match(/^\/app\/visit\/([0-9a-f-]{36})$/);
  const amend = path.match(/^\/app\/amend\/([0-9a-f-]{36})$/);
  editlock.releaseExcept(visit ? visit[1] : null); // the lock of the visit on screen is kept
  try {
    if (visit) await openVisit(visit[1], screen);
    else if (amend) {
      drawTop({ visit: true });
      fill(main, h("p", { class: "muted" }, t("loading")));
      const record = await prepareAmend(amend[1]);
      if (screen.stale()) return;
      navigate(`/app/visit/${record.uuid}`, { replace: true });
    } else if (path === "/app/visits") {
      drawTop();
      await showVisits(main, screen);
    } else {
      drawTop();
      await showAssignments(main, screen);
    }
  } catch (error) {
    if (session.isAuthError(error)) await authEnded(error.token);
    if (screen.stale()) return;
    fill(main, h("p", { class: "error", role: "alert" }, t("error", { detail: error.message })));
  }
  main.focus({ preventScroll: true });
  if (!screen.stale()) document.body.dataset.drawn = String(mine); // the screen of this route is drawn
}

/** Another tab takes over the visit this tab edits: stop writing, write what is pending, redraw. */
async function yieldVisit(uuid, reason) {
  if (editing?.uuid === uuid) editing.owned = false;
  if (reason === "handover") await store.flush().catch(() => store.forget(uuid));
  else store.forget(uuid); // the lock is gone already: what is kept in memory must not overwrite
  if (location.pathname === `/app/visit/${uuid}`) route();
}

async function openVisit(uuid, screen) {
  // The editor's lock first, then the draft: a tab that takes over reads what the other one wrote.
  const lock = { uuid, owned: await editlock.claim(uuid, (reason) => yieldVisit(uuid, reason)) };
  editing = lock;
  const record = await store.getVisit(uuid);
  if (!record) {
    navigate("/app/visits", { replace: true });
    return;
  }
  drawTop({ visit: true });
  if (record.status !== "draft" && record.status !== "attention") {
    navigate("/app/visits", { replace: true });
    return;
  }
  const definition = await data.formDefinition(record.form_key, record.form_version);
  const recs = new Map();
  for (const r of (await data.recommendations(record.office).catch(() => []))) {
    if (r.question) recs.set(r.question, [...(recs.get(r.question) || []), r.text]);
  }
  if (screen.stale()) return;
  const takeOver = async () => {
    await editlock.takeOver(uuid, (reason) => yieldVisit(uuid, reason));
    if (location.pathname === `/app/visit/${uuid}`) await route();
  };
  cleanup = await showVisit(main, record, { ...screen, definition, recommendations: recs, lock, takeOver });
  if (lock.owned && record.want_position_start && !record.position_start) {
    record.want_position_start = false;
    const pos = await geolocate();
    if (pos) record.position_start = pos;
    if (lock.owned) store.saveVisit(record).catch(() => {});
  }
}

async function afterSignIn() {
  const s = session.current();
  outbox.setOwner(s.login);
  if (!chosen() && s.languages?.length && LANGUAGES.includes(s.languages[0])) {
    await setLang(s.languages[0], { remember: false }).catch(() => {});
  }
  navigate("/app/", { replace: true });
  outbox.kick();
}

async function boot() {
  document.addEventListener("click", (event) => {
    const a = event.target.closest("a[data-nav]");
    if (!a || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    navigate(a.getAttribute("href"));
  });
  addEventListener("popstate", () => route());
  addEventListener("online", () => { drawBanners(); outbox.kick(); });
  addEventListener("offline", () => drawBanners());
  store.events.addEventListener("state", () => drawBanners());
  outbox.events.addEventListener("auth", (event) => authEnded(event.detail.token));
  let redraw = null;
  const listChanged = () => {
    if (location.pathname !== "/app/visits" || redraw) return;
    const mine = generation;
    redraw = setTimeout(() => {
      redraw = null;
      if (mine === generation) showVisits(main, { ...deps, stale: () => mine !== generation }).catch(() => {});
    }, 150);
  };
  for (const type of ["changed", "progress", "sent", "attention"]) outbox.events.addEventListener(type, listChanged);
  const s = await session.load();
  if (s?.login) outbox.setOwner(s.login);
  await ready().catch(() => {}); // offline before the first visit: the screens show keys, not a blank page
  if (s?.languages?.length && !chosen() && LANGUAGES.includes(s.languages[0])) {
    await setLang(s.languages[0], { remember: false }).catch(() => {});
  }
  document.body.dataset.save = store.saveState();
  await route();
  document.body.dataset.ready = "1";
  outbox.kick();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
}

boot();
