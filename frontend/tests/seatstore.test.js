// SeatStore: the one place that decides whether a seat change is shown.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { AVAILABLE, BOOKED, HELD, SeatStore } from "../seatstore.js";

const CATEGORIES = [
  { id: "stalls", name: "Stalls", colour: "#2563eb", price: 4000 },
  { id: "circle", name: "Circle", colour: "#16a34a", price: 2500 },
];
const T1 = "2030-01-01T10:00:00.000Z";
const T2 = "2030-01-01T10:05:00.000Z";

/** A1 A2 A3 on row A, B1 on row B; every seat at version 1 unless given. */
function makeStore(overrides = {}) {
  const seats = [
    { id: "a1", label: "A1", row: "A", number: 1, x: 0, y: 0, category: "stalls", status: "available", version: 1 },
    { id: "a2", label: "A2", row: "A", number: 2, x: 1, y: 0, category: "stalls", status: "held", heldUntil: T1, version: 1 },
    { id: "a3", label: "A3", row: "A", number: 3, x: 2, y: 0, category: "circle", status: "booked", mine: true, version: 1 },
    { id: "b1", label: "B1", row: "B", number: 1, x: 0, y: 1, category: "nope", status: "available", version: 1, accessible: true },
  ].map((s) => ({ ...s, ...overrides[s.id] }));
  return new SeatStore(seats, CATEGORIES);
}

function recordEmits(store) {
  const calls = [];
  store.subscribe((dirty) => calls.push([...dirty]));
  return calls;
}

describe("building a store", () => {
  test("reads every field of GET /events/{id}", () => {
    const s = makeStore();
    assert.equal(s.size, 4);
    assert.deepEqual(s.ids, ["a1", "a2", "a3", "b1"]);
    assert.deepEqual([...s.status], [AVAILABLE, HELD, BOOKED, AVAILABLE]);
    assert.deepEqual([...s.mine], [0, 0, 1, 0]);
    assert.equal(s.heldUntil[1], Date.parse(T1));
    assert.equal(s.heldUntil[0], 0, "only a held seat has a hold end");
    assert.deepEqual(s.bounds, { minX: 0, minY: 0, maxX: 2, maxY: 1 });
    assert.deepEqual(s.counts(), { total: 4, available: 2, held: 1, booked: 1 });
  });

  test("unknown category, status, mine and missing version fall back to safe defaults", () => {
    const s = makeStore({ a1: { status: "weird", mine: "yes", version: undefined } });
    assert.equal(s.status[0], AVAILABLE);
    assert.equal(s.mine[0], 0, "only mine === true is mine");
    assert.equal(s.version[0], 0);
    assert.equal(s.category(3), null, "b1's category is not in the list");
    assert.equal(s.price(3), null);
    assert.equal(s.price(2), 2500);
    assert.equal(s.accessible[3], 1);
  });

  test("an unreadable hold end becomes 0, not NaN", () => {
    const s = makeStore({ a2: { heldUntil: "soon" } });
    assert.equal(s.heldUntil[1], 0);
    assert.equal(s.seatState("a2").heldUntil, null);
  });

  test("an empty event has zero bounds and no seats", () => {
    const s = new SeatStore([]);
    assert.equal(s.size, 0);
    assert.deepEqual(s.bounds, { minX: 0, minY: 0, maxX: 0, maxY: 0 });
    assert.deepEqual(s.counts(), { total: 0, available: 0, held: 0, booked: 0 });
    assert.deepEqual(s.myHeld(), []);
  });
});

describe("version ordering", () => {
  test("a newer change applies and is reported dirty", () => {
    const s = makeStore();
    assert.equal(s.applySeat({ id: "a1", status: "held", heldUntil: T2, version: 2 }), 0);
    assert.equal(s.seatState("a1").status, "held");
    assert.equal(s.seatState("a1").heldUntil, T2);
    assert.equal(s.version[0], 2);
  });

  test("an older change never overwrites a newer one", () => {
    const s = makeStore({ a1: { status: "booked", version: 5 } });
    assert.equal(s.applySeat({ id: "a1", status: "available", version: 4 }), -1);
    assert.equal(s.seatState("a1").status, "booked");
    assert.equal(s.version[0], 5);
  });

  test("an equal version is ignored, unless allowEqual (a snapshot refreshing `mine`)", () => {
    const s = makeStore();
    assert.equal(s.applySeat({ id: "a2", status: "held", heldUntil: T1, mine: true, version: 1 }), -1);
    assert.equal(s.mine[1], 0);
    assert.equal(s.applySeat({ id: "a2", status: "held", heldUntil: T1, mine: true, version: 1 }, true), 1);
    assert.equal(s.mine[1], 1);
  });

  test("changes arriving out of order end at the newest state", () => {
    const s = makeStore();
    s.applyChanges([{ id: "a1", status: "booked", version: 3 }]);
    s.applyChanges([{ id: "a1", status: "held", heldUntil: T1, version: 2 }]); // late
    assert.equal(s.seatState("a1").status, "booked");
  });

  test("a newer version that looks the same is not dirty, but still raises the bar", () => {
    const s = makeStore();
    assert.equal(s.applySeat({ id: "a1", status: "available", version: 7 }), -1);
    assert.equal(s.version[0], 7);
    // A change older than 7 must now be refused even though 7 drew nothing.
    assert.equal(s.applySeat({ id: "a1", status: "booked", version: 6 }), -1);
    assert.equal(s.seatState("a1").status, "available");
  });

  test("a change for an unknown seat is ignored", () => {
    const s = makeStore();
    assert.equal(s.applySeat({ id: "zz", status: "booked", version: 9 }), -1);
  });

  test("a change without a version applies and keeps the shown version", () => {
    const s = makeStore({ a1: { version: 4 } });
    assert.equal(s.applySeat({ id: "a1", status: "booked" }), 0);
    assert.equal(s.version[0], 4);
  });

  test("a hold's new end is a visible change even with the same status", () => {
    const s = makeStore();
    assert.equal(s.applySeat({ id: "a2", status: "held", heldUntil: T2, version: 2 }), 1);
    assert.equal(s.heldUntil[1], Date.parse(T2));
  });
});

describe("listeners", () => {
  test("a batch notifies once with only the seats that changed", () => {
    const s = makeStore();
    const calls = recordEmits(s);
    const dirty = s.applyChanges([
      { id: "a1", status: "held", heldUntil: T1, version: 2 },
      { id: "a3", status: "available", version: 0 }, // stale
      { id: "b1", status: "booked", version: 2 },
    ]);
    assert.deepEqual(dirty, [0, 3]);
    assert.deepEqual(calls, [[0, 3]]);
  });

  test("nothing visible changed: no notification", () => {
    const s = makeStore();
    const calls = recordEmits(s);
    assert.deepEqual(s.applyChanges([{ id: "a1", status: "available", version: 2 }]), []);
    assert.deepEqual(calls, []);
  });

  test("unsubscribe stops notifications", () => {
    const s = makeStore();
    const calls = [];
    const off = s.subscribe((d) => calls.push(d));
    off();
    s.applyChanges([{ id: "a1", status: "booked", version: 2 }]);
    assert.deepEqual(calls, []);
  });
});

describe("plain snapshot", () => {
  test("applies equal versions (to refresh mine) but not older ones", () => {
    const s = makeStore({ a1: { version: 3 } });
    const dirty = s.applySnapshot([
      { id: "a1", status: "booked", version: 2 }, // older than shown
      { id: "a2", status: "held", heldUntil: T1, mine: true, version: 1 }, // equal, now mine
    ]);
    assert.deepEqual(dirty, [1]);
    assert.equal(s.seatState("a1").status, "available");
    assert.equal(s.seatState("a2").mine, true);
  });
});

describe("compact snapshot", () => {
  function compact(overrides = {}) {
    return { encoding: "compact", count: 4, status: "hbaa", version: "2,2,2,2", heldUntil: { 0: T2 }, mine: [0], ...overrides };
  }

  test("decodes letters, versions, hold ends and my seats by index", () => {
    const s = makeStore();
    const dirty = s.applySnapshot(compact());
    assert.deepEqual(dirty, [0, 1, 2]);
    assert.deepEqual(s.seatState("a1"), { id: "a1", label: "A1", status: "held", mine: true, version: 2, heldUntil: T2 });
    assert.deepEqual(s.seatState("a2"), { id: "a2", label: "A2", status: "booked", mine: false, version: 2, heldUntil: null });
    assert.equal(s.seatState("a3").status, "available");
    assert.equal(s.seatState("a3").mine, false, "a3 is not in `mine`, so no longer mine");
    assert.deepEqual([...s.version], [2, 2, 2, 2]);
  });

  test("means exactly what the plain snapshot with the same seats means", () => {
    const plain = makeStore();
    const packed = makeStore();
    packed.applySnapshot(compact());
    plain.applySnapshot([
      { id: "a1", status: "held", heldUntil: T2, mine: true, version: 2 },
      { id: "a2", status: "booked", version: 2 },
      { id: "a3", status: "available", version: 2 },
      { id: "b1", status: "available", version: 2 },
    ]);
    for (const id of plain.ids) assert.deepEqual(packed.seatState(id), plain.seatState(id), id);
  });

  test("skips seats whose version is older than shown, seat by seat", () => {
    const s = makeStore({ a1: { status: "booked", version: 9 } });
    s.applySnapshot(compact());
    assert.equal(s.seatState("a1").status, "booked");
    assert.equal(s.version[0], 9);
    assert.equal(s.seatState("a2").status, "booked", "a2 was older and took the snapshot");
  });

  test("an equal version refreshes `mine`", () => {
    const s = makeStore();
    assert.deepEqual(s.applySnapshot(compact({ status: "ahba", version: "1,1,1,1", heldUntil: { 1: T1 }, mine: [1] })), [1, 2]);
    assert.equal(s.mine[1], 1);
    assert.equal(s.mine[2], 0);
  });

  test("an unknown letter is available and out-of-range `mine` indices are ignored", () => {
    const s = makeStore();
    s.applySnapshot(compact({ status: "?aaa", mine: [-1, 4, 99] }));
    assert.equal(s.seatState("a1").status, "available");
    assert.deepEqual([...s.mine], [0, 0, 0, 0]);
  });

  test("a held seat without a readable end shows no countdown", () => {
    const s = makeStore();
    s.applySnapshot(compact({ heldUntil: {} }));
    assert.equal(s.seatState("a1").status, "held");
    assert.equal(s.heldUntil[0], 0);
  });

  for (const [why, bad] of [
    ["another seat count", { count: 5, status: "hbaaa", version: "2,2,2,2,2" }],
    ["letters of the wrong length", { status: "hba" }],
    ["too few versions", { version: "2,2,2" }],
    ["a missing version", { version: "2,,2,2" }],
    ["a fractional version", { version: "2,2.5,2,2" }],
    ["a non-numeric version", { version: "2,x,2,2" }],
  ]) {
    test(`refuses ${why} and applies nothing`, () => {
      const s = makeStore();
      const calls = recordEmits(s);
      const before = s.ids.map((id) => s.seatState(id));
      assert.throws(() => s.applySnapshot(compact(bad)), RangeError);
      assert.deepEqual(s.ids.map((id) => s.seatState(id)), before);
      assert.deepEqual(calls, []);
    });
  }

  test("fits an empty map", () => {
    const s = new SeatStore([]);
    assert.deepEqual(s.applySnapshot({ encoding: "compact", count: 0, status: "", version: "" }), []);
  });
});

describe("local updates after our own requests", () => {
  test("setLocal shows the change but keeps the version, so the real change still applies", () => {
    const s = makeStore({ a2: { mine: true, version: 4 } });
    const calls = recordEmits(s);
    s.setLocal("a2", "available", false);
    assert.deepEqual(calls, [[1]]);
    assert.equal(s.seatState("a2").status, "available");
    assert.equal(s.heldUntil[1], 0);
    assert.equal(s.version[1], 4);
    // The websocket's echo of the same version is refused; a newer one applies.
    assert.equal(s.applySeat({ id: "a2", status: "held", heldUntil: T1, version: 4 }), -1);
    assert.equal(s.applySeat({ id: "a2", status: "booked", mine: true, version: 5 }), 1);
    assert.equal(s.seatState("a2").status, "booked");
  });

  test("setLocal with nothing new, or for an unknown seat, does nothing", () => {
    const s = makeStore();
    const calls = recordEmits(s);
    s.setLocal("a1", "available", false);
    s.setLocal("zz", "booked", true);
    assert.deepEqual(calls, []);
  });
});

describe("queries", () => {
  test("myHeld and myBookedCount count only my seats", () => {
    const s = makeStore({ a1: { status: "held", heldUntil: T1, mine: true }, b1: { status: "held", heldUntil: T1, mine: true } });
    assert.deepEqual(s.myHeld(), [0, 3]);
    assert.equal(s.myBookedCount(), 1);
  });

  test("seatState by id or index; null for anything else", () => {
    const s = makeStore();
    assert.deepEqual(s.seatState(1), s.seatState("a2"));
    assert.equal(s.seatState("zz"), null);
    assert.equal(s.seatState(-1), null);
    assert.equal(s.seatState(4), null);
  });
});
