// seatmap/spatial.js: the bucket grid behind hit testing and drawing, and the
// keyboard's "next seat" queries.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { BUCKET, firstSeat, rowEnd, seatToward, SpatialIndex } from "../seatmap/spatial.js";
import { SeatStore } from "../seatstore.js";

/** Seats as a SeatStore would hold them: [x, y] pairs, statuses by index. */
function seats(points, status = []) {
  const x = Float32Array.from(points, (p) => p[0]);
  const y = Float32Array.from(points, (p) => p[1]);
  const bounds = points.length
    ? { minX: Math.min(...x), minY: Math.min(...y), maxX: Math.max(...x), maxY: Math.max(...y) }
    : { minX: 0, minY: 0, maxX: 0, maxY: 0 };
  return { size: points.length, x, y, bounds, status: Uint8Array.from(points, (_, i) => status[i] ?? 0) };
}

/** `rows` rows of `cols` seats, one unit apart, row by row. */
function grid(cols, rows, x0 = 0, y0 = 0) {
  const points = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) points.push([x0 + c, y0 + r]);
  return seats(points);
}

function visited(index, x0, x1, y0, y1) {
  const out = [];
  index.forEachIn(x0, x1, y0, y1, (i) => out.push(i));
  return out;
}

describe("SpatialIndex.nearest", () => {
  const g = grid(20, 10); // seat i is at (i % 20, floor(i / 20))
  const index = new SpatialIndex(g);

  test("a point on a seat's centre hits that seat", () => {
    for (const i of [0, 19, 20, 47, 199]) assert.equal(index.nearest(g.x[i], g.y[i], 0.5), i);
  });

  test("a point inside the reach hits the nearest seat", () => {
    assert.equal(index.nearest(5.3, 2.1, 0.5), 45);
    assert.equal(index.nearest(5.7, 2.1, 0.5), 46);
  });

  test("a point exactly at the reach still hits; just past it misses", () => {
    assert.equal(index.nearest(-0.5, 0, 0.5), 0);
    assert.equal(index.nearest(-0.5001, 0, 0.5), -1);
    assert.equal(index.nearest(0, 9.5, 0.5), 180);
    assert.equal(index.nearest(0, 9.5001, 0.5), -1);
  });

  test("halfway between two seats, the later one in the scan wins", () => {
    assert.equal(index.nearest(5.5, 2, 0.5), 46);
  });

  test("a bigger reach (6 px on small seats) finds a seat further away", () => {
    assert.equal(index.nearest(-2, 0, 0.5), -1);
    assert.equal(index.nearest(-2, 0, 2), 0);
  });

  test("seats in the neighbouring cell are found across a cell edge", () => {
    const s = seats([[BUCKET - 0.1, 0], [BUCKET * 3, 0]]);
    const ix = new SpatialIndex(s);
    assert.equal(ix.nearest(BUCKET + 0.3, 0, 0.5), 0);
    assert.equal(ix.nearest(BUCKET * 3 - 0.4, 0, 0.5), 1);
  });

  test("works with negative and fractional coordinates", () => {
    const s = seats([[-10.5, -3.25], [-9.5, -3.25], [7.75, 12]]);
    const ix = new SpatialIndex(s);
    assert.equal(ix.nearest(-10.4, -3.3, 0.5), 0);
    assert.equal(ix.nearest(-9.6, -3.2, 0.5), 1);
    assert.equal(ix.nearest(7.75, 12.45, 0.5), 2);
    assert.equal(ix.nearest(0, 0, 0.5), -1);
  });

  test("far outside the map misses without throwing", () => {
    assert.equal(index.nearest(-1000, -1000, 0.5), -1);
    assert.equal(index.nearest(1e6, 5, 0.5), -1);
    assert.equal(index.nearest(Infinity, 0, 0.5), -1);
  });
});

describe("SpatialIndex.forEachIn", () => {
  const g = grid(40, 12);
  const index = new SpatialIndex(g);

  test("a rectangle over everything visits every seat exactly once", () => {
    const all = visited(index, -100, 100, -100, 100);
    assert.equal(all.length, g.size);
    assert.equal(new Set(all).size, g.size);
  });

  test("a small rectangle visits every seat inside it and only nearby cells", () => {
    const seen = new Set(visited(index, 10, 13, 4, 6));
    for (let i = 0; i < g.size; i++) {
      const inside = g.x[i] >= 10 && g.x[i] <= 13 && g.y[i] >= 4 && g.y[i] <= 6;
      if (inside) assert.ok(seen.has(i), `seat ${i} is inside`);
      const far = g.x[i] < 10 - BUCKET || g.x[i] > 13 + BUCKET || g.y[i] < 4 - BUCKET || g.y[i] > 6 + BUCKET;
      if (far) assert.ok(!seen.has(i), `seat ${i} is more than a cell away`);
    }
    assert.ok(seen.size < g.size / 4, `visited ${seen.size} of ${g.size}`);
  });

  test("a rectangle off the map visits nothing", () => {
    assert.deepEqual(visited(index, 200, 300, 0, 10), []);
    assert.deepEqual(visited(index, 0, 10, -50, -20), []);
  });

  test("works on a real SeatStore", () => {
    const store = new SeatStore([
      { id: "a", x: 2, y: 3 },
      { id: "b", x: 30, y: 3 },
    ]);
    const ix = new SpatialIndex(store);
    assert.deepEqual(visited(ix, 0, 4, 0, 4), [0]);
    assert.equal(ix.nearest(30.2, 3.2, 0.5), 1);
  });
});

describe("an empty index", () => {
  const index = new SpatialIndex(seats([]));

  test("has one empty cell and finds nothing", () => {
    assert.equal(index.buckets.length, 1);
    assert.equal(index.nearest(0, 0, 0.5), -1);
    assert.equal(index.nearest(0, 0, 1000), -1);
    assert.deepEqual(visited(index, -10, 10, -10, 10), []);
  });

  test("has no first seat", () => {
    assert.equal(firstSeat(seats([])), -1);
  });
});

describe("keyboard queries", () => {
  // Row A at y=0: A1..A4 (0..3); row B at y=1: B1..B3 (4..6), B shifted by half a seat.
  const s = seats([[0, 0], [1, 0], [2, 0], [3, 0], [0.5, 1], [1.5, 1], [2.5, 1]]);

  test("Tab lands on the first seat in reading order", () => {
    const shuffled = seats([[1, 1], [2, 0], [0, 1], [1, 0]]);
    assert.equal(firstSeat(shuffled), 3, "the top row first, then leftmost");
  });

  test("Tab prefers a free seat, and takes a taken one when none is free", () => {
    assert.equal(firstSeat(seats([[0, 0], [1, 0], [0, 1]], [2, 0, 0])), 1);
    assert.equal(firstSeat(seats([[0, 0], [1, 0]], [1, 2])), 0);
  });

  test("seats within a quarter unit of height are one row", () => {
    assert.equal(firstSeat(seats([[1, 0], [0, 0.2]])), 1, "same row: left wins");
    assert.equal(firstSeat(seats([[1, 0], [0, 0.3]])), 0, "lower row: above wins");
  });

  test("left and right move along the row and stop at its ends", () => {
    assert.equal(seatToward(s, 1, 1, 0), 2);
    assert.equal(seatToward(s, 1, -1, 0), 0);
    assert.equal(seatToward(s, 3, 1, 0), -1, "nothing right of A4, and B is another row");
    assert.equal(seatToward(s, 4, -1, 0), -1);
  });

  test("up and down go to the nearest seat in the next row", () => {
    assert.equal(seatToward(s, 1, 0, 1), 4, "A2 down: B1 and B2 tie; the first found is kept");
    assert.equal(seatToward(s, 3, 0, 1), 6);
    assert.equal(seatToward(s, 5, 0, -1), 1);
    assert.equal(seatToward(s, 0, 0, -1), -1, "nothing above row A");
  });

  test("Home and End go to the row's ends; a lone seat stays put", () => {
    assert.equal(rowEnd(s, 2, -1), 0);
    assert.equal(rowEnd(s, 2, 1), 3);
    assert.equal(rowEnd(s, 5, 1), 6);
    assert.equal(rowEnd(seats([[0, 0], [0, 1]]), 1, 1), 1);
  });
});
