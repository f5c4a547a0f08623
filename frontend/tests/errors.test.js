// errors.js: every error code the server can send has buyer wording, and the
// server's own text never becomes what a buyer reads.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { buyerMessage, GENERIC, WORDING } from "../errors.js";

const root = new URL("../../", import.meta.url);
const source = (path) => readFileSync(new URL(path, root), "utf8");

/** Every `code` the HTTP API can answer: the domain errors and the HTTP mapping's. */
function serverCodes() {
  const codes = new Set();
  for (const m of source("backend/errors.py").matchAll(/^\s+code = "([a-z_]+)"/gm)) codes.add(m[1]);
  const web = source("backend/web/errors.py");
  for (const m of web.matchAll(/"code": "([a-z_]+)"/g)) codes.add(m[1]);
  const table = web.slice(web.indexOf("_HTTP_CODES = {"), web.indexOf("}", web.indexOf("_HTTP_CODES = {")));
  for (const m of table.matchAll(/: "([a-z_]+)"/g)) codes.add(m[1]);
  return codes;
}

describe("buyerMessage", () => {
  test("the server's codes are all found (the scan works)", () => {
    const codes = serverCodes();
    for (const code of ["seat_held", "seat_booked", "not_authenticated", "throttled", "unavailable", "internal_error", "method_not_allowed", "too_large"]) {
      assert.ok(codes.has(code), code);
    }
  });

  test("every code the server sends has its own wording", () => {
    const missing = [...serverCodes()].filter((code) => !Object.hasOwn(WORDING, code));
    assert.deepEqual(missing, []);
  });

  test("the server's message is never the answer, whatever the body says", () => {
    const raw = "No JWT token found in request header";
    for (const status of [0, 400, 401, 403, 404, 405, 409, 413, 422, 423, 429, 500, 502, 503]) {
      for (const code of [null, "error", "made_up_code", ...Object.keys(WORDING)]) {
        const text = buyerMessage(status, code, { message: raw, code, limit: 4, retryAfter: 30 });
        assert.ok(typeof text === "string" && text.length > 10, `${status} ${code}: ${text}`);
        assert.ok(!text.includes(raw), `${status} ${code}`);
      }
    }
  });

  test("the raw 401 of a lapsed sign-in reads as a sign-in prompt", () => {
    assert.equal(buyerMessage(401, "not_authenticated", { message: "No JWT token found in request header" }), "You’re signed out. Please sign in to continue.");
  });

  test("unknown codes fall back to the status, then to a generic sentence", () => {
    assert.equal(buyerMessage(423, "made_up"), WORDING.seat_held);
    assert.equal(buyerMessage(404, "error"), WORDING.not_found);
    assert.equal(buyerMessage(418, "made_up"), GENERIC);
    assert.equal(buyerMessage(502, null), WORDING.internal_error);
    assert.match(buyerMessage(0, null), /connection/);
  });

  test("the seat limit and the throttle say their numbers", () => {
    assert.equal(buyerMessage(409, "seat_limit", { limit: 4 }), "You can have up to 4 seats for this event, held and booked together.");
    assert.equal(buyerMessage(409, "seat_limit", { limit: 1 }), "You can have up to 1 seat for this event, held and booked together.");
    assert.match(buyerMessage(409, "seat_limit", {}), /most seats/);
    assert.match(buyerMessage(429, "throttled", { retryAfter: 30 }), /wait 30 seconds/);
    assert.match(buyerMessage(429, "throttled", { retryAfter: "x" }), /wait a moment/);
  });

  test("the organiser's daily quota says when it frees up", () => {
    assert.match(buyerMessage(429, "quota_exceeded", { retryAfter: 30 }), /in about 1 minute\.$/);
    assert.match(buyerMessage(429, "quota_exceeded", { retryAfter: 600 }), /in about 10 minutes\.$/);
    assert.match(buyerMessage(429, "quota_exceeded", { retryAfter: 7 * 3600 }), /in about 7 hours\.$/);
    assert.match(buyerMessage(429, "quota_exceeded", {}), /try again later/);
  });

  test("a page's own words win for the codes it names", () => {
    assert.equal(buyerMessage(400, "invalid_input", null, { invalid_input: "Check your email." }), "Check your email.");
    assert.equal(buyerMessage(409, "email_taken", null, { invalid_input: "Check your email." }), WORDING.email_taken);
  });
});
