// Pointer and keyboard input for the seat map.
//
// Pointer: one finger or the mouse drags to pan (after CLICK_SLOP px; less is a
// click on a seat), two fingers pinch to zoom, the wheel zooms at the pointer.
// The wheel zooms only while the buyer is working the map (pressed on it since last
// pressing elsewhere, or its seat button has focus) or with Ctrl / ⌘ held (a trackpad
// pinch arrives as ctrl+wheel); otherwise the page scrolls as pages do, and a hint
// says how to zoom. A map that grabs the wheel traps whoever scrolls past it.
// Zoomed out on a venue of many sections (sections.js), a click zooms to the section
// under it instead: a seat there is a speck nobody can see they picked.
// A finger is not a mouse: where seats are closer than TAP_MIN_PX on screen a tap
// could land on the neighbour, so there a tap zooms in on the spot (to TAP_ZOOM_PX a
// seat) instead of holding; the next tap, on seats big enough to aim at, holds.
//
// Keyboard: a canvas has no focusable parts, so keyboard and screen-reader
// users get one real <button> that sits over the focused seat (roving focus).
// Its accessible name is the seat's description; arrow keys move it, Enter /
// Space toggles the hold (native button activation), and the page's polite
// live region announces each new seat. The browser's own focus ring on that
// button is the visible focus.
//
// Both work through the SeatMap's public methods; the pointer also gets two of
// its internals as `hooks`: viewChanged() after the view moved, placeCursor().

import { h } from "../dom.js";
import { rowEnd, seatToward } from "./spatial.js";

const CLICK_SLOP = 5; // px a pointer may move and still count as a click
export const TAP_MIN_PX = 24; // a seat's pitch on screen below which a tap zooms instead
const TAP_ZOOM_PX = 36; // the pitch a zooming tap brings the seats to
const KEY_ZOOM = 1.5;
const MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function midpoint(a, b) {
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
}

export class PointerInput {
  /**
   * @param {import("../seatmap.js").SeatMap} map
   * @param {HTMLCanvasElement} canvas
   * @param {{viewChanged: () => void, placeCursor: () => void}} hooks
   */
  constructor(map, canvas, hooks) {
    this.map = map;
    this.canvas = canvas;
    this.hooks = hooks;
    this.pointers = new Map(); // pointerId → viewport point, while down
    this.gesture = null; // {kind: "drag", start, tx, ty, moved} | {kind: "pinch", dist, mid, moved}
    this.engaged = false; // pressed on the map since last pressing elsewhere: the wheel zooms
    document.addEventListener(
      "pointerdown",
      (event) => {
        if (!map.viewport.contains(event.target)) this.engaged = false;
      },
      true,
    );
    canvas.addEventListener("pointerdown", (event) => this.#down(event));
    canvas.addEventListener("pointermove", (event) => this.#move(event));
    canvas.addEventListener("pointerup", (event) => this.#end(event));
    canvas.addEventListener("pointercancel", (event) => this.#end(event));
    canvas.addEventListener("pointerleave", (event) => {
      if (event.pointerType === "mouse" && !this.pointers.size) {
        map.hover = -1;
        map.hideTooltip();
      }
    });
    canvas.addEventListener("wheel", (event) => this.#wheel(event), { passive: false });
  }

  #localPoint(event) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  #down(event) {
    this.engaged = true;
    if (event.pointerType === "mouse" && event.button !== 0) return;
    this.canvas.setPointerCapture(event.pointerId);
    const p = this.#localPoint(event);
    this.pointers.set(event.pointerId, p);
    const view = this.map.view;
    if (this.pointers.size === 1) {
      this.gesture = { kind: "drag", start: p, tx: view.tx, ty: view.ty, moved: false };
    } else if (this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()];
      this.gesture = { kind: "pinch", dist: Math.hypot(a.x - b.x, a.y - b.y) || 1, mid: midpoint(a, b), moved: true };
    }
  }

  #move(event) {
    const p = this.#localPoint(event);
    if (!this.pointers.has(event.pointerId)) {
      if (event.pointerType === "mouse") this.#hoverAt(p);
      return;
    }
    this.pointers.set(event.pointerId, p);
    const g = this.gesture;
    if (!g) return;
    const view = this.map.view;
    if (g.kind === "drag" && this.pointers.size === 1) {
      const dx = p.x - g.start.x, dy = p.y - g.start.y;
      if (!g.moved && Math.hypot(dx, dy) < CLICK_SLOP) return;
      g.moved = true;
      this.canvas.classList.add("is-panning");
      view.panTo(g.tx + dx, g.ty + dy);
      this.hooks.viewChanged();
    } else if (g.kind === "pinch" && this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()];
      const dist = Math.hypot(a.x - b.x, a.y - b.y) || 1;
      const mid = midpoint(a, b);
      // Follow the fingers' midpoint, then zoom about it (zoomBy clamps the pan).
      view.tx += mid.x - g.mid.x;
      view.ty += mid.y - g.mid.y;
      this.map.zoomBy(dist / g.dist, mid.x, mid.y);
      g.dist = dist;
      g.mid = mid;
    }
  }

  #end(event) {
    if (!this.pointers.has(event.pointerId)) return;
    const p = this.#localPoint(event);
    const g = this.gesture;
    this.pointers.delete(event.pointerId);
    if (this.pointers.size === 0) {
      this.canvas.classList.remove("is-panning");
      this.gesture = null;
      if (event.type === "pointerup" && g && g.kind === "drag" && !g.moved) this.#clickAt(p, event.pointerType);
    } else if (this.pointers.size === 1) {
      // Pinch became a drag: restart from here so the map does not jump.
      const [q] = this.pointers.values();
      const view = this.map.view;
      this.gesture = { kind: "drag", start: q, tx: view.tx, ty: view.ty, moved: true };
    }
  }

  #wheel(event) {
    const focused = this.map.viewport.contains(document.activeElement);
    if (!event.ctrlKey && !event.metaKey && !this.engaged && !focused) {
      this.map.showWheelHint(); // and the page scrolls
      return;
    }
    event.preventDefault(); // the map, not the page, takes the wheel
    const p = this.#localPoint(event);
    const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? this.map.height : 1;
    // ctrlKey: a trackpad pinch arrives as ctrl+wheel; make it brisker.
    const k = event.ctrlKey ? 0.01 : 0.0018;
    this.map.zoomBy(Math.exp(-event.deltaY * unit * k), p.x, p.y);
  }

  #hoverAt(p) {
    const map = this.map;
    const i = map.seatAt(p.x, p.y);
    this.canvas.classList.toggle("is-over-seat", i >= 0 && map.options.interactive);
    if (i !== map.hover) map.hover = i;
    if (i >= 0) map.showTooltip(i, p);
    else map.hideTooltip();
  }

  #clickAt(p, pointerType) {
    const map = this.map;
    if (map.overview()) {
      // Zoomed out on a big venue, a click picks a section, never a speck of a seat.
      // The section of the seat nearest the click, within a few seats' reach (a
      // click between a stand's rows, or just beside it, still means that stand).
      const w = map.view.toWorld(p.x, p.y);
      const near = map.index.nearest(w.x, w.y, Math.max(2, 8 / map.view.scale));
      const sec = near >= 0 ? map.labels.shapes[map.labels.sectionOf[near]] : null;
      if (sec) {
        map.showSection(sec);
        map.options.announce?.(`Section ${sec.name}. Choose a seat, or use Best available.`);
      } else map.zoomBy(2.5, p.x, p.y);
      return;
    }
    if (pointerType === "touch" || pointerType === "pen") {
      const pitch = map.view.scale; // CSS px per seat unit: one seat's pitch
      if (pitch < TAP_MIN_PX) {
        map.zoomBy(TAP_ZOOM_PX / pitch, p.x, p.y);
        map.options.announce?.("Zoomed in. Tap a seat to hold it.");
        return;
      }
    }
    const i = map.seatAt(p.x, p.y);
    if (i < 0) return;
    map.cursor = i;
    this.hooks.placeCursor();
    if (pointerType !== "mouse") map.tooltip.showBriefly(i, p);
    if (map.options.interactive) map.options.onActivate?.(i, pointerType || "mouse");
  }
}

/** The roving-focus button over the focused seat, and its keys. */
export class SeatCursor {
  /** @param {import("../seatmap.js").SeatMap} map */
  constructor(map) {
    this.map = map;
    this.el = h("button", {
      type: "button",
      class: "seat-cursor",
      "data-testid": "seat-cursor",
      "aria-describedby": "map-hint",
    });
    const el = this.el;
    el.addEventListener("focus", () => {
      if (map.cursor < 0) map.cursor = map.firstSeat;
      map.revealSeat(map.cursor);
      this.place();
      map.showTooltip(map.cursor, map.screenOf(map.cursor), { anchor: "seat" });
    });
    el.addEventListener("blur", () => map.hideTooltip());
    el.addEventListener("click", () => {
      if (map.cursor >= 0) map.options.onActivate?.(map.cursor, "keyboard");
    });
    el.addEventListener("keydown", (event) => this.#key(event));
  }

  #key(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const map = this.map;
    let handled = true;
    if (event.key in MOVES) this.#move(...MOVES[event.key]);
    else if (event.key === "Home") this.#moveToRowEnd(-1);
    else if (event.key === "End") this.#moveToRowEnd(1);
    else if (event.key === "+" || event.key === "=") this.#zoomOnCursor(KEY_ZOOM);
    else if (event.key === "-" || event.key === "_") this.#zoomOnCursor(1 / KEY_ZOOM);
    else if (event.key === "0") map.fit();
    else if (event.key === "Escape") map.hideTooltip();
    else handled = false;
    if (handled) event.preventDefault();
  }

  #zoomOnCursor(factor) {
    const map = this.map;
    const p = map.cursor >= 0 ? map.screenOf(map.cursor) : { x: map.width / 2, y: map.height / 2 };
    map.zoomBy(factor, p.x, p.y);
  }

  /** Move to the nearest seat in a direction (same row first for left/right). */
  #move(dx, dy) {
    const map = this.map;
    const from = map.cursor < 0 ? map.firstSeat : map.cursor;
    if (from < 0) return;
    const best = seatToward(map.store, from, dx, dy);
    if (best >= 0) map.focusSeat(best);
  }

  #moveToRowEnd(direction) {
    const map = this.map;
    if (map.cursor < 0) return;
    map.focusSeat(rowEnd(map.store, map.cursor, direction));
  }

  /** Put the button over the cursor seat (the first seat if there is none), named after it. */
  place() {
    const map = this.map, el = this.el, store = map.store;
    if (!store) return;
    if (map.cursor < 0 || map.cursor >= store.size) map.cursor = map.firstSeat;
    const i = map.cursor;
    if (i < 0) {
      el.hidden = true;
      return;
    }
    el.hidden = false;
    const p = map.screenOf(i);
    const size = Math.max(14, map.view.scale * 0.98);
    el.style.width = `${size}px`;
    el.style.height = `${size}px`;
    el.style.transform = `translate(${p.x - size / 2}px, ${p.y - size / 2}px)`;
    el.dataset.seatId = store.ids[i];
    const name = map.options.describe?.(i) ?? store.label[i];
    if (el.getAttribute("aria-label") !== name) el.setAttribute("aria-label", name);
  }
}
