// One editor per draft. A visit open in two tabs (or windows) of the same browser would otherwise
// be written by both, the last write silently replacing the other's answers. The tab that opens a
// visit holds the Web Lock "adal-visit-<uuid>" while it shows it; another tab that opens the same
// visit shows it read-only and offers to take over. Taking over asks the holder (BroadcastChannel)
// to stop writing, write what it still holds in memory, and let go; the lock then passes to the
// new tab, which reads the draft again from IndexedDB, so nothing typed in the other tab is lost.
// A tab that does not answer (frozen in the background) has its lock stolen after a while; the
// browser releases the lock of a closed or crashed tab by itself.

const ANSWER_MS = 4000;
const held = new Map(); // uuid -> {release(), yieldTo()}
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("adal-visit-editor") : null;
const name = (uuid) => `adal-visit-${uuid}`;

/** Whether this browser can tell tabs apart (else every tab edits, as before). */
export const supported = Boolean(navigator.locks);

if (channel) {
  channel.addEventListener("message", (event) => {
    const { type, uuid } = event.data || {};
    if (type === "release" && held.has(uuid)) handOver(uuid);
  });
}

async function handOver(uuid) {
  const entry = held.get(uuid);
  if (!entry) return;
  held.delete(uuid);
  try {
    await entry.yieldTo("handover"); // stops writing and writes what is pending
  } finally {
    entry.release();
  }
}

function request(uuid, options, yieldTo) {
  return new Promise((resolve) => {
    let mine = null;
    navigator.locks.request(name(uuid), options, (lock) => {
      if (!lock) {
        resolve(false);
        return undefined;
      }
      return new Promise((release) => {
        mine = { release, yieldTo };
        held.set(uuid, mine);
        resolve(true);
      });
    }).catch(() => {
      // Not granted in time (the signal), or taken by another tab (steal) after it was granted.
      if (!mine) {
        resolve(false);
        return;
      }
      if (held.get(uuid) === mine) {
        held.delete(uuid);
        mine.yieldTo("stolen");
      }
    });
  });
}

/**
 * Edit visit `uuid` in this tab if no other tab does: true when this tab is (or already was) its
 * editor. `yieldTo(reason)` is called when another tab takes over ("handover": stop writing and
 * write what is pending, may return a promise; "stolen": the lock is already gone).
 */
export async function claim(uuid, yieldTo) {
  if (!supported) return true;
  if (held.has(uuid)) {
    held.get(uuid).yieldTo = yieldTo;
    return true;
  }
  return request(uuid, { ifAvailable: true }, yieldTo);
}

/** Become the editor of `uuid`: ask the other tab to let go, steal the lock if it does not answer. */
export async function takeOver(uuid, yieldTo) {
  if (!supported || held.has(uuid)) return claim(uuid, yieldTo);
  if (channel) channel.postMessage({ type: "release", uuid });
  const signal = typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(ANSWER_MS) : undefined;
  if (await request(uuid, signal ? { signal } : {}, yieldTo)) return true;
  return request(uuid, { steal: true }, yieldTo);
}

/** Let go of every visit but `keep` (the screen moved on). */
export function releaseExcept(keep = null) {
  for (const [uuid, entry] of [...held]) {
    if (uuid === keep) continue;
    held.delete(uuid);
    entry.release();
  }
}

/** Whether this tab is the editor of `uuid`. */
export function holds(uuid) {
  return !supported || held.has(uuid);
}
