// Thin fetch wrapper for the JSON API.
//
// Every error becomes an ApiError carrying the HTTP status and the server's
// `code`, so callers branch on `err.status` / `err.code` rather than on
// message text. A 401 while we sent a token means the token is dead: we drop
// it, which signs this tab (and, through the storage event, all others) out.

import { signOut, token as currentToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, body, fallback) {
    super((body && typeof body.message === "string" && body.message) || fallback);
    this.name = "ApiError";
    this.status = status; // 0 means the request never got an answer
    this.code = (body && body.code) || null;
    this.body = body || null;
  }

  /** Worth retrying with the same Idempotency-Key: no answer or a server fault. */
  get retryable() {
    return this.status === 0 || this.status >= 500;
  }
}

/**
 * Call the API. `options`: {method, body (JSON-encoded for you), auth (default
 * true: send the bearer token if we have one), headers, signal}.
 */
export async function api(path, { method = "GET", body, auth = true, headers = {}, signal } = {}) {
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
    throw new ApiError(0, null, "Could not reach the server. Check your connection and try again.");
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
    if (response.status === 401 && sentToken) signOut();
    throw new ApiError(response.status, data, defaultMessage(response.status));
  }
  return data;
}

function defaultMessage(status) {
  if (status === 401) return "Please sign in again.";
  if (status === 403) return "That isn’t yours to change.";
  if (status === 404) return "Not found.";
  if (status === 409) return "That conflicts with a change someone else just made.";
  if (status === 423) return "Held by someone else.";
  if (status === 429) return "Too many attempts. Please wait a moment and try again.";
  if (status >= 500) return "The server had a problem. Please try again.";
  return "The request was not accepted.";
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
