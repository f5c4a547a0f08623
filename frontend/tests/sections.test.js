import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { availabilityFill, buildSections, freeBySection } from "../seatmap/sections.js";

describe("sections as shapes", () => {
  test("sections, which seat is in which, and each row's seats in order", () => {
    const names = ["101", "101", "101", "102", "102", "102", ""];
    const xs = [2, 0, 1, 10, 11, 12, 50];
    const ys = [0, 0, 0, 0, 0, 1, 50];
    const rows = [[0, 1, 2], [3, 4], [5]]; // 101's row A (out of order), 102's rows A and B
    const numbers = [3, 1, 2, 1, 2, 1, null];
    const { sections, sectionOf } = buildSections(names, xs, ys, rows, numbers);
    assert.deepEqual(sections.map((s) => [s.name, s.total]), [["101", 3], ["102", 3]]);
    assert.deepEqual([...sectionOf], [0, 0, 0, 1, 1, 1, -1]);
    assert.deepEqual(sections[0].rows, [[[0, 0], [1, 0], [2, 0]]]); // by seat number
    assert.deepEqual(sections[1].rows, [[[10, 0], [11, 0]], [[12, 1]]]);
    assert.deepEqual([sections[0].cx, sections[0].cy, sections[0].maxX], [1, 0, 2]); // the middle seat (number 2)
    assert.deepEqual([sections[1].cx, sections[1].cy], [10, 0]); // its middle row's middle seat, not the empty mean (11, 1/3)
    assert.deepEqual(freeBySection(sectionOf, Uint8Array.from([0, 2, 0, 1, 1, 1, 0]), 2), [2, 0]);
  });

  test("one section (or none) makes no shapes: there is nothing to choose between", () => {
    assert.deepEqual(buildSections(["A", "A"], [0, 1], [0, 0]).sections, []);
    assert.deepEqual(buildSections(["", ""], [0, 1], [0, 0]).sections, []);
  });

  test("a sold-out section is grey, a nearly sold-out one amber", () => {
    assert.match(availabilityFill(0, 100), /148, 163, 184/);
    assert.match(availabilityFill(10, 100), /217, 119, 6/);
    assert.match(availabilityFill(60, 100), /5, 150, 105/);
  });
});

describe("a row's band", () => {
  test("a long row is traced by at most 24 of its seats, both ends included", async () => {
    const { outline, ROW_POINTS } = await import("../seatmap/sections.js");
    const members = Array.from({ length: 200 }, (_, i) => i);
    const xs = members.map((i) => i), ys = members.map(() => 0);
    const points = outline(members, xs, ys);
    assert.ok(points.length <= ROW_POINTS, points.length);
    for (let n = 2; n <= 300; n++) assert.ok(outline(members.slice(0, n), xs, ys).length <= ROW_POINTS, n);
    assert.deepEqual(points[0], [0, 0]);
    assert.deepEqual(points.at(-1), [199, 0]);
    assert.deepEqual(outline([0], [7], [8]), [[7, 8]]); // one seat: one point
    assert.equal(outline([0, 1, 2], [0, 1, 2], [0, 0, 0]).length, 3);
  });
});
