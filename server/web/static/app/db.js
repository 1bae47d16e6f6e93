// IndexedDB: the phone's copy of everything. Drafts are written as the inspector types and media
// as soon as it is taken; nothing is deleted until the server has confirmed it.
//
// Stores: kv (session, cached lists), forms ("key@version" -> definition, pinned by drafts),
// visits (uuid -> draft / outbox record), media (id -> blob, hash and upload state).

const NAME = "adal-inspector";
const VERSION = 1;
let opening = null;

/** The phone has no room left: the write did not happen. */
export class StorageFullError extends Error {
  constructor(cause) {
    super("storage full");
    this.name = "StorageFullError";
    this.cause = cause;
  }
}

function wrap(error) {
  if (error instanceof StorageFullError) return error;
  if (error && (error.name === "QuotaExceededError" || /quota/i.test(String(error.message)))) {
    return new StorageFullError(error);
  }
  return error || new Error("IndexedDB transaction failed");
}

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(NAME, VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore("kv");
        db.createObjectStore("forms", { keyPath: "id" });
        db.createObjectStore("visits", { keyPath: "uuid" }).createIndex("owner", "owner");
        db.createObjectStore("media", { keyPath: "id" }).createIndex("visit", "visit");
      };
      req.onsuccess = () => {
        req.result.onversionchange = () => req.result.close();
        resolve(req.result);
      };
      req.onerror = () => {
        opening = null;
        reject(wrap(req.error));
      };
    });
  }
  return opening;
}

/** Run `body(tx)` in one transaction; resolves with what `body`'s returned getter gives. */
async function run(stores, mode, body) {
  const db = await open();
  return new Promise((resolve, reject) => {
    let tx;
    let result;
    try {
      tx = db.transaction(stores, mode);
      result = body(tx);
    } catch (error) {
      try { tx && tx.abort(); } catch { /* already finished */ }
      reject(wrap(error));
      return;
    }
    tx.oncomplete = () => resolve(typeof result === "function" ? result() : result);
    tx.onabort = () => reject(wrap(tx.error));
    tx.onerror = (event) => event.preventDefault(); // reported by onabort
  });
}

export function get(store, key) {
  return run(store, "readonly", (tx) => {
    const req = tx.objectStore(store).get(key);
    return () => req.result;
  });
}

export function put(store, value, key) {
  return run(store, "readwrite", (tx) => {
    if (key === undefined) tx.objectStore(store).put(value);
    else tx.objectStore(store).put(value, key);
  });
}

export function del(store, key) {
  return run(store, "readwrite", (tx) => {
    tx.objectStore(store).delete(key);
  });
}

export function all(store) {
  return run(store, "readonly", (tx) => {
    const req = tx.objectStore(store).getAll();
    return () => req.result;
  });
}

export function byIndex(store, index, value) {
  return run(store, "readonly", (tx) => {
    const req = tx.objectStore(store).index(index).getAll(value);
    return () => req.result;
  });
}

/** Several writes that land together or not at all: [["visits", record], ["media", m]]. */
export function putMany(entries) {
  const stores = [...new Set(entries.map(([store]) => store))];
  return run(stores, "readwrite", (tx) => {
    for (const [store, value] of entries) tx.objectStore(store).put(value);
  });
}

export const kv = {
  get: (key) => get("kv", key),
  set: (key, value) => put("kv", value, key),
  del: (key) => del("kv", key),
};
