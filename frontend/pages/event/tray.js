// The event page's tray: the seats I hold with their prices, the one cart timer for
// all of them (./cart.js), the Book button, my booked count, and the phone's bottom
// bar ("peek"): count, total, timer and its own Book button while the tray's Book
// button is off screen.

import { isSignedIn } from "../../auth.js";
import { $, h } from "../../dom.js";
import { KIND_MINE_HELD, swatch } from "../../seatdraw.js";
import { release } from "./actions.js";
import { Cart } from "./cart.js";
import { money, rowSeat, sectionName, seatName } from "./describe.js";

export class Tray {
  constructor(page) {
    this.page = page;
    this.cart = new Cart(page);
    this.frame = 0;
    this.signature = ""; // my seats when the list was last built
    this.inView = false; // the tray's Book button is on screen (then the peek bar hides)
  }

  /** Render on the next frame (many store changes, one render). */
  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const { page } = this;
    const store = page.store;
    const signedIn = isSignedIn();
    $("[data-testid=tray-signedout]").hidden = signedIn;
    $("[data-testid=tray-signedin]").hidden = !signedIn;
    if (!store || !signedIn) {
      this.signature = "";
      return;
    }

    const held = store.myHeld();
    const bookedCount = store.myBookedCount();
    this.cart.update(held);
    this.renderPeek(held);
    const button = $("[data-testid=book-button]");
    button.disabled = held.length === 0 || page.booking;
    $("[data-testid=peek-book]").disabled = button.disabled;
    // Rebuild only when my seats changed: other people's changes must not
    // re-create the list (that would steal keyboard focus from its buttons).
    const signature = `${held.map((i) => `${i}:${store.heldUntil[i]}`).join(",")}|${bookedCount}`;
    if (signature === this.signature) return;
    this.signature = signature;
    const list = $("[data-testid=tray-list]");
    const items = held.map((i) => {
      const cat = store.category(i);
      return h(
        "li",
        { class: "tray-item", dataset: { seatId: store.ids[i] }, "data-testid": "tray-item" },
        swatch(KIND_MINE_HELD, cat?.colour || "#6b7280", { size: 18 }),
        h("span", { class: "tray-seat" }, h("strong", { text: rowSeat(page, i) }), h("small", { text: [store.section[i] && sectionName(store.section[i]), cat?.name].filter(Boolean).join(" · ") })),
        h("span", { class: "tray-price", text: money(page, store.price(i)) }),
        h("button", {
          type: "button",
          class: "btn btn-icon btn-small",
          "aria-label": `Release ${seatName(page, i)}`,
          title: "Release",
          "data-testid": "tray-release",
          text: "×",
          onclick: () => release(page, [i]),
        }),
      );
    });
    list.replaceChildren(...items);
    this.lockReleases();
    $("[data-testid=tray-empty]").hidden = held.length > 0;
    $("[data-testid=tray-summary]").hidden = held.length === 0;
    $("[data-testid=release-all]").hidden = held.length === 0;
    const total = held.reduce((sum, i) => sum + (store.price(i) ?? 0), 0);
    $("[data-testid=tray-total]").textContent = money(page, total);
    for (const el of [button, $("[data-testid=peek-book]")]) {
      if (held.length) el.setAttribute("aria-label", `Book ${held.length} seat${held.length === 1 ? "" : "s"} for ${money(page, total)}`);
      else el.removeAttribute("aria-label");
    }

    const booked = $("[data-testid=tray-booked]");
    booked.hidden = bookedCount === 0;
    booked.replaceChildren(
      `You have booked ${bookedCount} seat${bookedCount === 1 ? "" : "s"} for this event. `,
      h("a", { href: "/my/bookings", text: "My bookings" }),
    );
    this.tick();
  }

  /** The phone's bottom bar: "2 seats · £80.00 · 9:41" and Book, hidden while the tray's Book is on screen. */
  renderPeek(held = this.page.store.myHeld()) {
    const { page } = this;
    const store = page.store;
    const peek = $("[data-testid=tray-peek]");
    peek.hidden = held.length === 0 || this.inView || !isSignedIn();
    if (peek.hidden) return;
    const total = held.reduce((sum, i) => sum + (store.price(i) ?? 0), 0);
    $(".tray-peek-text", peek).textContent = `${held.length} seat${held.length === 1 ? "" : "s"} · ${money(page, total)}`;
    this.cart.render();
  }

  /** While "More time" is on its way, releasing waits: it holds every seat it named, so
   * a release sent before its answer would be undone by it (the seat back in the tray). */
  lockReleases() {
    const locked = this.cart.busy;
    for (const el of document.querySelectorAll("[data-testid=tray-release], [data-testid=release-all]")) el.disabled = locked;
  }

  /** Update the cart timer (each second, and after a render). */
  tick() {
    if (this.page.store) this.cart.render();
  }
}
