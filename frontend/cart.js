// The buyer's cart on an event page: one timer for every seat they hold (the server
// gives all of a buyer's holds on an event one end), when to warn, when the holds
// have lapsed, and which lapsed seats can be held again. Pure: no DOM, no clock.

export const WARN_MAX_MS = 60_000; // a real sale warns a minute before the end
export const WARN_MIN_MS = 5_000;
export const LAPSE_SLACK_MS = 1_500; // seats gone this close to the end went with it
export const EXTEND_MIN_MS = 1_000; // "More time" that moved the end less than this: at the cap
// Holds that lapse while "More time" is on its way wait this long for its answer before
// the dialog says they went (the server holds them again if they were still free).
export const ANSWER_WAIT_MS = 2_000;

export const PHASE_NONE = "none"; // nothing held
export const PHASE_HOLDING = "holding";
export const PHASE_WARNING = "warning"; // the end is near: offer more time
export const PHASE_ENDING = "ending"; // the end has come; the server is releasing them

/** How long before the end to warn: a minute, or half the event's hold time if shorter
 * (a 20-second demo hold warns at 10 s), never under 5 s. */
export function warnBeforeMs(holdSeconds) {
  const hold = Number(holdSeconds) > 0 ? Number(holdSeconds) * 1000 : 600_000;
  return Math.max(WARN_MIN_MS, Math.min(WARN_MAX_MS, hold / 2));
}

/** The cart's end: the earliest end of the held seats (the server gives them one; the
 * earliest is the honest one while a change is on its way). null for none. */
export function cartEnd(ends) {
  const known = ends.filter((end) => Number.isFinite(end) && end > 0);
  return known.length ? Math.min(...known) : null;
}

/** Which phase the timer is in, `now` and `end` on the server's clock. */
export function cartPhase(end, now, warnMs) {
  if (end === null || end === undefined) return PHASE_NONE;
  const left = end - now;
  if (left <= 0) return PHASE_ENDING;
  return left <= warnMs ? PHASE_WARNING : PHASE_HOLDING;
}

/** Seats of the previous cart (`{ids, end}`) that are no longer held and went at its
 * end (the server released them): [] if they went earlier (released or booked by the
 * buyer) or are still held. */
export function lapsed(previous, heldIds, now, slackMs = LAPSE_SLACK_MS) {
  if (!previous || previous.end === null || now < previous.end - slackMs) return [];
  const still = new Set(heldIds);
  return previous.ids.filter((id) => !still.has(id));
}

/** Which lapsed seats can be held again: `seats` are [{id, status, mine}] as the map
 * shows them now. Free ones (and any already mine again) are offered; the rest are gone. */
export function reholdPlan(seats) {
  const free = [], gone = [], mine = [];
  for (const seat of seats) {
    if (seat.status === "available") free.push(seat.id);
    else if (seat.status === "held" && seat.mine) mine.push(seat.id);
    else gone.push(seat.id);
  }
  return { free, gone, mine };
}

/** Did "More time" move the end? (No: the cart is at its cap.) */
export function extended(before, after) {
  return Number.isFinite(before) && Number.isFinite(after) && after - before >= EXTEND_MIN_MS;
}

/** "A1", "A1 and A2", "A1, A2 and A3". */
export function listWords(names) {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

const plural = (names, one, many) => (names.length === 1 ? one : many);

/** What the expiry dialog says when it opens. */
export function lapsedWords(names) {
  return `Your hold on ${listWords(names)} ran out, so ${plural(names, "it was", "they were")} released for others to buy.`;
}

/** What the dialog says after "Hold them again", from the plan's names. */
export function reholdWords({ held = [], gone = [] }) {
  const parts = [];
  if (held.length) parts.push(`${listWords(held)} ${plural(held, "is", "are")} held for you again.`);
  if (gone.length) parts.push(`${listWords(gone)} ${plural(gone, "has", "have")} been taken by someone else.`);
  if (!held.length && !gone.length) parts.push("There is nothing to hold again.");
  return parts.join(" ");
}

/** The warning's sentence, `spoken` for the live region. */
export function warningWords(timeLeft, { atCap = false } = {}) {
  return atCap
    ? `Your seats will be released in ${timeLeft}. This is the longest they can be held: book now to keep them.`
    : `Your seats will be released in ${timeLeft}. Choose More time to keep them longer.`;
}
