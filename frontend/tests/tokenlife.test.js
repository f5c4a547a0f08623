// tokenlife.js: reading a JWT's times, when to refresh it, when it counts as gone.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { decodePayload, EXPIRY_MARGIN_MS, isLive, lifetime, REFRESH_LEAD_MS, refreshAt, retryDelay } from "../tokenlife.js";

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
const jwt = (claims) => `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}.c2lnbmF0dXJl`;

describe("decodePayload", () => {
  test("reads the claims of a JWT, base64url and all", () => {
    const claims = { sub: "3f8e…", exp: 1_900_000_000, iat: 1_899_996_400, name: "Zoë ~?>" };
    assert.deepEqual(decodePayload(jwt(claims)), claims);
  });

  test("anything else is null, never a throw", () => {
    for (const bad of [null, 42, "", "abc", "a.b.c", "a.!!!.c", `a.${Buffer.from("[1").toString("base64url")}.c`, `a.${b64url(7)}.c`]) {
      assert.equal(decodePayload(bad), null, String(bad));
    }
  });
});

describe("lifetime", () => {
  const claims = { exp: 2_000, iat: 1_000 }; // seconds: a 1,000 s token

  test("times we recorded on arrival win (this clock may be off the server's)", () => {
    assert.deepEqual(lifetime({ issuedAt: 50, expiresAt: 1_000_050 }, claims), { issuedAt: 50, expiresAt: 1_000_050 });
  });

  test("without them, the claims say", () => {
    assert.deepEqual(lifetime({}, claims), { issuedAt: 1_000_000, expiresAt: 2_000_000 });
  });

  test("a recorded end without a start: the start is the claims' life before it", () => {
    assert.deepEqual(lifetime({ expiresAt: 5_000_000 }, claims), { issuedAt: 4_000_000, expiresAt: 5_000_000 });
  });

  test("no times at all: unknown", () => {
    assert.deepEqual(lifetime({}, null), { issuedAt: null, expiresAt: null });
  });
});

describe("isLive", () => {
  test("gone a margin before the end; no known end is live", () => {
    assert.equal(isLive({ expiresAt: 100_000 }, 100_000 - EXPIRY_MARGIN_MS), true);
    assert.equal(isLive({ expiresAt: 100_000 }, 100_001 - EXPIRY_MARGIN_MS), false);
    assert.equal(isLive({ expiresAt: null }, 1e15), true);
  });
});

describe("refreshAt", () => {
  const HOUR = 3_600_000;

  test("an hour's token is refreshed 80 % into its life", () => {
    assert.equal(refreshAt({ issuedAt: 0, expiresAt: HOUR }), 0.8 * HOUR);
  });

  test("a short token at least 15 s before its end", () => {
    assert.equal(refreshAt({ issuedAt: 0, expiresAt: 60_000 }), 60_000 - REFRESH_LEAD_MS);
    assert.equal(refreshAt({ issuedAt: 0, expiresAt: 20_000 }), 5_000);
  });

  test("never before it was issued: a token shorter than the lead is refreshed at once", () => {
    assert.equal(refreshAt({ issuedAt: 1_000, expiresAt: 9_000 }), 1_000);
  });

  test("tabs spread out earlier by up to 5 % of the life, 20 s at most", () => {
    assert.equal(refreshAt({ issuedAt: 0, expiresAt: HOUR }, 1), 0.8 * HOUR - 20_000);
    assert.equal(refreshAt({ issuedAt: 0, expiresAt: 100_000 }, 1), 80_000 - 5_000);
    assert.equal(refreshAt({ issuedAt: 0, expiresAt: 100_000 }, 0.5), 80_000 - 2_500);
    assert.equal(refreshAt({ issuedAt: 0, expiresAt: HOUR }, 7), 0.8 * HOUR - 20_000, "jitter is clamped");
  });

  test("every time it picks is inside the token's life and before the margin", () => {
    for (const life of [1_000, 16_000, 60_000, 61_000, 600_000, HOUR]) {
      for (const jitter of [0, 0.3, 1]) {
        const at = refreshAt({ issuedAt: 10, expiresAt: 10 + life }, jitter);
        assert.ok(at >= 10 && at <= 10 + life, `${life} ${jitter}`);
        if (life >= REFRESH_LEAD_MS) assert.ok(at <= 10 + life - REFRESH_LEAD_MS);
      }
    }
  });

  test("no known end: no refresh; unknown start: the lead before the end", () => {
    assert.equal(refreshAt({ issuedAt: 0, expiresAt: null }), null);
    assert.equal(refreshAt({ issuedAt: null, expiresAt: HOUR }), HOUR - REFRESH_LEAD_MS);
  });
});

describe("retryDelay", () => {
  test("backs off, capped, and the server's Retry-After wins", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => retryDelay(n)), [5_000, 10_000, 20_000, 40_000, 40_000, 40_000]);
    assert.equal(retryDelay(1, 12), 12_000);
    assert.equal(retryDelay(2, 0), 10_000);
  });
});
