// My bookings: grouped by event, with cancel (inline confirm, no dialogs).

import { api, ApiError } from "../api.js";
import { isSignedIn, onAuthChange } from "../auth.js";
import { $, h, showMessage } from "../dom.js";
import { formatDate, formatMoney } from "../format.js";
import { initNav } from "../nav.js";

initNav();

const groups = $("[data-testid=booking-groups]");
const status = $("[data-testid=bookings-status]");
const messageBox = $("[data-testid=message]");

const isCancelled = (b) => /^cancel/i.test(b.status || "");

function seatText(seat) {
  const where = [seat.section, seat.row ? `Row ${seat.row}` : "", seat.number != null ? `Seat ${seat.number}` : "", seat.categoryName].filter(Boolean).join(" · ");
  return where || seat.label;
}

/** "D12": the section is spelled out next to it, so drop a "Stalls-" prefix. */
function shortLabel(seat) {
  return seat.row && seat.number != null ? `${seat.row}${seat.number}` : seat.label ?? "Seat";
}

function bookingRow(b) {
  const currency = b.event?.currency || "GBP";
  const cancelled = isCancelled(b);
  const actions = h("div", { class: "booking-actions" });
  const row = h(
    "li",
    { class: `booking${cancelled ? " is-cancelled" : ""}`, "data-testid": "booking", dataset: { bookingId: b.id, seatId: b.seat?.id ?? "" } },
    h("span", { class: "booking-label", text: shortLabel(b.seat || {}) }),
    h("span", { class: "booking-where", text: seatText(b.seat || {}) }),
    h("span", { class: "booking-price", text: b.seat?.price != null ? formatMoney(b.seat.price, currency) : "" }),
    h("span", { class: `badge badge--${cancelled ? "muted" : "ok"}`, "data-testid": "booking-status", text: cancelled ? "Cancelled" : "Booked" }),
    actions,
  );
  if (!cancelled) renderCancel(actions, b, row);
  return row;
}

/** The booking's ticket (its order's page), for an active booking that has an order. */
function ticketLink(b) {
  if (!b.orderId || isCancelled(b)) return null;
  return h("a", { class: "btn btn-ghost btn-small", "data-testid": "ticket-link", href: `/my/orders/${b.orderId}#b-${b.id}`, "aria-label": `Ticket for ${b.seat?.label ?? "this seat"}`, text: "Ticket" });
}

function renderCancel(actions, b, row) {
  const label = b.seat?.label ?? "this seat";
  actions.replaceChildren(
    ticketLink(b) ?? "",
    h("button", {
      type: "button",
      class: "btn btn-ghost btn-small",
      "data-testid": "cancel-booking",
      "aria-label": `Cancel booking for ${label}`,
      text: "Cancel",
      onclick: () => {
        actions.replaceChildren(
          h("span", { class: "confirm-text", text: "Cancel this booking?" }),
          h("button", { type: "button", class: "btn btn-danger btn-small", "data-testid": "confirm-cancel", text: "Yes, cancel", onclick: () => cancel(b, actions, row) }),
          h("button", { type: "button", class: "btn btn-ghost btn-small", text: "Keep", onclick: () => renderCancel(actions, b, row) }),
        );
        actions.querySelector("[data-testid=confirm-cancel]").focus();
      },
    }),
  );
}

async function cancel(b, actions, row) {
  for (const button of actions.querySelectorAll("button")) button.disabled = true;
  try {
    await api(`/bookings/${b.id}`, { method: "DELETE" });
    row.classList.add("is-cancelled");
    row.querySelector("[data-testid=booking-status]").textContent = "Cancelled";
    row.querySelector("[data-testid=booking-status]").className = "badge badge--muted";
    actions.replaceChildren();
    showMessage(messageBox, `Cancelled ${b.seat?.label ?? "the booking"}. The seat is free again.`, "success");
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    showMessage(messageBox, err.message, "error");
    renderCancel(actions, b, row);
  }
}

function render(bookings) {
  const byEvent = new Map();
  for (const b of bookings) {
    const key = b.event?.id ?? "unknown";
    if (!byEvent.has(key)) byEvent.set(key, { event: b.event || { name: "Event" }, items: [] });
    byEvent.get(key).items.push(b);
  }
  const sections = [...byEvent.values()].map(({ event, items }) => {
    items.sort((a, b) => Number(isCancelled(a)) - Number(isCancelled(b)) || String(a.seat?.label).localeCompare(String(b.seat?.label), undefined, { numeric: true }));
    return h(
      "section",
      { class: "card booking-group", "data-testid": "booking-group", dataset: { eventId: event.id ?? "" } },
      h("header", { class: "booking-group-head" }, h("h2", {}, event.id ? h("a", { href: `/e/${event.id}`, text: event.name }) : event.name), h("p", { class: "event-meta", text: formatDate(event.startsAt) })),
      h("ul", { class: "booking-list" }, items.map(bookingRow)),
    );
  });
  groups.replaceChildren(...sections);
}

async function load() {
  if (!isSignedIn()) {
    groups.replaceChildren();
    status.hidden = false;
    status.replaceChildren("Sign in to see your bookings. ", h("a", { href: "/account/signin?next=%2Fmy%2Fbookings", text: "Sign in" }));
    return;
  }
  try {
    const data = await api("/bookings");
    const bookings = data.bookings || [];
    status.hidden = bookings.length > 0;
    status.replaceChildren(bookings.length ? "" : "You have no bookings yet. ", bookings.length ? "" : h("a", { href: "/", text: "Find an event" }));
    render(bookings);
  } catch (err) {
    status.hidden = false;
    status.textContent = `Could not load your bookings: ${err.message}`;
  }
}

load();
onAuthChange(() => load());
