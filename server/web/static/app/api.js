// The app talks to /api/v1 like any client: a bearer token, JSON, problem+json errors.
// No cookie is sent (credentials: "omit"), so no CSRF token is involved.

let token = null;

export function setToken(value) {
  token = value;
}

export function getToken() {
  return token;
}

/** An answer other than 2xx, as RFC 9457 problem details. */
export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code || null;
    this.errors = problem.errors || null;
    this.problem = problem;
  }

  get retryable() {
    return this.status >= 500 || this.status === 408 || this.status === 423 || this.status === 429;
  }
}

/** 401: the token is missing, expired or revoked; the inspector must sign in again. */
export class AuthError extends ApiError {
  constructor(problem, token = null) {
    super(401, problem);
    this.name = "AuthError";
    this.token = token; // the token that was refused: a newer one may be in use already
  }
}

/** No answer at all: offline, or the connection broke. */
export class NetworkError extends Error {
  constructor(cause) {
    super("network");
    this.name = "NetworkError";
    this.cause = cause;
  }
}

export function authHeaders(extra = {}) {
  return token ? { Authorization: `Bearer ${token}`, ...extra } : { ...extra };
}

/** fetch() that turns "no answer" into NetworkError and 401 into AuthError. */
export async function send(path, init = {}) {
  let resp;
  try {
    resp = await fetch(path, { cache: "no-store", credentials: "omit", ...init });
  } catch (error) {
    throw new NetworkError(error);
  }
  noteClock(resp);
  if (resp.status === 401) {
    const used = new Headers(init.headers || {}).get("Authorization");
    throw new AuthError(await problemOf(resp), used ? used.replace(/^Bearer /, "") : null);
  }
  return resp;
}

/** How far the phone's clock is behind the server's, from the Date header (second precision). */
function noteClock(resp) {
  const date = Date.parse(resp.headers.get("Date") || "");
  if (!Number.isNaN(date)) {
    try { localStorage.setItem("adal.clock_offset_ms", String(Math.round(date + 500 - Date.now()))); } catch { /* not kept */ }
  }
}

/** The last measured server-minus-phone clock difference in ms, or null. */
export function clockOffset() {
  try {
    const value = localStorage.getItem("adal.clock_offset_ms");
    return value === null ? null : Number(value);
  } catch {
    return null;
  }
}

async function problemOf(resp) {
  try {
    return await resp.json();
  } catch {
    return {};
  }
}

/** A JSON call: resolves with the parsed body (null for 204); ApiError for any other status. */
export async function api(path, { method = "GET", body, headers = {}, auth = true } = {}) {
  const init = { method, headers: { Accept: "application/json", ...(auth ? authHeaders() : {}), ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await send(path, init);
  if (!resp.ok) throw new ApiError(resp.status, await problemOf(resp));
  if (resp.status === 204) return null;
  const data = await resp.json();
  Object.defineProperty(data, "httpStatus", { value: resp.status, enumerable: false });
  return data;
}
