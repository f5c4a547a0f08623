// Canvas seat map: composes the parts in seatmap/ into one widget.
//
// Why a canvas: a 20 000-seat venue as DOM or SVG nodes is slow to build and to
// pan. Here seats live in a SeatStore (typed arrays) and a coarse bucket grid
// (spatial.js); a frame draws only the cells on screen (draw.js), and a live
// update repaints only the seats that changed. Every request to draw is
// coalesced into one requestAnimationFrame. The camera is view.js; pointer,
// keyboard and the roving-focus seat button are input.js; the hover card is
// tooltip.js.

import { h } from "./dom.js";
import { rowCaptions } from "./seatmap/captions.js";
import { angledEnds, angledPins, buildLabels, drawAll, drawOne, drawPinnedCaptions, inOverview } from "./seatmap/draw.js";
import { Minimap } from "./seatmap/minimap.js";
import { freeBySection, OVERVIEW_BELOW_PX } from "./seatmap/sections.js";
import { PointerInput, SeatCursor } from "./seatmap/input.js";
import { firstSeat, SpatialIndex } from "./seatmap/spatial.js";
import { SeatTooltip } from "./seatmap/tooltip.js";
import { View } from "./seatmap/view.js";

const WHEEL_HINT_MS = 1800; // how long the "hold Ctrl to zoom" hint stays

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
   *   autoHeight(): {min, max} px to size the container to the venue's shape, or null
   */
  constructor(container, store, options = {}) {
    this.container = container;
    this.options = { interactive: true, ...options };
    this.view = new View(); // scale, tx, ty: see view.js
    this.dpr = window.devicePixelRatio || 1;
    this.dirty = new Set();
    this.fullRedraw = true;
    this.frame = 0;
    this.cursor = -1; // the keyboard's seat
    this.hover = -1;
    // Read by tests and curious developers: proves live updates repaint only dirty seats.
    this.stats = { fullDraws: 0, dirtyDraws: 0, lastFullDrawMs: 0, lastDirtySeats: 0 };

    this.viewport = h("div", { class: "seatmap-viewport" });
    this.canvas = h("canvas", { class: "seatmap-canvas", "aria-hidden": "true" });
    this.tooltip = new SeatTooltip(this.view, (i) => this.options.tooltip?.(i), (i) => this.screenOf(i));
    this.viewport.append(this.canvas);
    if (this.options.interactive) {
      this.seatCursor = new SeatCursor(this);
      this.viewport.append(this.seatCursor.el);
    }
    this.viewport.append(this.tooltip.el);
    // Pointer-only guidance (keyboard users zoom with + and -): shown when the wheel
    // scrolls the page past the map instead of zooming it (./seatmap/input.js).
    const mac = /Mac|iPhone|iPad/.test(navigator.userAgent);
    this.wheelHint = h("div", {
      class: "seatmap-hint",
      "aria-hidden": "true",
      "data-testid": "map-wheel-hint",
      text: `To zoom, hold ${mac ? "⌘" : "Ctrl"} while scrolling, or click the map first`,
    });
    this.wheelHint.hidden = true;
    this.wheelHintTimer = 0;
    this.viewport.append(this.wheelHint);
    this.minimap = new Minimap(this);
    this.viewport.append(this.minimap.el);
    container.replaceChildren(this.viewport);
    this.ctx = this.canvas.getContext("2d", { alpha: false });

    this.pointer = new PointerInput(this, this.canvas, {
      viewChanged: () => this.#viewChanged(),
      placeCursor: () => this.#placeCursor(),
    });
    this.resizeObserver = new ResizeObserver(() => this.#resize());
    this.resizeObserver.observe(this.viewport);
    this.tooltip.start();
    this.setStore(store);
  }

  get width() {
    return this.view.width;
  }

  get height() {
    return this.view.height;
  }

  /** The roving-focus seat button (interactive maps only). */
  get cursorEl() {
    return this.seatCursor?.el;
  }

  destroy() {
    this.minimap.stop();
    cancelAnimationFrame(this.frame);
    clearTimeout(this.wheelHintTimer);
    this.tooltip.stop();
    this.resizeObserver.disconnect();
    this.unsubscribe?.();
  }

  /** Swap in a new store (the create-event preview rebuilds it on every edit). */
  setStore(store, { refit = false } = {}) {
    this.unsubscribe?.();
    this.store = store;
    this.index = new SpatialIndex(store);
    this.labels = buildLabels(store);
    this.firstSeat = firstSeat(store);
    this.view.setBounds(store.bounds, store.stage);
    this.cursor = -1;
    this.hover = -1;
    this.unsubscribe = store.subscribe((dirty) => {
      this.markDirty(dirty);
      this.minimap.seatsChanged();
    });
    this.minimap.reset();
    this.#applyAutoHeight(); // a new shape may want a new height (the resize observer refits)
    if (refit || !this.view.fitted) this.fit();
    this.markDirty(null);
    this.#placeCursor();
  }

  // ------------------------------------------------------------------ view

  fit() {
    if (this.view.fit()) this.#viewChanged();
  }

  /** Say how to zoom, for a moment (the wheel scrolled the page instead). */
  showWheelHint() {
    this.wheelHint.hidden = false;
    clearTimeout(this.wheelHintTimer);
    this.wheelHintTimer = setTimeout(() => (this.wheelHint.hidden = true), WHEEL_HINT_MS);
  }

  /** Show these seats (or a section's box), close enough to tell them apart. */
  showArea(minX, minY, maxX, maxY, options) {
    this.view.fitTo(minX, minY, maxX, maxY, options);
    this.#viewChanged();
  }

  zoomBy(factor, px = this.width / 2, py = this.height / 2) {
    this.view.zoomBy(factor, px, py);
    this.#viewChanged();
  }

  panBy(dx, dy) {
    this.view.panBy(dx, dy);
    this.#viewChanged();
  }

  /** After the view moved (and clamped itself): a card would point at the wrong place. */
  #viewChanged() {
    this.hideTooltip();
    this.markDirty(null);
  }

  /** The view was moved from outside the map's own controls (the minimap). */
  viewMoved() {
    this.#viewChanged();
  }

  /** Seat i's centre in viewport CSS pixels. */
  screenOf(i) {
    return this.view.toScreen(this.store.x[i], this.store.y[i]);
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
    const height = this.view.heightFor(this.container.clientWidth, limits);
    if (Math.abs(this.container.offsetHeight - height) > 1) this.container.style.height = `${height}px`;
  }

  #resize() {
    this.#applyAutoHeight();
    const rect = this.viewport.getBoundingClientRect();
    const width = Math.round(rect.width), height = Math.round(rect.height);
    if (!width || !height) return;
    const dpr = window.devicePixelRatio || 1;
    if (width === this.width && height === this.height && dpr === this.dpr) return;
    this.dpr = dpr;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    if (this.view.resize(width, height)) this.#viewChanged(); // refitted
    this.markDirty(null);
    this.#draw(); // paint now: a resized canvas is blank until the next frame
  }

  // --------------------------------------------------------------- drawing

  /** Ask for a repaint: `null` = everything, else the seat indices that changed. */
  markDirty(indices) {
    // Zoomed out to the sections' shapes, a changed seat changes its section's fill and
    // count: everything is repainted (a seat's own box would cut a hole in the shape).
    if (indices === null || this.overview()) this.fullRedraw = true;
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
      drawAll(ctx, this);
      drawPinnedCaptions(ctx, this.view, this.labels);
      this.minimap.update(); // the view may have moved: its outline follows
      if (this.store.size) this.#placeCursor();
      this.stats.fullDraws++;
      this.stats.lastFullDrawMs = performance.now() - t0;
    } else if (this.dirty.size) {
      const dirty = this.dirty;
      this.dirty = new Set();
      for (const i of dirty) drawOne(ctx, this, i);
      drawPinnedCaptions(ctx, this.view, this.labels); // a repainted seat may lie under one
      this.stats.dirtyDraws++;
      this.stats.lastDirtySeats = dirty.size;
      if (dirty.has(this.cursor)) this.#placeCursor();
    }
    this.tooltip.refresh();
  }

  /** Whether the map shows its sections as shapes now (a big venue, zoomed out). */
  overview() {
    return Boolean(this.labels) && inOverview(this.view, this.labels);
  }

  /** The sections' shapes (world units) and, zoomed out, their free counts: for tests. */
  sectionShapes() {
    const free = freeBySection(this.labels.sectionOf, this.store.status, this.labels.shapes.length);
    return this.labels.shapes.map((sec, k) => ({ name: sec.name, free: free[k], total: sec.total, cx: sec.cx, cy: sec.cy }));
  }

  /** Zoom to a section (its box), close enough to pick seats: past the shapes' zoom,
   *  about its middle, when the whole section would still be too small (a phone). */
  showSection(sec) {
    this.showArea(sec.minX, sec.minY, sec.maxX, sec.maxY, { pad: 2 });
    const least = OVERVIEW_BELOW_PX * 1.5;
    if (this.view.scale < least) {
      const p = this.view.toScreen(sec.cx, sec.cy);
      this.view.zoomBy(least / this.view.scale, p.x, p.y);
      this.#viewChanged();
    }
  }

  /** The row letters on screen now: [{text, x, y, align, pinned}] (CSS px). */
  rowCaptions() {
    const v = this.view;
    return [...rowCaptions(this.labels.rows, v), ...angledEnds(v, this.labels.angled), ...angledPins(v, this.labels.angled)];
  }

  // ----------------------------------------------------------- seats

  /** Seat under a point in viewport CSS pixels, or -1. */
  seatAt(px, py) {
    const w = this.view.toWorld(px, py);
    // Generous target on small seats: half a seat unit, or 6 px, whichever is more.
    return this.index.nearest(w.x, w.y, Math.max(0.5, 6 / this.view.scale));
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
    // Zoomed out to the sections' shapes, the seat is not drawn: show its section first
    // (the keyboard's cursor, best available's pick).
    const k = this.overview() ? this.labels.sectionOf[i] : -1;
    if (k >= 0) this.showSection(this.labels.shapes[k]);
    let p = this.screenOf(i);
    if (this.view.bringIntoView(p) || k >= 0) {
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
    this.seatCursor?.place();
  }

  // --------------------------------------------------------------- tooltip

  showTooltip(i, p, options) {
    this.tooltip.show(i, p, options);
  }

  hideTooltip() {
    this.tooltip.hide();
  }
}
