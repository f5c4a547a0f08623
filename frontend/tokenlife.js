// A bearer token's life as this browser sees it: when it was issued, when it ends,
// when to refresh it. Pure: the caller passes the clock.
//
// Times are this machine's milliseconds. A token we received ourselves is timed from
// its arrival (expiresIn), which is right even when this clock is off the server's;
// a token found without those times is timed by its own `iat` / `exp` claims.

export const REFRESH_FRACTION = 0.8; // refresh when this much of the life has passed …
export const REFRESH_LEAD_MS = 15_000; // … and at least this long before the end
export const EXPIRY_MARGIN_MS = 5_000; // a token this close to its end counts as gone
const SPREAD_FRACTION = 0.05; // tabs spread their refreshes over this much of the life …
const SPREAD_MAX_MS = 20_000; // … at most
const RETRY_MS = [5_000, 10_000, 20_000, 40_000];

/** The claims of a JWT (no signature check: only the server can do that), or null. */
export function decodePayload(token) {
  if (typeof token !== "string") return null;
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

const finite = (x) => typeof x === "number" && Number.isFinite(x);

/** `{issuedAt, expiresAt}` (ms, or null) of a stored `{expiresAt?, issuedAt?}` and its claims. */
export function lifetime(stored, claims) {
  const expiresAt = finite(stored?.expiresAt) ? stored.expiresAt : finite(claims?.exp) ? claims.exp * 1000 : null;
  let issuedAt = finite(stored?.issuedAt) ? stored.issuedAt : null;
  if (issuedAt === null && expiresAt !== null && finite(claims?.exp) && finite(claims?.iat)) {
    issuedAt = expiresAt - (claims.exp - claims.iat) * 1000;
  }
  return { issuedAt, expiresAt };
}

/** Still usable at `now`: not within the margin of its end (no known end: yes). */
export function isLive({ expiresAt }, now) {
  return expiresAt === null || expiresAt - EXPIRY_MARGIN_MS >= now;
}

/**
 * When to refresh (ms): 80 % into the token's life and at least 15 s before its end,
 * never before it was issued; `jitter` (0–1, one draw per tab) moves it earlier by
 * up to 5 % of the life (20 s at most), so the tabs of one browser do not all try at
 * once. Null for a token with no known end.
 */
export function refreshAt({ issuedAt, expiresAt }, jitter = 0) {
  if (expiresAt === null) return null;
  const start = issuedAt !== null && issuedAt < expiresAt ? issuedAt : expiresAt - REFRESH_LEAD_MS;
  const life = expiresAt - start;
  const due = start + Math.max(0, Math.min(life * REFRESH_FRACTION, life - REFRESH_LEAD_MS));
  const spread = Math.min(life * SPREAD_FRACTION, SPREAD_MAX_MS);
  return Math.max(start, due - Math.min(Math.max(jitter, 0), 1) * spread);
}

/** How long to wait after the `failures`-th failed refresh in a row (the server's Retry-After wins). */
export function retryDelay(failures, retryAfterSeconds = null) {
  if (finite(retryAfterSeconds) && retryAfterSeconds > 0) return retryAfterSeconds * 1000;
  return RETRY_MS[Math.min(Math.max(failures, 1), RETRY_MS.length) - 1];
}
