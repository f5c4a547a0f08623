// Events list: name, date, venue and a live-ish availability bar per event.

import { api } from "../api.js";
import { $, h } from "../dom.js";
import { formatDate } from "../format.js";
import { initNav } from "../nav.js";

initNav();

const list = $("[data-testid=event-list]");
const status = $("[data-testid=events-status]");

function bar(counts) {
  const total = Math.max(1, counts.total || 0);
  const seg = (kind, n) => {
    const el = h("span", { class: `avail-seg avail-seg--${kind}` });
    el.style.width = `${(100 * n) / total}%`; // CSSOM, allowed by the CSP
    return el;
  };
  return h(
    "div",
    { class: "avail-bar", role: "img", "aria-label": `${counts.available} of ${counts.total} seats available, ${counts.held} held, ${counts.booked} booked` },
    seg("available", counts.available || 0),
    seg("held", counts.held || 0),
    seg("booked", counts.booked || 0),
  );
}

function card(event) {
  const counts = event.counts || { total: 0, available: 0, held: 0, booked: 0 };
  const soldOut = counts.total > 0 && counts.available === 0;
  const pct = counts.total ? Math.round((100 * counts.available) / counts.total) : 0;
  return h(
    "li",
    { class: "event-card", "data-testid": "event-card", dataset: { eventId: event.id } },
    h(
      "a",
      { class: "event-card-link", href: `/e/${event.id}` },
      h("span", { class: "event-card-date", text: event.startsAt ? formatDate(event.startsAt) : "Date to be announced" }),
      h("span", { class: "event-card-name", text: event.name }),
      event.venue ? h("span", { class: "event-card-venue", text: event.venue }) : null,
    ),
    event.cancelledAt ? null : bar(counts),
    event.cancelledAt
      ? h("p", { class: "event-card-counts", "data-testid": "event-cancelled" }, h("strong", { text: "Cancelled" }), " by the organiser · not on sale")
      : h(
          "p",
          { class: "event-card-counts" },
          soldOut ? h("strong", { class: "sold-out", text: "Sold out" }) : h("strong", { text: `${counts.available.toLocaleString()} available` }),
          ` of ${counts.total.toLocaleString()}${counts.total ? ` (${pct}%)` : ""}`,
          counts.held ? ` · ${counts.held.toLocaleString()} held` : "",
          counts.booked ? ` · ${counts.booked.toLocaleString()} booked` : "",
        ),
  );
}

async function load() {
  try {
    const data = await api("/events", { auth: false });
    const events = data.events || [];
    list.replaceChildren(...events.map(card));
    status.textContent = events.length ? "" : "No events yet. Sign in and create the first one.";
    status.hidden = events.length > 0;
  } catch (err) {
    status.hidden = false;
    status.textContent = `Could not load events: ${err.message}`;
  }
}

load();
// Counts go stale while the tab sits in the background; refresh on return.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") load();
});
