// The event page's waiting room, its state: what the server said about the
// caller's place and the room, whether the map may hold seats now (it stays on
// screen to look at), and the REST calls. ./queueview.js shows it; which
// phase and its words are ../../queue.js's (pure).
//
// The socket drives it: {type: "queue"} (the caller's place, in every tab)
// and {type: "room"} (the room's counters). REST is for acting (join, leave)
// and the fallback: GET /events/{id}/queue at start, and every few seconds
// while in the queue and the socket brings no queue messages (a poll also
// keeps the place). A REST answer to a request sent before the last live
// message arrived may be older than it, and is dropped.

import { api, ApiError } from "../../api.js";
import { onAuthChange, session, updateSession } from "../../auth.js";
import { $ } from "../../dom.js";
import { formatDate } from "../../format.js";
import { forbiddenWords, gateView, joinRetryDelay, nextBaseline, PHASE_COUNTDOWN, PHASE_PREQUEUE, PHASE_SIGNIN, PHASE_WAITING } from "../../queue.js";
import { say } from "./actions.js";
import { now } from "./describe.js";
import { renderGate, speakChanges } from "./queueview.js";

const POLL_MS = 4000; // fallback poll, ±25 %: well inside the room's 60 s grace
const DRAW_RETRY_MS = 2000; // open but no place shown yet: ask again this often
const QUEUE_STATES = new Set(["waiting", "admitted"]);

const JOIN_RETRY_WORDS = "The box office is very busy right now. Trying again for you in a moment…";

export class QueuePanel {
  constructor(page) {
    this.page = page;
    this.view = null; // gateView's answer at the last sync
    this.eta = null; // the ETA bucket shown (kept while the estimate wobbles)
    this.lastMove = null; // {ahead, at}: the last place said aloud
    this.liveSeq = 0; // live queue messages so far; a REST answer asked before the last one is stale
    this.pollTimer = 0;
    this.joinTimer = 0; // a join sent again after the server could not answer (retryJoin)
    this.joinRetries = 0;
    this.joining = false;
    this.started = false;
    this.drawTimer = 0;
    this.who = null; // whose place page.queue is (a user id)
    this.openHint = ""; // the template's hint, for when the map holds seats
  }

  // ------------------------------------------------------------ inputs

  /** Start once the event is loaded: nothing to do for an event sold without a gate. */
  start() {
    const page = this.page;
    this.started = true;
    this.openHint = $("#map-hint").textContent;
    $("[data-testid=queue-join]").addEventListener("click", () => this.join());
    $("[data-testid=queue-leave]").addEventListener("click", () => this.leave());
    window.addEventListener("storage", (e) => {
      // Another tab joined, left or saw a new place: ask, unless the socket tells us anyway.
      if (e.key === this.baselineKey() && !page.liveQueue) this.refresh();
      else if (e.key === this.baselineKey()) this.sync();
    });
    onAuthChange((current) => {
      const who = current?.userId ?? null; // a refreshed token is the same person
      if (who !== this.who) {
        // Signed in or out, here or in another tab: another person's place, or none.
        this.who = who;
        this.rememberUser();
        page.queue = null;
        this.lastMove = null;
        this.eta = null;
        this.refresh();
      }
      this.sync(); // the same person, now with their id: maybe the organiser
    });
    this.who = session()?.userId ?? null;
    this.rememberUser();
    this.refresh();
    this.loadSummary();
    this.sync();
  }

  /** The event was cancelled: no queue, no shopper's clock, no more asking. */
  close() {
    clearTimeout(this.drawTimer);
    clearTimeout(this.pollTimer);
    clearTimeout(this.joinTimer);
    this.drawTimer = this.pollTimer = this.joinTimer = 0;
    for (const id of ["queue-panel", "shopper-bar", "organiser-note"]) $(`[data-testid=${id}]`).hidden = true;
    $("[data-testid=event-layout]").classList.remove("is-gated");
  }

  /** A `queue` message from the socket: this account's place, in every tab. */
  onQueue(msg) {
    this.page.liveQueue = true;
    this.liveSeq++;
    this.apply(msg);
  }

  /** A `room` message: only events with a room send them (the organiser may have just turned it on). */
  onRoom(msg) {
    const event = this.page.event;
    this.page.room = msg;
    if (event && !event.waitingRoom?.enabled) {
      event.waitingRoom = { ...event.waitingRoom, enabled: true };
      this.refresh();
    }
    this.sync();
  }

  /** The socket's state: queue messages come only over a live socket. */
  onLiveState(live) {
    if (!live) this.page.liveQueue = false;
    this.schedulePoll();
  }

  /**
   * A 403 from a hold or a booking: learn from it (a moved sale time, a room,
   * a place) and return the buyer's words for it, or null for other codes.
   */
  onForbidden(err) {
    const page = this.page;
    const body = err.body || {};
    if (err.code === "not_on_sale" && body.onSaleAt) page.event.onSaleAt = body.onSaleAt;
    if (err.code === "not_admitted") {
      page.event.waitingRoom = { ...page.event.waitingRoom, enabled: true };
      if (body.queue) this.apply(body.queue);
    }
    this.sync();
    return forbiddenWords(err.code, body, this.saleAtText());
  }

  /** Why the map may not hold a seat now (null: it may). */
  refusal() {
    const view = this.view;
    if (!view || view.mapUsable) return null;
    if (view.phase === PHASE_COUNTDOWN || !view.saleOpen) return `Tickets are not on sale yet: you can choose seats from ${this.saleAtText() || "the start of the sale"}.`;
    if (view.phase === PHASE_SIGNIN) return "Sign in and join the queue to choose seats.";
    if (view.phase === PHASE_WAITING || view.phase === PHASE_PREQUEUE) return "It is not your turn yet: you can choose seats when the queue lets you in.";
    return "Join the queue to choose seats: you can choose them when it is your turn.";
  }

  /** May the map hold seats? (Before the event is loaded: yes; it cannot anyway.) */
  get gated() {
    return Boolean(this.view && !this.view.mapUsable);
  }

  // ----------------------------------------------------------- REST

  get roomOn() {
    return Boolean(this.page.event?.waitingRoom?.enabled);
  }

  get organiser() {
    const event = this.page.event;
    const me = session();
    return Boolean(event && me && me.userId && me.userId === event.organiserId);
  }

  /** Join (or, from another tab, read the same place: joining again returns it). */
  async join() {
    if (this.joining) return;
    clearTimeout(this.joinTimer);
    this.joining = true;
    this.page.justBooked = false;
    this.sync();
    await this.call("POST", (status) => this.apply(status));
    this.joining = false;
    this.sync();
    moveFocus($("[data-testid=queue-join]"), $("[data-testid=queue-leave]"));
  }

  /** Join again later (queue.js's joinRetryDelay); false once the retries are spent. */
  retryJoin(retryAfter) {
    const delay = joinRetryDelay(retryAfter, this.joinRetries);
    if (delay === null) {
      this.joinRetries = 0; // a join the buyer presses starts a new round
      return false;
    }
    this.joinRetries += 1;
    clearTimeout(this.joinTimer);
    this.joinTimer = setTimeout(() => this.join(), delay);
    return true;
  }

  async leave() {
    clearTimeout(this.joinTimer);
    await this.call("DELETE", (status) => this.apply(status));
    moveFocus($("[data-testid=queue-leave]"), $("[data-testid=queue-join]"));
  }

  /** Ask for the place (start, fallback poll, sale just opened, another tab changed it). */
  async refresh() {
    if (!this.roomOn || !session() || this.organiser) return;
    await this.call("GET", (status) => this.apply(status));
  }

  async call(method, onAnswer) {
    const asked = this.liveSeq;
    try {
      const status = await api(`/events/${this.page.eventId}/queue`, { method });
      // A live message that came meanwhile is at least as new as this answer (the
      // socket says again whatever it has not said yet, so it never ends stale).
      if (method === "POST") this.joinRetries = 0;
      if (asked === this.liveSeq) onAnswer(status);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.code === "no_waiting_room") {
        // The organiser turned the room off: buyers hold directly.
        this.page.event.waitingRoom = { ...this.page.event.waitingRoom, enabled: false };
      } else if (method === "POST" && err.retryable && this.retryJoin(err.body?.retryAfter)) {
        // No answer, or a server too busy to give one (a 503 on an on-sale's join storm):
        // joining again returns the same place, so the page joins again by itself (a
        // few times, over a minute or so; then the buyer sees the error).
        say(this.page, JOIN_RETRY_WORDS);
      } else if (method !== "GET") say(this.page, err.message, "error");
    } finally {
      this.schedulePoll();
      this.sync();
    }
  }

  /** The organiser's counters before the first room message. */
  async loadSummary() {
    if (!this.roomOn || !this.organiser || this.page.room) return;
    try {
      const summary = await api(`/events/${this.page.eventId}/queue/summary`);
      if (!this.page.room) this.page.roomSummary = summary;
      this.sync();
    } catch {
      /* the room messages will bring the counters */
    }
  }

  schedulePoll(delay = POLL_MS * (0.75 + Math.random() * 0.5)) {
    clearTimeout(this.pollTimer);
    const page = this.page;
    if (page.cancelled || page.liveQueue || !this.roomOn || !session() || this.organiser) return;
    if (!QUEUE_STATES.has(page.queue?.state)) return;
    this.pollTimer = setTimeout(() => this.refresh(), delay);
  }

  /** The signed-in user's id, which tells the organiser apart (older sessions may lack it). */
  rememberUser() {
    const me = session();
    if (me && !me.userId) {
      api("/me")
        .then((user) => updateSession({ email: user.email, userId: user.id }))
        .catch(() => {});
    }
  }

  // ------------------------------------------------------------ state

  /** A place from the server (live or REST): keep it and the progress baseline, then show it. */
  apply(status) {
    if (!status || typeof status.state !== "string") return;
    const page = this.page;
    page.queue = status;
    const key = this.baselineKey();
    try {
      if (status.state === "waiting") {
        const stored = Number.parseInt(localStorage.getItem(key) ?? "", 10);
        const baseline = nextBaseline(Number.isInteger(stored) ? stored : null, status.ahead);
        if (baseline !== null && baseline !== stored) localStorage.setItem(key, String(baseline));
      } else if (status.state !== "admitted" && localStorage.getItem(key) !== null) {
        localStorage.removeItem(key);
      }
    } catch {
      /* no storage: the bar starts from what this tab saw */
    }
    this.sync();
  }

  baselineKey() {
    return `boxoffice.queue.${this.page.eventId}.${session()?.userId || "me"}`;
  }

  baseline() {
    try {
      const n = Number.parseInt(localStorage.getItem(this.baselineKey()) ?? "", 10);
      return Number.isInteger(n) ? n : null;
    } catch {
      return null;
    }
  }

  saleAtText() {
    const page = this.page;
    const at = page.room && "onSaleAt" in page.room ? page.room.onSaleAt : page.event?.onSaleAt;
    return formatDate(at);
  }

  /** Work out the phase again (each second, and on every input) and show it. */
  sync() {
    const page = this.page;
    if (!this.started || !page.event) return;
    if (page.cancelled) return this.close();
    const before = this.view;
    const view = gateView({
      event: page.event,
      queue: page.queue,
      room: page.room,
      now: now(page),
      organiser: this.organiser,
      signedIn: Boolean(session()),
      booked: page.justBooked,
    });
    this.view = view;
    speakChanges(this, before, view);
    renderGate(this, view);
    if (before && before.mapUsable !== view.mapUsable) page.tray.render();
    // The sale opened by the clock while we wait without a place: ask for it.
    if (view.phase === PHASE_WAITING && view.position === null && !this.drawTimer) {
      this.drawTimer = setTimeout(() => {
        this.drawTimer = 0;
        this.refresh();
      }, DRAW_RETRY_MS * (0.5 + Math.random()));
    }
  }

  /** Each second: countdowns, and the phase they may change. */
  tick() {
    this.sync();
  }
}

/** The button that had focus is gone (joined, left): keep the keyboard in the panel. */
function moveFocus(from, to) {
  const active = document.activeElement;
  if (!to.hidden && (active === from || active === document.body || active === null)) to.focus();
}
