import assert from "node:assert/strict";
import { test } from "node:test";

import { doorRefusal, seatWords } from "../tickets.js";

test("a seat in words, as the door reads it out", () => {
  assert.equal(seatWords({ section: "Stalls", row: "C", number: 3, label: "C3", categoryName: "Premium" }), "Stalls, row C, seat 3 (Premium)");
  assert.equal(seatWords({ section: "", row: "C", number: 3, label: "C3" }), "Row C, seat 3");
  assert.equal(seatWords({ section: "", row: "", number: 0, label: "A1" }), "Seat A1");
  assert.equal(seatWords(null), "");
});

test("a refused scan says why, with when for a used ticket", () => {
  const at = (iso) => `T(${iso})`;
  assert.deepEqual(doorRefusal("already_checked_in", { checkedInAt: "2030-01-01T19:00:00Z" }, at), {
    verdict: "Already checked in",
    detail: "This ticket was used at T(2030-01-01T19:00:00Z).",
  });
  assert.equal(doorRefusal("cancelled", {}, at).verdict, "Cancelled ticket");
  assert.equal(doorRefusal("ticket_not_found", {}, at).verdict, "Not a ticket for this event");
  assert.equal(doorRefusal("forbidden", {}, at), null);
});
