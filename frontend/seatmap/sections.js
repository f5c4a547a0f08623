// Sections as shapes (issue 14, item 4), pure: no DOM, no canvas.
// frontend/tests/sections.test.js.
//
// Zoomed out on a big venue, seats are specks a click cannot aim at: the map then
// shows each section as its shape (a band along each of its rows), coloured by how much
// of it is free, with its name and free count, and a click on a section zooms to it.

export const OVERVIEW_BELOW_PX = 6; // px per seat: below it, a multi-section map shows sections

/**
 * Each section's shape from the seats' positions: [{name, rows (each row's band: its
 * seats' [x, y] by number, `outline`d), minX, minY, maxX, maxY, cx, cy, total}], and
 * `sectionOf` (seat index → section index, -1 for none). `rowGroups` are the rows' seat
 * indices, `numbers` the seats' numbers. Sections
 * are the store's `section` names; a map with fewer than two has none (nothing to pick).
 */
export function buildSections(names, xs, ys, rowGroups = null, numbers = null) {
  const index = new Map();
  const found = [];
  const sectionOf = new Int32Array(names.length).fill(-1);
  let k = -1;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (!name) continue;
    // Seats come section by section: look the name up only when it changes.
    if (i === 0 || name !== names[i - 1]) k = index.get(name) ?? -1;
    if (k < 0) {
      k = found.length;
      index.set(name, k);
      found.push({ name, minX: xs[i], minY: ys[i], maxX: xs[i], maxY: ys[i], sumX: 0, sumY: 0, total: 0 });
    }
    const sec = found[k];
    const x = xs[i], y = ys[i];
    if (x < sec.minX) sec.minX = x;
    if (x > sec.maxX) sec.maxX = x;
    if (y < sec.minY) sec.minY = y;
    if (y > sec.maxY) sec.maxY = y;
    sec.sumX += x;
    sec.sumY += y;
    sec.total++;
    sectionOf[i] = k;
  }
  if (found.length < 2) return { sections: [], sectionOf: sectionOf.fill(-1) };
  // Each row's seats in order (by number): the section's shape is drawn as bands along
  // them, so a curved stand looks like its arc, not the hull's chord.
  // `rowGroups`: each row's seat indices (buildLabels has grouped them already).
  const lines = found.map(() => []);
  const byNumber = (a, b) => (numbers[a] ?? 0) - (numbers[b] ?? 0) || xs[a] - xs[b];
  for (const members of rowGroups || []) {
    const k = sectionOf[members[0]];
    if (k < 0) continue;
    // Seats come in number order from the server: sort only a row that does not.
    let ordered = true;
    for (let n = 1; n < members.length && ordered; n++) ordered = byNumber(members[n - 1], members[n]) <= 0;
    lines[k].push(outline(ordered ? members : [...members].sort(byNumber), xs, ys));
  }
  // Where a section's name goes (and where a test clicks): on a seat, the middle one of
  // its middle row (a curved stand's mean lies off its arc, in front of it); without
  // rows, its first seat.
  const anchor = found.map((sec, k) => {
    const rows = lines[k];
    const row = rows[Math.floor((rows.length - 1) / 2)];
    if (!row) return { x: sec.minX, y: sec.minY };
    const [x, y] = row[Math.floor((row.length - 1) / 2)];
    return { x, y };
  });
  const sections = found.map((sec, k) => ({
    name: sec.name,
    rows: lines[k],
    minX: sec.minX,
    minY: sec.minY,
    maxX: sec.maxX,
    maxY: sec.maxY,
    cx: anchor[k].x,
    cy: anchor[k].y,
    total: sec.total,
  }));
  return { sections, sectionOf };
}

export const ROW_POINTS = 24; // at most this many points trace a row's band

/** A row's band as at most ROW_POINTS of its seats' positions, its ends included: a
 *  straight row is two points, an arc a smooth polyline, whatever the row's length. */
export function outline(members, xs, ys) {
  const step = Math.max(1, Math.ceil((members.length - 1) / (ROW_POINTS - 1)));
  const points = [];
  for (let n = 0; n < members.length; n += step) points.push([xs[members[n]], ys[members[n]]]);
  const last = members[members.length - 1];
  if ((members.length - 1) % step) points.push([xs[last], ys[last]]);
  return points;
}

/** Free seats per section: `free[k]` for section k, from the store's statuses (0: available). */
export function freeBySection(sectionOf, status, count) {
  const free = new Array(count).fill(0);
  for (let i = 0; i < sectionOf.length; i++) {
    const k = sectionOf[i];
    if (k >= 0 && status[i] === 0) free[k]++;
  }
  return free;
}

/** The fill of a section's shape by its free share: green when plenty, amber when few, grey when none. */
export function availabilityFill(free, total) {
  if (!total || free === 0) return "rgba(148, 163, 184, 0.35)";
  const share = free / total;
  if (share < 0.15) return "rgba(217, 119, 6, 0.30)";
  return "rgba(5, 150, 105, 0.22)";
}
