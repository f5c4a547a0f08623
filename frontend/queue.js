// The waiting room as the event page shows it: which panel, what it says, and
// when to say it aloud. Pure: no DOM, no clock of its own (the caller passes
// `now`), so every rule here has a Node test (frontend/tests/queue.test.js).
//
// Inputs are what the server said, as it said it:
//   event  GET /events/{id}: {onSaleAt: iso|null, waitingRoom: {enabled, maxShoppers, shopperSeconds}}
//   queue  the caller's place, from POST/GET /events/{id}/queue or the socket's
//          {type: "queue"} message: {state, position, ahead, etaSeconds, admittedUntil?}
//   room   the socket's {type: "room"} message: {waiting, shopping, maxShoppers,
//          admissionsPerMinute, onSaleAt, open}

import { formatCountdown } from "./format.js";

// What the page shows, one phase at a time.
export const PHASE_OPEN = "open"; // no sale time ahead and no room: the map as always
export const PHASE_ORGANISER = "organiser"; // the organiser: the map as always, with a note
export const PHASE_COUNTDOWN = "countdown"; // on sale later, no room: a countdown, the map only to look at
export const PHASE_SIGNIN = "signin"; // a room, signed out: sign in to join
export const PHASE_CHECKING = "checking"; // a room, signed in, the place not known yet
export const PHASE_JOIN = "join"; // a room, not in it (never joined, left, ran out): join
export const PHASE_PREQUEUE = "prequeue"; // joined before the sale: places are drawn at the start
export const PHASE_WAITING = "waiting"; // in the queue (position null only while the draw is revealed)
export const PHASE_SHOPPING = "shopping"; // admitted: the map, and the time left to buy

/** Epoch ms of an ISO time, or null. */
export function parseTime(iso) {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** The event's sale time: a `room` message may carry a newer one than the page loaded. */
export function saleTime(event, room = null) {
  if (room && "onSaleAt" in room) return parseTime(room.onSaleAt);
  return parseTime(event?.onSaleAt);
}

/**
 * Where the page stands. `organiser`: the caller organises the event (exempt
 * from both gates). `booked`: the caller booked in this turn (after a booking
 * the room says `left`: their turn is over, they did not walk away).
 *
 * Returns {phase, mapUsable, saleOpen, untilSale (ms|null), reason, position,
 * ahead, etaSeconds, shopLeft (ms|null)}. `reason` says why a JOIN phase is
 * there: null (never joined), "left", "expired" or "done" (booked).
 */
export function gateView({ event, queue = null, room = null, now, organiser = false, signedIn = false, booked = false }) {
  const onSaleAt = saleTime(event, room);
  const roomOn = Boolean(event?.waitingRoom?.enabled);
  // The clock decides when the sale opens; a room that says it is open wins
  // over a clock that is a little behind the server's.
  const saleOpen = onSaleAt === null || now >= onSaleAt || room?.open === true;
  const untilSale = onSaleAt === null || saleOpen ? null : onSaleAt - now;
  const view = { phase: PHASE_OPEN, mapUsable: true, saleOpen, untilSale, reason: null, position: null, ahead: null, etaSeconds: null, shopLeft: null };
  if (!roomOn && saleOpen) return view;
  if (organiser) return { ...view, phase: PHASE_ORGANISER };
  if (!roomOn) return { ...view, phase: PHASE_COUNTDOWN, mapUsable: false };
  const gated = { ...view, mapUsable: false };
  if (!signedIn) return { ...gated, phase: PHASE_SIGNIN };
  if (!queue) return { ...gated, phase: PHASE_CHECKING };
  switch (queue.state) {
    case "waiting": {
      if (!saleOpen) return { ...gated, phase: PHASE_PREQUEUE };
      const ahead = Number.isInteger(queue.ahead) ? queue.ahead : null;
      const position = Number.isInteger(queue.position) ? queue.position : null;
      const etaSeconds = Number.isFinite(queue.etaSeconds) ? queue.etaSeconds : null;
      return { ...gated, phase: PHASE_WAITING, position, ahead, etaSeconds };
    }
    case "admitted": {
      const until = parseTime(queue.admittedUntil);
      const shopLeft = until === null ? null : until - now;
      // Past its end the server will say "expired" (and release the holds) at
      // its next round; the page does not wait to stop offering seats.
      if (shopLeft !== null && shopLeft <= 0) return { ...gated, phase: PHASE_JOIN, reason: "expired" };
      return { ...view, phase: PHASE_SHOPPING, shopLeft };
    }
    case "expired":
      return { ...gated, phase: PHASE_JOIN, reason: "expired" };
    case "left":
      return { ...gated, phase: PHASE_JOIN, reason: booked ? "done" : "left" };
    default:
      return { ...gated, phase: PHASE_JOIN };
  }
}

// ------------------------------------------------------------- countdowns

const DAY_MS = 86_400_000;

/** "4:05", "1:02:03", "2 days 3:04:05": a countdown that never goes negative. */
export function countdownText(ms) {
  const left = Math.max(0, ms);
  if (left < DAY_MS) return formatCountdown(left);
  // Round up as formatCountdown does, so the text reaches 0 exactly at the time.
  const total = Math.ceil(left / 1000);
  const days = Math.floor(total / 86_400);
  return `${days} day${days === 1 ? "" : "s"} ${formatCountdown((total % 86_400) * 1000)}`;
}

/** "5 minutes", "1 hour", "30 seconds", "2 days": a milestone as spoken. */
export function speakSeconds(seconds) {
  const unit = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (seconds >= 86_400 && seconds % 86_400 === 0) return unit(seconds / 86_400, "day");
  if (seconds >= 3600 && seconds % 3600 === 0) return unit(seconds / 3600, "hour");
  if (seconds >= 60 && seconds % 60 === 0) return unit(seconds / 60, "minute");
  return unit(seconds, "second");
}

// A screen reader hears a countdown when it passes one of these (seconds
// left), never every second: the visible timer is role=timer, which is silent.
export const SALE_MILESTONES = [86_400, 21_600, 3600, 1800, 600, 300, 120, 60, 30, 10];
export const SHOP_MILESTONES = [300, 120, 60, 30];

/**
 * The milestone (in seconds) a countdown passed between two readings `before`
 * and `after` (ms left), or null. Several at once (a tab that slept): the
 * last one passed, the only one still true.
 */
export function passedMilestone(before, after, milestones = SALE_MILESTONES) {
  if (before === null || after === null || after >= before) return null;
  let passed = null;
  for (const m of milestones) if (before > m * 1000 && after <= m * 1000) passed = m;
  return passed;
}

// -------------------------------------------------------------------- ETA

// The wait as words: rounded to a step that grows with the wait, and sticky,
// so an estimate that wobbles around a boundary (59 s, 61 s, 58 s …) does not
// make the words jump back and forth. Buckets: [lo, hi) seconds.
const ETA_STEPS = [
  // up to (seconds), step (seconds)
  [600, 60], // under 10 minutes: to the minute
  [3600, 300], // under an hour: to 5 minutes
  [3 * 3600, 900], // under 3 hours: to a quarter of an hour
  [Infinity, 3600], // beyond: to the hour
];
const SOON_S = 45; // under this: "less than a minute"

/** The bucket an estimate falls in: {key, lo, hi, words}. */
export function etaBucket(seconds) {
  if (seconds <= 0) return { key: 0, lo: -Infinity, hi: 1, words: "any moment now" };
  if (seconds < SOON_S) return { key: 1, lo: 1, hi: SOON_S, words: "less than a minute" };
  let from = SOON_S;
  for (const [upTo, step] of ETA_STEPS) {
    const rounded = Math.max(step, Math.round(seconds / step) * step);
    if (rounded < upTo || upTo === Infinity) {
      const lo = Math.max(from, rounded - step / 2);
      return { key: rounded, lo, hi: rounded + step / 2, words: `about ${durationWords(rounded)}` };
    }
    from = upTo - step / 2;
  }
  return null; // unreachable: the last step has no upper bound
}

/** "1 minute", "25 minutes", "1 hour 15 minutes", "4 hours". */
export function durationWords(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  const parts = [];
  if (h) parts.push(`${h} hour${h === 1 ? "" : "s"}`);
  if (m || !h) parts.push(`${m} minute${m === 1 ? "" : "s"}`);
  return parts.join(" ");
}

/**
 * The words for an estimate, given the bucket shown before (or null): the old
 * bucket stays while the estimate is within it or a margin around it (a fifth
 * of its width, at least 10 s). null seconds (not measured yet) is null.
 */
export function stableEta(seconds, previous = null) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return null;
  if (previous && previous.key !== 0 && seconds > 0) {
    const width = Number.isFinite(previous.lo) ? previous.hi - previous.lo : previous.hi;
    const margin = Math.max(10, width / 5);
    if (seconds >= previous.lo - margin && seconds < previous.hi + margin) return previous;
  }
  return etaBucket(seconds);
}

// --------------------------------------------------------------- progress

/**
 * How far through the queue: {value, max} for a <progress>, counted in people
 * passed since the most people ahead the account has seen (`baseline`, kept
 * by the page for all its tabs). Nobody ahead is nearly full, not full: full
 * is being let in.
 */
export function queueProgress(baseline, ahead) {
  if (!Number.isInteger(ahead)) return null;
  const start = Math.max(baseline ?? ahead, ahead);
  return { value: start - ahead, max: start + 1 };
}

/** The new baseline after seeing `ahead` (the most ever seen in this place). */
export function nextBaseline(baseline, ahead) {
  if (!Number.isInteger(ahead)) return baseline ?? null;
  return Math.max(baseline ?? ahead, ahead);
}

// ----------------------------------------------------------- announcements

const ANNOUNCE_EVERY_MS = 30_000; // at most this often for ordinary moves
const ANNOUNCE_NEAR = 5; // within this many of the front, every move

/**
 * Should a move in the queue be said aloud? `last` is {ahead, at} of the last
 * one said (or null). Said: the first place, every move near the front, a big
 * move (a quarter of the way, at least 10 people), or any move after 30 s.
 */
export function shouldAnnounceMove(last, ahead, now) {
  if (!Number.isInteger(ahead)) return false;
  if (!last || !Number.isInteger(last.ahead)) return true;
  if (ahead === last.ahead) return false;
  if (ahead < ANNOUNCE_NEAR) return true;
  if (Math.abs(last.ahead - ahead) >= Math.max(10, last.ahead / 4)) return true;
  return now - last.at >= ANNOUNCE_EVERY_MS;
}

// ------------------------------------------------------------------ words

const counts = new Intl.NumberFormat(undefined);

/** "1,234 in the queue · 200 shopping" from a `room` message, or "". */
export function demandText(room) {
  if (!room || !Number.isInteger(room.waiting) || !Number.isInteger(room.shopping)) return "";
  return `${counts.format(room.waiting)} in the queue · ${counts.format(room.shopping)} shopping`;
}

/** "You are number 57 in the queue. 56 people are ahead of you. Estimated wait about 3 minutes." */
export function speakPlace(view, eta) {
  if (view.position === null) return "The sale has opened. Your place in the queue is being drawn.";
  const ahead = view.ahead === 0 ? "Nobody is ahead of you." : `${counts.format(view.ahead)} ${view.ahead === 1 ? "person is" : "people are"} ahead of you.`;
  const wait = eta ? ` Estimated wait ${eta.words}.` : "";
  return `You are number ${counts.format(view.position)} in the queue. ${ahead}${wait}`;
}

/** The panel's heading and sentence for a phase. `saleAt` is the sale time as shown ("24 Nov 2026, 19:00"). */
export function panelWords(view, saleAt = "") {
  switch (view.phase) {
    case PHASE_COUNTDOWN:
      return { heading: "Not on sale yet", text: `Tickets go on sale${saleAt ? ` on ${saleAt}` : " soon"}. You can look at the seats now and choose them from then.` };
    case PHASE_SIGNIN:
      return view.saleOpen
        ? { heading: "Waiting room", text: "This sale has a waiting room: sign in to join the queue. You can choose seats when it is your turn." }
        : { heading: "Not on sale yet", text: `Tickets go on sale${saleAt ? ` on ${saleAt}` : " soon"}, through a waiting room. Sign in to join the queue.` };
    case PHASE_CHECKING:
      return { heading: "Waiting room", text: "Checking your place in the queue…" };
    case PHASE_JOIN: {
      const before = view.saleOpen ? "" : " Everyone who joins before the sale starts gets a place in random order, so there is no need to hurry.";
      if (view.reason === "expired") return { heading: "Your time to shop ran out", text: "Seats you held have been released. Join the queue again to have another turn." };
      if (view.reason === "done") return { heading: "Your turn is over", text: "Thank you for booking. To buy more seats, join the queue again." };
      if (view.reason === "left") return { heading: "You left the queue", text: `Join again to get a new place at the back of the queue.${before}` };
      return view.saleOpen
        ? { heading: "Waiting room", text: "Join the queue to choose seats: people are let in a few at a time, in the order they joined." }
        : { heading: "Not on sale yet", text: `Tickets go on sale${saleAt ? ` on ${saleAt}` : " soon"}.${before}` };
    }
    case PHASE_PREQUEUE:
      return { heading: "You are in the queue", text: "When the sale starts, everyone who joined before then gets a place in random order. Keep this page open: it will show your place then." };
    case PHASE_WAITING:
      return view.position === null
        ? { heading: "You are in the queue", text: "The sale has opened: your place is being drawn." }
        : { heading: "You are in the queue", text: "Keep this page open: it lets you in when it is your turn." };
    default:
      return { heading: "", text: "" };
  }
}

/** The words for a 403 from a hold or a booking, by its code; null for other codes. */
export function forbiddenWords(code, body = null, saleAt = "") {
  if (code === "not_on_sale") return `Tickets are not on sale yet${saleAt ? `: the sale starts on ${saleAt}` : ""}. You can choose seats from then.`;
  if (code !== "not_admitted") return null;
  switch (body?.queue?.state) {
    case "waiting":
      return "It is not your turn yet: you are in the queue, and can choose seats once you are let in.";
    case "expired":
      return "Your time to shop ran out and your held seats were released. Join the queue again for another turn.";
    default:
      return "Join the queue first: you can choose seats when it is your turn.";
  }
}

/** A join the server could not answer is sent again by itself this many times. */
export const JOIN_RETRIES = 6;

/**
 * How long to wait before sending a join again after `failures` failures in a row
 * (0 for the first), or null once JOIN_RETRIES have failed: the Retry-After (1 s without
 * one), doubled for each failure (up to 16×), spread over twice that by `random` (0-1),
 * so thousands of pages turned away at once come back over a growing window, not all
 * together to be turned away again. In all, 47-94 s before the page gives up.
 */
export function joinRetryDelay(retryAfter, failures, random = Math.random()) {
  if (failures >= JOIN_RETRIES) return null;
  const seconds = Number(retryAfter) > 0 ? Number(retryAfter) : 1;
  return seconds * 1000 * 2 ** Math.min(failures, 4) * (1 + random);
}
