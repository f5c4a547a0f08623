// How one seat looks. Shared by the map and the legend so they never disagree.
//
// Colour is never the only signal (WCAG 1.4.1): each state also has its own
// shape or mark.
//   available       filled circle in the category colour (accessible: + white ring)
//   held by me      bold dark ring around the category colour, with a check
//   held by others  white circle, category-coloured outline, hatched, lock glyph
//   booked          grey rounded square with a cross
//   booked by me    dark indigo rounded square with a check

import { AVAILABLE, BOOKED, HELD } from "./seatstore.js";

export const KIND_AVAILABLE = 0;
export const KIND_MINE_HELD = 1;
export const KIND_OTHER_HELD = 2;
export const KIND_BOOKED = 3;
export const KIND_MINE_BOOKED = 4;

export const COLOURS = {
  background: "#ffffff",
  ink: "#111827",
  booked: "#d6dae1",
  bookedMark: "#7b8494",
  mineBooked: "#312e81",
  heldFill: "#ffffff",
  lock: "#374151",
  uncategorised: "#6b7280",
};

export function kindOf(status, mine) {
  if (status === BOOKED) return mine ? KIND_MINE_BOOKED : KIND_BOOKED;
  if (status === HELD) return mine ? KIND_MINE_HELD : KIND_OTHER_HELD;
  return KIND_AVAILABLE;
}

export function kindFor(store, i) {
  return kindOf(store.status[i], store.mine[i] === 1);
}

export { AVAILABLE, HELD, BOOKED };

function roundedSquare(ctx, cx, cy, half, radius) {
  ctx.beginPath();
  ctx.roundRect(cx - half, cy - half, half * 2, half * 2, radius);
}

function check(ctx, cx, cy, r, colour, width) {
  ctx.beginPath();
  ctx.moveTo(cx - r * 0.45, cy + r * 0.02);
  ctx.lineTo(cx - r * 0.12, cy + r * 0.35);
  ctx.lineTo(cx + r * 0.48, cy - r * 0.32);
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.stroke();
}

function lock(ctx, cx, cy, r) {
  const w = r * 0.9, hgt = r * 0.62;
  ctx.fillStyle = COLOURS.lock;
  ctx.beginPath();
  ctx.roundRect(cx - w / 2, cy - hgt * 0.15, w, hgt, r * 0.1);
  ctx.fill();
  ctx.beginPath();
  ctx.arc(cx, cy - hgt * 0.15, w * 0.3, Math.PI, 0);
  ctx.strokeStyle = COLOURS.lock;
  ctx.lineWidth = Math.max(1, r * 0.14);
  ctx.stroke();
}

/**
 * Draw one seat centred on (cx, cy) with radius r (CSS pixels). Everything
 * stays inside a box of ±0.5 seat units (r is 0.4 units, rings add < 0.06),
 * which is what lets the map repaint one dirty seat by clearing its own box.
 */
export function drawSeat(ctx, kind, cx, cy, r, colour, accessible) {
  // Tiny seats (a whole stadium on a phone): squares in a flat colour code.
  if (r < 2.5) {
    ctx.fillStyle =
      kind === KIND_AVAILABLE ? colour
      : kind === KIND_MINE_HELD ? COLOURS.ink
      : kind === KIND_MINE_BOOKED ? COLOURS.mineBooked
      : kind === KIND_BOOKED ? COLOURS.booked
      : COLOURS.bookedMark;
    ctx.fillRect(cx - r, cy - r, r * 2, r * 2);
    return;
  }
  const detail = r >= 6;
  switch (kind) {
    case KIND_AVAILABLE: {
      ctx.beginPath();
      ctx.arc(cx, cy, r, 0, Math.PI * 2);
      ctx.fillStyle = colour;
      ctx.fill();
      if (accessible && detail) {
        ctx.beginPath();
        ctx.arc(cx, cy, r * 0.45, 0, Math.PI * 2);
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = Math.max(1.2, r * 0.16);
        ctx.stroke();
      }
      break;
    }
    case KIND_MINE_HELD: {
      const ring = Math.max(1.5, r * 0.26);
      ctx.beginPath();
      ctx.arc(cx, cy, r, 0, Math.PI * 2);
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.beginPath();
      ctx.arc(cx, cy, r, 0, Math.PI * 2);
      ctx.strokeStyle = COLOURS.ink;
      ctx.lineWidth = ring;
      ctx.stroke();
      if (detail) {
        // Dark under white: the check reads on any category colour.
        check(ctx, cx, cy, r, COLOURS.ink, Math.max(2.5, r * 0.34));
        check(ctx, cx, cy, r, "#ffffff", Math.max(1.4, r * 0.18));
      }
      break;
    }
    case KIND_OTHER_HELD: {
      ctx.save();
      ctx.beginPath();
      ctx.arc(cx, cy, r * 0.92, 0, Math.PI * 2);
      ctx.fillStyle = COLOURS.heldFill;
      ctx.fill();
      ctx.clip();
      if (r >= 4) {
        // Diagonal hatch in the category colour.
        ctx.beginPath();
        const step = Math.max(2.5, r * 0.42);
        for (let d = -2 * r; d <= 2 * r; d += step) {
          ctx.moveTo(cx + d - r, cy + r);
          ctx.lineTo(cx + d + r, cy - r);
        }
        ctx.strokeStyle = colour;
        ctx.globalAlpha = 0.55;
        ctx.lineWidth = Math.max(0.8, r * 0.1);
        ctx.stroke();
        ctx.globalAlpha = 1;
      }
      ctx.restore();
      ctx.beginPath();
      ctx.arc(cx, cy, r * 0.92, 0, Math.PI * 2);
      ctx.strokeStyle = colour;
      ctx.lineWidth = Math.max(1, r * 0.16);
      ctx.stroke();
      if (r >= 7) lock(ctx, cx, cy, r * 0.62);
      break;
    }
    case KIND_BOOKED: {
      roundedSquare(ctx, cx, cy, r * 0.82, r * 0.22);
      ctx.fillStyle = COLOURS.booked;
      ctx.fill();
      if (r >= 4) {
        const a = r * 0.36;
        ctx.beginPath();
        ctx.moveTo(cx - a, cy - a);
        ctx.lineTo(cx + a, cy + a);
        ctx.moveTo(cx + a, cy - a);
        ctx.lineTo(cx - a, cy + a);
        ctx.strokeStyle = COLOURS.bookedMark;
        ctx.lineWidth = Math.max(1, r * 0.15);
        ctx.lineCap = "round";
        ctx.stroke();
      }
      break;
    }
    case KIND_MINE_BOOKED: {
      roundedSquare(ctx, cx, cy, r * 0.9, r * 0.22);
      ctx.fillStyle = COLOURS.mineBooked;
      ctx.fill();
      if (r >= 4) check(ctx, cx, cy, r, "#ffffff", Math.max(1.4, r * 0.2));
      break;
    }
  }
}

/** A small canvas showing one seat look, for legends (decorative: the text says it). */
export function swatch(kind, colour, { accessible = false, size = 22 } = {}) {
  const canvas = document.createElement("canvas");
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(size * dpr);
  canvas.height = Math.round(size * dpr);
  canvas.className = "swatch";
  // Sizing from JS is allowed under the CSP (only style attributes in markup are not).
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  canvas.setAttribute("aria-hidden", "true");
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  drawSeat(ctx, kind, size / 2, size / 2, size * 0.4, colour, accessible);
  return canvas;
}
