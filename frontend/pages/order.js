// One order's tickets: each active booking's QR code (drawn by the server) and code,
// with the seat in words; cancelled ones listed without a code.

import { api, ApiError } from "../api.js";
import { isSignedIn, onAuthChange } from "../auth.js";
import { $, h } from "../dom.js";
import { formatDate, formatMoney } from "../format.js";
import { initNav } from "../nav.js";
import { seatWords } from "../tickets.js";

initNav();

const orderId = document.querySelector("main").dataset.orderId;
const status = $("[data-testid=order-status]");
const facts = $("[data-testid=order-facts]");
const list = $("[data-testid=tickets]");
const meta = $("[data-testid=order-meta]");
const title = $("[data-testid=order-title]");
const foot = $("[data-testid=order-foot]");
const print = $("[data-testid=print-tickets]");

print.addEventListener("click", () => window.print());

function ticketItem(b) {
  const words = seatWords(b.seat);
  const label = b.seat?.label ?? "";
  if (!b.ticket) {
    return h(
      "li",
      { class: "ticket is-cancelled", "data-testid": "ticket", dataset: { bookingId: b.id, state: "cancelled" } },
      h("div", { class: "ticket-text" }, h("h2", { class: "ticket-seat", text: words }), h("p", { class: "ticket-label", text: `Seat ${label}` }), h("span", { class: "badge badge--muted", text: "Cancelled" })),
    );
  }
  const used = b.checkedInAt ? h("span", { class: "badge badge--muted", "data-testid": "ticket-used", text: `Used at ${formatDate(b.checkedInAt)}` }) : h("span", { class: "badge badge--ok", text: "Valid" });
  return h(
    "li",
    { class: "ticket", id: `b-${b.id}`, "data-testid": "ticket", dataset: { bookingId: b.id, state: b.checkedInAt ? "used" : "valid" } },
    h("img", { class: "ticket-qr", "data-testid": "ticket-qr", src: b.ticket.qr, alt: `QR code of the ticket for ${words}`, width: 180, height: 180 }),
    h(
      "div",
      { class: "ticket-text" },
      h("h2", { class: "ticket-seat", "data-testid": "ticket-seat", text: words }),
      h("p", { class: "ticket-label", text: `Seat ${label}` }),
      h("p", { class: "ticket-code-line" }, "Code ", h("code", { class: "ticket-code", "data-testid": "ticket-code", text: b.ticket.code })),
      used,
    ),
  );
}

function render(order) {
  const event = order.bookings?.[0]?.event;
  title.textContent = event ? `Your tickets: ${event.name}` : "Your tickets";
  document.title = `${title.textContent} · Boxoffice`;
  meta.replaceChildren(event ? h("a", { href: `/e/${event.id}`, text: formatDate(event.startsAt) || "Seat map" }) : "");
  $("[data-testid=order-reference]").textContent = order.reference;
  $("[data-testid=order-total]").textContent = formatMoney(order.total, order.currency);
  $("[data-testid=order-date]").textContent = formatDate(order.createdAt);
  facts.hidden = false;
  const bookings = [...(order.bookings || [])].sort((a, b) => Number(!a.ticket) - Number(!b.ticket) || String(a.seat?.label).localeCompare(String(b.seat?.label), undefined, { numeric: true }));
  list.replaceChildren(...bookings.map(ticketItem));
  const valid = bookings.filter((b) => b.ticket).length;
  status.hidden = valid > 0;
  status.textContent = valid ? "" : event?.cancelledAt ? `The organiser cancelled this event on ${formatDate(event.cancelledAt)}, and with it these tickets.` : "This order has no valid tickets: its bookings were cancelled.";
  foot.hidden = valid === 0;
  print.hidden = valid === 0;
}

async function load() {
  if (!isSignedIn()) {
    list.replaceChildren();
    facts.hidden = true;
    status.hidden = false;
    status.replaceChildren("Sign in to see your tickets. ", h("a", { href: `/account/signin?next=${encodeURIComponent(location.pathname)}`, text: "Sign in" }));
    return;
  }
  try {
    render((await api(`/orders/${orderId}`)).order);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    facts.hidden = true;
    list.replaceChildren();
    status.hidden = false;
    status.textContent = err.status === 404 ? "We couldn’t find this order in your account." : `Could not load your tickets: ${err.message}`;
  }
}

load();
onAuthChange(() => load());
