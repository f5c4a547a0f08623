// The event page: seat map, live updates, holds, the selection tray, booking.
//
// Data flow: GET /events/{id} builds the SeatStore; the websocket keeps it
// current (version-checked); our own hold / release / book responses are
// applied to the same store, so the map, the tray and every other tab agree.
//
// All of the page's state is one object made by createPage() when the page
// starts; the modules in ./event/ take it as their first argument:
//   describe.js  how a seat is worded (names, status, accessible name, card)
//   actions.js   hold, release, book, resync; messages and announcements
//   tray.js      my held seats, the Book button, countdowns, the phone's bar
//   queuepanel.js  the sale time and the waiting room: the place, REST, may the map hold
//   queueview.js   the queue panel, the shopper's and organiser's bars, what is said aloud

import { api } from "../api.js";
import { onAuthChange, session, token } from "../auth.js";
import { $, h } from "../dom.js";
import { formatDate } from "../format.js";
import { LiveFeed, STATE_GONE, STATE_LIVE } from "../live.js";
import { initNav } from "../nav.js";
import { COLOURS, KIND_AVAILABLE, KIND_BOOKED, KIND_MINE_BOOKED, KIND_MINE_HELD, KIND_OTHER_HELD, swatch } from "../seatdraw.js";
import { SeatMap } from "../seatmap.js";
import { SeatStore, STATUS_NAME } from "../seatstore.js";
import { installInlineSignIn } from "../signindialog.js";
import { announce, book, hold, onActivate, releaseAll, say } from "./event/actions.js";
import { describe, money, sectionName, tooltip } from "./event/describe.js";
import { QueuePanel } from "./event/queuepanel.js";
import { Tray } from "./event/tray.js";

const COUNTDOWN_TICK_MS = 1000;
const GONE_DELETED = "This event has been removed by its organiser: its seats can no longer be held or booked.";
const GONE_CANCELLED = "This event has been cancelled by its organiser: its seats can no longer be held or booked.";
const GONE_UNKNOWN = "This event is no longer available.";

/** The page's state: everything that changes while it is open. */
function createPage() {
  let markReady;
  const ready = new Promise((resolve) => (markReady = resolve));
  const page = {
    gone: null, // why the event can no longer be bought from, once it cannot
    cancelled: false, // the organiser cancelled it (shown by showCancelled)
    eventId: $("#main").dataset.eventId,
    messageBox: $("[data-testid=message]"),
    announcer: $("[data-testid=announcer]"),
    indicator: $("[data-testid=ws-indicator]"),
    event: null, // GET /events/{id}, without its seats once the store has them
    store: null, // SeatStore
    map: null, // SeatMap
    live: null, // LiveFeed
    // Server clock minus ours, learned from hold responses, so countdowns match
    // the server's expiry even when this machine's clock is off.
    clockOffset: 0,
    pending: new Set(), // seat indices with a request in flight
    bookingAttempt: null, // {key, signature}: reused on retry so a retry books nothing twice
    booking: false, // a booking request is in flight
    ready, // resolves with the first snapshot
    markReady,
    tray: null,
    // The waiting room (issue 12): the caller's place and the room's counters,
    // as the server last said them (socket or REST); see ./event/queuepanel.js.
    queue: null, // {state, position, ahead, etaSeconds, admittedUntil?}
    room: null, // the socket's latest {type: "room"} message
    roomSummary: null, // the organiser's GET …/queue/summary, until a room message
    liveQueue: false, // this socket has sent a queue message: no need to poll
    justBooked: false, // booked in this turn: the room's "left" means done
    queuePanel: null,
  };
  page.tray = new Tray(page);
  page.queuePanel = new QueuePanel(page);
  return page;
}

/** Read-only hooks for tests and debugging; nothing here can change seats or holds. */
function exposeHooks(page) {
  window.boxoffice = {
    ready: page.ready,
    get seatCount() {
      return page.store ? page.store.size : 0;
    },
    get wsState() {
      return page.live ? page.live.state : null;
    },
    /** The live feed's silence deadline (25 s); a test shortens it to see the stale banner. */
    get liveDeadlineMs() {
      return page.live ? page.live.deadline : null;
    },
    set liveDeadlineMs(ms) {
      page.live?.setDeadline(ms);
    },
    seatState(id) {
      return page.store ? page.store.seatState(id) : null;
    },
    /** Zoomed out to the sections' shapes? And each shape's name and free count. */
    get overview() {
      return page.map ? page.map.overview() : false;
    },
    sections() {
      return page.map ? page.map.sectionShapes() : [];
    },
    /** Whether the minimap shows, and the venue point at the middle of the map. */
    get minimap() {
      return page.map ? !page.map.minimap.el.hidden : false;
    },
    get centre() {
      if (!page.map) return null;
      return page.map.view.toWorld(page.map.view.width / 2, page.map.view.height / 2);
    },
    /** The map's px per seat now. */
    get scale() {
      return page.map ? page.map.view.scale : 0;
    },
    /** Client (page) coordinates of a world point (a section's middle), or null off screen. */
    worldPoint(x, y) {
      if (!page.map) return null;
      const p = page.map.view.toScreen(x, y);
      const rect = page.map.canvas.getBoundingClientRect();
      if (p.x < 0 || p.y < 0 || p.x > rect.width || p.y > rect.height) return null;
      return { x: rect.left + p.x, y: rect.top + p.y };
    },
    seatIdByLabel(label) {
      const store = page.store;
      if (!store) return null;
      const i = store.label.indexOf(label);
      return i >= 0 ? store.ids[i] : null;
    },
    /** Client (page) coordinates of a seat's centre, panning it into view if needed. */
    seatPoint(id) {
      const i = page.store?.indexById.get(id);
      if (i === undefined || !page.map) return null;
      return page.map.clientPoint(page.map.revealSeat(i));
    },
    /** The row letters on screen: [{text, x, y, align, pinned}] (seatmap/captions.js). */
    get rowCaptions() {
      return page.map ? page.map.rowCaptions() : [];
    },
    /** One seat's pitch on screen in CSS px (a tap zooms below TAP_MIN_PX). */
    get seatPitch() {
      return page.map ? page.map.view.scale : null;
    },
    /** Copy of the renderer's counters: {fullDraws, dirtyDraws, lastFullDrawMs, lastDirtySeats}. */
    get drawStats() {
      return page.map ? { ...page.map.stats } : null;
    },
    get myHeldSeatIds() {
      const store = page.store;
      return store ? store.myHeld().map((i) => store.ids[i]) : [];
    },
    /** The waiting room as shown: {phase, mapUsable, position, ahead, …} (../queue.js gateView). */
    get gate() {
      const view = page.queuePanel.view;
      return view ? { ...view, liveQueue: page.liveQueue } : null;
    },
  };
}

function renderHeader(page) {
  const event = page.event;
  document.title = `${event.name} · Boxoffice`;
  $("[data-testid=event-name]").textContent = event.name;
  const bits = [formatDate(event.startsAt), event.venue].filter(Boolean);
  const prices = event.categories.map((c) => c.price).filter((p) => typeof p === "number");
  if (prices.length) {
    const lo = Math.min(...prices), hi = Math.max(...prices);
    bits.push(lo === hi ? money(page, lo) : `${money(page, lo)} – ${money(page, hi)}`);
  }
  $("[data-testid=event-meta]").textContent = bits.join(" · ");
}

function renderLegend(page) {
  const event = page.event;
  const neutral = COLOURS.uncategorised; // states are shapes; colours belong to categories
  const statuses = [
    [KIND_AVAILABLE, "Available"],
    [KIND_MINE_HELD, "Held by you"],
    [KIND_OTHER_HELD, "Held by others"],
    [KIND_BOOKED, "Booked"],
    [KIND_MINE_BOOKED, "Booked by you"],
  ];
  const items = statuses.map(([kind, text]) => h("li", {}, swatch(kind, neutral), text));
  if (page.store.accessible.some((a) => a === 1)) items.push(h("li", {}, swatch(KIND_AVAILABLE, neutral, { accessible: true }), "Wheelchair accessible"));
  $("[data-legend=status]").replaceChildren(...items);
  $("[data-legend=categories]").replaceChildren(
    ...event.categories.map((c) => h("li", {}, swatch(KIND_AVAILABLE, c.colour), h("span", { text: c.name }), h("span", { class: "legend-price", text: money(page, c.price) }))),
  );
  const select = $("[data-testid=best-category]");
  select.replaceChildren(h("option", { value: "", text: "Any category" }), ...event.categories.map((c) => h("option", { value: c.id, text: `${c.name} (${money(page, c.price)})` })));
  const count = $("[data-testid=best-count]");
  count.max = String(event.maxSeatsPerUser || 10);
  renderBestFilters(page);
}

/** Best available's filters, each only where the venue gives a choice. */
function renderBestFilters(page) {
  const store = page.store;
  const sections = [...new Set(store.section.filter(Boolean))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const prices = [...new Set(page.event.categories.map((c) => c.price).filter((p) => typeof p === "number"))].sort((a, b) => a - b);
  const accessible = store.accessible.some((a) => a === 1);
  const section = $("[data-testid=best-section]");
  section.replaceChildren(h("option", { value: "", text: "Any section" }), ...sections.map((name) => h("option", { value: name, text: sectionName(name) })));
  section.hidden = sections.length < 2;
  const price = $("[data-testid=best-price]");
  // A price range either way: up to each price but the top, from each but the lowest.
  price.replaceChildren(
    h("option", { value: "", text: "Any price" }),
    ...prices.slice(0, -1).map((p) => h("option", { value: `max:${p}`, text: `Up to ${money(page, p)}` })),
    ...prices.slice(1).map((p) => h("option", { value: `min:${p}`, text: `${money(page, p)} and more` })),
  );
  price.hidden = prices.length < 2;
  $("[data-testid=best-accessible-label]").hidden = !accessible;
  $("[data-testid=best-filters]").hidden = section.hidden && price.hidden && !accessible;
}

function setIndicator(page, state) {
  const indicator = page.indicator;
  indicator.dataset.wsState = state;
  if (state === STATE_GONE) {
    $(".ws-text", indicator).textContent = "Closed";
    indicator.title = "This event is no longer on sale";
    return;
  }
  $(".ws-text", indicator).textContent = state === STATE_LIVE ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
  indicator.title = state === STATE_LIVE ? "Seat changes appear as they happen" : "Trying to reconnect; the map will resync";
}

/** The organiser cancelled the event (as read with it, or told live): a banner that
 * stays, a greyed map, and every action refused with the same words. */
function showCancelled(page, cancelledAt) {
  if (page.cancelled) return;
  page.cancelled = true;
  page.gone = GONE_CANCELLED;
  const reason = page.event?.cancelReason;
  const when = cancelledAt ? formatDate(cancelledAt) : "";
  $("[data-testid=event-status]").replaceChildren(
    h(
      "div",
      { class: "cancelled-banner", "data-testid": "cancelled-banner" },
      h("strong", { text: "This event has been cancelled." }),
      h("p", { text: `The organiser cancelled it${when ? ` on ${when}` : ""}. Any bookings for it have been cancelled and its seats are no longer on sale.` }),
      reason ? h("p", { "data-testid": "cancel-reason", text: `Their message: “${reason}”` }) : null,
    ),
  );
  $("[data-testid=event-layout]").classList.add("is-cancelled");
  page.queuePanel.close();
  page.tray.render();
}

/** The connection is lost (stale) or back with a fresh snapshot: say so above the map. */
function setStale(page, stale) {
  const slot = $("[data-testid=stale-status]");
  if (!stale) return slot.replaceChildren();
  // Added to a polite live region that is always there, so it is announced once.
  slot.replaceChildren(
    h("p", { class: "stale-banner", "data-testid": "stale-banner" }, h("strong", { text: "Reconnecting" }), " — the map may be out of date. Seats will catch up as soon as the connection is back."),
  );
}

function bindControls(page) {
  $("[data-action=zoom-in]").addEventListener("click", () => page.map.zoomBy(1.5));
  $("[data-action=zoom-out]").addEventListener("click", () => page.map.zoomBy(1 / 1.5));
  $("[data-action=zoom-fit]").addEventListener("click", () => page.map.fit());
  $("[data-testid=book-button]").addEventListener("click", () => book(page));
  $("[data-testid=peek-book]").addEventListener("click", () => book(page));
  $("[data-testid=release-all]").addEventListener("click", () => releaseAll(page));
  $("[data-testid=best-form]").addEventListener("submit", (e) => {
    e.preventDefault();
    const count = Number.parseInt($("[data-testid=best-count]").value, 10);
    if (!Number.isInteger(count) || count < 1) return say(page, "Enter how many seats you want.", "error");
    const category = $("[data-testid=best-category]").value;
    const body = { count };
    if (category) body.category = category;
    const section = $("[data-testid=best-section]").value;
    if (section) body.section = section;
    const [bound, price] = $("[data-testid=best-price]").value.split(":");
    if (bound === "max") body.maxPrice = Number(price);
    if (bound === "min") body.minPrice = Number(price);
    if ($("[data-testid=best-accessible]").checked) body.accessible = true;
    hold(page, body);
  });
}

async function load(page) {
  try {
    page.event = await api(`/events/${page.eventId}`);
  } catch (err) {
    $("[data-testid=seatmap-loading]").textContent = err.status === 404 ? "This event does not exist." : `Could not load the event: ${err.message}`;
    $("[data-testid=event-name]").textContent = err.status === 404 ? "Event not found" : "Seat map";
    return;
  }
  const event = page.event;
  event.categories = event.categories || [];
  const store = (page.store = new SeatStore(event.seats || [], event.categories, event.stage));
  event.seats = null; // the store has them; let the big array go
  renderHeader(page);
  renderLegend(page);
  const phone = window.matchMedia("(max-width: 640px)");
  page.map = new SeatMap($("[data-testid=seatmap]"), store, {
    onActivate: (i) => onActivate(page, i),
    describe: (i) => describe(page, i),
    tooltip: (i) => tooltip(page, i),
    announce: (text) => announce(page, text),
    // On a phone, a map as tall as the screen is mostly empty: size it to the venue.
    autoHeight: () => (phone.matches ? { min: 260, max: window.innerHeight * 0.62 } : null),
  });
  store.subscribe(() => page.tray.schedule());
  new IntersectionObserver(([entry]) => {
    page.tray.inView = entry.isIntersecting;
    page.tray.renderPeek();
  }).observe($("[data-testid=book-button]")); // off screen: the peek bar books
  bindControls(page);
  page.tray.render();
  if (event.cancelledAt) showCancelled(page, event.cancelledAt);
  else page.queuePanel.start();
  setInterval(() => {
    page.tray.tick();
    page.queuePanel.tick();
  }, COUNTDOWN_TICK_MS);

  page.live = new LiveFeed(page.eventId, {
    getToken: token,
    onSnapshot: (seats) => {
      store.applySnapshot(seats);
      page.markReady(true);
    },
    onChanges: (changes) => store.applyChanges(changes),
    onQueue: (msg) => page.queuePanel.onQueue(msg),
    onRoom: (msg) => page.queuePanel.onRoom(msg),
    onState: (state) => {
      setIndicator(page, state);
      page.queuePanel.onLiveState(state === STATE_LIVE);
    },
    onStale: (stale) => setStale(page, stale),
    onError: (message, code) => console.warn("live:", code, message),
    onCancelled: (cancelledAt, reason) => {
      if (reason) page.event.cancelReason = reason;
      showCancelled(page, cancelledAt);
    },
    onGone: (reason) => {
      page.gone = reason === "deleted" ? GONE_DELETED : GONE_UNKNOWN;
      say(page, page.gone, "error");
      page.tray.render();
    },
  });
  page.live.start();

  // A refreshed token is the same person: nothing on the page changes.
  let signedInAs = session()?.userId ?? null;
  onAuthChange((current) => {
    const userId = current?.userId ?? null;
    if (userId === signedInAs) return;
    signedInAs = userId;
    // A different person (or nobody): `mine` flags are stale everywhere.
    if (!userId) for (let i = 0; i < store.size; i++) if (store.mine[i]) store.setLocal(store.ids[i], STATUS_NAME[store.status[i]], false);
    page.bookingAttempt = null;
    page.live.reauthenticate();
    page.tray.render();
  });
}

function start() {
  initNav();
  installInlineSignIn(); // a 401 asks to sign in here, and the action goes on
  const page = createPage();
  exposeHooks(page);
  load(page);
}

start();
