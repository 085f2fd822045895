// Requests to the statehub API with the bearer token kept in session storage.

const TOKEN_KEY = "statehub.token";

/** An error answered by the API: `status`, and the body's `type` and `message`. */
export class ApiError extends Error {
  constructor(status, type, message, body) {
    super(message);
    this.status = status;
    this.type = type;
    this.body = body;
  }
}

/** The token of this tab's session, or null. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keep (or, with null, forget) the token for this tab's session. */
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ACT_AS_KEY);
}

const ACT_AS_KEY = "statehub.actAs";

/** The agent an admin token looks through (X-Statehub-Agent), or null for everyone. */
export function actAs() {
  return sessionStorage.getItem(ACT_AS_KEY);
}

/** Look through `agent`'s eyes (an admin token only), or, with null, see every key. */
export function setActAs(agent) {
  if (agent) sessionStorage.setItem(ACT_AS_KEY, agent);
  else sessionStorage.removeItem(ACT_AS_KEY);
}

/** The headers every request carries. */
export function authHeaders(extra = {}) {
  const headers = { Authorization: `Bearer ${token()}`, ...extra };
  if (actAs()) headers["X-Statehub-Agent"] = actAs();
  return headers;
}

const listeners = new Set();

/** Call `fn()` whenever the API answers 401 (the token was revoked or is wrong). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

/** The hub the page shows: `?hub=` of the page's address (none: the server's own). */
export const HUB = new URLSearchParams(location.search).get("hub") || "";

/**
 * `path` with the query parameters that are set (empty strings and null left out),
 * and the page's hub.
 */
export function withQuery(path, params = {}) {
  const query = new URLSearchParams();
  if (HUB) query.set("hub", HUB);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** Fetch `path` as JSON; throws ApiError with the API's error type and message. */
export async function api(path, { method = "GET", body, params, signal } = {}) {
  const init = { method, headers: authHeaders(), signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(withQuery(path, params), init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) for (const fn of listeners) fn();
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.type || "HTTPError",
      error.message || `${response.status} ${response.statusText}`, data);
  }
  return data;
}

/** `/v1/keys/...`-style path of a key (each segment escaped, the slashes kept). */
export function keyPath(base, key) {
  return `${base}/${key.split("/").map(encodeURIComponent).join("/")}`;
}
