// Where the seats are: a bucket grid for "which seats are near here", and the
// keyboard's "which seat is next in this direction". Pure: no DOM, no canvas;
// it reads only `size`, `x`, `y`, `bounds` (and `status` for the first seat) of
// a SeatStore, in seat units.
//
// Why a bucket grid: a frame must find the few hundred seats on screen out of
// 20 000 without looking at all of them, and a pointer must find the seat under
// it just as fast. Seats sit on a fairly even grid, so fixed square cells of
// BUCKET seat units are as good as a tree here and much simpler.

import { AVAILABLE } from "../seatstore.js";

export const BUCKET = 4; // seat units per cell

export class SpatialIndex {
  /** @param {{size: number, x: ArrayLike<number>, y: ArrayLike<number>, bounds: {minX, minY, maxX, maxY}}} seats */
  constructor(seats) {
    const b = seats.bounds;
    this.x = seats.x;
    this.y = seats.y;
    this.gx0 = Math.floor(b.minX / BUCKET);
    this.gy0 = Math.floor(b.minY / BUCKET);
    this.cols = Math.floor(b.maxX / BUCKET) - this.gx0 + 1;
    this.rows = Math.floor(b.maxY / BUCKET) - this.gy0 + 1;
    this.buckets = Array.from({ length: Math.max(1, this.cols * this.rows) }, () => []);
    for (let i = 0; i < seats.size; i++) {
      const cx = Math.floor(seats.x[i] / BUCKET) - this.gx0;
      const cy = Math.floor(seats.y[i] / BUCKET) - this.gy0;
      this.buckets[cy * this.cols + cx].push(i);
    }
  }

  /**
   * Call fn(i) for every seat in a cell that overlaps the rectangle (so a few
   * seats just outside it too), cell row by cell row, each cell in seat order.
   */
  forEachIn(x0, x1, y0, y1, fn) {
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

  /**
   * The seat whose centre is nearest to (x, y) and at most `reach` away, or -1.
   * A seat exactly `reach` away still counts; on a tie the later seat in the
   * scan wins.
   */
  nearest(x, y, reach) {
    let best = -1, bestD = reach * reach;
    this.forEachIn(x - reach, x + reach, y - reach, y + reach, (i) => {
      const dx = this.x[i] - x, dy = this.y[i] - y;
      const d = dx * dx + dy * dy;
      if (d <= bestD) {
        bestD = d;
        best = i;
      }
    });
    return best;
  }
}

/** Reading order: a row above comes first; within a row (±0.25 units), left first. */
function before(s, a, b) {
  return s.y[a] < s.y[b] - 0.25 || (Math.abs(s.y[a] - s.y[b]) <= 0.25 && s.x[a] < s.x[b]);
}

/** Where Tab lands: the first seat in reading order, preferring a free one; -1 if none. */
export function firstSeat(s) {
  let first = -1, firstFree = -1;
  for (let i = 0; i < s.size; i++) {
    if (first < 0 || before(s, i, first)) first = i;
    if (s.status[i] === AVAILABLE && (firstFree < 0 || before(s, i, firstFree))) firstFree = i;
  }
  return firstFree >= 0 ? firstFree : first;
}

/**
 * The nearest seat from seat `from` in direction (dx, dy), a unit step such as
 * (1, 0); -1 if there is none. Left and right stay in the row (within 0.45
 * units across); up and down take the nearest seat, straight ahead preferred.
 */
export function seatToward(s, from, dx, dy) {
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
  return best;
}

/** The last seat of `from`'s row towards `direction` (-1 left, 1 right); `from` itself at the end. */
export function rowEnd(s, from, direction) {
  let best = from;
  for (let j = 0; j < s.size; j++) {
    if (Math.abs(s.y[j] - s.y[from]) > 0.45) continue;
    if ((s.x[j] - s.x[best]) * direction > 0) best = j;
  }
  return best;
}
