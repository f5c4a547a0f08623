// Tickets in words (pure: no DOM, no fetch). frontend/tests/tickets.test.js.

/** "Stalls, row C, seat 3 (Premium)"; the label for a seat without row and number.
 *  The same words the door reads out (backend/booking/door.py: seat_in_words). */
export function seatWords(seat) {
  if (!seat) return "";
  const parts = [seat.section || ""];
  if (seat.row) parts.push(`row ${seat.row}`);
  if (seat.number) parts.push(`seat ${seat.number}`);
  let words = parts.filter(Boolean).join(", ") || `seat ${seat.label ?? ""}`.trim();
  words = words.charAt(0).toUpperCase() + words.slice(1);
  return seat.categoryName ? `${words} (${seat.categoryName})` : words;
}

/** What the door says for a refused scan, by the API's error code. */
export function doorRefusal(code, body, formatTime) {
  if (code === "already_checked_in") {
    const when = body?.checkedInAt ? formatTime(body.checkedInAt) : "";
    return { verdict: "Already checked in", detail: when ? `This ticket was used at ${when}.` : "This ticket has been used." };
  }
  if (code === "cancelled") return { verdict: "Cancelled ticket", detail: "This booking was cancelled. Do not let this ticket in." };
  if (code === "ticket_not_found") return { verdict: "Not a ticket for this event", detail: "Check the code, or ask for the ticket for this event." };
  return null;
}
