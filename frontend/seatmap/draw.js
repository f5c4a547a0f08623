// Painting the whole map on a canvas: the stage, row and section labels, and
// every seat on screen. How one seat looks is seatdraw.js's (shared with the
// legend); this module decides which seats to paint and batches the common case.
//
// A full paint visits only the index cells on screen. A live update repaints
// only the seats that changed: each seat owns a box of ±0.5 seat units, so it
// can be cleared and redrawn without touching its neighbours.

import { COLOURS, drawSeat, kindFor, KIND_AVAILABLE } from "../seatdraw.js";
import { captionSize, ROW_CAPTIONS_FROM_SCALE, rowCaptions } from "./captions.js";
import { availabilityFill, buildSections, freeBySection, outline, OVERVIEW_BELOW_PX } from "./sections.js";

const SEAT_RADIUS = 0.4; // seat units

/**
 * Row and section captions and the sections' shapes, computed once per store:
 * {rows, angled, sections, shapes, sectionOf}. `rows` are rows that run across the map
 * (captioned at both ends, pinned to its edge when zoomed in); `angled` are the rows of
 * turned or curved sections, captioned just past their end seats, along the row.
 */
export function buildLabels(s) {
  const groups = new Map(); // section + row -> its seats' indices
  let run = null; // the row of the seat before: seats come row by row, so look up only when it changes
  for (let i = 0; i < s.size; i++) {
    const x = s.x[i], y = s.y[i];
    if (s.row[i] !== "") {
      if (!run || s.row[i] !== s.row[i - 1] || s.section[i] !== s.section[i - 1]) {
        const key = `${s.section[i]}\u0000${s.row[i]}`;
        run = groups.get(key);
        if (!run) groups.set(key, (run = { members: [], minX: x, maxX: x, minY: y, maxY: y }));
      }
      run.members.push(i);
      if (x < run.minX) run.minX = x;
      if (x > run.maxX) run.maxX = x;
      if (y < run.minY) run.minY = y;
      if (y > run.maxY) run.maxY = y;
    } else run = null;
  }
  const rows = [];
  const angled = [];
  for (const { members, minX, maxX, minY, maxY } of groups.values()) {
    const text = String(s.row[members[0]]);
    if (maxY - minY < 0.01) {
      // Across the map, as stacked layouts lay rows: one caption at each end.
      rows.push({ text, y: minY, minX, maxX });
    } else if (members.length > 1) {
      // Turned or curved: from the first seat to the last by number, a little beyond each.
      const byNumber = [...members].sort((a, b) => (s.number[a] ?? 0) - (s.number[b] ?? 0));
      const a = byNumber[0], b = byNumber[byNumber.length - 1];
      const dx = s.x[b] - s.x[a], dy = s.y[b] - s.y[a];
      const len = Math.hypot(dx, dy) || 1;
      const ux = dx / len, uy = dy / len;
      angled.push({ text, ends: [[s.x[a] - ux * 0.9, s.y[a] - uy * 0.9], [s.x[b] + ux * 0.9, s.y[b] + uy * 0.9]], line: outline(byNumber, s.x, s.y) });
    }
  }
  const rowGroups = [];
  for (const g of groups.values()) rowGroups.push(g.members);
  const { sections: shapes, sectionOf } = buildSections(s.section, s.x, s.y, rowGroups, s.number);
  // Stacked sections' captions, over each one's top (none for a single section: shapes
  // are made for two or more).
  const sections = shapes.map((sec) => ({ text: sec.name, minX: sec.minX, maxX: sec.maxX, minY: sec.minY }));
  return { rows, angled, sections, shapes, sectionOf };
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
  const overview = inOverview(v, labels);
  const free = overview ? freeBySection(labels.sectionOf, s.status, labels.shapes.length) : null;
  if (overview) {
    // Zoomed out, the sections are the map: their shapes and counts, no specks (a
    // 100,000-seat venue repaints in a millisecond or two on every change).
    drawShapes(ctx, v, labels.shapes, free);
    drawShapeNames(ctx, v, labels.shapes, free);
    return;
  }
  drawLabels(ctx, v, labels, Boolean(s.stage));

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
  if (s.stage) drawSectionTags(ctx, v, labels.shapes);
}

/** Zoomed into a placed venue: each section's name on a small tag on its middle seat,
 *  so a stand turned any way is still named (from SECTION_TAGS_UNTIL px a seat, the
 *  rows' letters and each seat's card name it instead). */
const SECTION_TAGS_UNTIL = 20;
function drawSectionTags(ctx, v, shapes) {
  if (v.scale >= SECTION_TAGS_UNTIL) return;
  ctx.font = "700 12px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const sec of shapes) {
    const x = sec.cx * v.scale + v.tx, y = sec.cy * v.scale + v.ty;
    if (x < -40 || y < -20 || x > v.width + 40 || y > v.height + 20) continue;
    const w = ctx.measureText(sec.name).width + 12;
    ctx.fillStyle = "rgba(255, 255, 255, 0.88)";
    ctx.beginPath();
    ctx.roundRect(x - w / 2, y - 10, w, 20, 10);
    ctx.fill();
    ctx.fillStyle = "#1f2937";
    ctx.fillText(sec.name, x, y);
  }
}

/** Zoomed out on a venue of several sections: they show as shapes (sections.js). */
export function inOverview(v, labels) {
  return labels.shapes.length >= 2 && v.scale < OVERVIEW_BELOW_PX;
}

/** A section's shape: a band along each row, as wide as a row is deep (they merge). */
function drawShapes(ctx, v, shapes, free) {
  ctx.lineJoin = "round";
  ctx.lineCap = "round";
  shapes.forEach((sec, k) => {
    ctx.beginPath();
    for (const row of sec.rows) {
      row.forEach(([x, y], n) => (n ? ctx.lineTo : ctx.moveTo).call(ctx, x * v.scale + v.tx, y * v.scale + v.ty));
      if (row.length === 1) ctx.lineTo(row[0][0] * v.scale + v.tx + 0.01, row[0][1] * v.scale + v.ty);
    }
    ctx.strokeStyle = availabilityFill(free[k], sec.total).replace(/[\d.]+\)$/, "1)");
    ctx.globalAlpha = 0.55;
    ctx.lineWidth = Math.max(3, v.scale * 1.15);
    ctx.stroke();
    ctx.globalAlpha = 1;
  });
}

function drawShapeNames(ctx, v, shapes, free) {
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.lineJoin = "round";
  shapes.forEach((sec, k) => {
    const x = sec.cx * v.scale + v.tx, y = sec.cy * v.scale + v.ty;
    if (x < -40 || y < -20 || x > v.width + 40 || y > v.height + 20) return;
    // As much as the section's size on screen leaves room for: name and count, the
    // name alone, or nothing (a phone's view of a big arena).
    const size = Math.max(sec.maxX - sec.minX, sec.maxY - sec.minY) * v.scale;
    if (size < 26) return;
    const name = sec.name, count = free[k] ? `${free[k].toLocaleString()} free` : "Sold out";
    const lines = size < 56 ? [[name, 0, "700 11px system-ui, sans-serif"]] : [
      [name, -7, "700 12px system-ui, sans-serif"],
      [count, 7, "600 11px system-ui, sans-serif"],
    ];
    for (const [text, dy, font] of lines) {
      ctx.font = font;
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
      ctx.strokeText(text, x, y + dy);
      ctx.fillStyle = "#1f2937";
      ctx.fillText(text, x, y + dy);
    }
  });
}

/** Repaint one seat in its own box (nothing, if it is off screen). */
export function drawOne(ctx, { store: s, view: v }, i) {
  const x = s.x[i] * v.scale + v.tx, y = s.y[i] * v.scale + v.ty;
  const half = v.scale * 0.5;
  if (x < -half || y < -half || x > v.width + half || y > v.height + half) return;
  // A circle, not the square around it: in a turned or curved row a neighbour sits
  // diagonally, where the square's corner would cut into it.
  ctx.fillStyle = COLOURS.background;
  ctx.beginPath();
  ctx.arc(x, y, v.scale * 0.49, 0, Math.PI * 2);
  ctx.fill();
  drawSeat(ctx, kindFor(s, i), x, y, v.scale * SEAT_RADIUS, colourOf(s, i), s.accessible[i] === 1);
}

function drawStage(ctx, s, v) {
  if (s.stage) return drawPlacedStage(ctx, s.stage, v);
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

/** A venue placed around its stage (issue 14, item 4): the stage where the layout put it. */
function drawPlacedStage(ctx, st, v) {
  const x = st.x * v.scale + v.tx, y = st.y * v.scale + v.ty;
  const w = st.width * v.scale, hgt = st.height * v.scale;
  ctx.fillStyle = "#e5e7eb";
  ctx.beginPath();
  ctx.roundRect(x, y, w, hgt, Math.min(12, hgt / 4, w / 4));
  ctx.fill();
  const size = Math.min(16, hgt * 0.3, w / 5);
  if (size >= 7) {
    ctx.fillStyle = "#5b6473";
    ctx.font = `600 ${size}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("STAGE", x + w / 2, y + hgt / 2);
  }
}

/** Turned and curved rows' letters just past their end seats, those on screen. */
export function angledEnds(v, angled) {
  if (v.scale < ROW_CAPTIONS_FROM_SCALE) return [];
  const found = [];
  for (const row of angled) {
    for (const [wx, wy] of row.ends) {
      const x = wx * v.scale + v.tx, y = wy * v.scale + v.ty;
      if (x > -20 && y > -20 && x < v.width + 20 && y < v.height + 20) found.push({ text: row.text, x, y, align: "center", pinned: false });
    }
  }
  return found;
}

/** A turned or curved row whose ends are both off screen: its letter on its first seat
 *  on screen (traced along its outline), so it stays named. */
export function angledPins(v, angled) {
  if (v.scale < ROW_CAPTIONS_FROM_SCALE) return [];
  const inset = 12;
  const on = ([wx, wy]) => {
    const x = wx * v.scale + v.tx, y = wy * v.scale + v.ty;
    return x >= inset && y >= inset && x <= v.width - inset && y <= v.height - inset ? { x, y } : null;
  };
  const pins = [];
  for (const row of angled) {
    if (row.ends.some((end) => on(end))) continue; // its end's letter shows
    for (const point of row.line) {
      const p = on(point);
      if (p) {
        pins.push({ text: row.text, x: p.x, y: p.y, align: "center", pinned: true });
        break;
      }
    }
  }
  return pins;
}

/** Row letters pinned to the map's edge: painted after the seats, on a pill. */
export function drawPinnedCaptions(ctx, v, labels) {
  const pinned = [...rowCaptions(labels.rows, v).filter((c) => c.pinned), ...angledPins(v, labels.angled)];
  if (!pinned.length) return;
  const size = captionSize(v.scale);
  ctx.font = `700 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  for (const c of pinned) {
    const w = ctx.measureText(c.text).width + 8;
    const x0 = c.align === "left" ? c.x - 4 : c.align === "center" ? c.x - w / 2 : c.x - w + 4;
    ctx.fillStyle = "rgba(255, 255, 255, 0.92)";
    ctx.beginPath();
    ctx.roundRect(x0, c.y - size * 0.75, w, size * 1.5, size * 0.75);
    ctx.fill();
    ctx.fillStyle = "#374151";
    ctx.textAlign = c.align;
    ctx.fillText(c.text, c.x, c.y);
  }
}

function drawLabels(ctx, v, labels, placed) {
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
  const ends = angledEnds(v, labels.angled);
  if (ends.length) {
    // Turned and curved rows: their letters just past each end seat, along the row.
    ctx.font = `600 ${captionSize(v.scale)}px system-ui, sans-serif`;
    ctx.fillStyle = "#6b7280";
    ctx.textAlign = "center";
    for (const c of ends) ctx.fillText(c.text, c.x, c.y);
  }
  if (placed) return; // a placed section's name goes on top of its seats (drawSectionTags)
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
