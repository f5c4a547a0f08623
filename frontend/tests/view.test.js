// seatmap/view.js: the camera's arithmetic, and where the hover card goes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { cardPosition } from "../seatmap/tooltip.js";
import { MAX_SCALE, stageExtent, View } from "../seatmap/view.js";

const BOUNDS = { minX: 0, minY: 0, maxX: 29, maxY: 9 }; // 30 × 10 seats

function close(actual, expected, message) {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${message ?? ""} ${actual} ≠ ${expected}`);
}

function view(width = 800, height = 400, bounds = BOUNDS) {
  const v = new View();
  v.setBounds(bounds);
  v.resize(width, height);
  return v;
}

describe("fit", () => {
  test("before the viewport has a size, fit does nothing", () => {
    const v = new View();
    v.setBounds(BOUNDS);
    assert.equal(v.fit(), false);
    assert.deepEqual([v.scale, v.tx, v.ty, v.fitted], [10, 0, 0, false]);
  });

  test("the whole extent (seats plus stage) fits, centred, with a 4 % margin", () => {
    const v = view(800, 400);
    const e = stageExtent(BOUNDS);
    assert.deepEqual(e, { minX: -1.5, maxX: 30.5, minY: -4, maxY: 10.5 });
    close(v.scale, Math.min(800 / 32, 400 / 14.5) * 0.96);
    const topLeft = v.toScreen(e.minX, e.minY), bottomRight = v.toScreen(e.maxX, e.maxY);
    close((topLeft.x + bottomRight.x) / 2, 400, "centred across");
    close((topLeft.y + bottomRight.y) / 2, 200, "centred down");
    assert.ok(topLeft.x >= 0 && bottomRight.x <= 800 && topLeft.y >= 0 && bottomRight.y <= 400);
    assert.equal(v.fitted, true);
    assert.equal(v.userMoved, false);
  });

  test("a single seat in a big viewport is not blown up past MAX_SCALE", () => {
    const v = view(4000, 4000, { minX: 5, minY: 5, maxX: 5, maxY: 5 });
    assert.equal(v.scale, MAX_SCALE);
  });

  test("a huge venue in a small viewport stops at half a pixel a seat", () => {
    const v = view(100, 100, { minX: 0, minY: 0, maxX: 5000, maxY: 5000 });
    assert.equal(v.scale, 0.5);
  });
});

describe("transforms", () => {
  test("toWorld undoes toScreen", () => {
    const v = view();
    v.zoomBy(1.7, 123, 45);
    for (const [x, y] of [[0, 0], [12.5, 3], [-4, 29]]) {
      const p = v.toScreen(x, y);
      const w = v.toWorld(p.x, p.y);
      close(w.x, x);
      close(w.y, y);
    }
  });

  test("the visible range is the viewport in world units, padded", () => {
    const v = view();
    const r = v.visibleRange(0);
    const tl = v.toWorld(0, 0), br = v.toWorld(800, 400);
    close(r.x0, tl.x);
    close(r.y0, tl.y);
    close(r.x1, br.x);
    close(r.y1, br.y);
    const padded = v.visibleRange();
    close(padded.x0, r.x0 - 1);
    close(padded.y1, r.y1 + 1);
  });
});

describe("zoom and pan", () => {
  test("zooming keeps the point under the pointer still", () => {
    const v = view();
    const before = v.toWorld(300, 120);
    v.zoomBy(2, 300, 120);
    const after = v.toWorld(300, 120);
    close(after.x, before.x);
    close(after.y, before.y);
    assert.equal(v.userMoved, true);
  });

  test("zoom in stops at MAX_SCALE", () => {
    const v = view();
    v.zoomBy(1000, 400, 200);
    assert.equal(v.scale, MAX_SCALE);
  });

  test("zoom out stops at 70 % of the fitted scale, or at 4 px a seat if that is smaller", () => {
    const v = view(); // fitted at 24 px a seat
    close(v.fitScale, 24);
    v.zoomBy(1e-6, 400, 200);
    assert.equal(v.scale, 4);
    const huge = view(100, 100, { minX: 0, minY: 0, maxX: 5000, maxY: 5000 }); // fitted at 0.5
    huge.zoomBy(1e-6, 50, 50);
    close(huge.scale, 0.35);
  });

  test("panning moves the map by exactly the pointer's travel", () => {
    const v = view();
    const { tx, ty } = v;
    v.panBy(15, -7);
    assert.equal(v.tx, tx + 15);
    assert.equal(v.ty, ty - 7);
  });

  test("panning cannot push the map off screen: 60 px of it always stay", () => {
    const v = view();
    const e = stageExtent(BOUNDS);
    v.panBy(-1e6, -1e6);
    close(v.toScreen(e.maxX, e.maxY).x, 60);
    close(v.toScreen(e.maxX, e.maxY).y, 60);
    v.panBy(1e7, 1e7);
    close(v.toScreen(e.minX, e.minY).x, 800 - 60);
    close(v.toScreen(e.minX, e.minY).y, 400 - 60);
  });
});

describe("bringIntoView", () => {
  test("a point comfortably inside leaves the view alone", () => {
    const v = view();
    const { tx, ty } = v;
    assert.equal(v.bringIntoView({ x: 400, y: 200 }), false);
    assert.equal(v.bringIntoView({ x: 48, y: 352 }), false, "exactly at the 48 px margin is inside");
    assert.deepEqual([v.tx, v.ty], [tx, ty]);
  });

  test("a point near an edge is centred", () => {
    const v = view();
    v.zoomBy(4, 400, 200); // room to pan without clamping
    const world = v.toWorld(790, 20);
    assert.equal(v.bringIntoView({ x: 790, y: 20 }), true);
    const p = v.toScreen(world.x, world.y);
    close(p.x, 400);
    close(p.y, 200);
    assert.equal(v.userMoved, true);
  });
});

describe("resize", () => {
  test("until the user moves, a resize refits", () => {
    const v = view(800, 400);
    assert.equal(v.resize(400, 400), true);
    close(v.scale, Math.min(400 / 32, 400 / 14.5) * 0.96);
  });

  test("after the user zoomed, the centre stays the centre and the scale stays", () => {
    const v = view(800, 400);
    v.zoomBy(3, 400, 200);
    const scale = v.scale;
    const centre = v.toWorld(400, 200);
    assert.equal(v.resize(600, 300), false);
    assert.equal(v.scale, scale);
    const now = v.toWorld(300, 150);
    close(now.x, centre.x);
    close(now.y, centre.y);
  });
});

describe("heightFor", () => {
  test("the venue's shape sets the height, within the limits", () => {
    const v = new View();
    v.setBounds(BOUNDS); // extent 32 × 14.5
    assert.equal(v.heightFor(320, { min: 0, max: 1000 }), Math.round(Math.round((320 * 14.5) / 32 / 0.96)));
    assert.equal(v.heightFor(320, { min: 200, max: 1000 }), 200);
    assert.equal(v.heightFor(3200, { min: 0, max: 420 }), 420);
  });
});

describe("cardPosition (the hover card)", () => {
  test("below right of the point when it fits", () => {
    assert.deepEqual(cardPosition({ x: 100, y: 100 }, 16, 150, 60, 800, 400), { x: 116, y: 116 });
  });

  test("flips left and up at the right and bottom edges", () => {
    assert.deepEqual(cardPosition({ x: 700, y: 350 }, 16, 150, 60, 800, 400), { x: 534, y: 274 });
  });

  test("a card bigger than the room is kept 4 px inside the viewport", () => {
    assert.deepEqual(cardPosition({ x: 10, y: 10 }, 16, 300, 200, 200, 150), { x: 4, y: 4 });
    assert.deepEqual(cardPosition({ x: 20, y: 20 }, 16, 150, 60, 160, 70), { x: 4, y: 4 });
  });

  test("a flipped card for a point past the edge still ends inside", () => {
    assert.deepEqual(cardPosition({ x: 900, y: 100 }, 16, 150, 60, 800, 400), { x: 646, y: 116 });
  });
});
