// Sign-in form: POST /signin, keep the token in localStorage, go back.

import { api, ApiError } from "../api.js";
import { storeSession, updateSession } from "../auth.js";
import { $, safeNext } from "../dom.js";
import { initNav } from "../nav.js";

initNav();

export async function signIn(email, password) {
  const result = await api("/signin", { method: "POST", body: { email, password }, auth: false });
  storeSession({ token: result.token, expiresIn: result.expiresIn, email });
  try {
    const me = await api("/me");
    updateSession({ email: me.email, userId: me.id });
  } catch {
    /* the email we typed is good enough for the header */
  }
}

const form = $("[data-testid=signin-form]");
const error = $("[data-testid=form-error]");
const next = safeNext(new URLSearchParams(location.search).get("next"));
$("a[data-link=switch]").href = `/account/signup?next=${encodeURIComponent(next)}`;

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const email = form.email.value.trim();
  const password = form.password.value;
  if (!email || !password) {
    error.textContent = "Enter your email and password.";
    error.hidden = false;
    return;
  }
  const button = $("[data-testid=submit]");
  button.disabled = true;
  try {
    await signIn(email, password);
    location.assign(next);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    error.textContent = err.status === 401 ? "Email or password is not right." : err.message;
    error.hidden = false;
    button.disabled = false;
  }
});
