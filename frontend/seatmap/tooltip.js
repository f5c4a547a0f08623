// The seat map's hover card: what the page says about one seat, next to the
// pointer (mouse), the seat (keyboard focus) or the tap (touch, for a moment).
// An open card is refreshed every second and on every repaint, so statuses and
// countdowns in it stay current.

import { h } from "../dom.js";

const REFRESH_MS = 1000;
const TOUCH_CARD_MS = 3000; // no hover on touch: a tapped seat's card shows this long
const EDGE = 4; // px the card keeps from the viewport's edges

let idCounter = 0;
function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * Where a w × hgt card goes for viewport point p: `gap` px below right of it,
 * flipped left / up where it would leave a width × height viewport, and kept
 * inside it. Returns the card's top-left corner.
 */
export function cardPosition(p, gap, w, hgt, width, height) {
  let x = p.x + gap, y = p.y + gap;
  if (x + w > width - EDGE) x = p.x - gap - w;
  if (y + hgt > height - EDGE) y = p.y - gap - hgt;
  x = Math.max(EDGE, Math.min(x, width - w - EDGE));
  y = Math.max(EDGE, Math.min(y, height - hgt - EDGE));
  return { x, y };
}

export class SeatTooltip {
  /**
   * @param {import("./view.js").View} view
   * @param {(i: number) => ({title, lines, kind?} | null | undefined)} describe  the card for seat i
   * @param {(i: number) => ({x, y})} screenOf  seat i's viewport point
   */
  constructor(view, describe, screenOf) {
    this.view = view;
    this.describe = describe;
    this.screenOf = screenOf;
    this.seat = -1;
    this.anchor = "pointer";
    this.el = h("div", { class: "seat-tooltip", role: "tooltip", id: uniqueId("seat-tip"), hidden: true, "data-testid": "seat-tooltip" });
    this.touchTimer = 0;
    this.timer = 0;
  }

  /** Refresh an open card every second from now on (countdowns). */
  start() {
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  stop() {
    clearInterval(this.timer);
  }

  /** Open the card for seat i at viewport point p; anchor "seat" keeps it beside the seat. */
  show(i, p, { anchor = "pointer" } = {}) {
    const info = this.describe(i);
    if (!info) return;
    this.seat = i;
    this.anchor = anchor;
    this.#fill(info);
    this.el.hidden = false;
    this.#position(p);
  }

  /** Show the card for a tapped seat, then hide it after a moment. */
  showBriefly(i, p) {
    this.show(i, p);
    clearTimeout(this.touchTimer);
    this.touchTimer = setTimeout(() => this.hide(), TOUCH_CARD_MS);
  }

  /** Keep an open card current (status changes, countdowns). */
  refresh() {
    if (this.el.hidden || this.seat < 0) return;
    const info = this.describe(this.seat);
    if (!info) return;
    this.#fill(info);
    if (this.anchor === "seat") this.#position(this.screenOf(this.seat));
  }

  hide() {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.seat = -1;
  }

  #fill(info) {
    this.el.replaceChildren(h("strong", { text: info.title }), ...info.lines.map((line) => h("span", { text: line })));
    this.el.dataset.kind = info.kind || "";
  }

  #position(p) {
    const el = this.el, v = this.view;
    const gap = this.anchor === "seat" ? v.scale * 0.6 + 8 : 16;
    const { x, y } = cardPosition(p, gap, el.offsetWidth, el.offsetHeight, v.width, v.height);
    el.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`;
  }
}
