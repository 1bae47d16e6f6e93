// The screens around visits: sign-in, today's assignments, the list of visits with their status,
// and preparing the amendment of a returned visit.

import { ApiError, AuthError, NetworkError } from "./api.js";
import * as data from "./data.js";
import * as db from "./db.js";
import { fill, h } from "./dom.js";
import { formatDate, formatDateTime, label, t } from "./i18n.js";
import { newId } from "./evidence.js";
import { NUMBER_TYPES } from "./form.js";
import * as outbox from "./outbox.js";
import * as session from "./session.js";
import * as store from "./store.js";

const officeName = (office, code) => label(office?.name) || code;

export function showSignIn(main, { onDone }) {
  const s = session.current();
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const login = h("input", { id: "login", name: "login", autocomplete: "username", autocapitalize: "none", required: true, maxlength: 64, value: s?.login || "" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: 256 });
  const button = h("button", { type: "submit", class: "button big" }, t("sign_in"));
  const form = h("form", { class: "stack", novalidate: true }, h("label", { for: "login" }, t("login")), login,
    h("label", { for: "password" }, t("password")), password, error, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      await session.signIn(login.value.trim(), password.value);
      onDone();
    } catch (e) {
      error.hidden = false;
      if (e instanceof NetworkError) error.textContent = t("offline_sign_in");
      else if (e instanceof AuthError) error.textContent = t("bad_credentials");
      else if (e instanceof ApiError && e.code === "not_inspector") {
        // A supervisor or an administrator: say where their work is, nothing else of the app.
        fill(error, h("span", {}, t("not_inspector")), " ", h("span", {}, t("console_hint")), " ",
          h("a", { href: "/console/", id: "open-console" }, t("open_console")));
      }
      else error.textContent = t("error", { detail: e.message });
      button.disabled = false;
      password.focus();
    }
  });
  fill(main, h("h1", {}, t("sign_in")), h("p", { class: "muted" }, s?.ended ? t("session_ended") : t("sign_in_intro")), form);
  (s?.login ? password : login).focus();
}

/** Open assignments, those whose window covers now first (soonest to close first), then later. */
export function sortAssignments(items, now = Date.now()) {
  const open = items.filter((a) => a.status === "open" && Date.parse(a.window_end) > now);
  const today = open.filter((a) => Date.parse(a.window_start) <= now).sort((a, b) => Date.parse(a.window_end) - Date.parse(b.window_end));
  const later = open.filter((a) => Date.parse(a.window_start) > now).sort((a, b) => Date.parse(a.window_start) - Date.parse(b.window_start));
  return { today, later };
}

export async function showAssignments(main, deps) {
  const s = session.current();
  fill(main, h("h1", {}, t("assignments")), h("p", { class: "muted" }, t("loading")));
  let items = [];
  try {
    ({ items } = s.token ? await data.assignments(s.login) : { items: (await db.kv.get(`assignments:${s.login}`))?.items || [] });
  } catch (error) {
    if (error instanceof AuthError) deps.authEnded(error.token);
    items = (await db.kv.get(`assignments:${s.login}`).catch(() => null))?.items || [];
  }
  const local = await store.visitsOf(s.login);
  const offices = new Map();
  for (const a of items) offices.set(a.office, await officeOffline(a.office, s));
  if (deps.stale()) return;
  const { today, later } = sortAssignments(items);
  const card = (a) => {
    const mine = local.filter((v) => v.assignment === a.id && v.kind !== "amend");
    const draft = mine.find((v) => v.status === "draft" || v.status === "attention");
    const done = mine.find((v) => v.status === "outbox" || v.status === "sent");
    const office = offices.get(a.office);
    return h("li", { class: "card", dataset: { assignment: a.id } },
      h("h3", {}, officeName(office, a.office)),
      office?.address ? h("p", { class: "muted" }, office.address) : null,
      h("p", { class: "muted" }, `${formatDate(a.window_start)} – ${formatDate(a.window_end)}`),
      done ? h("p", { class: `chip chip-${done.status}` }, t(`status_${done.status}`))
        : h("button", { type: "button", class: "button big", onclick: () => (draft ? deps.navigate(`/app/visit/${draft.uuid}`) : startVisit(a, deps)) },
          draft ? t("continue") : t("start_visit")));
  };
  const groups = [];
  if (today.length || later.length) groups.push(positionChoice(deps));
  if (today.length) groups.push(h("h2", {}, t("today")), h("ul", { class: "cards" }, today.map(card)));
  if (later.length) groups.push(h("h2", {}, t("later")), h("ul", { class: "cards" }, later.map(card)));
  fill(main, h("h1", {}, t("assignments")), groups.length ? groups : h("p", {}, t("no_assignments")),
    h("p", { class: "who muted" }, s.display_name || s.login, " · ",
      h("button", { type: "button", class: "link", onclick: () => deps.signOut() }, t("sign_out"))));
  if (s.token) data.prefetch(items).catch((error) => error instanceof AuthError && deps.authEnded(error.token));
}

/** Whether to record the position, asked before any visit is started: off until turned on. */
function positionChoice(deps) {
  const box = h("input", { type: "checkbox", id: "positions", checked: deps.positions(), "aria-describedby": "positions-hint",
    onchange: (event) => deps.setPositions(event.target.checked) });
  return h("fieldset", { class: "consent" }, h("legend", { class: "q-label" }, t("position_legend")),
    h("label", { class: "choice", for: "positions" }, box, h("span", {}, t("position_toggle"))),
    h("p", { class: "hint", id: "positions-hint" }, t("position_hint")));
}

async function officeOffline(code, s) {
  if (s.token && navigator.onLine) return data.office(code).catch(() => ({ code }));
  return (await db.kv.get(`office:${code}`).catch(() => null)) || { code };
}

async function startVisit(a, deps) {
  let definition;
  try {
    definition = await data.formDefinition(a.form_key, a.form_version);
  } catch {
    deps.message(t("not_on_phone"));
    return;
  }
  if (!definition) return;
  const s = session.current();
  const now = new Date().toISOString();
  const record = {
    uuid: newId(), owner: s.login, kind: "new", assignment: a.id, office: a.office,
    form_key: a.form_key, form_version: a.form_version, status: "draft",
    started_at: now, ended_at: null, position_start: null, position_end: null,
    want_position_start: deps.positions(), answers: {}, evidence: {}, timers: {}, section: 0,
    created_at: now,
  };
  try {
    await store.saveVisit(record, { now: true });
  } catch {
    return; // the storage banner explains; nothing was started
  }
  deps.navigate(`/app/visit/${record.uuid}`);
}

const SERVER_STATUS = { submitted: "sent", in_review: "in_review", approved: "approved", rejected: "rejected", returned: "returned" };

/** My visits: drafts, waiting to send, sent, returned with the supervisor's comment. */
export async function showVisits(main, deps) {
  const s = session.current();
  let remote = [];
  try {
    remote = s.token ? (await data.visits(s.login)).items : (await db.kv.get(`visits:${s.login}`).catch(() => null))?.items || [];
  } catch (error) {
    if (error instanceof AuthError) deps.authEnded(error.token);
    remote = (await db.kv.get(`visits:${s.login}`).catch(() => null))?.items || [];
  }
  const local = await store.visitsOf(s.login);
  const byUuid = new Map();
  for (const v of remote) byUuid.set(v.uuid, { uuid: v.uuid, office: v.office, started_at: v.started_at, server: v.status });
  for (const v of local) {
    const entry = byUuid.get(v.uuid) || { uuid: v.uuid, office: v.office, started_at: v.started_at };
    entry.local = v;
    byUuid.set(v.uuid, entry);
  }
  const rows = [...byUuid.values()].map((e) => ({ ...e, status: statusOf(e) }));
  const rank = { draft: 0, attention: 0, sending: 1, outbox: 1, returned: 2 };
  rows.sort((a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3) || String(b.started_at).localeCompare(String(a.started_at)));
  const comments = new Map();
  for (const row of rows.filter((r) => r.status === "returned" || (r.local?.kind === "amend" && r.status === "draft"))) {
    try {
      comments.set(row.uuid, data.returnComment(await data.visit(row.uuid)));
    } catch { /* offline and never seen: no comment to show */ }
  }
  const offices = new Map();
  for (const row of rows) if (!offices.has(row.office)) offices.set(row.office, await officeOffline(row.office, s));
  if (deps.stale()) return;
  const waiting = rows.some((r) => r.status === "outbox");
  fill(main, h("h1", {}, t("visits")),
    waiting ? h("p", {}, h("button", { type: "button", class: "button secondary", id: "send-now", onclick: () => outbox.kick() }, t("send_now"))) : null,
    rows.length ? h("ul", { class: "cards", id: "visit-list" }, rows.map((row) => visitCard(row, offices.get(row.office), comments.get(row.uuid), deps)))
      : h("p", {}, t("no_visits")));
}

function statusOf(entry) {
  const v = entry.local;
  if (v && (v.status === "draft" || v.status === "attention")) return v.status;
  if (v && v.status === "outbox") return outbox.progressOf(v.uuid) ? "sending" : "outbox";
  if (entry.server) return SERVER_STATUS[entry.server] || "sent";
  return v ? (v.server && SERVER_STATUS[v.server.status]) || "sent" : "sent";
}

function visitCard(row, office, comment, deps) {
  const p = outbox.progressOf(row.uuid);
  const action = {
    draft: [t("continue"), `/app/visit/${row.uuid}`],
    attention: [t("continue"), `/app/visit/${row.uuid}`],
    returned: [t("amend"), `/app/amend/${row.uuid}`],
  }[row.status];
  return h("li", { class: "card visit-item", dataset: { uuid: row.uuid, status: row.status } },
    h("h3", {}, officeName(office, row.office)),
    h("p", { class: "muted" }, formatDateTime(row.started_at)),
    h("p", { class: `chip chip-${row.status}` }, t(`status_${row.status}`)),
    p && p.files ? h("div", { class: "sending" },
      h("p", { class: "muted" }, t("files_progress", { done: p.filesDone, total: p.files })),
      h("progress", { max: p.total || 1, value: p.sent, "aria-label": t("status_sending") }),
      h("ul", { class: "media" }, p.items.map((item) => h("li", {}, h("span", { class: "muted" }, item.name),
        h("progress", { max: item.size || 1, value: item.sent, "aria-label": item.name }))))) : null,
    row.local?.status === "attention" && row.local.error ? h("p", { class: "error" }, row.local.error.message) : null,
    comment ? h("p", { class: "comment" }, h("strong", {}, `${t("comment")}: `), comment) : null,
    row.local?.receipts?.length ? receiptBlock(row.uuid, row.local.receipts) : null,
    action ? h("a", { class: "button", href: action[1], "data-nav": "" }, action[0]) : null);
}

/** The server's signed receipts of a sent visit: shown, and saved as a JSON file on request. */
function receiptBlock(uuid, receipts) {
  const text = JSON.stringify(receipts.length === 1 ? receipts[0] : receipts, null, 2);
  const save = h("a", { class: "button secondary receipt-save", download: `adal-receipt-${uuid}.json` }, t("receipt_save"));
  save.addEventListener("click", () => {
    save.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    setTimeout(() => URL.revokeObjectURL(save.href), 10_000);
  });
  return h("details", { class: "receipt" },
    h("summary", {}, t("receipt")),
    h("p", { class: "muted" }, t("receipt_note")),
    h("pre", { class: "receipt-json" }, text),
    save);
}

/** A local draft that amends returned visit `uuid`, built from the server's copy. */
export async function prepareAmend(uuid) {
  const s = session.current();
  const existing = await store.getVisit(uuid);
  if (existing && existing.kind === "amend" && (existing.status === "draft" || existing.status === "attention")) return existing;
  const detail = await data.visit(uuid);
  const definition = await data.formDefinition(detail.form_key, detail.form_version);
  const questions = new Map(definition.sections.flatMap((sec) => sec.questions.map((q) => [q.id, q])));
  const record = {
    uuid, owner: s.login, kind: "amend", assignment: detail.assignment, office: detail.office,
    form_key: detail.form_key, form_version: detail.form_version, status: "draft",
    started_at: detail.started_at, ended_at: detail.ended_at,
    position_start: detail.position_start, position_end: detail.position_end,
    answers: {}, evidence: {}, timers: {}, section: 0, revision: detail.revision,
    comment: data.returnComment(detail), created_at: new Date().toISOString(),
  };
  const media = [];
  for (const a of detail.answers) {
    const q = questions.get(a.question);
    const value = q && NUMBER_TYPES.includes(q.type) && typeof a.value === "number" ? String(a.value) : a.value;
    record.answers[a.question] = { value, not_applicable: a.not_applicable, note: a.note || "" };
    for (const sha of a.evidence || []) {
      const m = { id: `sent-${a.question}-${sha}`, visit: uuid, question: a.question, sha256: sha, remote: true, done: true, kind: "photo", name: `${sha.slice(0, 12)}…`, size: 0 };
      try {
        const info = await data.media(sha);
        Object.assign(m, { kind: info.kind, size: info.size });
      } catch { /* offline: shown by its hash */ }
      media.push(m);
      (record.evidence[a.question] ||= []).push(m.id);
    }
  }
  for (const m of media) await store.saveMedia(m);
  await store.saveVisit(record, { now: true });
  return record;
}
