// Thin fetch wrapper for the JSON API.
//
// Every error becomes an ApiError carrying the HTTP status and the server's
// `code`, so callers branch on `err.status` / `err.code` rather than on
// message text. Its `message` is the buyer's wording for that code
// (./errors.js); the server's own text is kept in `serverMessage` and never
// shown to a buyer.
//
// A 401 on a request that needs a sign-in means the token is dead: we drop it,
// which signs this tab (and, through the storage event, all others) out. If the
// page offers an inline sign-in (onSignInNeeded), we ask for it and send the
// same request again, so the buyer's action carries on where it stopped.

import { signOut, token as currentToken } from "./auth.js";
import { buyerMessage } from "./errors.js";

let signInNeeded = null;

/**
 * `fn()` opens a sign-in without leaving the page and resolves true once signed in
 * (false if the buyer gave up). One per page; api() awaits it on a 401.
 */
export function onSignInNeeded(fn) {
  signInNeeded = fn;
}

export class ApiError extends Error {
  constructor(status, body) {
    const code = (body && typeof body.code === "string" && body.code) || null;
    super(buyerMessage(status, code, body));
    this.name = "ApiError";
    this.status = status; // 0 means the request never got an answer
    this.code = code;
    this.body = body || null;
    // For logs and developers only: never put this on the screen.
    this.serverMessage = (body && typeof body.message === "string" && body.message) || null;
  }

  /** Worth retrying with the same Idempotency-Key: no answer or a server fault. */
  get retryable() {
    return this.status === 0 || this.status >= 500;
  }
}

/**
 * Call the API. `options`: {method, body (JSON-encoded for you), auth (default
 * true: send the bearer token if we have one), headers, signal, reauth (default
 * true: on a 401, offer the page's inline sign-in and try once more)}.
 */
export async function api(path, options = {}) {
  try {
    return await request(path, options);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401 || options.auth === false) throw err;
    // Another tab refreshed or signed in meanwhile: its token may do.
    if (currentToken() && currentToken() !== err.sentToken) return request(path, options);
    signOut(); // the token is dead (or already ran out): every tab shows it now
    if (options.reauth === false || !signInNeeded || !(await signInNeeded())) throw err;
    return request(path, options);
  }
}

async function request(path, { method = "GET", body, auth = true, headers = {}, signal } = {}) {
  const sentToken = auth ? currentToken() : null;
  const init = { method, headers: { Accept: "application/json", ...headers }, signal, credentials: "same-origin" };
  if (sentToken) init.headers.Authorization = `Bearer ${sentToken}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, null);
  }

  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }

  if (!response.ok) {
    const err = new ApiError(response.status, data);
    err.sentToken = sentToken;
    throw err;
  }
  return data;
}

/** A v4 UUID. crypto.randomUUID only exists in secure contexts; getRandomValues everywhere. */
export function uuid() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
