// Canvas seat map: drawing, hit testing, zoom and pan, and keyboard access.
//
// Why a canvas: a 20 000-seat venue as DOM or SVG nodes is slow to build and to
// pan. Here seats live in a SeatStore (typed arrays) and a coarse bucket grid;
// a frame draws only the buckets on screen, and a live update repaints only
// the seats that changed (each seat owns a box of ±0.5 seat units, so it can
// be cleared and redrawn without touching its neighbours). Every request to
// draw is coalesced into one requestAnimationFrame.
//
// Why a "seat cursor" button: a canvas has no focusable parts, so keyboard and
// screen-reader users get one real <button> that sits over the focused seat
// (roving focus). Its accessible name is the seat's description; arrow keys
// move it, Enter/Space toggles the hold (native button activation), and a
// polite live region announces each new seat. The browser's own focus ring on
// that button is the visible focus.

import { h } from "./dom.js";
import { COLOURS, drawSeat, kindFor, KIND_AVAILABLE } from "./seatdraw.js";

const BUCKET = 4; // seat units per spatial-index cell
const MAX_SCALE = 64; // CSS px per seat unit
const CLICK_SLOP = 5; // px a pointer may move and still count as a click
const SEAT_RADIUS = 0.4; // seat units

export class SeatMap {
  /**
   * @param {HTMLElement} container
   * @param {import("./seatstore.js").SeatStore} store
   * @param {object} options
   *   interactive: seats can be activated (click / Enter / Space)
   *   onActivate(index, source): a seat was clicked or pressed
   *   describe(index): accessible name of a seat
   *   tooltip(index): {title, lines: [string]} for the hover card
   *   announce(text): say something in the page's live region
   */
  constructor(container, store, options = {}) {
    this.container = container;
    this.options = { interactive: true, ...options };
    this.view = { scale: 10, tx: 0, ty: 0 };
    this.width = 0;
    this.height = 0;
    this.dpr = window.devicePixelRatio || 1;
    this.dirty = new Set();
    this.fullRedraw = true;
    this.frame = 0;
    this.cursor = -1;
    this.hover = -1;
    this.pointers = new Map();
    this.fitted = false;
    // Read by tests and curious developers: proves live updates repaint only dirty seats.
    this.stats = { fullDraws: 0, dirtyDraws: 0, lastFullDrawMs: 0, lastDirtySeats: 0 };

    this.viewport = h("div", { class: "seatmap-viewport" });
    this.canvas = h("canvas", { class: "seatmap-canvas", "aria-hidden": "true" });
    this.tooltipEl = h("div", { class: "seat-tooltip", role: "tooltip", id: uniqueId("seat-tip"), hidden: true, "data-testid": "seat-tooltip" });
    this.viewport.append(this.canvas);
    if (this.options.interactive) {
      this.cursorEl = h("button", {
        type: "button",
        class: "seat-cursor",
        "data-testid": "seat-cursor",
        "aria-describedby": "map-hint",
      });
      this.viewport.append(this.cursorEl);
      this.#bindKeyboard();
    }
    this.viewport.append(this.tooltipEl);
    container.replaceChildren(this.viewport);
    this.ctx = this.canvas.getContext("2d", { alpha: false });

    this.#bindPointer();
    this.resizeObserver = new ResizeObserver(() => this.#resize());
    this.resizeObserver.observe(this.viewport);
    this.tooltipTimer = setInterval(() => this.#refreshTooltip(), 1000);
    this.setStore(store);
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    clearInterval(this.tooltipTimer);
    this.resizeObserver.disconnect();
    this.unsubscribe?.();
  }

  /** Swap in a new store (the create-event preview rebuilds it on every edit). */
  setStore(store, { refit = false } = {}) {
    this.unsubscribe?.();
    this.store = store;
    this.#buildIndex();
    this.#buildLabels();
    this.cursor = -1;
    this.hover = -1;
    this.unsubscribe = store.subscribe((dirty) => this.markDirty(dirty));
    this.#applyAutoHeight(); // a new shape may want a new height (the resize observer refits)
    if (refit || !this.fitted) this.fit();
    this.markDirty(null);
    this.#placeCursor();
  }

  // ---------------------------------------------------------------- indexing

  #buildIndex() {
    const s = this.store;
    const b = s.bounds;
    this.gx0 = Math.floor(b.minX / BUCKET);
    this.gy0 = Math.floor(b.minY / BUCKET);
    this.cols = Math.floor(b.maxX / BUCKET) - this.gx0 + 1;
    this.rows = Math.floor(b.maxY / BUCKET) - this.gy0 + 1;
    this.buckets = Array.from({ length: Math.max(1, this.cols * this.rows) }, () => []);
    for (let i = 0; i < s.size; i++) {
      this.buckets[this.#bucketOf(s.x[i], s.y[i])].push(i);
    }
  }

  #bucketOf(x, y) {
    const cx = Math.floor(x / BUCKET) - this.gx0;
    const cy = Math.floor(y / BUCKET) - this.gy0;
    return cy * this.cols + cx;
  }

  /** Row and section labels, computed once per store. */
  #buildLabels() {
    const s = this.store;
    const rows = new Map();
    const sections = new Map();
    for (let i = 0; i < s.size; i++) {
      const x = s.x[i], y = s.y[i];
      if (s.row[i] !== "") {
        const key = `${s.section[i]}\u0000${s.row[i]}\u0000${Math.round(y * 4)}`;
        const r = rows.get(key);
        if (!r) rows.set(key, { text: String(s.row[i]), y, minX: x, maxX: x });
        else {
          if (x < r.minX) r.minX = x;
          if (x > r.maxX) r.maxX = x;
        }
      }
      if (s.section[i]) {
        const sec = sections.get(s.section[i]);
        if (!sec) sections.set(s.section[i], { text: s.section[i], minX: x, maxX: x, minY: y });
        else {
          if (x < sec.minX) sec.minX = x;
          if (x > sec.maxX) sec.maxX = x;
          if (y < sec.minY) sec.minY = y;
        }
      }
    }
    this.rowLabels = [...rows.values()];
    // One unnamed/default section needs no caption.
    this.sectionLabels = sections.size > 1 ? [...sections.values()] : [];
    // The first seat in reading order (prefer a free one) is where Tab lands.
    let first = -1, firstFree = -1;
    for (let i = 0; i < s.size; i++) {
      if (first < 0 || before(s, i, first)) first = i;
      if (s.status[i] === 0 && (firstFree < 0 || before(s, i, firstFree))) firstFree = i;
    }
    this.firstSeat = firstFree >= 0 ? firstFree : first;
  }

  // ------------------------------------------------------------------ view

  /** World extent including the stage strip above the seats. */
  #extent() {
    const b = this.store.bounds;
    return { minX: b.minX - 1.5, maxX: b.maxX + 1.5, minY: b.minY - 4, maxY: b.maxY + 1.5 };
  }

  fit() {
    if (!this.width || !this.height) return;
    const e = this.#extent();
    const w = e.maxX - e.minX, hgt = e.maxY - e.minY;
    const scale = Math.min(MAX_SCALE, Math.max(0.5, Math.min(this.width / w, this.height / hgt) * 0.96));
    this.view.scale = scale;
    this.view.tx = (this.width - w * scale) / 2 - e.minX * scale;
    this.view.ty = (this.height - hgt * scale) / 2 - e.minY * scale;
    this.fitScale = scale;
    this.fitted = true;
    this.userMoved = false;
    this.#viewChanged();
  }

  zoomBy(factor, px = this.width / 2, py = this.height / 2) {
    const v = this.view;
    this.userMoved = true;
    const minScale = Math.min((this.fitScale || v.scale) * 0.7, 4);
    const scale = Math.min(MAX_SCALE, Math.max(minScale, v.scale * factor));
    const k = scale / v.scale;
    v.tx = px - (px - v.tx) * k;
    v.ty = py - (py - v.ty) * k;
    v.scale = scale;
    this.#viewChanged();
  }

  panBy(dx, dy) {
    this.userMoved = true;
    this.view.tx += dx;
    this.view.ty += dy;
    this.#viewChanged();
  }

  #viewChanged() {
    this.#clampPan();
    this.hideTooltip();
    this.markDirty(null);
  }

  /** Keep at least part of the map on screen, so nobody pans into the void. */
  #clampPan() {
    const e = this.#extent();
    const v = this.view;
    const margin = 60;
    const left = e.minX * v.scale + v.tx, right = e.maxX * v.scale + v.tx;
    const top = e.minY * v.scale + v.ty, bottom = e.maxY * v.scale + v.ty;
    if (right < margin) v.tx += margin - right;
    if (left > this.width - margin) v.tx -= left - (this.width - margin);
    if (bottom < margin) v.ty += margin - bottom;
    if (top > this.height - margin) v.ty -= top - (this.height - margin);
  }

  screenOf(i) {
    const v = this.view;
    return { x: this.store.x[i] * v.scale + v.tx, y: this.store.y[i] * v.scale + v.ty };
  }

  /**
   * Optional: size the container to the venue's shape (phones, the preview),
   * within the limits `options.autoHeight()` returns, or null to leave it to CSS.
   */
  #applyAutoHeight() {
    const limits = this.options.autoHeight?.();
    if (!limits) {
      if (this.container.style.height) this.container.style.height = "";
      return;
    }
    const width = this.container.clientWidth;
    const e = this.#extent();
    const want = Math.round((width * (e.maxY - e.minY)) / (e.maxX - e.minX) / 0.96);
    const height = Math.round(Math.max(limits.min, Math.min(limits.max, want)));
    if (Math.abs(this.container.offsetHeight - height) > 1) this.container.style.height = `${height}px`;
  }

  #resize() {
    this.#applyAutoHeight();
    const rect = this.viewport.getBoundingClientRect();
    const width = Math.round(rect.width), height = Math.round(rect.height);
    if (!width || !height) return;
    const dpr = window.devicePixelRatio || 1;
    if (width === this.width && height === this.height && dpr === this.dpr) return;
    // Keep the centre of what the user was looking at in the centre.
    const oldW = this.width, oldH = this.height;
    this.width = width;
    this.height = height;
    this.dpr = dpr;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    // Until the user pans or zooms, keep the whole venue fitted.
    if (!this.fitted || !this.userMoved) this.fit();
    else {
      this.view.tx += (width - oldW) / 2;
      this.view.ty += (height - oldH) / 2;
      this.#clampPan();
    }
    this.markDirty(null);
    this.#draw(); // paint now: a resized canvas is blank until the next frame
  }

  // --------------------------------------------------------------- drawing

  /** Ask for a repaint: `null` = everything, else the seat indices that changed. */
  markDirty(indices) {
    if (indices === null) this.fullRedraw = true;
    else for (const i of indices) this.dirty.add(i);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.#draw());
  }

  #draw() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (!this.width) return;
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    if (this.fullRedraw) {
      this.fullRedraw = false;
      this.dirty.clear();
      const t0 = performance.now();
      this.#drawAll();
      this.stats.fullDraws++;
      this.stats.lastFullDrawMs = performance.now() - t0;
    } else if (this.dirty.size) {
      const dirty = this.dirty;
      this.dirty = new Set();
      for (const i of dirty) this.#drawOne(i);
      this.stats.dirtyDraws++;
      this.stats.lastDirtySeats = dirty.size;
      if (dirty.has(this.cursor)) this.#placeCursor();
    }
    this.#refreshTooltip();
  }

  #visibleRange() {
    const v = this.view;
    const pad = 1;
    const x0 = -v.tx / v.scale - pad, x1 = (this.width - v.tx) / v.scale + pad;
    const y0 = -v.ty / v.scale - pad, y1 = (this.height - v.ty) / v.scale + pad;
    return { x0, x1, y0, y1 };
  }

  /** Call fn(i) for every seat in a bucket that overlaps the screen. */
  #forVisible(fn) {
    const { x0, x1, y0, y1 } = this.#visibleRange();
    const cx0 = Math.max(0, Math.floor(x0 / BUCKET) - this.gx0);
    const cx1 = Math.min(this.cols - 1, Math.floor(x1 / BUCKET) - this.gx0);
    const cy0 = Math.max(0, Math.floor(y0 / BUCKET) - this.gy0);
    const cy1 = Math.min(this.rows - 1, Math.floor(y1 / BUCKET) - this.gy0);
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const bucket = this.buckets[cy * this.cols + cx];
        for (let k = 0; k < bucket.length; k++) fn(bucket[k]);
      }
    }
  }

  #colour(i) {
    const c = this.store.category(i);
    return c?.colour || COLOURS.uncategorised;
  }

  #drawAll() {
    const ctx = this.ctx, s = this.store, v = this.view;
    ctx.fillStyle = COLOURS.background;
    ctx.fillRect(0, 0, this.width, this.height);
    if (s.size === 0) return;
    this.#drawStage();
    this.#drawLabels();

    const r = v.scale * SEAT_RADIUS;
    // The common case (free, plain seats) is batched into one path per
    // category colour: one fill() for thousands of seats.
    const batches = new Map();
    const singles = [];
    this.#forVisible((i) => {
      if (kindFor(s, i) === KIND_AVAILABLE && !(s.accessible[i] && r >= 6)) {
        const colour = this.#colour(i);
        let list = batches.get(colour);
        if (!list) batches.set(colour, (list = []));
        list.push(i);
      } else singles.push(i);
    });
    for (const [colour, list] of batches) {
      ctx.fillStyle = colour;
      ctx.beginPath();
      for (const i of list) {
        const x = s.x[i] * v.scale + v.tx, y = s.y[i] * v.scale + v.ty;
        if (r < 2.5) ctx.rect(x - r, y - r, r * 2, r * 2);
        else {
          ctx.moveTo(x + r, y);
          ctx.arc(x, y, r, 0, Math.PI * 2);
        }
      }
      ctx.fill();
    }
    for (const i of singles) {
      const x = s.x[i] * v.scale + v.tx, y = s.y[i] * v.scale + v.ty;
      drawSeat(ctx, kindFor(s, i), x, y, r, this.#colour(i), s.accessible[i] === 1);
    }
    this.#placeCursor();
  }

  #drawOne(i) {
    const s = this.store, v = this.view;
    const x = s.x[i] * v.scale + v.tx, y = s.y[i] * v.scale + v.ty;
    const half = v.scale * 0.5;
    if (x < -half || y < -half || x > this.width + half || y > this.height + half) return;
    const ctx = this.ctx;
    const box = v.scale * 0.49;
    ctx.fillStyle = COLOURS.background;
    ctx.fillRect(x - box, y - box, box * 2, box * 2);
    drawSeat(ctx, kindFor(s, i), x, y, v.scale * SEAT_RADIUS, this.#colour(i), s.accessible[i] === 1);
  }

  #drawStage() {
    const ctx = this.ctx, v = this.view, b = this.store.bounds;
    const span = b.maxX - b.minX;
    const w = Math.max(4, span * 0.6);
    const cx = (b.minX + b.maxX) / 2;
    const x = (cx - w / 2) * v.scale + v.tx;
    const y = (b.minY - 3.6) * v.scale + v.ty;
    const hgt = 1.8 * v.scale;
    ctx.fillStyle = "#eef0f5";
    ctx.beginPath();
    ctx.roundRect(x, y, w * v.scale, hgt, Math.min(12, hgt / 2));
    ctx.fill();
    const size = Math.min(14, hgt * 0.55);
    if (size >= 6) {
      ctx.fillStyle = "#5b6473";
      ctx.font = `600 ${size}px system-ui, sans-serif`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("STAGE", cx * v.scale + v.tx, y + hgt / 2);
    }
  }

  #drawLabels() {
    const ctx = this.ctx, v = this.view;
    ctx.textBaseline = "middle";
    if (v.scale >= 12) {
      const size = Math.min(13, v.scale * 0.5);
      ctx.font = `600 ${size}px system-ui, sans-serif`;
      ctx.fillStyle = "#6b7280";
      for (const r of this.rowLabels) {
        const y = r.y * v.scale + v.ty;
        if (y < -20 || y > this.height + 20) continue;
        ctx.textAlign = "right";
        ctx.fillText(r.text, (r.minX - 0.7) * v.scale + v.tx, y);
        ctx.textAlign = "left";
        ctx.fillText(r.text, (r.maxX + 0.7) * v.scale + v.tx, y);
      }
    }
    if (v.scale >= 6 && this.sectionLabels.length) {
      const size = Math.min(13, Math.max(9, v.scale * 0.45));
      ctx.font = `700 ${size}px system-ui, sans-serif`;
      ctx.fillStyle = "#374151";
      ctx.textAlign = "center";
      for (const sec of this.sectionLabels) {
        ctx.fillText(sec.text.toUpperCase(), ((sec.minX + sec.maxX) / 2) * v.scale + v.tx, (sec.minY - 0.85) * v.scale + v.ty);
      }
    }
  }

  // ----------------------------------------------------------- hit testing

  /** Seat under a point in viewport CSS pixels, or -1. */
  seatAt(px, py) {
    const v = this.view, s = this.store;
    const wx = (px - v.tx) / v.scale, wy = (py - v.ty) / v.scale;
    // Generous target on small seats: half a seat unit, or 6 px, whichever is more.
    const reach = Math.max(0.5, 6 / v.scale);
    let best = -1, bestD = reach * reach;
    const cx0 = Math.max(0, Math.floor((wx - reach) / BUCKET) - this.gx0);
    const cx1 = Math.min(this.cols - 1, Math.floor((wx + reach) / BUCKET) - this.gx0);
    const cy0 = Math.max(0, Math.floor((wy - reach) / BUCKET) - this.gy0);
    const cy1 = Math.min(this.rows - 1, Math.floor((wy + reach) / BUCKET) - this.gy0);
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        for (const i of this.buckets[cy * this.cols + cx]) {
          const dx = s.x[i] - wx, dy = s.y[i] - wy;
          const d = dx * dx + dy * dy;
          if (d <= bestD) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }

  // --------------------------------------------------------------- pointer

  #localPoint(event) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  #bindPointer() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (event) => {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      c.setPointerCapture(event.pointerId);
      const p = this.#localPoint(event);
      this.pointers.set(event.pointerId, p);
      if (this.pointers.size === 1) {
        this.gesture = { kind: "drag", start: p, tx: this.view.tx, ty: this.view.ty, moved: false };
      } else if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        this.gesture = { kind: "pinch", dist: Math.hypot(a.x - b.x, a.y - b.y) || 1, mid: midpoint(a, b), moved: true };
      }
    });
    c.addEventListener("pointermove", (event) => {
      const p = this.#localPoint(event);
      if (!this.pointers.has(event.pointerId)) {
        if (event.pointerType === "mouse") this.#hoverAt(p);
        return;
      }
      this.pointers.set(event.pointerId, p);
      const g = this.gesture;
      if (!g) return;
      if (g.kind === "drag" && this.pointers.size === 1) {
        const dx = p.x - g.start.x, dy = p.y - g.start.y;
        if (!g.moved && Math.hypot(dx, dy) < CLICK_SLOP) return;
        g.moved = true;
        this.userMoved = true;
        this.canvas.classList.add("is-panning");
        this.view.tx = g.tx + dx;
        this.view.ty = g.ty + dy;
        this.#viewChanged();
      } else if (g.kind === "pinch" && this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        const dist = Math.hypot(a.x - b.x, a.y - b.y) || 1;
        const mid = midpoint(a, b);
        this.view.tx += mid.x - g.mid.x;
        this.view.ty += mid.y - g.mid.y;
        this.zoomBy(dist / g.dist, mid.x, mid.y);
        g.dist = dist;
        g.mid = mid;
      }
    });
    const end = (event) => {
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
        this.gesture = { kind: "drag", start: q, tx: this.view.tx, ty: this.view.ty, moved: true };
      }
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("pointerleave", (event) => {
      if (event.pointerType === "mouse" && !this.pointers.size) {
        this.hover = -1;
        this.hideTooltip();
      }
    });
    c.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault(); // the map, not the page, takes the wheel
        const p = this.#localPoint(event);
        const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? this.height : 1;
        // ctrlKey: a trackpad pinch arrives as ctrl+wheel; make it brisker.
        const k = event.ctrlKey ? 0.01 : 0.0018;
        this.zoomBy(Math.exp(-event.deltaY * unit * k), p.x, p.y);
      },
      { passive: false },
    );
  }

  #hoverAt(p) {
    const i = this.seatAt(p.x, p.y);
    this.canvas.classList.toggle("is-over-seat", i >= 0 && this.options.interactive);
    if (i !== this.hover) this.hover = i;
    if (i >= 0) this.showTooltip(i, p);
    else this.hideTooltip();
  }

  #clickAt(p, pointerType) {
    const i = this.seatAt(p.x, p.y);
    if (i < 0) return;
    this.cursor = i;
    this.#placeCursor();
    if (pointerType !== "mouse") {
      // No hover on touch: show the card for the tapped seat for a moment.
      this.showTooltip(i, p);
      clearTimeout(this.touchTipTimer);
      this.touchTipTimer = setTimeout(() => this.hideTooltip(), 3000);
    }
    if (this.options.interactive) this.options.onActivate?.(i, pointerType || "mouse");
  }

  // -------------------------------------------------------------- keyboard

  #bindKeyboard() {
    const el = this.cursorEl;
    el.addEventListener("focus", () => {
      if (this.cursor < 0) this.cursor = this.firstSeat;
      this.revealSeat(this.cursor);
      this.#placeCursor();
      const p = this.screenOf(this.cursor);
      this.showTooltip(this.cursor, p, { anchor: "seat" });
    });
    el.addEventListener("blur", () => this.hideTooltip());
    el.addEventListener("click", () => {
      if (this.cursor >= 0) this.options.onActivate?.(this.cursor, "keyboard");
    });
    el.addEventListener("keydown", (event) => {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      let handled = true;
      if (event.key in moves) this.#move(...moves[event.key]);
      else if (event.key === "Home") this.#moveToRowEnd(-1);
      else if (event.key === "End") this.#moveToRowEnd(1);
      else if (event.key === "+" || event.key === "=") this.#zoomOnCursor(1.5);
      else if (event.key === "-" || event.key === "_") this.#zoomOnCursor(1 / 1.5);
      else if (event.key === "0") this.fit();
      else if (event.key === "Escape") this.hideTooltip();
      else handled = false;
      if (handled) event.preventDefault();
    });
  }

  #zoomOnCursor(factor) {
    const p = this.cursor >= 0 ? this.screenOf(this.cursor) : { x: this.width / 2, y: this.height / 2 };
    this.zoomBy(factor, p.x, p.y);
  }

  /** Move the cursor to the nearest seat in a direction (same row first for left/right). */
  #move(dx, dy) {
    const s = this.store, from = this.cursor < 0 ? this.firstSeat : this.cursor;
    if (from < 0) return;
    const fx = s.x[from], fy = s.y[from];
    let best = -1, bestScore = Infinity;
    for (let j = 0; j < s.size; j++) {
      const vx = s.x[j] - fx, vy = s.y[j] - fy;
      const along = vx * dx + vy * dy;
      if (along < 0.3) continue;
      const across = Math.abs(vx * dy - vy * dx);
      if (dx !== 0 && across > 0.45) continue; // left/right stays in the row
      const score = along + across * 2;
      if (score < bestScore) {
        bestScore = score;
        best = j;
      }
    }
    if (best >= 0) this.focusSeat(best);
  }

  #moveToRowEnd(direction) {
    const s = this.store, from = this.cursor;
    if (from < 0) return;
    let best = from;
    for (let j = 0; j < s.size; j++) {
      if (Math.abs(s.y[j] - s.y[from]) > 0.45) continue;
      if ((s.x[j] - s.x[best]) * direction > 0) best = j;
    }
    this.focusSeat(best);
  }

  /** Move the keyboard cursor to seat i, bring it into view and announce it. */
  focusSeat(i, { announce = true } = {}) {
    this.cursor = i;
    this.revealSeat(i);
    this.#placeCursor();
    if (document.activeElement === this.cursorEl) {
      this.showTooltip(i, this.screenOf(i), { anchor: "seat" });
    }
    if (announce) this.options.announce?.(this.options.describe?.(i) ?? "");
  }

  /** Pan (not zoom) so seat i is comfortably on screen; returns its viewport point. */
  revealSeat(i) {
    if (i < 0) return null;
    const margin = Math.min(48, this.width / 4, this.height / 4);
    let p = this.screenOf(i);
    if (p.x < margin || p.x > this.width - margin || p.y < margin || p.y > this.height - margin) {
      this.view.tx += this.width / 2 - p.x;
      this.view.ty += this.height / 2 - p.y;
      this.userMoved = true;
      this.#viewChanged();
      this.#draw(); // synchronously, so the caller can click where we say
      p = this.screenOf(i);
    }
    return p;
  }

  /** Viewport point → page client coordinates. */
  clientPoint(p) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + p.x, y: rect.top + p.y };
  }

  #placeCursor() {
    const el = this.cursorEl;
    if (!el || !this.store) return;
    if (this.cursor < 0 || this.cursor >= this.store.size) this.cursor = this.firstSeat;
    const i = this.cursor;
    if (i < 0) {
      el.hidden = true;
      return;
    }
    el.hidden = false;
    const p = this.screenOf(i);
    const size = Math.max(14, this.view.scale * 0.98);
    el.style.width = `${size}px`;
    el.style.height = `${size}px`;
    el.style.transform = `translate(${p.x - size / 2}px, ${p.y - size / 2}px)`;
    el.dataset.seatId = this.store.ids[i];
    const name = this.options.describe?.(i) ?? this.store.label[i];
    if (el.getAttribute("aria-label") !== name) el.setAttribute("aria-label", name);
  }

  // --------------------------------------------------------------- tooltip

  showTooltip(i, p, { anchor = "pointer" } = {}) {
    const info = this.options.tooltip?.(i);
    if (!info) return;
    this.tipSeat = i;
    this.tipAnchor = anchor;
    const el = this.tooltipEl;
    el.replaceChildren(h("strong", { text: info.title }), ...info.lines.map((line) => h("span", { text: line })));
    el.dataset.kind = info.kind || "";
    el.hidden = false;
    this.#positionTooltip(p);
  }

  #positionTooltip(p) {
    const el = this.tooltipEl;
    const gap = this.tipAnchor === "seat" ? this.view.scale * 0.6 + 8 : 16;
    const w = el.offsetWidth, hgt = el.offsetHeight;
    let x = p.x + gap, y = p.y + gap;
    if (x + w > this.width - 4) x = p.x - gap - w;
    if (y + hgt > this.height - 4) y = p.y - gap - hgt;
    x = Math.max(4, Math.min(x, this.width - w - 4));
    y = Math.max(4, Math.min(y, this.height - hgt - 4));
    el.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`;
  }

  /** Keep an open card current (status changes, countdowns). */
  #refreshTooltip() {
    if (this.tooltipEl.hidden || this.tipSeat === undefined || this.tipSeat < 0) return;
    const info = this.options.tooltip?.(this.tipSeat);
    if (!info) return;
    const children = [h("strong", { text: info.title }), ...info.lines.map((line) => h("span", { text: line }))];
    this.tooltipEl.replaceChildren(...children);
    this.tooltipEl.dataset.kind = info.kind || "";
    if (this.tipAnchor === "seat") this.#positionTooltip(this.screenOf(this.tipSeat));
  }

  hideTooltip() {
    if (this.tooltipEl.hidden) return;
    this.tooltipEl.hidden = true;
    this.tipSeat = -1;
  }
}

function before(s, a, b) {
  return s.y[a] < s.y[b] - 0.25 || (Math.abs(s.y[a] - s.y[b]) <= 0.25 && s.x[a] < s.x[b]);
}

function midpoint(a, b) {
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
}

let idCounter = 0;
function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
