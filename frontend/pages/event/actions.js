// What the event page does on the server: hold, release, book, and resync after
// a conflict; and how it tells the user (the message box and the live region).
//
// Every response is applied to the page's one SeatStore, so the map, the tray
// and every other tab agree. The page never guesses: a conflict shows a
// message and leaves the map to the server's truth.

import { api, ApiError, uuid } from "../../api.js";
import { isSignedIn } from "../../auth.js";
import { $, showMessage } from "../../dom.js";
import { formatCountdown, speakDuration } from "../../format.js";
import { KIND_BOOKED, KIND_MINE_BOOKED, KIND_MINE_HELD, KIND_OTHER_HELD, kindFor } from "../../seatdraw.js";
import { now, shortName } from "./describe.js";

/** Say something in the polite live region. */
export function announce(page, text) {
  // Clear first so repeating the same sentence is still announced.
  page.announcer.textContent = "";
  requestAnimationFrame(() => (page.announcer.textContent = text));
}

/** Show a message over the map. kind: "info" | "error" | "success". */
export function say(page, text, kind = "info") {
  // Errors are role=alert (announced at once); the rest go through the
  // always-present polite announcer, which screen readers pick up reliably.
  showMessage(page.messageBox, text, kind);
  if (kind !== "error") announce(page, text);
}

/** A seat was clicked or pressed: hold it, release it, or say why not. */
export async function onActivate(page, i) {
  const store = page.store;
  if (page.pending.has(i)) return;
  const kind = kindFor(store, i);
  if (kind === KIND_OTHER_HELD) {
    const left = store.heldUntil[i] - now(page);
    say(page, `${shortName(page, i)} is held by someone else${store.heldUntil[i] ? ` (free in ${formatCountdown(left)} unless they book it)` : ""}.`, "error");
    return;
  }
  if (kind === KIND_BOOKED) return say(page, `${shortName(page, i)} is already booked.`, "error");
  if (kind === KIND_MINE_BOOKED) return say(page, `You have booked ${shortName(page, i)}. Manage it in My bookings.`);
  if (page.gone) return say(page, page.gone, "error");
  if (!isSignedIn()) return say(page, "Sign in to hold seats.", "error");
  if (kind === KIND_MINE_HELD) return release(page, [i]); // releasing is always allowed
  // Before the sale or the buyer's turn the map is there to look at.
  const refusal = page.queuePanel.refusal();
  if (refusal) return say(page, refusal);
  return hold(page, { seatIds: [store.ids[i]] }, [i]);
}

function holdErrorMessage(page, err, indices) {
  const store = page.store;
  const names = indices.map((i) => shortName(page, i)).join(", ");
  if (err.status === 423) {
    const seats = Array.isArray(err.body?.seats) ? err.body.seats : [];
    const until = seats.map((s) => Date.parse(s.heldUntil)).filter(Number.isFinite);
    const free = until.length ? ` It may free up in ${formatCountdown(Math.min(...until) - now(page))}.` : "";
    const which = seats.length
      ? seats.map((s) => (store.indexById.has(s.id) ? shortName(page, store.indexById.get(s.id)) : s.id)).join(", ")
      : names;
    return `Someone else got there first: ${which} ${seats.length > 1 ? "are" : "is"} held.${free}`;
  }
  if (err.status === 409) {
    if (err.code && /limit|max/i.test(err.code)) return err.message;
    if (err.code === "seat_booked") return `Sorry, ${names || "that seat"} has just been booked.`;
    return err.message;
  }
  if (err.status === 401) return "Your sign-in has expired. Please sign in again.";
  if (err.status === 403) return page.queuePanel.onForbidden(err) ?? err.message;
  return err.message;
}

/** Hold seats: `body` is {seatIds} or {count, category}. Holding seats I already hold
 * gives my whole cart more time. Resolves to true, or to the message shown. */
const PICKED_MIN_PX = 16; // px a seat: below it, best available zooms to its pick
const PICKED_PX = 28; // and shows it this big

export async function hold(page, body, indices = []) {
  const { store, event } = page;
  const mine = store.myHeld();
  if (body.seatIds) {
    const adding = body.seatIds.filter((id) => !mine.includes(store.indexById.get(id)));
    if (mine.length + adding.length > event.maxSeatsPerUser) {
      const text = `You can hold up to ${event.maxSeatsPerUser} seats for this event.`;
      say(page, text, "error");
      return text;
    }
  }
  for (const i of indices) page.pending.add(i);
  try {
    const sent = Date.now();
    const result = await api(`/events/${page.eventId}/holds`, { method: "POST", body });
    const got = Date.now();
    // Our own seats: mark mine even if the response leaves `mine` out.
    const seats = (result.seats || []).map((s) => ({ ...s, status: "held", mine: true, heldUntil: s.heldUntil || result.expiresAt }));
    // A first hold ends a whole hold time from the server's now; a cart's later holds
    // may stop at its cap, which says nothing about the clock.
    if (!mine.length) learnClock(page, result.expiresAt, sent, got);
    store.applyChanges(seats, true);
    const held = seats.map((s) => store.indexById.get(s.id)).filter((i) => i !== undefined);
    if (body.count && held.length) {
      // Best available: show what it picked, close enough to see it (a big venue's
      // overview would show specks), then put the seat cursor on the first.
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      for (const i of held) {
        minX = Math.min(minX, store.x[i]);
        maxX = Math.max(maxX, store.x[i]);
        minY = Math.min(minY, store.y[i]);
        maxY = Math.max(maxY, store.y[i]);
      }
      if (page.map.view.scale < PICKED_MIN_PX) page.map.showArea(minX, minY, maxX, maxY, { pad: 6, maxScale: PICKED_PX });
      page.map.focusSeat(held[0], { announce: false });
    }
    const names = held.map((i) => shortName(page, i)).join(", ");
    const expires = result.expiresAt ? Date.parse(result.expiresAt) - now(page) : null;
    say(page, `Held ${names}${expires ? ` for ${speakDuration(expires)}` : ""}.`, "success");
    return true;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const text = holdErrorMessage(page, err, indices);
    say(page, text, "error");
    if (err.status === 409 || err.status === 423) resync(page);
    return text;
  } finally {
    for (const i of indices) page.pending.delete(i);
  }
}

/**
 * After a conflict our map was behind the server (a change is still on its
 * way, or was lost with a dropped socket): fetch the truth now. Versions make
 * this safe to race with the websocket: whichever is newer wins per seat.
 */
async function resync(page) {
  try {
    const fresh = await api(`/events/${page.eventId}`);
    page.store.applySnapshot(fresh.seats || []);
  } catch {
    /* the websocket will bring it */
  }
}

/** Learn how far our clock is off the server's, so countdowns match its expiry. */
function learnClock(page, expiresAt, sent, got) {
  const until = Date.parse(expiresAt);
  if (!Number.isFinite(until) || !page.event.holdSeconds) return;
  // The server set expiresAt = its now + holdSeconds, somewhere between sent and got.
  const serverNow = until - page.event.holdSeconds * 1000;
  const offset = serverNow - (sent + got) / 2;
  // Ignore offsets within the round trip: only fix clocks that are clearly off.
  page.clockOffset = Math.abs(offset) > got - sent + 250 ? offset : 0;
}

export async function release(page, indices) {
  const store = page.store;
  const ids = indices.map((i) => store.ids[i]);
  for (const i of indices) page.pending.add(i);
  try {
    const result = await api(`/events/${page.eventId}/holds`, { method: "DELETE", body: { seatIds: ids } });
    const released = Array.isArray(result?.released) ? result.released : ids;
    for (const id of released) store.setLocal(id, "available", false);
    say(page, `Released ${released.map((id) => shortName(page, store.indexById.get(id))).join(", ")}.`);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    say(page, err.message, "error");
  } finally {
    for (const i of indices) page.pending.delete(i);
  }
}

export async function releaseAll(page) {
  const held = page.store.myHeld();
  if (!held.length) return;
  await release(page, held);
}

/** Book every seat I hold, as one request. */
export async function book(page) {
  if (page.gone) return say(page, page.gone, "error");
  const store = page.store;
  const held = store.myHeld();
  if (!held.length || page.booking) return;
  const ids = held.map((i) => store.ids[i]).sort();
  const signature = ids.join(",");
  // Same seats as a failed attempt: same key, so the server can tell a retry
  // from a new booking and never books twice.
  if (!page.bookingAttempt || page.bookingAttempt.signature !== signature) page.bookingAttempt = { key: uuid(), signature };
  const buttons = [$("[data-testid=book-button]"), $("[data-testid=peek-book]")];
  page.booking = true;
  for (const button of buttons) {
    button.disabled = true;
    button.textContent = "Booking…";
  }
  try {
    const result = await api(`/events/${page.eventId}/bookings`, {
      method: "POST",
      body: { seatIds: ids },
      headers: { "Idempotency-Key": page.bookingAttempt.key },
    });
    page.bookingAttempt = null;
    const booked = (result.bookings || []).map((b) => b.seat?.id ?? b.seatId).filter(Boolean);
    for (const id of booked.length ? booked : ids) store.setLocal(id, "booked", true);
    page.justBooked = true; // a waiting room now ends this buyer's turn
    say(page, `Booked ${ids.length} seat${ids.length === 1 ? "" : "s"}: ${held.map((i) => shortName(page, i)).join(", ")}. See My bookings.`, "success");
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.retryable) {
      say(page, "The booking did not go through (connection problem). Press Book again to retry; you will not be charged twice.", "error");
    } else {
      page.bookingAttempt = null;
      if (err.status === 409 || err.status === 423) {
        say(page, `Could not book: ${err.message}`, "error");
        resync(page);
      } else if (err.status === 403) say(page, page.queuePanel.onForbidden(err) ?? err.message, "error");
      else say(page, err.message, "error");
    }
  } finally {
    page.booking = false;
    for (const button of buttons) button.textContent = "Book";
    page.tray.render();
  }
}
