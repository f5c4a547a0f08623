// What a buyer reads when the API says no: one sentence per error `code`, in one
// place. The server's `message` is for developers and logs; it never reaches the
// screen (api.js puts this wording in every ApiError's `message`).
//
// Pure: no DOM, no fetch. Every code the server can send (backend/errors.py,
// backend/web/errors.py) has an entry; frontend/tests/errors.test.js checks it.

import { speakDuration } from "./format.js";

const MAX_SEATS = (body) =>
  Number.isInteger(body?.limit)
    ? `You can have up to ${body.limit} seat${body.limit === 1 ? "" : "s"} for this event, held and booked together.`
    : "You have reached the most seats one person can have for this event.";

const WAIT = (body) => {
  const seconds = Number(body?.retryAfter);
  return Number.isFinite(seconds) && seconds > 0
    ? `Too many tries in a short time. Please wait ${speakDuration(seconds * 1000)} and try again.`
    : "Too many tries in a short time. Please wait a moment and try again.";
};

const QUOTA = (body) => {
  const seconds = Number(body?.retryAfter);
  if (!Number.isFinite(seconds) || seconds <= 0) return "You have reached today’s limit on new events and seats. Please try again later.";
  const hours = Math.round(seconds / 3600);
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  const when = seconds >= 5400 ? `${hours} hours` : `${minutes} minute${minutes === 1 ? "" : "s"}`;
  return `You have reached today’s limit on new events and seats. Please try again in about ${when}.`;
};

/** By code: a sentence, or a function of the error's body for one. */
export const WORDING = Object.freeze({
  // 400
  bad_request: "That request was not accepted. Please check it and try again.",
  invalid_input: "Some of the details were not accepted. Please check them and try again.",
  // 401
  not_authenticated: "You’re signed out. Please sign in to continue.",
  invalid_credentials: "Email or password is not right.",
  // 403
  forbidden: "That isn’t yours to change.",
  not_on_sale: "Tickets for this event are not on sale yet.",
  not_admitted: "It isn’t your turn to choose seats yet. Please wait in the queue.",
  // 404
  not_found: "We couldn’t find that. It may have been removed.",
  ticket_not_found: "This is not a ticket for this event. Check the code and try again.",
  account_not_found: "There is no account with that email. Ask them to sign up first.",
  // 405, 413
  method_not_allowed: "That can’t be done here.",
  too_large: "That request was too large to send.",
  // 409
  conflict: "That clashes with a change someone has just made. Please try again.",
  email_taken: "An account with this email already exists. Sign in instead.",
  seat_booked: "Sorry, someone has just booked that seat.",
  no_adjacent_seats: "There aren’t that many seats together right now. Try fewer seats or another category.",
  seat_limit: MAX_SEATS,
  event_has_bookings: "This event has bookings, so it can’t be deleted. Cancel it instead: its bookings are cancelled with it.",
  event_cancelled: "This event has been cancelled by its organiser, so its seats can no longer be held or booked.",
  event_has_holds: "Buyers are holding seats for this event. It can be deleted once their holds end.",
  no_waiting_room: "This event has no waiting room.",
  already_checked_in: "This ticket has already been used to get in.",
  cancelled: "This ticket was cancelled.",
  checked_in: "This ticket has been used at the door, so it can’t be cancelled.",
  idempotency_in_flight: "Your booking is still going through. Please wait a moment, then check My bookings.",
  // 422
  idempotency_key_reused: "Your seats changed while booking. Please press Book again.",
  // 423
  seat_held: "Someone else is holding that seat right now.",
  // 429
  throttled: WAIT,
  quota_exceeded: QUOTA,
  // 5xx
  unavailable: "The box office is very busy right now. Please try again in a moment.",
  internal_error: "Something went wrong on our side. Please try again.",
});

/** When a code is missing or unknown (a proxy's error page, a newer server): by status. */
const BY_STATUS = Object.freeze({
  0: "Could not reach the box office. Check your connection and try again.",
  400: WORDING.bad_request,
  401: WORDING.not_authenticated,
  403: WORDING.forbidden,
  404: WORDING.not_found,
  409: WORDING.conflict,
  422: "That request was not accepted. Please try again.",
  423: WORDING.seat_held,
  429: WORDING.throttled,
});

export const GENERIC = "Something went wrong. Please try again.";

/**
 * The buyer's sentence for an API error. `status`: the HTTP status (0: no answer);
 * `code` and `body`: the server's JSON, if any; `overrides`: a page's own words
 * for some codes (the sign-up form says what a valid email and password are).
 */
export function buyerMessage(status, code = null, body = null, overrides = {}) {
  const words =
    (code && Object.hasOwn(overrides, code) && overrides[code]) ||
    (code && Object.hasOwn(WORDING, code) && WORDING[code]) ||
    (Object.hasOwn(BY_STATUS, status) && BY_STATUS[status]) ||
    (status >= 500 ? WORDING.internal_error : GENERIC);
  return typeof words === "function" ? words(body) : words;
}
