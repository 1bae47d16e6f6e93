// Drafts and media on the phone. Every change is written to IndexedDB right away (debounced a
// little while typing); when the phone is out of space the change stays in memory, the inspector
// is told, and it is written as soon as a write succeeds again: nothing is dropped.

import * as db from "./db.js";

export const events = new EventTarget();
const pending = new Map(); // "store:key" -> [store, value]
let timer = null;
let state = "saved";
let flushing = null;

function setState(next, error = null) {
  state = next;
  document.body.dataset.save = next;
  events.dispatchEvent(new CustomEvent("state", { detail: { state: next, error } }));
}

export function saveState() {
  return state;
}

function queue(store, value, key) {
  pending.set(`${store}:${key}`, [store, value]);
  if (state !== "full") setState("saving");
}

/** Write `record` (a visit) soon; `now` skips the typing debounce. */
export function saveVisit(record, { now = false } = {}) {
  record.updated_at = new Date().toISOString();
  queue("visits", record, record.uuid);
  clearTimeout(timer);
  if (now) return flush();
  timer = setTimeout(() => flush().catch(() => {}), 250);
  return Promise.resolve();
}

/** Write a media record and the visit that cites it together. */
export function saveMedia(media, record) {
  queue("media", media, media.id);
  if (record) queue("visits", record, record.uuid);
  return flush();
}

/** Write everything pending; rejects with StorageFullError and keeps it pending if full. */
export function flush() {
  clearTimeout(timer);
  if (flushing) return flushing.then(() => (pending.size ? flush() : undefined));
  if (!pending.size) {
    setState("saved");
    return Promise.resolve();
  }
  const batch = [...pending.entries()];
  flushing = db.putMany(batch.map(([, entry]) => entry)).then(
    () => {
      for (const [key, entry] of batch) if (pending.get(key) === entry) pending.delete(key);
      flushing = null;
      if (pending.size) return flush();
      setState("saved");
      return undefined;
    },
    (error) => {
      flushing = null;
      setState(error instanceof db.StorageFullError ? "full" : "error", error);
      throw error;
    },
  );
  return flushing;
}

/** A pending (not yet written) version of a record wins over the stored one. */
export async function getVisit(uuid) {
  const entry = pending.get(`visits:${uuid}`);
  return entry ? entry[1] : db.get("visits", uuid);
}

export async function visitsOf(owner) {
  const stored = await db.byIndex("visits", "owner", owner);
  const byId = new Map(stored.map((v) => [v.uuid, v]));
  for (const [key, [store, value]] of pending) {
    if (store === "visits" && value.owner === owner) byId.set(key.slice(7), value);
  }
  return [...byId.values()];
}

export async function mediaOf(uuid) {
  const stored = await db.byIndex("media", "visit", uuid);
  const byId = new Map(stored.map((m) => [m.id, m]));
  for (const [, [store, value]] of pending) if (store === "media" && value.visit === uuid) byId.set(value.id, value);
  return [...byId.values()];
}

/** Drop what is kept in memory for visit `uuid` (another tab is its editor now). */
export function forget(uuid) {
  pending.delete(`visits:${uuid}`);
  for (const [key, [store, value]] of [...pending]) if (store === "media" && value.visit === uuid) pending.delete(key);
  if (!pending.size && state !== "saved") setState("saved");
}

export function hasPending() {
  return pending.size > 0;
}

addEventListener("pagehide", () => { flush().catch(() => {}); });
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flush().catch(() => {});
});
