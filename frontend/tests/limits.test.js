import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { holdProblem, maxSeatsProblem, priceProblem, rowSeatsProblem, sectionNameProblem, totalProblem } from "../limits.js";

describe("the layout builder's limits, as the server has them", () => {
  test("a row has 1 to 1,000 seats", () => {
    assert.equal(rowSeatsProblem(1000), "");
    assert.equal(rowSeatsProblem(1500), "At most 1,000 seats in a row.");
    assert.equal(rowSeatsProblem(0), "At least 1 seat.");
    assert.equal(rowSeatsProblem(Number.NaN), "At least 1 seat.");
  });

  test("a section's name, and the seat names it makes, fit", () => {
    assert.equal(sectionNameProblem("Stalls", [{ label: "A", seats: 20 }], true), "");
    assert.equal(sectionNameProblem("x".repeat(25), [], false), "At most 24 characters.");
    assert.equal(sectionNameProblem("  ", [], false), "Give the section a name.");
    // "<24 chars>-20-1000": 24 + 1 + 3 + 4 = 32 fits; a longer row label does not.
    assert.equal(sectionNameProblem("x".repeat(24), [{ label: "20", seats: 1000 }], true), "");
    assert.match(sectionNameProblem("x".repeat(24), [{ label: "AAAA", seats: 1000 }], true), /at most 23 characters here/);
    assert.equal(sectionNameProblem("x".repeat(24), [{ label: "AAAA", seats: 1000 }], false), ""); // alone: no prefix
  });

  test("prices, hold time, seats per person and the event's size", () => {
    const fmt = (m) => `£${(m / 100).toFixed(2)}`;
    assert.equal(priceProblem(2500, fmt), "");
    assert.equal(priceProblem(null, fmt), "Enter a price, e.g. 25 or 25.50.");
    assert.equal(priceProblem(100_000_001, fmt), "At most £1000000.00.");
    assert.equal(holdProblem(600), "");
    assert.equal(holdProblem(7201), "Between 1 and 7,200 seconds.");
    assert.equal(maxSeatsProblem(10, 436), "");
    assert.equal(maxSeatsProblem(12, 10), "At most the event's 10 seats.");
    assert.equal(totalProblem(100_000), "");
    assert.equal(totalProblem(100_001), "An event has at most 100,000 seats; this one has 100,001.");
  });
});
