// Token storage shared by every tab of this origin, kept alive while a page is open.
//
// The token lives in localStorage (never in a URL or a cookie we did not ask
// for), so all tabs see the same sign-in state. The `storage` event fires in
// *other* tabs when one tab writes, which is how sign-in / sign-out in one tab
// reaches the rest; we fire the same callbacks locally for the writing tab.
//
// While a page is open the token is exchanged for a fresh one (POST /token/refresh)
// 80 % into its life (./tokenlife.js). One tab does it: the refresh runs under a
// Web Lock, and a tab that gets the lock after another tab refreshed finds a new
// token in storage and leaves it. Storage alone cannot say so: Chromium hands a
// localStorage write to the other tabs asynchronously, so the next tab to get the
// lock may still read the old token. The refreshing tab therefore also takes a lock
// named after the token it exchanged ("refreshed: …") before it lets go of the
// refresh lock, and holds it while that token lives; the lock manager is one
// place, so a tab that finds that lock held knows the token is spent, and waits for
// the new one to reach its storage instead of refreshing again. When a token runs out anyway (the machine slept,
// the refresh failed), the listeners hear "signed out" at that moment, so the
// header, the tray and the map never show a sign-in the server no longer accepts.

import { decodePayload, EXPIRY_MARGIN_MS, isLive, lifetime, refreshAt, retryDelay } from "./tokenlife.js";

const KEY = "boxoffice.auth";
const REFRESH_LOCK = "boxoffice.auth.refresh";
const REFRESHED_LOCK = "boxoffice.auth.refreshed:"; // + the spent token's signature tail
const CATCH_UP_MS = 2_000; // look at storage again this long after finding a token spent
const MAX_TIMER_MS = 2 ** 31 - 1;
const listeners = new Set();
const jitter = Math.random(); // this tab's place in the spread of refresh times
let announced; // the token the listeners last heard of (undefined: none yet)
let expiryTimer = 0;
let refreshTimer = 0;
let failures = 0; // refreshes failed in a row
let retryAfter = null; // seconds the server asked us to wait
let refreshes = 0; // refreshes this tab made (for tests)
let deferrals = 0; // times this tab found its token already refreshed by another (for tests)
let nextRefreshAt = null;
let lastEmail = null;

function read() {
  let raw;
  try {
    raw = localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled (privacy mode): behave as signed out
  }
  if (!raw) return null;
  try {
    const value = JSON.parse(raw);
    if (!value || typeof value.token !== "string") return null;
    if (typeof value.email === "string") lastEmail = value.email;
    return value;
  } catch {
    return null;
  }
}

function write(value) {
  localStorage.setItem(KEY, JSON.stringify(value));
}

/**
 * Current session `{token, email, userId, issuedAt, expiresAt}` or null when signed
 * out or expired. `userId` comes from the token itself when /me has not answered yet.
 */
export function session() {
  const value = read();
  if (!value) return null;
  const claims = decodePayload(value.token);
  const current = { ...value, ...lifetime(value, claims) };
  if (!current.userId && typeof claims?.sub === "string") current.userId = claims.sub;
  // Treat a token as gone a few seconds before it really expires, so a request
  // never races its expiry.
  return isLive(current, Date.now()) ? current : null;
}

export function token() {
  return session()?.token ?? null;
}

export function isSignedIn() {
  return token() !== null;
}

/** The email of the last session this tab saw, to offer when signing in again. */
export function lastSignedInEmail() {
  return session()?.email ?? lastEmail;
}

function notify() {
  const current = session();
  announced = current?.token ?? null;
  schedule(current);
  for (const fn of listeners) {
    try {
      fn(current);
    } catch (err) {
      console.error(err);
    }
  }
}

/** Store a fresh sign-in. `expiresIn` is in seconds, as /signin and /token/refresh return it. */
export function storeSession({ token, expiresIn, email = null, userId = null }) {
  const issuedAt = Date.now();
  const expiresAt = typeof expiresIn === "number" ? issuedAt + expiresIn * 1000 : null;
  if (email) lastEmail = email;
  failures = 0;
  retryAfter = null;
  write({ token, issuedAt, expiresAt, email, userId });
  notify();
}

/** Add the user's details once /me has answered (keeps the token). */
export function updateSession(patch) {
  const current = read();
  if (!current) return;
  write({ ...current, ...patch });
  notify();
}

export function signOut() {
  try {
    localStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
  notify();
}

/** Call `fn(session|null)` whenever the sign-in state changes, in this tab or another. */
export function onAuthChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// ------------------------------------------------------------ keeping it alive

function later(fn, at) {
  return setTimeout(fn, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
}

/** Set this tab's two timers for the current token: its refresh, and its end. */
function schedule(current = session()) {
  clearTimeout(expiryTimer);
  clearTimeout(refreshTimer);
  nextRefreshAt = null;
  if (!current) return;
  // The listeners hear of the end when it comes (session() starts saying null then).
  if (current.expiresAt !== null) expiryTimer = later(check, current.expiresAt - EXPIRY_MARGIN_MS + 1);
  const due = failures ? Date.now() + retryDelay(failures, retryAfter) : refreshAt(current, jitter);
  if (due === null) return;
  nextRefreshAt = due;
  const planned = current.token;
  refreshTimer = later(() => refresh(planned), due);
}

/** Tell the listeners if the token changed or ran out since they last heard; else re-arm. */
function check() {
  if ((session()?.token ?? null) !== announced) notify();
  else schedule();
}

async function refresh(planned) {
  if (navigator.locks?.request) await navigator.locks.request(REFRESH_LOCK, () => refreshNow(planned));
  else await refreshNow(planned);
}

const spentLock = (token) => REFRESHED_LOCK + token.slice(-24);

/** Another tab has exchanged `token` (its storage write has not reached us yet). */
async function spentElsewhere(token) {
  if (!navigator.locks?.query) return false;
  const { held = [] } = await navigator.locks.query();
  return held.some((lock) => lock.name === spentLock(token));
}

/** Hold "`token` is spent" while it lives; resolves once the lock is ours (or taken). */
function markSpent(token, until) {
  if (!navigator.locks?.request) return Promise.resolve();
  return new Promise((granted) => {
    navigator.locks
      .request(spentLock(token), { ifAvailable: true }, (lock) => {
        granted();
        if (lock) return new Promise((done) => later(done, until ?? Infinity));
      })
      .catch(granted);
  });
}

async function refreshNow(planned) {
  const current = session();
  // Another tab refreshed (or signed out, or in as someone else) while we waited.
  if (!current || current.token !== planned) return check();
  if (await spentElsewhere(planned)) {
    // Its new token reaches this tab's storage in a moment (the storage event
    // reschedules); look again shortly in case that event never comes.
    deferrals += 1;
    clearTimeout(refreshTimer);
    refreshTimer = later(check, Date.now() + CATCH_UP_MS);
    return;
  }
  let response;
  try {
    response = await fetch("/token/refresh", {
      method: "POST",
      headers: { Accept: "application/json", Authorization: `Bearer ${planned}` },
      credentials: "same-origin",
    });
  } catch {
    return failed(null);
  }
  const body = await response.json().catch(() => null);
  if (read()?.token !== planned) return check(); // replaced while we asked
  if (response.ok && typeof body?.token === "string") {
    refreshes += 1;
    storeSession({ token: body.token, expiresIn: body.expiresIn, email: current.email, userId: current.userId });
    await markSpent(planned, current.expiresAt); // before the refresh lock goes
    return;
  }
  // The token or its account is dead: say so everywhere now, not at the next click.
  if (response.status === 401) return signOut();
  return failed(Number(response.headers.get("Retry-After")) || null);
}

function failed(seconds) {
  failures += 1;
  retryAfter = seconds;
  schedule();
}

window.addEventListener("storage", (event) => {
  // key === null means localStorage.clear() in another tab.
  if (event.key === KEY || event.key === null) {
    failures = 0; // another tab's token: its own schedule
    notify();
  }
});
// Timers stall while the machine sleeps and are slowed in background tabs: look again
// when the page comes back.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") check();
});
window.addEventListener("online", () => check());

/** Read-only hooks for tests: how this tab keeps the session alive. */
window.boxofficeAuth = {
  get nextRefreshAt() {
    return nextRefreshAt;
  },
  get refreshes() {
    return refreshes;
  },
  get deferrals() {
    return deferrals;
  },
};

announced = token();
schedule();
