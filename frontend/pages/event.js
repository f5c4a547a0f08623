// The event page: seat map, live updates, holds, the selection tray, booking.
//
// Data flow: GET /events/{id} builds the SeatStore; the websocket keeps it
// current (version-checked); our own hold / release / book responses are
// applied to the same store, so the map, the tray and every other tab agree.
// The page never guesses: a conflict shows a message and leaves the map to
// the server's truth.

import { api, ApiError, uuid } from "../api.js";
import { isSignedIn, onAuthChange, session, token } from "../auth.js";
import { $, h, showMessage } from "../dom.js";
import { formatCountdown, formatDate, formatMoney, speakDuration } from "../format.js";
import { LiveFeed, STATE_LIVE } from "../live.js";
import { initNav } from "../nav.js";
import {
  KIND_AVAILABLE,
  KIND_BOOKED,
  KIND_MINE_BOOKED,
  KIND_MINE_HELD,
  KIND_OTHER_HELD,
  kindFor,
  swatch,
} from "../seatdraw.js";
import { SeatMap } from "../seatmap.js";
import { SeatStore, STATUS_NAME } from "../seatstore.js";

initNav();

const main = $("#main");
const eventId = main.dataset.eventId;
const messageBox = $("[data-testid=message]");
const announcer = $("[data-testid=announcer]");
const indicator = $("[data-testid=ws-indicator]");

let event = null;
let store = null;
let map = null;
let live = null;
// Server clock minus ours, learned from hold responses, so countdowns match
// the server's expiry even when this machine's clock is off.
let clockOffset = 0;
const pending = new Set(); // seat indices with a request in flight
let bookingAttempt = null; // {key, signature}: reused on retry so a retry books nothing twice
let booking = false; // a booking request is in flight
let readyResolve;
const ready = new Promise((resolve) => (readyResolve = resolve));

// Read-only hooks for tests and debugging; nothing here can change state.
window.boxoffice = {
  ready,
  get seatCount() {
    return store ? store.size : 0;
  },
  get wsState() {
    return live ? live.state : null;
  },
  seatState(id) {
    return store ? store.seatState(id) : null;
  },
  seatIdByLabel(label) {
    if (!store) return null;
    const i = store.label.indexOf(label);
    return i >= 0 ? store.ids[i] : null;
  },
  /** Client (page) coordinates of a seat's centre, panning it into view if needed. */
  seatPoint(id) {
    const i = store?.indexById.get(id);
    if (i === undefined || !map) return null;
    return map.clientPoint(map.revealSeat(i));
  },
  /** Copy of the renderer's counters: {fullDraws, dirtyDraws, lastFullDrawMs, lastDirtySeats}. */
  get drawStats() {
    return map ? { ...map.stats } : null;
  },
  get myHeldSeatIds() {
    return store ? store.myHeld().map((i) => store.ids[i]) : [];
  },
};

const now = () => Date.now() + clockOffset;

function announce(text) {
  // Clear first so repeating the same sentence is still announced.
  announcer.textContent = "";
  requestAnimationFrame(() => (announcer.textContent = text));
}

function say(text, kind = "info") {
  // Errors are role=alert (announced at once); the rest go through the
  // always-present polite announcer, which screen readers pick up reliably.
  showMessage(messageBox, text, kind);
  if (kind !== "error") announce(text);
}

// ------------------------------------------------------------ descriptions

function money(price) {
  return price === null ? "" : formatMoney(price, event.currency);
}

function seatName(i) {
  const row = store.row[i], num = store.number[i];
  if (row !== "" && num !== null && num !== undefined) return `Row ${row}, seat ${num}`;
  return `Seat ${store.label[i]}`;
}

/** "E10" without the section prefix (the section is shown next to it). */
function rowSeat(i) {
  const row = store.row[i], num = store.number[i];
  return row !== "" && num !== null && num !== undefined ? `${row}${num}` : store.label[i];
}

function shortName(i) {
  return store.label[i] || seatName(i);
}

function statusText(i, { spoken = false } = {}) {
  switch (kindFor(store, i)) {
    case KIND_MINE_HELD: {
      const left = store.heldUntil[i] - now();
      return `held by you${store.heldUntil[i] ? `, ${spoken ? speakDuration(left) : formatCountdown(left)} left` : ""}`;
    }
    case KIND_OTHER_HELD: {
      const left = store.heldUntil[i] - now();
      return `held by someone else${store.heldUntil[i] ? `, free in ${spoken ? speakDuration(left) : formatCountdown(left)} unless booked` : ""}`;
    }
    case KIND_BOOKED:
      return "booked";
    case KIND_MINE_BOOKED:
      return "booked by you";
    default:
      return "available";
  }
}

/** "Row C, seat 12, available, £40" plus category, section and access. */
function describe(i) {
  const parts = [seatName(i), statusText(i, { spoken: true })];
  const price = money(store.price(i));
  if (price) parts.push(price);
  const cat = store.category(i);
  if (cat) parts.push(cat.name);
  if (store.section[i]) parts.push(store.section[i]);
  if (store.accessible[i]) parts.push("wheelchair accessible");
  return parts.join(", ");
}

function tooltip(i) {
  const cat = store.category(i);
  const lines = [];
  const where = [store.section[i], store.row[i] !== "" ? `Row ${store.row[i]}` : "", store.number[i] != null ? `Seat ${store.number[i]}` : ""].filter(Boolean);
  if (where.length) lines.push(where.join(" · "));
  if (cat) lines.push(`${cat.name} · ${money(cat.price)}`);
  if (store.accessible[i]) lines.push("Wheelchair accessible");
  const status = statusText(i);
  lines.push(status.charAt(0).toUpperCase() + status.slice(1));
  return { title: store.label[i] || seatName(i), lines, kind: ["available", "mine-held", "other-held", "booked", "mine-booked"][kindFor(store, i)] };
}

// ------------------------------------------------------------- actions

async function onActivate(i) {
  if (pending.has(i)) return;
  const kind = kindFor(store, i);
  if (kind === KIND_OTHER_HELD) {
    const left = store.heldUntil[i] - now();
    say(`${shortName(i)} is held by someone else${store.heldUntil[i] ? ` (free in ${formatCountdown(left)} unless they book it)` : ""}.`, "error");
    return;
  }
  if (kind === KIND_BOOKED) return say(`${shortName(i)} is already booked.`, "error");
  if (kind === KIND_MINE_BOOKED) return say(`You have booked ${shortName(i)}. Manage it in My bookings.`);
  if (!isSignedIn()) return say("Sign in to hold seats.", "error");
  if (kind === KIND_MINE_HELD) return release([i]);
  return hold({ seatIds: [store.ids[i]] }, [i]);
}

function holdErrorMessage(err, indices) {
  const names = indices.map(shortName).join(", ");
  if (err.status === 423) {
    const seats = Array.isArray(err.body?.seats) ? err.body.seats : [];
    const until = seats.map((s) => Date.parse(s.heldUntil)).filter(Number.isFinite);
    const free = until.length ? ` It may free up in ${formatCountdown(Math.min(...until) - now())}.` : "";
    const which = seats.length
      ? seats.map((s) => (store.indexById.has(s.id) ? shortName(store.indexById.get(s.id)) : s.id)).join(", ")
      : names;
    return `Someone else got there first: ${which} ${seats.length > 1 ? "are" : "is"} held.${free}`;
  }
  if (err.status === 409) {
    if (err.code && /limit|max/i.test(err.code)) return err.message;
    if (/booked/i.test(err.message)) return `Sorry, ${names || "that seat"} has just been booked.`;
    return err.message;
  }
  if (err.status === 401) return "Your sign-in has expired. Please sign in again.";
  return err.message;
}

/** Hold seats: `body` is {seatIds} or {count, category}. */
async function hold(body, indices = []) {
  if (body.seatIds) {
    const already = store.myHeld().length;
    if (already + body.seatIds.length > event.maxSeatsPerUser) {
      return say(`You can hold up to ${event.maxSeatsPerUser} seats for this event.`, "error");
    }
  }
  for (const i of indices) pending.add(i);
  try {
    const sent = Date.now();
    const result = await api(`/events/${eventId}/holds`, { method: "POST", body });
    const got = Date.now();
    // Our own seats: mark mine even if the response leaves `mine` out.
    const seats = (result.seats || []).map((s) => ({ ...s, status: "held", mine: true, heldUntil: s.heldUntil || result.expiresAt }));
    learnClock(result.expiresAt, sent, got);
    store.applyChanges(seats, true);
    const held = seats.map((s) => store.indexById.get(s.id)).filter((i) => i !== undefined);
    if (body.count && held.length) {
      map.focusSeat(held[0], { announce: false });
    }
    const names = held.map(shortName).join(", ");
    const expires = result.expiresAt ? Date.parse(result.expiresAt) - now() : null;
    say(`Held ${names}${expires ? ` for ${speakDuration(expires)}` : ""}.`, "success");
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    say(holdErrorMessage(err, indices), "error");
    if (err.status === 409 || err.status === 423) resync();
  } finally {
    for (const i of indices) pending.delete(i);
  }
}

/**
 * After a conflict our map was behind the server (a change is still on its
 * way, or was lost with a dropped socket): fetch the truth now. Versions make
 * this safe to race with the websocket: whichever is newer wins per seat.
 */
async function resync() {
  try {
    const fresh = await api(`/events/${eventId}`);
    store.applySnapshot(fresh.seats || []);
  } catch {
    /* the websocket will bring it */
  }
}

function learnClock(expiresAt, sent, got) {
  const until = Date.parse(expiresAt);
  if (!Number.isFinite(until) || !event.holdSeconds) return;
  // The server set expiresAt = its now + holdSeconds, somewhere between sent and got.
  const serverNow = until - event.holdSeconds * 1000;
  const offset = serverNow - (sent + got) / 2;
  // Ignore offsets within the round trip: only fix clocks that are clearly off.
  clockOffset = Math.abs(offset) > got - sent + 250 ? offset : 0;
}

async function release(indices) {
  const ids = indices.map((i) => store.ids[i]);
  for (const i of indices) pending.add(i);
  try {
    const result = await api(`/events/${eventId}/holds`, { method: "DELETE", body: { seatIds: ids } });
    const released = Array.isArray(result?.released) ? result.released : ids;
    for (const id of released) store.setLocal(id, "available", false);
    say(`Released ${released.map((id) => shortName(store.indexById.get(id))).join(", ")}.`);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    say(err.message, "error");
  } finally {
    for (const i of indices) pending.delete(i);
  }
}

async function releaseAll() {
  const held = store.myHeld();
  if (!held.length) return;
  await release(held);
}

async function book() {
  const held = store.myHeld();
  if (!held.length || booking) return;
  const ids = held.map((i) => store.ids[i]).sort();
  const signature = ids.join(",");
  // Same seats as a failed attempt: same key, so the server can tell a retry
  // from a new booking and never books twice.
  if (!bookingAttempt || bookingAttempt.signature !== signature) bookingAttempt = { key: uuid(), signature };
  const button = $("[data-testid=book-button]");
  booking = true;
  button.disabled = true;
  button.textContent = "Booking…";
  try {
    const result = await api(`/events/${eventId}/bookings`, {
      method: "POST",
      body: { seatIds: ids },
      headers: { "Idempotency-Key": bookingAttempt.key },
    });
    bookingAttempt = null;
    const booked = (result.bookings || []).map((b) => b.seat?.id ?? b.seatId).filter(Boolean);
    for (const id of booked.length ? booked : ids) store.setLocal(id, "booked", true);
    say(`Booked ${ids.length} seat${ids.length === 1 ? "" : "s"}: ${held.map(shortName).join(", ")}. See My bookings.`, "success");
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.retryable) {
      say("The booking did not go through (connection problem). Press Book again to retry; you will not be charged twice.", "error");
    } else {
      bookingAttempt = null;
      if (err.status === 409 || err.status === 423) {
        say(`Could not book: ${err.message}`, "error");
        resync();
      } else say(err.message, "error");
    }
  } finally {
    booking = false;
    button.textContent = "Book";
    renderTray();
  }
}

// ------------------------------------------------------------------ tray

let trayFrame = 0;
let traySignature = "";
function scheduleTray() {
  if (!trayFrame) trayFrame = requestAnimationFrame(renderTray);
}

function renderTray() {
  cancelAnimationFrame(trayFrame);
  trayFrame = 0;
  const signedIn = isSignedIn();
  $("[data-testid=tray-signedout]").hidden = signedIn;
  $("[data-testid=tray-signedin]").hidden = !signedIn;
  if (!store || !signedIn) {
    traySignature = "";
    return;
  }

  const held = store.myHeld();
  const bookedCount = store.myBookedCount();
  renderPeek(held);
  const button = $("[data-testid=book-button]");
  button.disabled = held.length === 0 || booking;
  // Rebuild only when my seats changed: other people's changes must not
  // re-create the list (that would steal keyboard focus from its buttons).
  const signature = `${held.map((i) => `${i}:${store.heldUntil[i]}`).join(",")}|${bookedCount}`;
  if (signature === traySignature) return;
  traySignature = signature;
  const list = $("[data-testid=tray-list]");
  const items = held.map((i) => {
    const cat = store.category(i);
    return h(
      "li",
      { class: "tray-item", dataset: { seatId: store.ids[i] }, "data-testid": "tray-item" },
      swatch(KIND_MINE_HELD, cat?.colour || "#6b7280", { size: 18 }),
      h("span", { class: "tray-seat" }, h("strong", { text: rowSeat(i) }), h("small", { text: [store.section[i], cat?.name].filter(Boolean).join(" · ") })),
      h("span", { class: "tray-price", text: money(store.price(i)) }),
      h("span", { class: "tray-time", "data-countdown": String(i), "aria-label": "time left" }),
      h("button", {
        type: "button",
        class: "btn btn-icon btn-small",
        "aria-label": `Release ${seatName(i)}`,
        title: "Release",
        "data-testid": "tray-release",
        text: "×",
        onclick: () => release([i]),
      }),
    );
  });
  list.replaceChildren(...items);
  $("[data-testid=tray-empty]").hidden = held.length > 0;
  $("[data-testid=tray-summary]").hidden = held.length === 0;
  $("[data-testid=release-all]").hidden = held.length === 0;
  const total = held.reduce((sum, i) => sum + (store.price(i) ?? 0), 0);
  $("[data-testid=tray-total]").textContent = money(total);
  if (held.length) button.setAttribute("aria-label", `Book ${held.length} seat${held.length === 1 ? "" : "s"} for ${money(total)}`);
  else button.removeAttribute("aria-label");

  const booked = $("[data-testid=tray-booked]");
  booked.hidden = bookedCount === 0;
  booked.replaceChildren(
    `You have booked ${bookedCount} seat${bookedCount === 1 ? "" : "s"} for this event. `,
    h("a", { href: "/my/bookings", text: "My bookings" }),
  );
  tickCountdowns();
}

let trayInView = false;

/** The phone's bottom bar: "2 seats · £80.00 · 9:41", hidden while the tray itself is on screen. */
function renderPeek(held = store.myHeld()) {
  const peek = $("[data-testid=tray-peek]");
  peek.hidden = held.length === 0 || trayInView || !isSignedIn();
  if (peek.hidden) return;
  const total = held.reduce((sum, i) => sum + (store.price(i) ?? 0), 0);
  const soonest = Math.min(...held.map((i) => store.heldUntil[i] || Infinity));
  const left = Number.isFinite(soonest) ? ` · ${formatCountdown(soonest - now())}` : "";
  $(".tray-peek-text", peek).textContent = `${held.length} seat${held.length === 1 ? "" : "s"} · ${money(total)}${left}`;
}

function tickCountdowns() {
  if (!store) return;
  let soonest = Infinity;
  for (const el of document.querySelectorAll("[data-countdown]")) {
    const i = Number(el.dataset.countdown);
    const until = store.heldUntil[i];
    if (!until) {
      el.textContent = "";
      continue;
    }
    soonest = Math.min(soonest, until);
    const left = until - now();
    el.textContent = left > 0 ? formatCountdown(left) : "expiring…";
    el.classList.toggle("is-urgent", left < 60_000);
  }
  const countdown = $("[data-testid=tray-countdown]");
  if (Number.isFinite(soonest)) {
    const left = soonest - now();
    countdown.textContent = left > 0 ? formatCountdown(left) : "expiring…";
    countdown.classList.toggle("is-urgent", left < 60_000);
  } else countdown.textContent = "–";
  if (!$("[data-testid=tray-peek]").hidden) renderPeek();
}

// ----------------------------------------------------------------- setup

function renderHeader() {
  document.title = `${event.name} · Boxoffice`;
  $("[data-testid=event-name]").textContent = event.name;
  const bits = [formatDate(event.startsAt), event.venue].filter(Boolean);
  const prices = event.categories.map((c) => c.price).filter((p) => typeof p === "number");
  if (prices.length) {
    const lo = Math.min(...prices), hi = Math.max(...prices);
    bits.push(lo === hi ? money(lo) : `${money(lo)} – ${money(hi)}`);
  }
  $("[data-testid=event-meta]").textContent = bits.join(" · ");
}

function renderLegend() {
  const firstColour = event.categories[0]?.colour || "#2563eb";
  const statuses = [
    [KIND_AVAILABLE, "Available"],
    [KIND_MINE_HELD, "Held by you"],
    [KIND_OTHER_HELD, "Held by others"],
    [KIND_BOOKED, "Booked"],
    [KIND_MINE_BOOKED, "Booked by you"],
  ];
  const items = statuses.map(([kind, text]) => h("li", {}, swatch(kind, firstColour), text));
  if (store.accessible.some((a) => a === 1)) items.push(h("li", {}, swatch(KIND_AVAILABLE, firstColour, { accessible: true }), "Wheelchair accessible"));
  $("[data-legend=status]").replaceChildren(...items);
  $("[data-legend=categories]").replaceChildren(
    ...event.categories.map((c) => h("li", {}, swatch(KIND_AVAILABLE, c.colour), h("span", { text: c.name }), h("span", { class: "legend-price", text: money(c.price) }))),
  );
  const select = $("[data-testid=best-category]");
  select.replaceChildren(h("option", { value: "", text: "Any category" }), ...event.categories.map((c) => h("option", { value: c.id, text: `${c.name} (${money(c.price)})` })));
  const count = $("[data-testid=best-count]");
  count.max = String(event.maxSeatsPerUser || 10);
}

function setIndicator(state) {
  indicator.dataset.wsState = state;
  $(".ws-text", indicator).textContent = state === STATE_LIVE ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
  indicator.title = state === STATE_LIVE ? "Seat changes appear as they happen" : "Trying to reconnect; the map will resync";
}

function bindControls() {
  $("[data-action=zoom-in]").addEventListener("click", () => map.zoomBy(1.5));
  $("[data-action=zoom-out]").addEventListener("click", () => map.zoomBy(1 / 1.5));
  $("[data-action=zoom-fit]").addEventListener("click", () => map.fit());
  $("[data-testid=book-button]").addEventListener("click", book);
  $("[data-testid=release-all]").addEventListener("click", releaseAll);
  $("[data-testid=best-form]").addEventListener("submit", (e) => {
    e.preventDefault();
    const count = Number.parseInt($("[data-testid=best-count]").value, 10);
    if (!Number.isInteger(count) || count < 1) return say("Enter how many seats you want.", "error");
    const category = $("[data-testid=best-category]").value;
    const body = { count };
    if (category) body.category = category;
    hold(body);
  });
}

async function load() {
  try {
    event = await api(`/events/${eventId}`);
  } catch (err) {
    $("[data-testid=seatmap-loading]").textContent = err.status === 404 ? "This event does not exist." : `Could not load the event: ${err.message}`;
    $("[data-testid=event-name]").textContent = err.status === 404 ? "Event not found" : "Seat map";
    return;
  }
  event.categories = event.categories || [];
  store = new SeatStore(event.seats || [], event.categories);
  event.seats = null; // the store has them; let the big array go
  renderHeader();
  renderLegend();
  const phone = window.matchMedia("(max-width: 640px)");
  map = new SeatMap($("[data-testid=seatmap]"), store, {
    onActivate,
    describe,
    tooltip,
    announce,
    // On a phone, a map as tall as the screen is mostly empty: size it to the venue.
    autoHeight: () => (phone.matches ? { min: 260, max: window.innerHeight * 0.62 } : null),
  });
  store.subscribe(() => scheduleTray());
  new IntersectionObserver(([entry]) => {
    trayInView = entry.isIntersecting;
    renderPeek();
  }).observe($("[data-testid=tray]"));
  bindControls();
  renderTray();
  setInterval(tickCountdowns, 1000);

  live = new LiveFeed(eventId, {
    getToken: token,
    onSnapshot: (seats) => {
      store.applySnapshot(seats);
      readyResolve(true);
    },
    onChanges: (changes) => store.applyChanges(changes),
    onState: setIndicator,
    onError: (message, code) => console.warn("live:", code, message),
  });
  live.start();

  let signedInAs = session()?.token ?? null;
  onAuthChange((current) => {
    const now = current?.token ?? null;
    if (now === signedInAs) return;
    signedInAs = now;
    // A different person (or nobody): `mine` flags are stale everywhere.
    if (!now) for (let i = 0; i < store.size; i++) if (store.mine[i]) store.setLocal(store.ids[i], STATUS_NAME[store.status[i]], false);
    bookingAttempt = null;
    live.reauthenticate();
    renderTray();
  });
}

load();
