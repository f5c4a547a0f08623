// Sections as shapes (issue 14, item 4), pure: no DOM, no canvas.
// frontend/tests/sections.test.js.
//
// Zoomed out on a big venue, seats are specks a click cannot aim at: the map then
// shows each section as its shape (a band along each of its rows), coloured by how much
// of it is free, with its name and free count, and a click on a section zooms to it.

export const OVERVIEW_BELOW_PX = 6; // px per seat: below it, a multi-section map shows sections

/**
 * Each section's shape from the seats' positions: [{name, rows (each row's seats' [x, y]
 * by number), minX, minY, maxX, maxY, cx, cy, total}], and `sectionOf` (seat index →
 * section index, -1 for none). Sections
 * are the store's `section` names; a map with fewer than two has none (nothing to pick).
 */
export function buildSections(names, xs, ys, rows = null, numbers = null) {
  const index = new Map();
  const found = [];
  const sectionOf = new Int32Array(names.length).fill(-1);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (!name) continue;
    let k = index.get(name);
    if (k === undefined) {
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
  const lines = found.map(() => new Map());
  if (rows && numbers) {
    for (let i = 0; i < names.length; i++) {
      const k = sectionOf[i];
      if (k < 0) continue;
      const line = lines[k].get(rows[i]);
      if (line) line.push(i);
      else lines[k].set(rows[i], [i]);
    }
  }
  // Where a section's name goes (and where a test clicks): on its seat nearest their
  // mean, which for a curved stand lies off the arc, in front of it.
  const anchor = found.map(() => ({ d: Infinity, x: 0, y: 0 }));
  for (let i = 0; i < names.length; i++) {
    const k = sectionOf[i];
    if (k < 0) continue;
    const sec = found[k];
    const d = (xs[i] - sec.sumX / sec.total) ** 2 + (ys[i] - sec.sumY / sec.total) ** 2;
    if (d < anchor[k].d) anchor[k] = { d, x: xs[i], y: ys[i] };
  }
  const sections = found.map((sec, k) => ({
    name: sec.name,
    rows: [...lines[k].values()].map((members) =>
      members.sort((a, b) => (numbers[a] ?? 0) - (numbers[b] ?? 0) || xs[a] - xs[b]).map((i) => [xs[i], ys[i]]),
    ),
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
