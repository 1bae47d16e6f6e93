// A small tus 1.0 client (creation, checksum, core) for the evidence uploads: docs/media.md.
// The upload's URL and offset are saved on the phone after every step, so an upload that a lost
// network, a closed browser or a reboot interrupted resumes from the server's durable offset.

import { ApiError, NetworkError, authHeaders, send } from "./api.js";
import { sha256Base64 } from "./sha256.js";

export const CHUNK_BYTES = 1024 * 1024;
const TUS = { "Tus-Resumable": "1.0.0" };
const ENDPOINT = "/api/v1/uploads";
const MAX_LOCKED_RETRIES = 5;

/** The server refused the file itself (type, corrupt, hash mismatch): sending again won't help. */
export class RefusedError extends ApiError {
  constructor(status, problem) {
    super(status, problem);
    this.name = "RefusedError";
  }
}

const b64 = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

function metadata(media) {
  const pairs = { filename: media.name || "evidence", filetype: media.type || "application/octet-stream", sha256: media.sha256 };
  return Object.entries(pairs).map(([k, v]) => `${k} ${b64(v)}`).join(",");
}

async function problem(resp) {
  try { return await resp.json(); } catch { return {}; }
}

async function fail(resp) {
  const body = await problem(resp);
  if ([413, 415, 422].includes(resp.status)) throw new RefusedError(resp.status, body);
  throw new ApiError(resp.status, body);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Upload `media` ({blob, name, type, size, sha256, upload_url?}) and resolve when the server has
 * stored it. `save(fields)` persists {upload_url, offset, done} on the phone after each step;
 * `onProgress(offset)` reports the durable offset.
 */
export async function upload(media, { save, onProgress = () => {}, chunkBytes = CHUNK_BYTES }) {
  let url = media.upload_url || null;
  let offset = 0;
  let done = false;
  if (url) {
    const resp = await send(url, { method: "HEAD", headers: authHeaders(TUS) });
    if (resp.ok) {
      offset = Number(resp.headers.get("Upload-Offset") || 0);
      done = Boolean(resp.headers.get("Adal-Media-Sha256"));
    } else if (resp.status === 404 || resp.status === 410) {
      url = null; // expired or gone: start anew (the same bytes are stored once anyway)
    } else {
      await fail(resp);
    }
  }
  if (!url) {
    const resp = await send(ENDPOINT, {
      method: "POST",
      headers: authHeaders({ ...TUS, "Upload-Length": String(media.size), "Upload-Metadata": metadata(media) }),
    });
    if (resp.status !== 201) await fail(resp);
    url = new URL(resp.headers.get("Location"), location.href).pathname;
    offset = 0;
    await save({ upload_url: url, offset: 0 });
  }
  onProgress(offset);
  let locked = 0;
  while (!done && offset < media.size) {
    const chunk = await media.blob.slice(offset, offset + chunkBytes).arrayBuffer();
    const resp = await send(url, {
      method: "PATCH",
      headers: authHeaders({
        ...TUS,
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": String(offset),
        "Upload-Checksum": `sha256 ${await sha256Base64(chunk)}`,
      }),
      body: chunk,
    });
    if (resp.status === 204) {
      offset = Number(resp.headers.get("Upload-Offset"));
      done = Boolean(resp.headers.get("Adal-Media-Sha256"));
      await save({ offset, ...receiptOf(resp) });
      onProgress(offset);
      continue;
    }
    if (resp.status === 409) { // our last answer was lost: the server is further on; go on from there
      const at = resp.headers.get("Upload-Offset");
      offset = at !== null ? Number(at) : await headOffset(url);
      continue;
    }
    if (resp.status === 423 && locked < MAX_LOCKED_RETRIES) { // another request still writing
      locked += 1;
      await sleep(500 * locked);
      offset = await headOffset(url);
      continue;
    }
    if (resp.status === 460 || (resp.status === 400 && (await problem(resp.clone())).code === "chunk_incomplete")) {
      offset = await headOffset(url); // the chunk was dropped: send it again
      continue;
    }
    if (resp.status === 404 || resp.status === 410) {
      await save({ upload_url: null, offset: 0 });
      return upload({ ...media, upload_url: null }, { save, onProgress, chunkBytes });
    }
    await fail(resp);
  }
  if (!done) { // complete, but the answer that named the media was lost: ask
    const resp = await send(url, { method: "HEAD", headers: authHeaders(TUS) });
    if (!resp.ok) await fail(resp);
    done = Boolean(resp.headers.get("Adal-Media-Sha256"));
    if (!done) throw new NetworkError(new Error("upload not confirmed"));
    await save(receiptOf(resp));
  }
  await save({ offset: media.size, done: true });
  onProgress(media.size);
}

/** The server's signed receipt of a completed upload (Adal-Receipt: base64 JSON), if sent. */
function receiptOf(resp) {
  const header = resp.headers.get("Adal-Receipt");
  if (!header) return {};
  try {
    const bytes = Uint8Array.from(atob(header), (c) => c.charCodeAt(0));
    return { receipt: JSON.parse(new TextDecoder().decode(bytes)) };
  } catch {
    return {}; // a receipt that cannot be read is not a reason to fail a stored upload
  }
}

async function headOffset(url) {
  const resp = await send(url, { method: "HEAD", headers: authHeaders(TUS) });
  if (!resp.ok) await fail(resp);
  return Number(resp.headers.get("Upload-Offset") || 0);
}
