// The seat map's state: one struct-of-arrays for every seat of an event.
//
// A 20 000-seat venue is 20 000 small objects if stored naively; typed arrays
// keep it compact and make a full redraw a tight loop. The store is the only
// place that decides whether a change is applied, and it does so by version:
// each seat's version only grows, and changes can arrive out of order (a hold
// response and the websocket race; two app processes publish independently),
// so an older version must never overwrite a newer one.

export const AVAILABLE = 0;
export const HELD = 1;
export const BOOKED = 2;

const STATUS_CODE = { available: AVAILABLE, held: HELD, booked: BOOKED };
export const STATUS_NAME = ["available", "held", "booked"];
// The compact snapshot's letters.
const LETTER_CODE = { a: AVAILABLE, h: HELD, b: BOOKED };

/** An ISO time as epoch ms; 0 when missing or unreadable. */
function epochMs(iso) {
  const ms = iso ? Date.parse(iso) : 0;
  return Number.isFinite(ms) ? ms : 0;
}

export class SeatStore {
  /**
   * @param {Array} seats  seats as in GET /events/{id}
   * @param {Array} categories  [{id, name, colour, price}]
   * @param {object|null} stage  {x, y, width, height}: where a venue placed around its
   *   stage draws it (null: a stage strip above the seats)
   */
  constructor(seats, categories = [], stage = null) {
    const n = seats.length;
    this.size = n;
    const ok = stage && ["x", "y", "width", "height"].every((k) => Number.isFinite(Number(stage[k])));
    this.stage = ok ? { x: Number(stage.x), y: Number(stage.y), width: Number(stage.width), height: Number(stage.height) } : null;
    this.categories = categories.map((c) => ({ ...c }));
    this.categoryIndex = new Map(this.categories.map((c, i) => [c.id, i]));

    this.ids = new Array(n);
    this.label = new Array(n);
    this.section = new Array(n);
    this.row = new Array(n);
    this.number = new Array(n);
    this.x = new Float32Array(n);
    this.y = new Float32Array(n);
    this.cat = new Int16Array(n); // index into categories, -1 = none
    this.accessible = new Uint8Array(n);
    this.status = new Uint8Array(n);
    this.mine = new Uint8Array(n);
    this.version = new Float64Array(n);
    this.heldUntil = new Float64Array(n); // epoch ms, 0 = none
    this.indexById = new Map();

    for (let i = 0; i < n; i++) {
      const s = seats[i];
      this.ids[i] = s.id;
      this.indexById.set(s.id, i);
      this.label[i] = s.label ?? "";
      this.section[i] = s.section ?? "";
      this.row[i] = s.row ?? "";
      this.number[i] = s.number ?? null;
      this.x[i] = Number(s.x) || 0;
      this.y[i] = Number(s.y) || 0;
      this.cat[i] = this.categoryIndex.has(s.category) ? this.categoryIndex.get(s.category) : -1;
      this.accessible[i] = s.accessible ? 1 : 0;
      this.#write(i, s, true);
    }

    this.listeners = new Set();
    this.#computeBounds();
  }

  #computeBounds() {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < this.size; i++) {
      const x = this.x[i], y = this.y[i];
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    if (this.size === 0) minX = minY = maxX = maxY = 0;
    this.bounds = { minX, minY, maxX, maxY };
  }

  /**
   * Write a seat's live fields (no version check): status code, mine (0/1),
   * version (kept if not a number, 0 on first write), hold end in epoch ms.
   * Returns whether anything visible changed.
   */
  #put(i, code, mine, version, until, initial = false) {
    const changed =
      this.status[i] !== code ||
      this.mine[i] !== mine ||
      (code === HELD && this.heldUntil[i] !== until);
    this.status[i] = code;
    this.mine[i] = mine;
    if (typeof version === "number") this.version[i] = version;
    else if (initial) this.version[i] = 0;
    this.heldUntil[i] = code === HELD ? until : 0;
    return changed;
  }

  /** A plain seat object ({status, mine, version, heldUntil}) into #put. */
  #write(i, s, initial = false) {
    // The contract: a seat without `mine` is not mine.
    const code = STATUS_CODE[s.status] ?? AVAILABLE;
    return this.#put(i, code, s.mine === true ? 1 : 0, s.version, epochMs(s.heldUntil), initial);
  }

  /**
   * Apply one seat change if its version is newer than what we show (or equal,
   * when `allowEqual`: a snapshot after auth repeats versions but adds `mine`).
   * Returns the seat index if anything visible changed, else -1.
   */
  applySeat(s, allowEqual = false) {
    const i = this.indexById.get(s.id);
    if (i === undefined) return -1;
    if (typeof s.version === "number") {
      const shown = this.version[i];
      if (s.version < shown || (s.version === shown && !allowEqual)) return -1;
    }
    return this.#write(i, s) ? i : -1;
  }

  /** Apply a batch of websocket changes; notifies listeners once. */
  applyChanges(changes, allowEqual = false) {
    const dirty = [];
    for (const c of changes) {
      const i = this.applySeat(c, allowEqual);
      if (i >= 0) dirty.push(i);
    }
    if (dirty.length) this.#emit(dirty);
    return dirty;
  }

  /**
   * A snapshot is the server's whole truth at one moment. Versions still guard
   * it: a snapshot taken just before our own hold response was applied must not
   * roll that hold back. Equal versions are applied so `mine` flags refresh
   * (after sign-in the server repeats the snapshot with them).
   */
  applySnapshot(seats) {
    if (seats?.encoding === "compact") return this.applyCompactSnapshot(seats);
    return this.applyChanges(seats, true);
  }

  /**
   * The websocket's compact snapshot (see frontend/live.js): one status letter
   * a seat, a comma-separated version list, and the live holds' ends and my
   * seats by index, all in map order: the order of GET /events/{id}, which is
   * the order this store was built in. Applied exactly as the plain snapshot
   * would be, seat by seat, under the same version rule.
   * Throws, applying nothing, if it cannot be this map's (another seat count).
   */
  applyCompactSnapshot(snap) {
    const n = this.size;
    const letters = snap.status;
    const parts = typeof snap.version === "string" ? snap.version.split(",") : [];
    const fits = snap.count === n && typeof letters === "string" && letters.length === n;
    if (!fits || (n > 0 && parts.length !== n)) {
      throw new RangeError(`a compact snapshot of ${snap.count} seats does not fit this map of ${n}`);
    }
    const versions = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      versions[i] = parts[i] === "" ? NaN : Number(parts[i]);
      if (!Number.isInteger(versions[i])) throw new RangeError(`bad version for seat ${i} in a compact snapshot`);
    }
    const held = snap.heldUntil || {};
    const mine = new Uint8Array(n);
    for (const i of snap.mine || []) if (i >= 0 && i < n) mine[i] = 1;

    const dirty = [];
    for (let i = 0; i < n; i++) {
      if (versions[i] < this.version[i]) continue; // older than what we show: equal still refreshes `mine`
      const code = LETTER_CODE[letters[i]] ?? AVAILABLE;
      const until = code === HELD ? epochMs(held[i]) : 0; // keys are indices as strings; held[i] coerces
      if (this.#put(i, code, mine[i], versions[i], until)) dirty.push(i);
    }
    if (dirty.length) this.#emit(dirty);
    return dirty;
  }

  /**
   * Local, unversioned update after our own request succeeded (release / book
   * responses carry no versions). Keeps the version, so the websocket's real
   * change (a higher version) still applies on top.
   */
  setLocal(id, status, mine) {
    const i = this.indexById.get(id);
    if (i === undefined) return;
    const code = STATUS_CODE[status];
    if (this.status[i] === code && this.mine[i] === (mine ? 1 : 0)) return;
    this.status[i] = code;
    this.mine[i] = mine ? 1 : 0;
    if (code !== HELD) this.heldUntil[i] = 0;
    this.#emit([i]);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  #emit(dirty) {
    for (const fn of this.listeners) fn(dirty);
  }

  /** Indices of seats I hold, in row order. */
  myHeld() {
    const out = [];
    for (let i = 0; i < this.size; i++) if (this.mine[i] && this.status[i] === HELD) out.push(i);
    return out;
  }

  myBookedCount() {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.mine[i] && this.status[i] === BOOKED) n++;
    return n;
  }

  counts() {
    const c = { total: this.size, available: 0, held: 0, booked: 0 };
    for (let i = 0; i < this.size; i++) c[STATUS_NAME[this.status[i]]]++;
    return c;
  }

  category(i) {
    const k = this.cat[i];
    return k >= 0 ? this.categories[k] : null;
  }

  price(i) {
    return this.category(i)?.price ?? null;
  }

  /** Public, read-only view of one seat (used by the test hook and the UI). */
  seatState(idOrIndex) {
    const i = typeof idOrIndex === "number" ? idOrIndex : this.indexById.get(idOrIndex);
    if (i === undefined || i < 0 || i >= this.size) return null;
    return {
      id: this.ids[i],
      label: this.label[i],
      status: STATUS_NAME[this.status[i]],
      mine: this.mine[i] === 1,
      version: this.version[i],
      heldUntil: this.heldUntil[i] ? new Date(this.heldUntil[i]).toISOString() : null,
    };
  }
}
