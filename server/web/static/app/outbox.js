// The outbox: finished visits wait here until the server has confirmed them. For each visit, the
// evidence goes first (tus, resumable), then the visit, whose client UUID makes a resend harmless:
// the server answers a replay with the visit it stored. The body was frozen when the visit was
// finished, so every resend is byte-for-byte the same request. Nothing is deleted from the phone
// before the server's 200/201.

import { ApiError, AuthError, NetworkError, api, getToken } from "./api.js";
import * as db from "./db.js";
import * as store from "./store.js";
import { RefusedError, upload } from "./tus.js";
import * as data from "./data.js";
import { label, t } from "./i18n.js";

export const events = new EventTarget();
const BACKOFF_S = [1, 2, 4, 8, 15, 30, 60];
const progress = new Map(); // uuid -> {sent, total, files, filesDone}
let owner = null;
let running = false;
let again = false;
let retryTimer = null;
let failures = 0;

export function setOwner(login) {
  owner = login;
}

export function progressOf(uuid) {
  return progress.get(uuid) || null;
}

function emit(type, detail = {}) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
}

/** Try to send now (after a change, when the network returns, on a timer). */
export function kick() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (running) {
    again = true;
    return;
  }
  const go = () => run();
  if (navigator.locks) navigator.locks.request("adal-outbox", { ifAvailable: true }, (lock) => (lock ? go() : null));
  else go();
}

async function run() {
  running = true;
  try {
    do {
      again = false;
      await pass();
    } while (again);
    failures = 0;
  } catch (error) {
    if (error instanceof AuthError) {
      emit("auth", { token: error.token });
    } else {
      failures += 1;
      const delay = BACKOFF_S[Math.min(failures - 1, BACKOFF_S.length - 1)] * 1000;
      retryTimer = setTimeout(kick, delay * (0.8 + Math.random() * 0.4));
      emit("retry", { delay, error: String(error && error.message) });
    }
  } finally {
    running = false;
    progress.clear();
    emit("changed");
  }
}

async function pass() {
  if (!getToken() || !owner || !navigator.onLine) {
    if (!navigator.onLine) throw new NetworkError(new Error("offline"));
    return;
  }
  const waiting = (await store.visitsOf(owner)).filter((v) => v.status === "outbox")
    .sort((a, b) => String(a.finished_at).localeCompare(String(b.finished_at)));
  for (const visit of waiting) await sendOne(visit);
}

async function sendOne(visit) {
  const media = (await store.mediaOf(visit.uuid)).filter((m) => !m.remote);
  const cited = new Set(visit.body.answers.flatMap((a) => a.evidence));
  const todo = media.filter((m) => cited.has(m.sha256));
  const total = todo.reduce((sum, m) => sum + m.size, 0) || 0;
  const state = { sent: 0, total, files: todo.length, filesDone: 0, items: todo.map((m) => ({ name: m.name, size: m.size, sent: m.done ? m.size : 0 })) };
  const base = () => todo.filter((m) => m.done).reduce((sum, m) => sum + m.size, 0);
  progress.set(visit.uuid, state);
  emit("changed");
  for (const m of todo) {
    if (m.done) {
      state.filesDone += 1;
      continue;
    }
    try {
      await upload(m, {
        save: (fields) => {
          Object.assign(m, fields);
          return db.put("media", m);
        },
        onProgress: (offset) => {
          state.items[todo.indexOf(m)].sent = offset;
          state.sent = base() + (m.done ? 0 : offset);
          emit("progress", { uuid: visit.uuid, ...state });
        },
      });
      state.filesDone += 1;
    } catch (error) {
      if (error instanceof RefusedError) {
        // Named by its question and file, kept on the file: the visit cannot go until it is removed.
        const message = t("file_refused_named", { file: m.name, question: await questionLabel(visit, m.question), detail: error.message });
        m.refused = message;
        await db.put("media", m).catch(() => {});
        await attention(visit, {}, message, error.code);
        return;
      }
      throw error;
    }
  }
  let result;
  try {
    result = visit.kind === "amend"
      ? await api(`/api/v1/visits/${visit.uuid}`, { method: "PUT", body: visit.body })
      : await api("/api/v1/visits", { method: "POST", body: visit.body });
  } catch (error) {
    if (error instanceof ApiError && !(error instanceof AuthError) && !error.retryable) {
      await attention(visit, error.errors?.answers || {}, error.message, error.code);
      return;
    }
    throw error;
  }
  visit.status = "sent";
  visit.sent_at = new Date().toISOString();
  // The server's signed receipts (docs/receipts.md): kept with the visit on this phone, so the
  // inspector can show what the server received and when, even if it is disputed later.
  visit.receipts = [...(visit.receipts || []), ...(result.receipt ? [result.receipt] : []),
    ...media.filter((m) => m.receipt).map((m) => m.receipt)];
  visit.server = { status: result.status, revision: result.revision, flags: (result.flags || []).map((f) => f.kind) };
  visit.error = null;
  await store.saveVisit(visit, { now: true });
  // Confirmed: only now may the phone let go of the evidence it was holding for this visit.
  for (const m of media) await db.del("media", m.id).catch(() => {});
  emit("sent", { uuid: visit.uuid, status: result.status });
}

async function questionLabel(visit, qid) {
  try {
    const definition = await data.formDefinition(visit.form_key, visit.form_version);
    for (const section of definition.sections) {
      const q = section.questions.find((item) => item.id === qid);
      if (q) return label(q.label) || qid;
    }
  } catch { /* the form is not on the phone: its id */ }
  return qid;
}

async function attention(visit, errors, message, code = null) {
  visit.status = "attention";
  visit.error = { message, code, errors };
  await store.saveVisit(visit, { now: true });
  emit("attention", { uuid: visit.uuid });
}

addEventListener("online", () => kick());
setInterval(() => {
  if (!running && !retryTimer) kick();
}, 30000);
