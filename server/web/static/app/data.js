// What the app reads from the API, with the last good copy kept on the phone for offline use:
// assignments, offices, pinned form versions, recommendations, the inspector's visits.

import { ApiError, AuthError, api } from "./api.js";
import * as db from "./db.js";

/** Fetch `path` and keep a copy under `key`; offline (or on a server error) give the copy. */
async function cached(key, path, { missing = undefined } = {}) {
  try {
    const data = await api(path);
    await db.kv.set(key, data).catch(() => {}); // a full phone still shows fresh data
    return { data, fresh: true };
  } catch (error) {
    if (error instanceof AuthError) throw error;
    if (error instanceof ApiError && error.status === 404 && missing !== undefined) {
      await db.kv.set(key, missing).catch(() => {});
      return { data: missing, fresh: true };
    }
    const copy = await db.kv.get(key).catch(() => undefined);
    if (copy === undefined) throw error;
    return { data: copy, fresh: false };
  }
}

export async function assignments(login) {
  const { data, fresh } = await cached(`assignments:${login}`, "/api/v1/assignments?status=open&per_page=200");
  return { items: data.items || [], fresh };
}

export async function office(code) {
  try {
    return (await cached(`office:${code}`, `/api/v1/offices/${encodeURIComponent(code)}`)).data;
  } catch (error) {
    if (error instanceof AuthError) throw error;
    return { code, name: null };
  }
}

/** Open recommendations for an office; an API that is not there yet (404) means none. */
export async function recommendations(code) {
  try {
    const { data } = await cached(`recs:${code}`, `/api/v1/offices/${encodeURIComponent(code)}/recommendations?status=open&per_page=100`, { missing: { items: [] } });
    return data.items || [];
  } catch (error) {
    if (error instanceof AuthError) throw error;
    return [];
  }
}

/** A form version, whole (every language): from the phone if there, else fetched and kept. */
export async function formDefinition(key, version) {
  const id = `${key}@${version}`;
  const stored = await db.get("forms", id).catch(() => undefined);
  if (stored) return stored.definition;
  const definition = await api(`/api/v1/forms/${encodeURIComponent(key)}/versions/${version}`);
  await db.put("forms", { id, key, version, definition, fetched_at: new Date().toISOString() });
  return definition;
}

/** Everything a visit needs offline, for every open assignment, in the background. */
export async function prefetch(items) {
  for (const a of items) {
    for (const job of [() => formDefinition(a.form_key, a.form_version), () => office(a.office), () => recommendations(a.office)]) {
      try {
        await job();
      } catch (error) {
        if (error instanceof AuthError) throw error;
      }
    }
  }
}

export async function visits(login) {
  const { data, fresh } = await cached(`visits:${login}`, "/api/v1/visits?per_page=100");
  return { items: data.items || [], fresh };
}

/** One visit whole, with the supervisor's last return comment picked out of its history. */
export async function visit(uuid) {
  const { data } = await cached(`visit:${uuid}`, `/api/v1/visits/${uuid}`);
  return data;
}

export function returnComment(detail) {
  const returns = (detail?.history || []).filter((e) => e.action === "visit_reviewed" && e.detail?.decision === "return");
  return returns.length ? returns[returns.length - 1].detail.comment || "" : "";
}

/** What the server knows of one stored media object (kind, size, ...). */
export async function media(sha) {
  return (await cached(`media:${sha}`, `/api/v1/media/${sha}`)).data;
}
