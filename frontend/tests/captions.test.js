import assert from "node:assert/strict";
import { test } from "node:test";

import { PIN_INSET, rowCaptions } from "../seatmap/captions.js";

// Rows A and B of 40 seats (x 0..39), at y 0 and 1.
const ROWS = [
  { text: "A", y: 0, minX: 0, maxX: 39 },
  { text: "B", y: 1, minX: 0, maxX: 39 },
];

test("the whole row on screen: a letter at each end, none pinned", () => {
  const view = { scale: 20, tx: 40, ty: 40, width: 900, height: 300 };
  const got = rowCaptions(ROWS, view);
  assert.equal(got.length, 4);
  assert.ok(got.every((c) => !c.pinned));
  assert.deepEqual(
    got.filter((c) => c.text === "A").map((c) => [c.align, c.x]),
    [["right", (0 - 0.7) * 20 + 40], ["left", (39 + 0.7) * 20 + 40]],
  );
});

test("zoomed into the middle of the rows: both ends pinned to the edges", () => {
  const view = { scale: 40, tx: -600, ty: 100, width: 400, height: 300 }; // seats 15..25 on screen
  const got = rowCaptions(ROWS, view);
  assert.deepEqual(
    got.map((c) => [c.text, c.align, c.x, c.pinned]),
    [
      ["A", "left", PIN_INSET, true],
      ["B", "left", PIN_INSET, true],
    ],
  );
});

test("the row's start on screen, its end off it: the end's letter is pinned right", () => {
  const view = { scale: 40, tx: 100, ty: 100, width: 400, height: 300 };
  const a = rowCaptions(ROWS, view).filter((c) => c.text === "A");
  assert.deepEqual(a.map((c) => [c.align, c.pinned]), [["right", false], ["right", true]]);
  assert.equal(a[1].x, 400 - PIN_INSET);
});

test("rows off screen, or zoomed out too far, get none", () => {
  assert.deepEqual(rowCaptions(ROWS, { scale: 40, tx: -5000, ty: 0, width: 400, height: 300 }), []);
  assert.deepEqual(rowCaptions(ROWS, { scale: 40, tx: 0, ty: -900, width: 400, height: 300 }), []);
  assert.deepEqual(rowCaptions(ROWS, { scale: 7, tx: 0, ty: 0, width: 400, height: 300 }), []);
});

test("a phone's first view (8 to 12 px a seat): the start's letter only, none touching", () => {
  const rows = ["A", "B", "C", "D"].map((text, n) => ({ text, y: n, minX: 0, maxX: 39 }));
  const view = { scale: 9, tx: 40, ty: 40, width: 400, height: 300 };
  const got = rowCaptions(rows, view);
  // Rows 9 px apart: every other one, each at the row's start, none pinned.
  assert.deepEqual(got.map((c) => [c.text, c.align, c.pinned]), [["A", "right", false], ["C", "right", false]]);
  assert.equal(got[0].x, (0 - 0.7) * 9 + 40);
  // The starts off screen to the left: pinned to the left edge.
  const panned = rowCaptions(rows, { ...view, tx: -100 });
  assert.ok(panned.every((c) => c.pinned && c.align === "left" && c.x === PIN_INSET));
});
