// The server's limits on a layout (backend/web/schemas.py, backend/booking/layout.py),
// in words an organiser can act on, for the layout builder to say beside each field as
// they type (issue 14, item 6: a 1,500-seat row used to submit and come back as a
// schema path). Pure: frontend/tests/limits.test.js. Each returns "" when it is fine.

export const MAX_ROW_SEATS = 1000;
export const MAX_SECTION_NAME = 24;
export const MAX_LABEL = 32;
export const MAX_SEATS = 100_000;
export const MAX_HOLD_SECONDS = 7200;
export const MAX_PRICE = 100_000_000; // minor units

const n = (x) => x.toLocaleString("en-GB");

/** A row's seat count. */
export function rowSeatsProblem(seats) {
  if (!Number.isInteger(seats) || seats < 1) return "At least 1 seat.";
  if (seats > MAX_ROW_SEATS) return `At most ${n(MAX_ROW_SEATS)} seats in a row.`;
  return "";
}

/**
 * A section's name, and the seat names it makes: with several sections each seat is
 * called "<section>-<row><number>" ("Stalls-A12", "Stalls-20-1"), at most MAX_LABEL
 * characters. `rows` are [{label, seats}]; `several` whether there are other sections.
 */
export function sectionNameProblem(name, rows, several) {
  const text = name.trim();
  if (!text) return "Give the section a name.";
  if (text.length > MAX_SECTION_NAME) return `At most ${MAX_SECTION_NAME} characters.`;
  if (!several) return "";
  const longest = Math.max(0, ...rows.map((r) => r.label.trim().length + (/\d$/.test(r.label.trim()) ? 1 : 0) + String(Math.max(1, r.seats)).length));
  const room = MAX_LABEL - longest - 1;
  if (text.length > room) return `Seat names would pass ${MAX_LABEL} characters: at most ${Math.max(room, 0)} characters here.`;
  return "";
}

/** A category's price, in minor units (null: not a price). */
export function priceProblem(minor, format) {
  if (minor === null) return "Enter a price, e.g. 25 or 25.50.";
  if (minor < 0) return "A price cannot be negative.";
  if (minor > MAX_PRICE) return `At most ${format(MAX_PRICE)}.`;
  return "";
}

export function holdProblem(seconds) {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_HOLD_SECONDS) return `Between 1 and ${n(MAX_HOLD_SECONDS)} seconds.`;
  return "";
}

export function maxSeatsProblem(limit, total) {
  if (!Number.isInteger(limit) || limit < 1) return "At least 1.";
  if (total > 0 && limit > total) return `At most the event's ${n(total)} seat${total === 1 ? "" : "s"}.`;
  return "";
}

export function totalProblem(total) {
  return total > MAX_SEATS ? `An event has at most ${n(MAX_SEATS)} seats; this one has ${n(total)}.` : "";
}
