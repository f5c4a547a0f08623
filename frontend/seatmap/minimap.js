// The minimap (issue 14, item 4): zoomed into a big venue, a small picture of all of it
// in the map's corner, with what is on screen outlined; a click or a drag on it moves
// the map there. Pointer-only help (aria-hidden): keyboard users move seat by seat.
//
// The venue's seats are painted into the minimap once per change burst (at most every
// REPAINT_MS), the outline on every move of the view.

import { h } from "../dom.js";
import { COLOURS } from "../seatdraw.js";

const WIDTH = 168; // CSS px; the height follows the venue's shape, within MAX_HEIGHT
const MAX_HEIGHT = 132;
const REPAINT_MS = 500;
export const MINIMAP_FROM_ZOOM = 1.8; // × the fitted scale: closer in, the minimap shows
const MINIMAP_MIN_SEATS = 1000; // a small room fits on screen; it needs no map of itself

export class Minimap {
  /** @param {import("../seatmap.js").SeatMap} map */
  constructor(map) {
    this.map = map;
    this.el = h("canvas", { class: "seatmap-minimap", "aria-hidden": "true", "data-testid": "minimap" });
    this.el.hidden = true;
    this.picture = null; // an offscreen canvas of the seats, redrawn after changes
    this.stale = true;
    this.timer = 0;
    this.dragging = false;
    const move = (event) => {
      const r = this.el.getBoundingClientRect();
      this.#centreOn(event.clientX - r.left, event.clientY - r.top);
    };
    this.el.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      event.stopPropagation();
      this.dragging = true;
      this.el.setPointerCapture?.(event.pointerId);
      move(event);
    });
    this.el.addEventListener("pointermove", (event) => this.dragging && move(event));
    for (const type of ["pointerup", "pointercancel"]) this.el.addEventListener(type, () => (this.dragging = false));
  }

  /** Whether it shows now: a venue big enough, zoomed in well past its fit. */
  get wanted() {
    const { store, view } = this.map;
    return store.size >= MINIMAP_MIN_SEATS && view.fitScale > 0 && view.scale >= view.fitScale * MINIMAP_FROM_ZOOM;
  }

  /** Seats changed: repaint the picture soon (a burst of changes is one repaint; the
   *  map's own repaints meanwhile redraw only the outline over the picture it has). */
  seatsChanged() {
    if (this.timer || this.el.hidden) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.stale = true;
      this.update();
    }, REPAINT_MS);
  }

  /** A new store: a new picture. */
  reset() {
    this.picture = null;
    this.stale = true;
  }

  /** After the view moved or the map was painted: show or hide, and draw. */
  update() {
    const wanted = this.wanted;
    if (this.el.hidden !== !wanted) this.el.hidden = !wanted;
    if (!wanted) return;
    const view = this.map.view;
    const e = view.extent;
    const worldW = e.maxX - e.minX, worldH = e.maxY - e.minY;
    // At most a quarter of a small map's width (a phone's), else WIDTH.
    const room = Math.min(WIDTH, Math.max(72, view.width * 0.26));
    const k = Math.min(room / worldW, (MAX_HEIGHT * room) / WIDTH / worldH);
    const w = Math.round(worldW * k), hgt = Math.round(worldH * k);
    const dpr = window.devicePixelRatio || 1;
    if (this.el.width !== Math.round(w * dpr) || this.el.height !== Math.round(hgt * dpr)) {
      this.el.width = Math.round(w * dpr);
      this.el.height = Math.round(hgt * dpr);
      this.el.style.width = `${w}px`;
      this.el.style.height = `${hgt}px`;
      this.stale = true;
    }
    this.k = k;
    if (this.stale || !this.picture) this.#paintSeats(w, hgt, dpr);
    const ctx = this.el.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.picture, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    // What is on screen.
    const r = view.visibleRange(0);
    ctx.strokeStyle = "#4338ca";
    ctx.lineWidth = 2;
    ctx.strokeRect((r.x0 - e.minX) * k, (r.y0 - e.minY) * k, (r.x1 - r.x0) * k, (r.y1 - r.y0) * k);
  }

  #paintSeats(w, hgt, dpr) {
    const { store: s, view } = this.map;
    const e = view.extent;
    const k = this.k;
    this.picture ??= document.createElement("canvas");
    this.picture.width = Math.round(w * dpr);
    this.picture.height = Math.round(hgt * dpr);
    const ctx = this.picture.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "rgba(255, 255, 255, 0.94)";
    ctx.fillRect(0, 0, w, hgt);
    if (s.stage) {
      ctx.fillStyle = "#e5e7eb";
      ctx.fillRect((s.stage.x - e.minX) * k, (s.stage.y - e.minY) * k, s.stage.width * k, s.stage.height * k);
    }
    const dot = Math.max(1, k * 0.9);
    // Free seats in their category's colour, the rest grey: one path per colour.
    const paths = new Map();
    for (let i = 0; i < s.size; i++) {
      const colour = s.status[i] === 0 ? s.category(i)?.colour || COLOURS.uncategorised : "#d1d5db";
      let list = paths.get(colour);
      if (!list) paths.set(colour, (list = []));
      list.push(i);
    }
    for (const [colour, list] of paths) {
      ctx.fillStyle = colour;
      ctx.beginPath();
      for (const i of list) ctx.rect((s.x[i] - e.minX) * k - dot / 2, (s.y[i] - e.minY) * k - dot / 2, dot, dot);
      ctx.fill();
    }
    this.stale = false;
  }

  /** Centre the map on the venue point under minimap point (px, py). */
  #centreOn(px, py) {
    const { view } = this.map;
    const e = view.extent;
    const wx = e.minX + px / this.k, wy = e.minY + py / this.k;
    view.panTo(view.width / 2 - wx * view.scale, view.height / 2 - wy * view.scale);
    this.map.viewMoved();
  }

  stop() {
    clearTimeout(this.timer);
  }
}
