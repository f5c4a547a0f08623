// Sign-up form: POST /signup, then sign straight in.

import { api, ApiError } from "../api.js";
import { storeSession } from "../auth.js";
import { $, safeNext } from "../dom.js";
import { buyerMessage } from "../errors.js";
import { initNav } from "../nav.js";

initNav();

const form = $("[data-testid=signup-form]");
const error = $("[data-testid=form-error]");
const next = safeNext(new URLSearchParams(location.search).get("next"));
$("a[data-link=switch]").href = `/account/signin?next=${encodeURIComponent(next)}`;

function fail(text) {
  error.textContent = text;
  error.hidden = false;
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const email = form.email.value.trim();
  const password = form.password.value;
  if (!email.includes("@")) return fail("Enter a valid email address.");
  if (password.length < 8) return fail("Use at least 8 characters for your password.");
  const button = $("[data-testid=submit]");
  button.disabled = true;
  try {
    const user = await api("/signup", { method: "POST", body: { email, password }, auth: false });
    const session = await api("/signin", { method: "POST", body: { email, password }, auth: false });
    storeSession({ token: session.token, expiresIn: session.expiresIn, email: user.email, userId: user.id });
    location.assign(next);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    fail(buyerMessage(err.status, err.code, err.body, { invalid_input: "Enter a valid email address and a password of at least 8 characters." }));
    button.disabled = false;
  }
});
