// cart.js: the one cart timer, when it warns, when holds have lapsed, what to hold again.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  cartEnd,
  cartPhase,
  extended,
  lapsed,
  lapsedWords,
  listWords,
  PHASE_ENDING,
  PHASE_HOLDING,
  PHASE_NONE,
  PHASE_WARNING,
  reholdPlan,
  reholdWords,
  warnBeforeMs,
  warningWords,
} from "../cart.js";

describe("warnBeforeMs", () => {
  test("a minute for a real hold, half of a short one, never under 5 s", () => {
    assert.equal(warnBeforeMs(600), 60_000);
    assert.equal(warnBeforeMs(120), 60_000);
    assert.equal(warnBeforeMs(20), 10_000);
    assert.equal(warnBeforeMs(4), 5_000);
    assert.equal(warnBeforeMs(undefined), 60_000); // unknown: the default 10 minutes
  });
});

describe("cartEnd", () => {
  test("the earliest known end, or null", () => {
    assert.equal(cartEnd([5000, 3000, 5000]), 3000);
    assert.equal(cartEnd([0, Number.NaN, 7000]), 7000);
    assert.equal(cartEnd([]), null);
    assert.equal(cartEnd([0]), null);
  });
});

describe("cartPhase", () => {
  test("holding, then warning within the threshold, then ending", () => {
    assert.equal(cartPhase(null, 0, 10_000), PHASE_NONE);
    assert.equal(cartPhase(60_000, 0, 10_000), PHASE_HOLDING);
    assert.equal(cartPhase(60_000, 50_000, 10_000), PHASE_WARNING);
    assert.equal(cartPhase(60_000, 59_999, 10_000), PHASE_WARNING);
    assert.equal(cartPhase(60_000, 60_000, 10_000), PHASE_ENDING);
  });
});

describe("lapsed", () => {
  const cart = { ids: ["a", "b", "c"], end: 10_000 };
  test("seats gone at the end lapsed", () => {
    assert.deepEqual(lapsed(cart, [], 10_050), ["a", "b", "c"]);
    assert.deepEqual(lapsed(cart, ["c"], 9_000), ["a", "b"]); // within the slack
  });
  test("seats released or booked well before the end did not", () => {
    assert.deepEqual(lapsed(cart, ["c"], 5_000), []);
    assert.deepEqual(lapsed(null, [], 10_000), []);
    assert.deepEqual(lapsed({ ids: ["a"], end: null }, [], 10_000), []);
  });
  test("still held: nothing lapsed", () => {
    assert.deepEqual(lapsed(cart, ["a", "b", "c"], 12_000), []);
  });
});

describe("reholdPlan", () => {
  test("free seats are offered, taken ones are gone, mine again are kept", () => {
    const plan = reholdPlan([
      { id: "a", status: "available" },
      { id: "b", status: "held", mine: false },
      { id: "c", status: "booked" },
      { id: "d", status: "held", mine: true },
    ]);
    assert.deepEqual(plan, { free: ["a"], gone: ["b", "c"], mine: ["d"] });
  });
});

describe("extended", () => {
  test("a second or more is more time; less means the cap", () => {
    assert.equal(extended(10_000, 25_000), true);
    assert.equal(extended(10_000, 10_400), false);
    assert.equal(extended(10_000, undefined), false);
  });
});

describe("words", () => {
  test("lists", () => {
    assert.equal(listWords([]), "");
    assert.equal(listWords(["A1"]), "A1");
    assert.equal(listWords(["A1", "A2"]), "A1 and A2");
    assert.equal(listWords(["A1", "A2", "A3"]), "A1, A2 and A3");
  });
  test("the dialog and the warning", () => {
    assert.equal(lapsedWords(["A1"]), "Your hold on A1 ran out, so it was released for others to buy.");
    assert.match(lapsedWords(["A1", "A2"]), /A1 and A2 ran out, so they were released/);
    assert.equal(reholdWords({ held: ["A1"], gone: ["A2", "A3"] }), "A1 is held for you again. A2 and A3 have been taken by someone else.");
    assert.equal(reholdWords({ held: ["A1", "A2"] }), "A1 and A2 are held for you again.");
    assert.equal(reholdWords({ gone: ["A2"] }), "A2 has been taken by someone else.");
    assert.match(warningWords("1 minute"), /released in 1 minute\. Choose More time/);
    assert.match(warningWords("9 seconds", { atCap: true }), /longest they can be held/);
  });
});
