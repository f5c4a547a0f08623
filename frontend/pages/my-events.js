// The organiser's events (issue 15's console, first part): each event's seats and sales,
// links to its seat map and its door, the bookings as CSV, and its door staff.

import { api, ApiError } from "../api.js";
import { isSignedIn, onAuthChange, session, token } from "../auth.js";
import { $, h, showMessage } from "../dom.js";
import { formatDate, formatMoney, formatTime } from "../format.js";
import { LiveFeed } from "../live.js";
import { initNav } from "../nav.js";
import { editor } from "./console/editor.js";

initNav();

const REFRESH_AFTER_CHANGE_MS = 1000; // a burst of seat changes is one report read
const REFRESH_EVERY_MS = 30_000; // read again now and then, whatever the socket brought
const CHART_MINUTES = 60;
const SVG = "http://www.w3.org/2000/svg";

const list = $("[data-testid=console-list]");
const feeds = new Map(); // event id -> LiveFeed
let refreshTimer = 0;
const status = $("[data-testid=console-status]");
const messageBox = $("[data-testid=message]");

function figure(label, value, testid) {
  return h("div", { class: "console-figure" }, h("dt", { text: label }), h("dd", { "data-testid": testid, text: String(value) }));
}

/** The CSV comes from an authenticated request, so it is fetched and handed to the
 *  browser as a file (a plain link would not carry the token). */
async function downloadCsv(event, button) {
  button.disabled = true;
  try {
    const response = await fetch(`/events/${event.id}/report.csv`, { headers: { Authorization: `Bearer ${token()}` } });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "")?.[1] || "bookings.csv";
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    showMessage(messageBox, err instanceof ApiError ? `Could not download the bookings: ${err.message}` : "Could not download the bookings. Please try again.", "error");
  } finally {
    button.disabled = false;
  }
}

function staffSection(event) {
  const items = h("ul", { class: "staff-list", "data-testid": "staff-list" });
  const input = h("input", { type: "email", id: `staff-${event.id}`, "data-testid": "staff-email", autocomplete: "off", required: true });
  const render = (staff) => {
    items.replaceChildren(
      ...staff.map((s) =>
        h(
          "li",
          { "data-testid": "staff-member", dataset: { userId: s.userId } },
          h("span", { text: s.email }),
          h("button", { type: "button", class: "btn btn-ghost btn-small", "data-testid": "staff-remove", "aria-label": `Remove ${s.email} from the door staff`, text: "Remove", onclick: () => change(() => api(`/events/${event.id}/staff/${s.userId}`, { method: "DELETE" }), `${s.email} can no longer check tickets.`) }),
        ),
      ),
    );
    if (!staff.length) items.append(h("li", { class: "muted", text: "Nobody yet: only you can check tickets." }));
  };
  const change = async (call, said) => {
    try {
      render((await call()).staff ?? (await api(`/events/${event.id}/staff`)).staff);
      showMessage(messageBox, said, "success");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showMessage(messageBox, err.message, "error");
    }
  };
  const form = h(
    "form",
    {
      class: "staff-form",
      "data-testid": "staff-form",
      novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        const email = input.value.trim();
        if (!email) return;
        change(async () => {
          await api(`/events/${event.id}/staff`, { method: "POST", body: { email } });
          input.value = "";
          return api(`/events/${event.id}/staff`);
        }, `${email} can now check tickets at the door.`);
      },
    },
    h("label", { for: `staff-${event.id}`, text: "Add door staff by email" }),
    h("div", { class: "staff-add" }, input, h("button", { type: "submit", class: "btn btn-ghost btn-small", "data-testid": "staff-add", text: "Add" })),
  );
  api(`/events/${event.id}/staff`)
    .then((data) => render(data.staff))
    .catch(() => {});
  return h("section", { class: "console-staff", "aria-label": `Door staff of ${event.name}` }, h("h3", { text: "Door staff" }), items, form);
}

/** Bookings per minute over the last CHART_MINUTES minutes that had any, as bars (SVG
 *  made here: no chart library, and the CSP allows no inline script or style). */
function chart(report) {
  const minutes = (report?.perMinute || []).slice(-CHART_MINUTES);
  const box = h("figure", { class: "console-chart", "data-testid": "sales-chart" });
  if (!minutes.length) {
    box.append(h("figcaption", { text: "No bookings yet." }));
    return box;
  }
  const peak = minutes.reduce((a, m) => (m.bookings > a.bookings ? m : a), minutes[0]);
  const total = minutes.reduce((n, m) => n + m.bookings, 0);
  const words = `Bookings per minute: ${total} in ${minutes.length} minute${minutes.length === 1 ? "" : "s"} with sales, at most ${peak.bookings} (at ${formatTime(peak.minute, { seconds: false })}).`;
  const width = 300;
  const height = 60;
  const bar = width / Math.max(minutes.length, 12);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", words);
  minutes.forEach((m, i) => {
    const rect = document.createElementNS(SVG, "rect");
    const tall = Math.max(1, (height - 2) * (m.bookings / peak.bookings));
    rect.setAttribute("x", String(i * bar + 1));
    rect.setAttribute("y", String(height - tall));
    rect.setAttribute("width", String(Math.max(1, bar - 2)));
    rect.setAttribute("height", String(tall));
    rect.setAttribute("class", "console-bar");
    svg.append(rect);
  });
  box.append(svg, h("figcaption", { text: words }));
  return box;
}

function figures(event, report) {
  const seats = report?.seats || event.counts || {};
  return h(
    "dl",
    { class: "console-figures", "data-testid": "console-figures" },
    figure("Booked", `${seats.booked ?? 0} of ${seats.total ?? 0}`, "figure-booked"),
    figure("Held now", seats.held ?? 0, "figure-held"),
    figure("Sales", report ? formatMoney(report.seats.revenue, report.currency) : "–", "figure-revenue"),
    figure("Checked in", report ? report.seats.checkedIn : "–", "figure-checked-in"),
    ...(report?.waitingRoom?.enabled
      ? [
          figure("In the queue", report.waitingRoom.waiting, "figure-waiting"),
          figure("Shopping now", `${report.waitingRoom.shopping} of ${report.waitingRoom.maxShoppers}`, "figure-shopping"),
          figure("Let in so far", report.waitingRoom.admittedTotal, "figure-admitted"),
        ]
      : []),
  );
}

const ACTIVITY_LINES = 8;
const ACTION_WORDS = {
  held: "held",
  extended: "held for longer",
  released: "released",
  expired: "hold ran out",
  booked: "booked",
  cancelled: "booking cancelled",
  checked_in: "checked in at the door",
};

/** The event's latest seat changes, from its status-change log. */
function activity(entries) {
  const box = h("section", { class: "console-activity", "data-testid": "activity" }, h("h3", { text: "Recent activity" }));
  if (!entries) return box;
  if (!entries.length) {
    box.append(h("p", { class: "muted", text: "Nothing yet." }));
    return box;
  }
  box.append(
    h(
      "ol",
      { class: "activity-list", reversed: true },
      [...entries].reverse().map((e) =>
        h(
          "li",
          { "data-testid": "activity-line", dataset: { action: e.action } },
          h("time", { datetime: e.at, text: formatTime(e.at) }),
          ` ${e.seatLabel}: ${ACTION_WORDS[e.action] || e.action}${e.actorEmail ? ` (${e.actorEmail})` : e.actorId ? "" : " (automatically)"}`,
        ),
      ),
    ),
  );
  return box;
}

const recent = (event) => api(`/events/${event.id}/log?latest=true&limit=${ACTIVITY_LINES}`).then((d) => d.entries).catch(() => null);

/** Read the event's report and recent activity again and redraw them. */
async function refresh(event) {
  const item = list.querySelector(`[data-event-id="${event.id}"]`);
  if (!item) return;
  const [report, lines] = await Promise.all([api(`/events/${event.id}/report`).catch(() => null), recent(event)]);
  if (report) {
    item.querySelector("[data-testid=console-figures]").replaceWith(figures(event, report));
    item.querySelector("[data-testid=sales-chart]").replaceWith(chart(report));
  }
  if (lines) item.querySelector("[data-testid=activity]").replaceWith(activity(lines));
}

/** Seat changes come over the event's websocket, as on its seat map; each burst makes
 *  one report read a second later. */
function follow(event) {
  let pending = 0;
  const feed = new LiveFeed(event.id, {
    getToken: token,
    onSnapshot: () => {},
    onChanges: () => {
      clearTimeout(pending);
      pending = setTimeout(() => refresh(event), REFRESH_AFTER_CHANGE_MS);
    },
    // A check-in changes no seat: the socket tells the organiser on its own.
    onDoor: () => {
      clearTimeout(pending);
      pending = setTimeout(() => refresh(event), REFRESH_AFTER_CHANGE_MS);
    },
    onState: () => {},
    onAuth: () => {},
    onError: () => {},
    onQueue: () => {},
    onRoom: () => {},
    onGone: () => feed.stop(),
    onStale: () => {},
  });
  feeds.set(event.id, feed);
  feed.start();
}

function card(event, report, lines) {
  const csv = h("button", { type: "button", class: "btn btn-ghost btn-small", "data-testid": "download-csv", text: "Download bookings (CSV)" });
  csv.addEventListener("click", () => downloadCsv(event, csv));
  return h(
    "li",
    { class: "card console-event", "data-testid": "console-event", dataset: { eventId: event.id } },
    h("header", { class: "console-head" }, h("h2", {}, h("a", { href: `/my/events/${event.id}`, text: event.name })), h("p", { class: "event-meta", text: [event.startsAt ? formatDate(event.startsAt) : "Date to be announced", event.venue].filter(Boolean).join(" · ") })),
    event.cancelledAt
      ? h("p", { class: "cancelled-banner", "data-testid": "console-cancelled" }, h("strong", { text: `Cancelled on ${formatDate(event.cancelledAt)}.` }), event.cancelReason ? ` Your message: “${event.cancelReason}”` : "")
      : null,
    figures(event, report),
    chart(report),
    activity(lines),
    h("div", { class: "console-actions" }, h("a", { class: "btn btn-ghost btn-small", href: `/e/${event.id}`, text: "Seat map" }), h("a", { class: "btn btn-ghost btn-small", "data-testid": "door-link", href: `/e/${event.id}/door`, text: "Door" }), csv),
    staffSection(event),
    editor(event, {
      say: (text, kind) => showMessage(messageBox, text, kind),
      changed: () => load(),
      deleted: () => load(),
    }),
  );
}

// `/my/events/{id}`: the same, for one event (a 403 from its report: not the organiser's).
const only = document.querySelector("main").dataset.eventId || null;

let generation = 0; // a load overtaken by a newer one wires nothing up

function unwire() {
  for (const feed of feeds.values()) feed.stop();
  feeds.clear();
  clearInterval(refreshTimer);
}

async function load() {
  const turn = ++generation;
  unwire();
  const me = session();
  if (!isSignedIn() || !me) {
    list.replaceChildren();
    status.hidden = false;
    status.replaceChildren("Sign in to see the events you run. ", h("a", { href: "/account/signin?next=%2Fmy%2Fevents", text: "Sign in" }));
    return;
  }
  try {
    const userId = me.userId || (await api("/me")).id;
    const all = (await api("/events", { auth: false })).events || [];
    if (only) {
      const event = all.find((e) => e.id === only);
      if (!event || event.organiserId !== userId) {
        list.replaceChildren();
        status.hidden = false;
        status.dataset.denied = event ? "forbidden" : "not-found";
        status.textContent = event ? "Only this event’s organiser can see its sales and settings." : "There is no such event.";
        return;
      }
    }
    const mine = all.filter((e) => e.organiserId === userId && (!only || e.id === only));
    const [reports, logs] = await Promise.all([
      Promise.all(mine.map((e) => api(`/events/${e.id}/report`).catch(() => null))),
      Promise.all(mine.map(recent)),
    ]);
    if (turn !== generation) return;
    unwire(); // whatever an overlapping load set up meanwhile
    status.hidden = mine.length > 0;
    status.replaceChildren(mine.length ? "" : "You don’t run any events yet. ", mine.length ? "" : h("a", { href: "/my/events/new", text: "Create one" }));
    list.replaceChildren(...mine.map((e, i) => card(e, reports[i], logs[i])));
    for (const event of mine) follow(event);
    refreshTimer = setInterval(() => {
      if (document.visibilityState === "visible") for (const event of mine) refresh(event);
    }, REFRESH_EVERY_MS);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    status.hidden = false;
    status.textContent = `Could not load your events: ${err.message}`;
  }
}

load();
// A refreshed token is the same person: keep the page (and anything half typed in it).
let shownFor = session()?.userId ?? null;
onAuthChange((current) => {
  const who = current?.userId ?? null;
  if (who === shownFor && current) return;
  shownFor = who;
  load();
});
