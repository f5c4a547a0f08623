// Painting the whole map on a canvas: the stage, row and section labels, and
// every seat on screen. How one seat looks is seatdraw.js's (shared with the
// legend); this module decides which seats to paint and batches the common case.
//
// A full paint visits only the index cells on screen. A live update repaints
// only the seats that changed: each seat owns a box of ±0.5 seat units, so it
// can be cleared and redrawn without touching its neighbours.

import { COLOURS, drawSeat, kindFor, KIND_AVAILABLE } from "../seatdraw.js";
import { captionSize, rowCaptions } from "./captions.js";

const SEAT_RADIUS = 0.4; // seat units

/** Row and section captions, computed once per store: {rows: [...], sections: [...]}. */
export function buildLabels(s) {
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
  // One unnamed/default section needs no caption.
  return { rows: [...rows.values()], sections: sections.size > 1 ? [...sections.values()] : [] };
}

function colourOf(s, i) {
  const c = s.category(i);
  return c?.colour || COLOURS.uncategorised;
}

/**
 * Paint everything on screen. `map` is {store, view, index, labels}; ctx is
 * already scaled to CSS pixels.
 */
export function drawAll(ctx, { store: s, view: v, index, labels }) {
  ctx.fillStyle = COLOURS.background;
  ctx.fillRect(0, 0, v.width, v.height);
  if (s.size === 0) return;
  drawStage(ctx, s, v);
  drawLabels(ctx, v, labels);

  const r = v.scale * SEAT_RADIUS;
  // The common case (free, plain seats) is batched into one path per
  // category colour: one fill() for thousands of seats.
  const batches = new Map();
  const singles = [];
  const { x0, x1, y0, y1 } = v.visibleRange();
  index.forEachIn(x0, x1, y0, y1, (i) => {
    if (kindFor(s, i) === KIND_AVAILABLE && !(s.accessible[i] && r >= 6)) {
      const colour = colourOf(s, i);
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
    drawSeat(ctx, kindFor(s, i), x, y, r, colourOf(s, i), s.accessible[i] === 1);
  }
}

/** Repaint one seat in its own box (nothing, if it is off screen). */
export function drawOne(ctx, { store: s, view: v }, i) {
  const x = s.x[i] * v.scale + v.tx, y = s.y[i] * v.scale + v.ty;
  const half = v.scale * 0.5;
  if (x < -half || y < -half || x > v.width + half || y > v.height + half) return;
  const box = v.scale * 0.49;
  ctx.fillStyle = COLOURS.background;
  ctx.fillRect(x - box, y - box, box * 2, box * 2);
  drawSeat(ctx, kindFor(s, i), x, y, v.scale * SEAT_RADIUS, colourOf(s, i), s.accessible[i] === 1);
}

function drawStage(ctx, s, v) {
  const b = s.bounds;
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

/** Row letters pinned to the map's edge: painted after the seats, on a pill. */
export function drawPinnedCaptions(ctx, v, labels) {
  const pinned = rowCaptions(labels.rows, v).filter((c) => c.pinned);
  if (!pinned.length) return;
  const size = captionSize(v.scale);
  ctx.font = `700 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  for (const c of pinned) {
    const w = ctx.measureText(c.text).width + 8;
    const x0 = c.align === "left" ? c.x - 4 : c.x - w + 4;
    ctx.fillStyle = "rgba(255, 255, 255, 0.92)";
    ctx.beginPath();
    ctx.roundRect(x0, c.y - size * 0.75, w, size * 1.5, size * 0.75);
    ctx.fill();
    ctx.fillStyle = "#374151";
    ctx.textAlign = c.align;
    ctx.fillText(c.text, c.x, c.y);
  }
}

function drawLabels(ctx, v, labels) {
  ctx.textBaseline = "middle";
  const captions = rowCaptions(labels.rows, v).filter((c) => !c.pinned);
  if (captions.length) {
    ctx.font = `600 ${captionSize(v.scale)}px system-ui, sans-serif`;
    ctx.fillStyle = "#6b7280";
    for (const c of captions) {
      ctx.textAlign = c.align;
      ctx.fillText(c.text, c.x, c.y);
    }
  }
  if (v.scale >= 6 && labels.sections.length) {
    const size = Math.min(13, Math.max(9, v.scale * 0.45));
    ctx.font = `700 ${size}px system-ui, sans-serif`;
    ctx.fillStyle = "#374151";
    ctx.textAlign = "center";
    for (const sec of labels.sections) {
      ctx.fillText(sec.text.toUpperCase(), ((sec.minX + sec.maxX) / 2) * v.scale + v.tx, (sec.minY - 0.85) * v.scale + v.ty);
    }
  }
}
