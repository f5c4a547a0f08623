// The seat map's camera: how seat units map to viewport CSS pixels, and how a
// fit, a zoom, a pan or a resize moves it. Pure: numbers in, numbers out; the
// SeatMap redraws after each change.
//
//   screen x = world x * scale + tx        screen y = world y * scale + ty

export const MAX_SCALE = 64; // CSS px per seat unit
const MIN_FIT_SCALE = 0.5;
const FIT_FILL = 0.96; // a fitted map leaves a thin margin
const PAN_MARGIN = 60; // px of the map that always stays on screen

/** World extent of a map: the seats' bounds plus the stage (its own rectangle, or the strip above them). */
export function stageExtent(bounds, stage = null) {
  if (!stage) return { minX: bounds.minX - 1.5, maxX: bounds.maxX + 1.5, minY: bounds.minY - 4, maxY: bounds.maxY + 1.5 };
  return {
    minX: Math.min(bounds.minX, stage.x) - 1.5,
    maxX: Math.max(bounds.maxX, stage.x + stage.width) + 1.5,
    minY: Math.min(bounds.minY, stage.y) - 1.5,
    maxY: Math.max(bounds.maxY, stage.y + stage.height) + 1.5,
  };
}

export class View {
  constructor() {
    this.scale = 10;
    this.tx = 0;
    this.ty = 0;
    this.width = 0; // viewport CSS px; 0 until laid out
    this.height = 0;
    this.extent = stageExtent({ minX: 0, minY: 0, maxX: 0, maxY: 0 });
    this.fitScale = 0; // the scale of the last fit, 0 before the first
    this.fitted = false;
    this.userMoved = false; // panned or zoomed since the last fit
  }

  /** A new set of seats: their bounds (a SeatStore's `bounds`) and its stage, if placed. */
  setBounds(bounds, stage = null) {
    this.extent = stageExtent(bounds, stage);
  }

  /**
   * Show the world rectangle, centred, `pad` seat units around it, no closer than
   * `maxScale` px a seat (a section, what best available picked). A user's move.
   */
  fitTo(minX, minY, maxX, maxY, { pad = 2, maxScale = MAX_SCALE } = {}) {
    if (!this.width || !this.height) return;
    const w = maxX - minX + 2 * pad, hgt = maxY - minY + 2 * pad;
    this.scale = Math.min(maxScale, MAX_SCALE, Math.min(this.width / w, this.height / hgt));
    this.tx = this.width / 2 - ((minX + maxX) / 2) * this.scale;
    this.ty = this.height / 2 - ((minY + maxY) / 2) * this.scale;
    this.userMoved = true;
    this.clampPan();
  }

  /** Show the whole extent, centred. Returns false (and changes nothing) before the viewport has a size. */
  fit() {
    if (!this.width || !this.height) return false;
    const e = this.extent;
    const w = e.maxX - e.minX, hgt = e.maxY - e.minY;
    const scale = Math.min(MAX_SCALE, Math.max(MIN_FIT_SCALE, Math.min(this.width / w, this.height / hgt) * FIT_FILL));
    this.scale = scale;
    this.tx = (this.width - w * scale) / 2 - e.minX * scale;
    this.ty = (this.height - hgt * scale) / 2 - e.minY * scale;
    this.fitScale = scale;
    this.fitted = true;
    this.userMoved = false;
    this.clampPan();
    return true;
  }

  /**
   * Zoom by `factor` keeping viewport point (px, py) still. Out: no further than
   * 70 % of the fitted scale (and never needing more than 4 px a seat); in: up
   * to MAX_SCALE.
   */
  zoomBy(factor, px, py) {
    this.userMoved = true;
    const minScale = Math.min((this.fitScale || this.scale) * 0.7, 4);
    const scale = Math.min(MAX_SCALE, Math.max(minScale, this.scale * factor));
    const k = scale / this.scale;
    this.tx = px - (px - this.tx) * k;
    this.ty = py - (py - this.ty) * k;
    this.scale = scale;
    this.clampPan();
  }

  panBy(dx, dy) {
    this.panTo(this.tx + dx, this.ty + dy);
  }

  panTo(tx, ty) {
    this.userMoved = true;
    this.tx = tx;
    this.ty = ty;
    this.clampPan();
  }

  /**
   * Pan so viewport point p (a seat's) is comfortably inside, if it is not:
   * centre it. Returns whether the view moved.
   */
  bringIntoView(p) {
    const margin = Math.min(48, this.width / 4, this.height / 4);
    const outside = p.x < margin || p.x > this.width - margin || p.y < margin || p.y > this.height - margin;
    if (!outside) return false;
    this.tx += this.width / 2 - p.x;
    this.ty += this.height / 2 - p.y;
    this.userMoved = true;
    this.clampPan();
    return true;
  }

  /**
   * The viewport has a new size. Until the user pans or zooms the whole venue
   * stays fitted (returns true: refitted); after that, what was in the centre
   * stays in the centre (returns false).
   */
  resize(width, height) {
    const oldW = this.width, oldH = this.height;
    this.width = width;
    this.height = height;
    if (!this.fitted || !this.userMoved) return this.fit();
    this.tx += (width - oldW) / 2;
    this.ty += (height - oldH) / 2;
    this.clampPan();
    return false;
  }

  /** Keep at least part of the map on screen, so nobody pans into the void. */
  clampPan() {
    const e = this.extent;
    const left = e.minX * this.scale + this.tx, right = e.maxX * this.scale + this.tx;
    const top = e.minY * this.scale + this.ty, bottom = e.maxY * this.scale + this.ty;
    if (right < PAN_MARGIN) this.tx += PAN_MARGIN - right;
    if (left > this.width - PAN_MARGIN) this.tx -= left - (this.width - PAN_MARGIN);
    if (bottom < PAN_MARGIN) this.ty += PAN_MARGIN - bottom;
    if (top > this.height - PAN_MARGIN) this.ty -= top - (this.height - PAN_MARGIN);
  }

  /** World (seat units) → viewport CSS px. */
  toScreen(x, y) {
    return { x: x * this.scale + this.tx, y: y * this.scale + this.ty };
  }

  /** Viewport CSS px → world (seat units). */
  toWorld(px, py) {
    return { x: (px - this.tx) / this.scale, y: (py - this.ty) / this.scale };
  }

  /** The world rectangle on screen, `pad` seat units wider on every side. */
  visibleRange(pad = 1) {
    return {
      x0: -this.tx / this.scale - pad,
      x1: (this.width - this.tx) / this.scale + pad,
      y0: -this.ty / this.scale - pad,
      y1: (this.height - this.ty) / this.scale + pad,
    };
  }

  /** Height in px for a container `width` px wide that fits the venue's shape, within {min, max}. */
  heightFor(width, limits) {
    const e = this.extent;
    const want = Math.round((width * (e.maxY - e.minY)) / (e.maxX - e.minX) / FIT_FILL);
    return Math.round(Math.max(limits.min, Math.min(limits.max, want)));
  }
}
