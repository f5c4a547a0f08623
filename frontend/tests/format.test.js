// format.js: money in minor units, dates, countdowns. The page's locale is the
// runtime's (undefined), so locale-dependent outputs are compared with Intl in
// the same locale, and checked for what holds in every locale.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { formatCountdown, formatDate, formatDay, formatMoney, formatTime, minorDigits, parseMoney, speakDuration } from "../format.js";

/** The decimal digits in a text, in whatever numbering system the locale uses. */
const digits = (text) => (text.match(/\p{Nd}/gu) || []).join("");
/** An integer written with the locale's digits, no grouping: local(1250) is "1250" in en, "١٢٥٠" in ar-EG. */
const local = (n, minimumIntegerDigits = 1) => new Intl.NumberFormat(undefined, { useGrouping: false, minimumIntegerDigits }).format(n);

describe("formatMoney", () => {
  test("prices are minor units: 1250 pence is 12.50 pounds", () => {
    const text = formatMoney(1250, "GBP");
    assert.equal(text, new Intl.NumberFormat(undefined, { style: "currency", currency: "GBP" }).format(12.5));
    assert.equal(digits(text), local(1250));
    assert.match(text, /\p{Nd}[.,\u066b]\p{Nd}{2}(?!\p{Nd})/u, "two decimals");
  });

  test("a currency without minor units is not divided (1250 yen)", () => {
    assert.equal(minorDigits("JPY"), 0);
    const text = formatMoney(1250, "JPY");
    assert.equal(text, new Intl.NumberFormat(undefined, { style: "currency", currency: "JPY" }).format(1250));
    assert.equal(digits(text), local(1250));
  });

  test("no price is an empty string, zero is a price", () => {
    assert.equal(formatMoney(null, "GBP"), "");
    assert.equal(formatMoney(undefined, "GBP"), "");
    assert.equal(formatMoney(Number.NaN, "GBP"), "");
    assert.notEqual(formatMoney(0, "GBP"), "");
    assert.equal(digits(formatMoney(0, "GBP")), local(0, 3));
  });

  test("a code Intl rejects falls back to the code and a two-decimal number", () => {
    assert.throws(() => new Intl.NumberFormat(undefined, { style: "currency", currency: "EURO" }), RangeError);
    const plain = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    assert.equal(formatMoney(1250, "EURO"), `EURO ${plain.format(12.5)}`);
    assert.equal(minorDigits("EURO"), 2);
    assert.equal(formatMoney(7, "EURO"), `EURO ${plain.format(0.07)}`);
  });
});

describe("parseMoney", () => {
  test("major units typed in become minor units", () => {
    assert.equal(parseMoney("12.50", "GBP"), 1250);
    assert.equal(parseMoney("12.5", "GBP"), 1250);
    assert.equal(parseMoney("£ 40", "GBP"), 4000);
    assert.equal(parseMoney("1,250.00", "GBP"), 125000, "thousands separators are ignored");
    assert.equal(parseMoney("1250", "JPY"), 1250);
    assert.equal(parseMoney("0.07", "GBP"), 7, "rounded, not truncated (0.07 * 100 is 7.000000000000001)");
    assert.equal(parseMoney("19.99", "GBP"), 1999);
  });

  test("nothing readable is null", () => {
    assert.equal(parseMoney("", "GBP"), null);
    assert.equal(parseMoney("free", "GBP"), null);
    assert.equal(parseMoney(".", "GBP"), null);
  });
});

describe("dates", () => {
  const ISO = "2030-06-15T19:30:00Z";

  test("a missing or unreadable date is an empty string", () => {
    for (const fn of [formatDate, formatDay]) {
      assert.equal(fn(""), "");
      assert.equal(fn(null), "");
      assert.equal(fn(undefined), "");
      assert.equal(fn("not a date"), "");
    }
  });

  test("a date is shown in the runtime's locale and zone, and names the zone", () => {
    const d = new Date(ISO);
    const full = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short" });
    assert.equal(formatDate(ISO), full.format(d));
    const zone = full.formatToParts(d).find((p) => p.type === "timeZoneName").value;
    assert.ok(zone && formatDate(ISO).includes(zone), `the zone (${zone}) is in ${formatDate(ISO)}`);
    assert.equal(formatDay(ISO), new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" }).format(d));
    assert.ok(digits(formatDate(ISO)).includes(local(2030)), "the full form has the year");
    assert.ok(!digits(formatDay(ISO)).includes(local(2030)), "the day form has no year");
  });
});

describe("formatCountdown", () => {
  for (const [ms, text] of [
    [545_000, "9:05"],
    [60_000, "1:00"],
    [59_001, "1:00"], // rounds up: never shows 0:59 while a second is still left
    [1, "0:01"],
    [0, "0:00"],
    [-5_000, "0:00"], // an expired hold never counts negative
    [3_600_000, "1:00:00"],
    [3_723_000, "1:02:03"],
    [36_000_000, "10:00:00"],
  ]) {
    test(`${ms} ms is ${text}`, () => assert.equal(formatCountdown(ms), text));
  }
});

describe("speakDuration", () => {
  for (const [ms, text] of [
    [250_000, "4 minutes 10 seconds"],
    [61_000, "1 minute 1 second"],
    [60_000, "1 minute"],
    [120_000, "2 minutes"],
    [1_000, "1 second"],
    [1_500, "2 seconds"],
    [0, "0 seconds"],
    [-1_000, "0 seconds"],
  ]) {
    test(`${ms} ms is "${text}"`, () => assert.equal(speakDuration(ms), text));
  }
});

test("formatTime: the time of day, to the second or the minute; nothing for none", () => {
  const iso = "2030-05-01T19:04:09Z";
  const local = new Date(iso);
  assert.match(formatTime(iso), new RegExp(`${local.getMinutes().toString().padStart(2, "0")}.${local.getSeconds().toString().padStart(2, "0")}`));
  assert.ok(formatTime(iso, { seconds: false }).length < formatTime(iso).length);
  assert.equal(formatTime(null), "");
  assert.equal(formatTime("not a time"), "");
});
