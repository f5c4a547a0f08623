// queue.js: which panel the event page shows, countdowns, ETA words, progress
// and when a move in the queue is said aloud.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  countdownText,
  demandText,
  durationWords,
  etaBucket,
  forbiddenWords,
  gateView,
  JOIN_RETRIES,
  joinRetryDelay,
  nextBaseline,
  panelWords,
  passedMilestone,
  PHASE_CHECKING,
  PHASE_COUNTDOWN,
  PHASE_JOIN,
  PHASE_OPEN,
  PHASE_ORGANISER,
  PHASE_PREQUEUE,
  PHASE_SHOPPING,
  PHASE_SIGNIN,
  PHASE_WAITING,
  queueProgress,
  SHOP_MILESTONES,
  shouldAnnounceMove,
  speakPlace,
  speakSeconds,
  stableEta,
} from "../queue.js";

const NOW = Date.parse("2030-01-02T18:00:00Z");
const iso = (ms) => new Date(ms).toISOString();
const event = (onSaleAt = null, enabled = false) => ({ onSaleAt: onSaleAt === null ? null : iso(onSaleAt), waitingRoom: { enabled, maxShoppers: 200, shopperSeconds: 600 } });
const count = (n) => new Intl.NumberFormat(undefined).format(n);

describe("gateView: which panel, and whether the map can be used", () => {
  test("no sale time and no room: the map as always", () => {
    const view = gateView({ event: event(), now: NOW, signedIn: true });
    assert.equal(view.phase, PHASE_OPEN);
    assert.equal(view.mapUsable, true);
    assert.equal(view.untilSale, null);
  });

  test("a sale time in the past and no room: open", () => {
    assert.equal(gateView({ event: event(NOW - 1), now: NOW }).phase, PHASE_OPEN);
    assert.equal(gateView({ event: event(NOW), now: NOW }).phase, PHASE_OPEN, "open at the very millisecond");
  });

  test("a sale time ahead and no room: a countdown, the map only to look at", () => {
    const view = gateView({ event: event(NOW + 90_000), now: NOW, signedIn: true });
    assert.equal(view.phase, PHASE_COUNTDOWN);
    assert.equal(view.mapUsable, false);
    assert.equal(view.untilSale, 90_000);
    assert.equal(gateView({ event: event(NOW + 90_000), now: NOW + 90_000 }).phase, PHASE_OPEN, "then the map opens at the time");
  });

  test("the organiser is exempt from both gates", () => {
    for (const e of [event(NOW + 90_000), event(NOW + 90_000, true), event(null, true)]) {
      const view = gateView({ event: e, now: NOW, organiser: true, signedIn: true });
      assert.equal(view.phase, PHASE_ORGANISER);
      assert.equal(view.mapUsable, true);
    }
  });

  test("a room, signed out: sign in to join (before and after the start)", () => {
    const before = gateView({ event: event(NOW + 60_000, true), now: NOW });
    assert.equal(before.phase, PHASE_SIGNIN);
    assert.equal(before.mapUsable, false);
    assert.equal(before.untilSale, 60_000);
    const after = gateView({ event: event(null, true), now: NOW });
    assert.equal(after.phase, PHASE_SIGNIN);
    assert.equal(after.saleOpen, true);
  });

  test("a room, signed in, place not known yet: checking, not an offer to join", () => {
    assert.equal(gateView({ event: event(null, true), now: NOW, signedIn: true }).phase, PHASE_CHECKING);
  });

  test("never joined, left, expired: join (again), saying why", () => {
    const e = event(null, true);
    const at = (queue, extra = {}) => gateView({ event: e, now: NOW, signedIn: true, queue, ...extra });
    assert.deepEqual([at({ state: "none" }).phase, at({ state: "none" }).reason], [PHASE_JOIN, null]);
    assert.deepEqual([at({ state: "left" }).phase, at({ state: "left" }).reason], [PHASE_JOIN, "left"]);
    assert.equal(at({ state: "left" }, { booked: true }).reason, "done", "booking ends the turn");
    assert.deepEqual([at({ state: "expired" }).phase, at({ state: "expired" }).reason], [PHASE_JOIN, "expired"]);
    for (const state of ["none", "left", "expired"]) assert.equal(at({ state }).mapUsable, false);
  });

  test("joined before the sale: the pre-queue, no position", () => {
    const view = gateView({ event: event(NOW + 60_000, true), now: NOW, signedIn: true, queue: { state: "waiting", position: null, ahead: null, etaSeconds: null } });
    assert.equal(view.phase, PHASE_PREQUEUE);
    assert.equal(view.position, null);
    assert.equal(view.untilSale, 60_000);
    assert.equal(view.mapUsable, false);
  });

  test("in the queue after the start: position, ahead and ETA", () => {
    const queue = { state: "waiting", position: 57, ahead: 56, etaSeconds: 170 };
    const view = gateView({ event: event(NOW - 1000, true), now: NOW, signedIn: true, queue });
    assert.equal(view.phase, PHASE_WAITING);
    assert.deepEqual([view.position, view.ahead, view.etaSeconds, view.mapUsable], [57, 56, 170, false]);
  });

  test("the clock says open but the place is not drawn yet: waiting with no position", () => {
    const view = gateView({ event: event(NOW - 10, true), now: NOW, signedIn: true, queue: { state: "waiting", position: null, ahead: null, etaSeconds: null } });
    assert.equal(view.phase, PHASE_WAITING);
    assert.equal(view.position, null);
  });

  test("a room message that says open wins over a clock a little behind", () => {
    const room = { waiting: 3, shopping: 1, open: true, onSaleAt: iso(NOW + 2000) };
    const view = gateView({ event: event(NOW + 2000, true), room, now: NOW, signedIn: true, queue: { state: "waiting", position: 2, ahead: 1, etaSeconds: null } });
    assert.equal(view.phase, PHASE_WAITING);
    assert.equal(view.saleOpen, true);
  });

  test("a room message's sale time replaces the page's (the organiser moved it)", () => {
    const room = { waiting: 0, shopping: 0, open: false, onSaleAt: iso(NOW + 120_000) };
    const view = gateView({ event: event(NOW - 1000), room, now: NOW });
    assert.equal(view.phase, PHASE_COUNTDOWN);
    assert.equal(view.untilSale, 120_000);
  });

  test("admitted: the map, and the time left to shop", () => {
    const queue = { state: "admitted", position: null, ahead: null, etaSeconds: null, admittedUntil: iso(NOW + 600_000) };
    const view = gateView({ event: event(null, true), now: NOW, signedIn: true, queue });
    assert.equal(view.phase, PHASE_SHOPPING);
    assert.equal(view.mapUsable, true);
    assert.equal(view.shopLeft, 600_000);
  });

  test("admitted past its end: not usable any more, before the server says so", () => {
    const queue = { state: "admitted", admittedUntil: iso(NOW - 1) };
    const view = gateView({ event: event(null, true), now: NOW, signedIn: true, queue });
    assert.deepEqual([view.phase, view.reason, view.mapUsable], [PHASE_JOIN, "expired", false]);
  });
});

describe("countdowns", () => {
  test("under a day: formatCountdown's m:ss and h:mm:ss", () => {
    assert.equal(countdownText(65_000), "1:05");
    assert.equal(countdownText(3_723_000), "1:02:03");
    assert.equal(countdownText(-5), "0:00", "never negative");
    assert.equal(countdownText(400), "0:01", "rounds up: 0:00 only at the time");
  });

  test("a day or more: days, then the clock", () => {
    assert.equal(countdownText(86_400_000), "1 day 0:00");
    assert.equal(countdownText(2 * 86_400_000 + 3_723_000), "2 days 1:02:03");
  });

  test("milestones are spoken in their largest whole unit", () => {
    assert.equal(speakSeconds(86_400), "1 day");
    assert.equal(speakSeconds(21_600), "6 hours");
    assert.equal(speakSeconds(3600), "1 hour");
    assert.equal(speakSeconds(300), "5 minutes");
    assert.equal(speakSeconds(60), "1 minute");
    assert.equal(speakSeconds(90), "90 seconds");
    assert.equal(speakSeconds(10), "10 seconds");
  });

  test("a countdown is announced when it passes a milestone, not every second", () => {
    const said = [];
    let before = 700_000;
    for (let left = 699_000; left >= 0; left -= 1000) {
      const m = passedMilestone(before, left);
      if (m !== null) said.push(m);
      before = left;
    }
    assert.deepEqual(said, [600, 300, 120, 60, 30, 10]);
  });

  test("a tab that slept through several milestones says only the last", () => {
    assert.equal(passedMilestone(700_000, 50_000), 60);
    assert.equal(passedMilestone(50_000, 50_000), null);
    assert.equal(passedMilestone(null, 50_000), null);
    assert.equal(passedMilestone(40_000, 50_000), null, "going up (sale moved later) says nothing");
  });

  test("the shopper's own milestones", () => {
    assert.equal(passedMilestone(301_000, 299_000, SHOP_MILESTONES), 300);
    assert.equal(passedMilestone(599_000, 598_000, SHOP_MILESTONES), null);
  });
});

describe("ETA words", () => {
  test("rounded to a step that grows with the wait", () => {
    const words = (s) => etaBucket(s).words;
    assert.equal(words(0), "any moment now");
    assert.equal(words(20), "less than a minute");
    assert.equal(words(50), "about 1 minute");
    assert.equal(words(170), "about 3 minutes");
    assert.equal(words(569), "about 9 minutes");
    assert.equal(words(600), "about 10 minutes");
    assert.equal(words(1_400), "about 25 minutes");
    assert.equal(words(3_500), "about 1 hour");
    assert.equal(words(4_400), "about 1 hour 15 minutes");
    assert.equal(words(9_000), "about 2 hours 30 minutes");
    assert.equal(words(4 * 3600 + 600), "about 4 hours");
  });

  test("buckets tile the line: every second has exactly one", () => {
    let previous = etaBucket(1);
    for (let s = 2; s < 6 * 3600; s++) {
      const b = etaBucket(s);
      assert.ok(s >= b.lo && s < b.hi, `${s} s outside its bucket [${b.lo}, ${b.hi})`);
      if (b.key !== previous.key) assert.equal(b.lo, previous.hi, `gap or overlap at ${s} s`);
      previous = b;
    }
  });

  test("an estimate that wobbles around a boundary does not make the words jump", () => {
    let shown = null;
    const seen = [];
    for (const s of [62, 58, 61, 57, 63, 59, 60, 56]) {
      shown = stableEta(s, shown);
      seen.push(shown.words);
    }
    assert.deepEqual(new Set(seen), new Set(["about 1 minute"]));
    shown = null;
    const near = [];
    for (const s of [95, 85, 92, 88, 91]) near.push((shown = stableEta(s, shown)).words);
    assert.deepEqual(new Set(near), new Set([near[0]]), near.join(", "));
  });

  test("a real change moves the words: down as the queue moves, up when it stalls", () => {
    let shown = stableEta(600, null);
    assert.equal(shown.words, "about 10 minutes");
    shown = stableEta(420, shown);
    assert.equal(shown.words, "about 7 minutes");
    shown = stableEta(30, shown);
    assert.equal(shown.words, "less than a minute");
    shown = stableEta(0, shown);
    assert.equal(shown.words, "any moment now");
    shown = stableEta(200, shown);
    assert.equal(shown.words, "about 3 minutes");
  });

  test("not measured yet: no words", () => {
    assert.equal(stableEta(null, null), null);
    assert.equal(stableEta(undefined, etaBucket(60)), null);
  });

  test("duration words", () => {
    assert.equal(durationWords(60), "1 minute");
    assert.equal(durationWords(3600), "1 hour");
    assert.equal(durationWords(7200 + 1800), "2 hours 30 minutes");
  });
});

describe("progress", () => {
  test("people passed since the most seen ahead; nobody ahead is nearly full", () => {
    assert.deepEqual(queueProgress(null, 9), { value: 0, max: 10 });
    assert.deepEqual(queueProgress(9, 4), { value: 5, max: 10 });
    assert.deepEqual(queueProgress(9, 0), { value: 9, max: 10 });
    assert.deepEqual(queueProgress(0, 0), { value: 0, max: 1 });
    assert.equal(queueProgress(9, null), null);
  });

  test("the baseline only grows, so the bar never runs backwards past its start", () => {
    assert.equal(nextBaseline(null, 12), 12);
    assert.equal(nextBaseline(12, 7), 12);
    assert.equal(nextBaseline(12, 20), 20);
    assert.equal(nextBaseline(12, null), 12);
    assert.equal(nextBaseline(undefined, null), null);
    assert.deepEqual(queueProgress(12, 20), { value: 0, max: 21 });
  });
});

describe("announcing moves in the queue", () => {
  test("the first place is said", () => {
    assert.equal(shouldAnnounceMove(null, 56, NOW), true);
    assert.equal(shouldAnnounceMove(null, null, NOW), false);
  });

  test("small moves far from the front wait for 30 s; big moves and the front are said at once", () => {
    const last = { ahead: 100, at: NOW };
    assert.equal(shouldAnnounceMove(last, 100, NOW + 60_000), false, "no move, nothing to say");
    assert.equal(shouldAnnounceMove(last, 98, NOW + 1000), false);
    assert.equal(shouldAnnounceMove(last, 98, NOW + 30_000), true);
    assert.equal(shouldAnnounceMove(last, 75, NOW + 1000), true, "a quarter of the way");
    assert.equal(shouldAnnounceMove({ ahead: 6, at: NOW }, 4, NOW + 1000), true, "near the front");
    assert.equal(shouldAnnounceMove({ ahead: 3, at: NOW }, 2, NOW + 1), true);
  });

  test("the sentence", () => {
    assert.equal(speakPlace({ position: 57, ahead: 56 }, etaBucket(170)), "You are number 57 in the queue. 56 people are ahead of you. Estimated wait about 3 minutes.");
    assert.equal(speakPlace({ position: 2, ahead: 1 }, null), "You are number 2 in the queue. 1 person is ahead of you.");
    assert.equal(speakPlace({ position: 1, ahead: 0 }, etaBucket(0)), "You are number 1 in the queue. Nobody is ahead of you. Estimated wait any moment now.");
    assert.match(speakPlace({ position: null, ahead: null }, null), /being drawn/);
  });
});

describe("words", () => {
  test("demand from the room message", () => {
    assert.equal(demandText({ waiting: 1234, shopping: 200 }), `${count(1234)} in the queue · ${count(200)} shopping`);
    assert.equal(demandText(null), "");
    assert.equal(demandText({ waiting: null, shopping: 3 }), "");
  });

  test("every gated phase has a heading and a sentence", () => {
    const views = [
      { phase: PHASE_COUNTDOWN, saleOpen: false },
      { phase: PHASE_SIGNIN, saleOpen: false },
      { phase: PHASE_SIGNIN, saleOpen: true },
      { phase: PHASE_CHECKING, saleOpen: true },
      { phase: PHASE_JOIN, saleOpen: false, reason: null },
      { phase: PHASE_JOIN, saleOpen: true, reason: null },
      { phase: PHASE_JOIN, saleOpen: true, reason: "left" },
      { phase: PHASE_JOIN, saleOpen: true, reason: "expired" },
      { phase: PHASE_JOIN, saleOpen: true, reason: "done" },
      { phase: PHASE_PREQUEUE, saleOpen: false },
      { phase: PHASE_WAITING, saleOpen: true, position: 3 },
      { phase: PHASE_WAITING, saleOpen: true, position: null },
    ];
    for (const view of views) {
      const { heading, text } = panelWords(view, "2 Jan 2030, 19:00");
      assert.ok(heading && text, JSON.stringify(view));
    }
    assert.match(panelWords({ phase: PHASE_COUNTDOWN }, "2 Jan 2030, 19:00").text, /on 2 Jan 2030, 19:00/);
    assert.match(panelWords({ phase: PHASE_JOIN, saleOpen: false }, "").text, /random order/);
    assert.match(panelWords({ phase: PHASE_JOIN, saleOpen: true, reason: "expired" }).heading, /ran out/);
  });

  test("the 403 codes in a buyer's words", () => {
    assert.match(forbiddenWords("not_on_sale", { onSaleAt: "x" }, "2 Jan 2030, 19:00"), /not on sale yet: the sale starts on 2 Jan 2030, 19:00/);
    assert.match(forbiddenWords("not_admitted", { queue: { state: "waiting" } }), /not your turn yet/);
    assert.match(forbiddenWords("not_admitted", { queue: { state: "expired" } }), /ran out/);
    assert.match(forbiddenWords("not_admitted", { queue: { state: "none" } }), /Join the queue first/);
    assert.match(forbiddenWords("not_admitted", null), /Join the queue first/);
    assert.equal(forbiddenWords("forbidden", null), null);
  });
});

describe("joinRetryDelay", () => {
  test("the Retry-After, doubled for each failure in a row up to 16x, spread over twice that", () => {
    const low = Array.from({ length: JOIN_RETRIES }, (_, n) => joinRetryDelay(1, n, 0));
    const high = Array.from({ length: JOIN_RETRIES }, (_, n) => joinRetryDelay(1, n, 1));
    assert.deepEqual(low, [1000, 2000, 4000, 8000, 16000, 16000]);
    assert.deepEqual(high, [2000, 4000, 8000, 16000, 32000, 32000]);
    assert.equal(joinRetryDelay(3, 0, 0), 3000);
  });

  test("without a usable Retry-After, 1 s", () => {
    for (const bad of [undefined, null, 0, -5, "soon", NaN]) assert.equal(joinRetryDelay(bad, 0, 0), 1000);
  });

  test("gives up after JOIN_RETRIES failures, about a minute in all", () => {
    assert.equal(joinRetryDelay(1, JOIN_RETRIES, 0), null);
    assert.equal(joinRetryDelay(1, JOIN_RETRIES + 3, 0.5), null);
    let total = 0;
    for (let n = 0; n < JOIN_RETRIES; n++) total += joinRetryDelay(1, n, 0);
    assert.equal(total, 47000);
  });
});
