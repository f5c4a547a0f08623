// Sign in again without leaving the page: a modal dialog (email and password) that
// api.js opens when a request meets a 401, so a buyer whose sign-in lapsed keeps
// their place and their held seats (holds live on the server) and the action they
// were taking goes on once they are signed in.
//
// Native <dialog>: focus moves into it, Esc closes it, the page behind is inert.

import { api, ApiError, onSignInNeeded } from "./api.js";
import { lastSignedInEmail, storeSession } from "./auth.js";
import { h } from "./dom.js";

const TEXT = "Your sign-in has expired. Sign in again to carry on: seats you are holding stay yours while their time lasts.";
let pending = null; // one dialog, however many requests are waiting for it

/** Let api.js ask for a sign-in on this page. */
export function installInlineSignIn() {
  onSignInNeeded(askToSignIn);
}

/** Resolves true once signed in, false if the buyer closed the dialog. */
export function askToSignIn() {
  pending ??= new Promise((resolve) => open(resolve)).finally(() => (pending = null));
  return pending;
}

function field(id, label, attrs) {
  const input = h("input", { id, name: id, required: true, ...attrs });
  return [h("div", { class: "field" }, h("label", { for: id, text: label }), input), input];
}

function open(resolve) {
  const back = document.activeElement;
  const [emailField, email] = field("inline-signin-email", "Email", {
    type: "email",
    autocomplete: "email",
    value: lastSignedInEmail() ?? "",
    "data-testid": "signin-dialog-email",
  });
  const [passwordField, password] = field("inline-signin-password", "Password", {
    type: "password",
    autocomplete: "current-password",
    "data-testid": "signin-dialog-password",
  });
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "signin-dialog-error", hidden: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary", text: "Sign in", "data-testid": "signin-dialog-submit" });
  const cancel = h("button", { type: "button", class: "btn btn-ghost", text: "Not now", "data-testid": "signin-dialog-cancel" });
  const form = h("form", { class: "form", novalidate: true }, emailField, passwordField, error, h("div", { class: "signin-dialog-actions" }, submit, cancel));
  const dialog = h(
    "dialog",
    { class: "signin-dialog", "aria-labelledby": "inline-signin-title", "aria-describedby": "inline-signin-text", "data-testid": "signin-dialog" },
    h("h2", { id: "inline-signin-title", text: "Sign in to continue" }),
    h("p", { id: "inline-signin-text", text: TEXT }),
    form,
  );
  let signedIn = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!email.value.trim() || !password.value) {
      error.textContent = "Enter your email and password.";
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const body = { email: email.value.trim(), password: password.value };
      const result = await api("/signin", { method: "POST", body, auth: false });
      storeSession({ token: result.token, expiresIn: result.expiresIn, email: body.email });
      signedIn = true;
      dialog.close();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      error.textContent = err.message; // invalid_credentials: "Email or password is not right."
      error.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (back instanceof HTMLElement && back.isConnected) back.focus();
    resolve(signedIn);
  });

  document.body.append(dialog);
  dialog.showModal();
  (email.value ? password : email).focus();
}
