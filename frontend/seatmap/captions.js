// Where the row letters go (pure: no DOM, no canvas). frontend/tests/captions.test.js.
//
// Each row is captioned at both ends. Zoomed in on part of a wide row, an end is off
// screen: its letter is then pinned to that edge of the map instead, on a pill, so
// the rows on screen are always named (issue 14, item 3: "row letters that stay on
// screen"). A row wholly off screen sideways gets no caption.

export const ROW_CAPTIONS_FROM_SCALE = 12; // px per seat: from here, letters at both ends
export const SMALL_CAPTIONS_FROM_SCALE = 8; // from here (a phone's first view), at the start only
export const PIN_INSET = 6; // px from the map's edge for a pinned letter
const SMALL_GAP_PX = 11; // small letters closer than this to the one above are left out

/** The caption size in px at this zoom (never under 9 px: smaller is not read). */
export function captionSize(scale) {
  return Math.max(9, Math.min(13, scale * 0.5));
}

/**
 * Row captions on screen: [{text, x, y, align: "left"|"right", pinned}], `x` the text's
 * anchor in CSS px. `rows` are buildLabels' rows ({text, y, minX, maxX} in seat units),
 * `view` {scale, tx, ty, width, height}.
 */
export function rowCaptions(rows, view) {
  const { scale, tx, ty, width, height } = view;
  if (scale < SMALL_CAPTIONS_FROM_SCALE) return [];
  if (scale < ROW_CAPTIONS_FROM_SCALE) return startCaptions(rows, view);
  const size = captionSize(scale);
  const found = [];
  for (const r of rows) {
    const y = r.y * scale + ty;
    if (y < -20 || y > height + 20) continue;
    const start = (r.minX - 0.5) * scale + tx;
    const end = (r.maxX + 0.5) * scale + tx;
    if (end < 0 || start > width) continue; // the row is off screen sideways
    const room = r.text.length * size * 0.65 + PIN_INSET; // about the letters' width
    const left = (r.minX - 0.7) * scale + tx;
    const right = (r.maxX + 0.7) * scale + tx;
    const leftFits = left - room >= 0;
    const rightFits = right + room <= width;
    found.push(
      leftFits
        ? { text: r.text, x: left, y, align: "right", pinned: false }
        : { text: r.text, x: PIN_INSET, y, align: "left", pinned: true },
    );
    if (rightFits) found.push({ text: r.text, x: right, y, align: "left", pinned: false });
    else if (leftFits) found.push({ text: r.text, x: width - PIN_INSET, y, align: "right", pinned: true });
  }
  return found;
}

/**
 * Zoomed out as a phone first shows a venue (SMALL_CAPTIONS_FROM_SCALE up to
 * ROW_CAPTIONS_FROM_SCALE px a seat): each row's letter at its start only (pinned to the
 * left edge when the start is off screen), top to bottom, leaving out a letter that
 * would touch the one above it (every other row, where rows are close).
 */
function startCaptions(rows, view) {
  const { scale, tx, ty, width, height } = view;
  const size = captionSize(scale);
  const found = [];
  let last = -Infinity;
  for (const r of [...rows].sort((a, b) => a.y - b.y)) {
    const y = r.y * scale + ty;
    if (y < -20 || y > height + 20) continue;
    const start = (r.minX - 0.5) * scale + tx;
    const end = (r.maxX + 0.5) * scale + tx;
    if (end < 0 || start > width) continue;
    if (y - last < SMALL_GAP_PX) continue;
    last = y;
    const left = (r.minX - 0.7) * scale + tx;
    const fits = left - (r.text.length * size * 0.65 + PIN_INSET) >= 0;
    found.push(fits ? { text: r.text, x: left, y, align: "right", pinned: false } : { text: r.text, x: PIN_INSET, y, align: "left", pinned: true });
  }
  return found;
}
