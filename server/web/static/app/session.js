// The signed-in inspector: a bearer token from POST /api/v1/auth/token, kept in IndexedDB. When
// the token expires or is revoked the app asks to sign in again; drafts stay, they belong to the
// login, not to the token.

import { ApiError, AuthError, api, setToken } from "./api.js";
import * as db from "./db.js";

let session = null;

export function current() {
  return session;
}

export async function load() {
  session = (await db.kv.get("session").catch(() => null)) || null;
  if (session && session.token && session.expires_at && Date.parse(session.expires_at) <= Date.now()) {
    session = { ...session, token: null, ended: true };
  }
  setToken(session?.token || null);
  return session;
}

/** Sign in; ApiError(403) with code "not_inspector" for other roles. */
export async function signIn(login, password) {
  const label = `inspector app ${navigator.userAgentData?.platform || ""}`.trim().slice(0, 100);
  const issued = await api("/api/v1/auth/token", { method: "POST", body: { login, password, label }, auth: false });
  setToken(issued.token);
  if (issued.role !== "inspector") {
    await api("/api/v1/auth/token", { method: "DELETE" }).catch(() => {});
    setToken(session?.token || null);
    throw new ApiError(403, { code: "not_inspector" });
  }
  const me = await api("/api/v1/auth/me");
  session = { token: issued.token, expires_at: issued.expires_at, login: me.login, display_name: me.display_name,
    languages: me.languages || [], ended: false };
  await db.kv.set("session", session);
  return session;
}

/** The token stopped working (401): keep who it was, forget the token, unless the refused one
 * is not the current one any more (an answer that arrived after signing in again). */
export async function ended(refused = null) {
  if (!session || (refused && refused !== session.token)) return;
  session = { ...session, token: null, ended: true };
  setToken(null);
  await db.kv.set("session", session).catch(() => {});
}

export async function signOut() {
  if (session?.token) await api("/api/v1/auth/token", { method: "DELETE" }).catch(() => {});
  session = session ? { login: session.login, display_name: session.display_name, token: null, ended: false } : null;
  setToken(null);
  await db.kv.set("session", session).catch(() => {});
}

export const isAuthError = (error) => error instanceof AuthError;
