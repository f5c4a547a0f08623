// The site header: shows signed-in / signed-out links and keeps them in step
// with other tabs. Imported by every page module.

import { api } from "./api.js";
import { onAuthChange, session, signOut, updateSession } from "./auth.js";
import { $, $$ } from "./dom.js";

function render(current) {
  const signedIn = current !== null;
  for (const el of $$("[data-auth]")) el.hidden = (el.dataset.auth === "in") !== signedIn;
  const email = $("[data-testid=nav-email]");
  if (email) email.textContent = current?.email ?? "";
  // Sign-in links bring you back to the page you were on.
  const here = location.pathname + location.search;
  for (const a of $$("a[href='/account/signin'], a[data-link=signin], a[data-link=signup]")) {
    if (location.pathname.startsWith("/account/")) continue;
    const base = a.dataset.link === "signup" ? "/account/signup" : "/account/signin";
    a.href = `${base}?next=${encodeURIComponent(here)}`;
  }
}

export function initNav() {
  render(session());
  onAuthChange(render);
  $("[data-testid=nav-signout]")?.addEventListener("click", () => {
    signOut();
  });
  // Fill in the email if we only have a token (e.g. it was stored by an older page).
  const current = session();
  if (current && !current.email) {
    api("/me", { reauth: false })
      .then((me) => updateSession({ email: me.email, userId: me.id }))
      .catch(() => {});
  }
}
