// An event's settings, changed from "Your events": name, venue, time, hold time, seat
// limit, on-sale time and waiting room (PATCH /events/{id}); cancelling it, with a
// message to its buyers (POST /events/{id}/cancel: its bookings are cancelled with it);
// and deleting it, each with a confirmation (DELETE /events/{id}: refused while it has
// bookings or live holds).

import { api, ApiError } from "../../api.js";
import { h } from "../../dom.js";

/** An ISO instant as a `datetime-local` value in the reader's zone; "" for none. */
export function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function field(label, input, hint) {
  const id = `${input.name}-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input, hint ? h("p", { class: "field-help", text: hint }) : null);
}

/**
 * The editor for one event. `say(text, kind)` shows a message; `changed()` reloads the
 * page's list after a save; `deleted()` after a deletion.
 */
export function editor(event, { say, changed, deleted }) {
  const room = event.waitingRoom || {};
  const input = (name, attrs) => h("input", { name, "data-testid": `edit-${name}`, ...attrs });
  const form = h(
    "form",
    { class: "console-edit", "data-testid": "edit-form", novalidate: true },
    field("Name", input("name", { value: event.name, maxlength: 200, required: true })),
    field("Venue", input("venue", { value: event.venue || "", maxlength: 200 })),
    field("Starts", input("startsAt", { type: "datetime-local", value: localInput(event.startsAt) })),
    field("Hold time (minutes)", input("holdMinutes", { type: "number", min: 1, max: 120, value: Math.round((event.holdSeconds || 600) / 60) })),
    field("Seats per buyer", input("maxSeatsPerUser", { type: "number", min: 1, value: event.maxSeatsPerUser })),
    field("On sale from", input("onSaleAt", { type: "datetime-local", value: localInput(event.onSaleAt) }), "Empty: on sale now."),
    h("div", { class: "field field--check" }, h("label", {}, input("roomEnabled", { type: "checkbox", checked: Boolean(room.enabled) }), " Waiting room")),
    field("Shoppers at a time", input("maxShoppers", { type: "number", min: 1, value: room.maxShoppers ?? 200 })),
    field("Minutes per shopper", input("shopperMinutes", { type: "number", min: 1, max: 120, value: Math.round((room.shopperSeconds ?? 600) / 60) })),
    h("div", { class: "console-edit-actions" }, h("button", { type: "submit", class: "btn btn-primary btn-small", "data-testid": "edit-save", text: "Save changes" })),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements;
    const number = (el) => Number.parseInt(el.value, 10);
    const body = {
      name: f.name.value.trim(),
      venue: f.venue.value.trim() || null,
      startsAt: f.startsAt.value ? new Date(f.startsAt.value).toISOString() : null,
      holdSeconds: number(f.holdMinutes) * 60,
      maxSeatsPerUser: number(f.maxSeatsPerUser),
      onSaleAt: f.onSaleAt.value ? new Date(f.onSaleAt.value).toISOString() : null,
      waitingRoom: { enabled: f.roomEnabled.checked, maxShoppers: number(f.maxShoppers), shopperSeconds: number(f.shopperMinutes) * 60 },
    };
    if (!body.name) return say("The event needs a name.", "error");
    const save = form.querySelector("[data-testid=edit-save]");
    save.disabled = true;
    try {
      await api(`/events/${event.id}`, { method: "PATCH", body });
      say(`Saved ${body.name}.`, "success");
      changed();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      say(`Not saved: ${err.message}`, "error");
    } finally {
      save.disabled = false;
    }
  });

  const danger = h("div", { class: "console-delete" });
  const booked = event.counts?.booked ?? 0;
  const cancelOffer = () =>
    event.cancelledAt
      ? null
      : h("button", {
          type: "button",
          class: "btn btn-ghost btn-small",
          "data-testid": "cancel-event",
          text: "Cancel event",
          onclick: confirmCancel,
        });
  const confirmCancel = () => {
    const reason = h("input", { name: "reason", "data-testid": "cancel-reason", maxlength: 500, placeholder: "e.g. The artist is ill. Refunds follow within 14 days." });
    danger.replaceChildren(
      h(
        "div",
        { class: "console-cancel", role: "group", "aria-label": "Cancel the event" },
        h("p", { class: "confirm-text", "data-testid": "cancel-warning", text: `Cancel ${event.name}? ${booked ? `Its ${booked.toLocaleString()} booked seat${booked === 1 ? " is" : "s are"} cancelled with it, ` : ""}nothing more can be sold, and everyone on its seat map is told. This cannot be undone.` }),
        field("Message to buyers (optional)", reason),
        h("button", { type: "button", class: "btn btn-danger btn-small", "data-testid": "confirm-cancel", text: "Yes, cancel the event", onclick: () => cancel(reason.value.trim()) }),
        h("button", { type: "button", class: "btn btn-ghost btn-small", text: "Keep it on sale", onclick: offer }),
      ),
    );
    reason.focus();
  };
  const cancel = async (reason) => {
    for (const b of danger.querySelectorAll("button")) b.disabled = true;
    try {
      const done = await api(`/events/${event.id}/cancel`, { method: "POST", body: reason ? { reason } : {} });
      say(`Cancelled ${event.name}: ${done.bookingsCancelled} booking${done.bookingsCancelled === 1 ? "" : "s"} cancelled, ${done.holdsReleased} hold${done.holdsReleased === 1 ? "" : "s"} released.`, "success");
      changed();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      say(err.message, "error");
      offer();
    }
  };
  const offer = () =>
    danger.replaceChildren(
      cancelOffer() ?? "",
      h("button", {
        type: "button",
        class: "btn btn-ghost btn-small",
        "data-testid": "delete-event",
        text: "Delete event",
        onclick: () => {
          danger.replaceChildren(
            h("span", { class: "confirm-text", text: `Delete ${event.name}? This cannot be undone.` }),
            h("button", { type: "button", class: "btn btn-danger btn-small", "data-testid": "confirm-delete", text: "Yes, delete", onclick: remove }),
            h("button", { type: "button", class: "btn btn-ghost btn-small", text: "Keep it", onclick: offer }),
          );
          danger.querySelector("[data-testid=confirm-delete]").focus();
        },
      }),
    );
  const remove = async () => {
    for (const b of danger.querySelectorAll("button")) b.disabled = true;
    try {
      await api(`/events/${event.id}`, { method: "DELETE" });
      say(`Deleted ${event.name}.`, "success");
      deleted();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      say(err.message, "error");
      offer();
    }
  };
  offer();
  if (event.cancelledAt) {
    // A cancelled event is not changed any more (409 `event_cancelled`): it can only go.
    for (const el of form.elements) el.disabled = true;
    return h("details", { class: "console-settings", "data-testid": "event-settings" }, h("summary", { text: "Delete" }), danger);
  }
  return h("details", { class: "console-settings", "data-testid": "event-settings" }, h("summary", { text: "Change, cancel or delete" }), form, danger);
}
