// Token storage shared by every tab of this origin.
//
// The token lives in localStorage (never in a URL or a cookie we did not ask
// for), so all tabs see the same sign-in state. The `storage` event fires in
// *other* tabs when one tab writes, which is how sign-in / sign-out in one tab
// reaches the rest; we fire the same callbacks locally for the writing tab.

const KEY = "boxoffice.auth";
const listeners = new Set();

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
    return value;
  } catch {
    return null;
  }
}

/** Current session `{token, email, userId, expiresAt}` or null when signed out / expired. */
export function session() {
  const value = read();
  if (!value) return null;
  // Treat a token as gone a few seconds before it really expires, so a request
  // never races its expiry.
  if (typeof value.expiresAt === "number" && value.expiresAt - 5000 < Date.now()) return null;
  return value;
}

export function token() {
  return session()?.token ?? null;
}

export function isSignedIn() {
  return token() !== null;
}

function notify() {
  const current = session();
  for (const fn of listeners) {
    try {
      fn(current);
    } catch (err) {
      console.error(err);
    }
  }
}

/** Store a fresh sign-in. `expiresIn` is in seconds, as /signin returns it. */
export function storeSession({ token, expiresIn, email = null, userId = null }) {
  const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : null;
  localStorage.setItem(KEY, JSON.stringify({ token, expiresAt, email, userId }));
  notify();
}

/** Add the user's details once /me has answered (keeps the token). */
export function updateSession(patch) {
  const current = read();
  if (!current) return;
  localStorage.setItem(KEY, JSON.stringify({ ...current, ...patch }));
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

window.addEventListener("storage", (event) => {
  // key === null means localStorage.clear() in another tab.
  if (event.key === KEY || event.key === null) notify();
});
