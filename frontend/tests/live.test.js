// live.js: when a silent socket is pinged and when it is given up for dead.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DEADLINE_MS, watchdogAction } from "../live.js";

describe("the live feed's deadline", () => {
  test("25 s without a message is a lost connection, whatever the socket says", () => {
    assert.equal(DEADLINE_MS, 25_000);
    assert.equal(watchdogAction(24_999, 0), "wait");
    assert.equal(watchdogAction(25_000, 0), "dead");
    assert.equal(watchdogAction(60_000, 60_000), "dead");
  });

  test("after 10 s of silence it pings, then at most every 10 s", () => {
    assert.equal(watchdogAction(9_999, 9_999), "wait");
    assert.equal(watchdogAction(10_000, 10_000), "ping");
    assert.equal(watchdogAction(15_000, 5_000), "wait"); // pinged 5 s ago, no pong yet
    assert.equal(watchdogAction(20_000, 10_000), "ping");
  });

  test("a shorter deadline scales both", () => {
    assert.equal(watchdogAction(800, 800, 2000), "ping");
    assert.equal(watchdogAction(2000, 0, 2000), "dead");
  });
});
