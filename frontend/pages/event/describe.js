// How the event page words a seat: its names, its status, the map's accessible
// name and hover card. Reads the page's store, event and server clock; changes
// nothing.

import { formatCountdown, formatMoney, speakDuration } from "../../format.js";
import { KIND_BOOKED, KIND_MINE_BOOKED, KIND_MINE_HELD, KIND_OTHER_HELD, kindFor } from "../../seatdraw.js";

const KIND_NAMES = ["available", "mine-held", "other-held", "booked", "mine-booked"];

/** The server's clock: ours plus the offset learned from hold responses. */
export function now(page) {
  return Date.now() + page.clockOffset;
}

/** A price in minor units in the event's currency; "" for none. */
export function money(page, price) {
  return price === null ? "" : formatMoney(price, page.event.currency);
}

/** "Row C, seat 12", or "Seat <label>" when the seat has no row and number. */
export function seatName(page, i) {
  const store = page.store;
  const row = store.row[i], num = store.number[i];
  if (row !== "" && num !== null && num !== undefined) return `Row ${row}, seat ${num}`;
  return `Seat ${store.label[i]}`;
}

/** "E10" without the section prefix (the section is shown next to it); "20-1" for row
 *  20, seat 1, as the server labels it ("201" would read as seat 201, or row 2 seat 01). */
export function rowSeat(page, i) {
  const store = page.store;
  const row = String(store.row[i]), num = store.number[i];
  if (row === "" || num === null || num === undefined) return store.label[i];
  return `${row}${/\d$/.test(row) ? "-" : ""}${num}`;
}

/** "Section 101" for a section named by a number alone, else its name ("Stalls"). */
export function sectionName(name) {
  return /^\d+$/.test(name) ? `Section ${name}` : name;
}

export function shortName(page, i) {
  return page.store.label[i] || seatName(page, i);
}

function statusText(page, i, { spoken = false } = {}) {
  const store = page.store;
  switch (kindFor(store, i)) {
    case KIND_MINE_HELD: {
      const left = store.heldUntil[i] - now(page);
      return `held by you${store.heldUntil[i] ? `, ${spoken ? speakDuration(left) : formatCountdown(left)} left` : ""}`;
    }
    case KIND_OTHER_HELD: {
      const left = store.heldUntil[i] - now(page);
      return `held by someone else${store.heldUntil[i] ? `, free in ${spoken ? speakDuration(left) : formatCountdown(left)} unless booked` : ""}`;
    }
    case KIND_BOOKED:
      return "booked";
    case KIND_MINE_BOOKED:
      return "booked by you";
    default:
      return "available";
  }
}

/** "Row C, seat 12, available, £40" plus category, section and access. */
export function describe(page, i) {
  const store = page.store;
  const parts = [seatName(page, i), statusText(page, i, { spoken: true })];
  const price = money(page, store.price(i));
  if (price) parts.push(price);
  const cat = store.category(i);
  if (cat) parts.push(cat.name);
  if (store.section[i]) parts.push(store.section[i]);
  if (store.accessible[i]) parts.push("wheelchair accessible");
  return parts.join(", ");
}

/** The map's hover card for seat i: {title, lines, kind}. */
export function tooltip(page, i) {
  const store = page.store;
  const cat = store.category(i);
  const lines = [];
  const where = [store.section[i], store.row[i] !== "" ? `Row ${store.row[i]}` : "", store.number[i] != null ? `Seat ${store.number[i]}` : ""].filter(Boolean);
  if (where.length) lines.push(where.join(" · "));
  if (cat) lines.push(`${cat.name} · ${money(page, cat.price)}`);
  if (store.accessible[i]) lines.push("Wheelchair accessible");
  const status = statusText(page, i);
  lines.push(status.charAt(0).toUpperCase() + status.slice(1));
  return { title: store.label[i] || seatName(page, i), lines, kind: KIND_NAMES[kindFor(store, i)] };
}
