// The event page's cart timer: one countdown for every seat I hold on the event (the
// server gives them one end), shown in the tray and in the phone's bottom bar; a
// warning with "More time" before the end, said once in the polite live region; and,
// when the holds lapse, a dialog that says so and offers to hold the same seats again.
// The rules (when to warn, what lapsed, what can be held again, the words) are in
// ../../cart.js.

import {
  ANSWER_WAIT_MS,
  cartEnd,
  cartPhase,
  extended,
  lapsed,
  lapsedWords,
  PHASE_ENDING,
  PHASE_WARNING,
  reholdPlan,
  reholdWords,
  warnBeforeMs,
  warningWords,
} from "../../cart.js";
import { $ } from "../../dom.js";
import { formatCountdown, speakDuration } from "../../format.js";
import { announce, hold, say } from "./actions.js";
import { now, shortName } from "./describe.js";

export class Cart {
  constructor(page) {
    this.page = page;
    this.last = null; // {ids, end}: my held seats and their end, as last seen
    this.end = null;
    this.warnedFor = null; // the end whose warning has been said
    this.atCap = null; // an end that "More time" could not move
    this.lapsedIds = []; // what the dialog offers to hold again
    this.busy = false;
    // Seats that ran out while "More time" was on its way: its answer decides (the
    // server holds them again if they were still free), so the dialog waits for it, up
    // to ANSWER_WAIT_MS; a dialog shown meanwhile closes if the answer holds them again.
    this.extending = null;
    this.answerTimer = 0;
    this.returnFocus = null;
    this.bound = false;
  }

  bind() {
    if (this.bound) return;
    this.bound = true;
    $("[data-testid=more-time]").addEventListener("click", () => this.moreTime());
    $("[data-testid=hold-again]").addEventListener("click", () => this.holdAgain());
    $("[data-testid=cart-expired-close]").addEventListener("click", () => this.dialog().close());
    this.dialog().addEventListener("close", () => {
      const back = this.returnFocus;
      this.returnFocus = null;
      (back?.isConnected ? back : $("[data-testid=seatmap] canvas") || document.body).focus?.();
    });
  }

  dialog() {
    return $("[data-testid=cart-expired]");
  }

  /** My held seats changed (or may have): their end, the timer, the warning; the
   * dialog if they went at the end. `held` are store indices. */
  update(held) {
    this.bind();
    const store = this.page.store;
    const ids = held.map((i) => store.ids[i]);
    const end = cartEnd(held.map((i) => store.heldUntil[i]));
    const gone = lapsed(this.last, ids, now(this.page));
    this.last = ids.length ? { ids, end } : null;
    this.end = end;
    if (gone.length && this.extending) {
      this.extending.push(...gone);
      this.answerTimer ||= setTimeout(() => this.showMissed(), ANSWER_WAIT_MS);
    } else if (gone.length) this.showLapsed(gone);
    this.render();
  }

  /** The timer and the warning (each second, and after an update). */
  render() {
    const { page } = this;
    const at = now(page);
    const end = this.end;
    const phase = cartPhase(end, at, warnBeforeMs(page.event?.holdSeconds));
    const left = end === null ? 0 : end - at;
    const text = end === null ? "–" : left > 0 ? formatCountdown(left) : "releasing…";
    for (const el of document.querySelectorAll("[data-cart-timer]")) {
      el.textContent = text;
      el.classList.toggle("is-urgent", phase === PHASE_WARNING || phase === PHASE_ENDING);
    }
    const warning = $("[data-testid=cart-warning]");
    const warn = phase === PHASE_WARNING;
    if (warning.hidden === warn) warning.hidden = !warn;
    if (!warn) return;
    const atCap = this.atCap === end;
    $("[data-testid=more-time]").hidden = atCap;
    $("[data-testid=cart-warning-text]").textContent = warningWords(formatCountdown(left), { atCap });
    if (this.warnedFor !== end) {
      this.warnedFor = end;
      announce(page, warningWords(speakDuration(left), { atCap }));
    }
  }

  /** "More time": hold every seat again (the server extends the cart up to its cap). */
  async moreTime() {
    const { page } = this;
    const store = page.store;
    const held = store.myHeld();
    if (this.busy || !held.length) return;
    const before = this.end;
    const button = $("[data-testid=more-time]");
    this.busy = true;
    button.disabled = true;
    page.tray.lockReleases();
    this.extending = [];
    try {
      const result = await hold(page, { seatIds: held.map((i) => store.ids[i]) }, held);
      this.update(store.myHeld());
      this.showMissed();
      if (result !== true) return;
      this.closeIfHeldAgain();
      if (extended(before, this.end)) {
        say(page, `More time: your seats are held for ${speakDuration(this.end - now(page))}.`, "success");
      } else {
        this.atCap = this.end;
        say(page, "That is the longest seats can be held: book now to keep them.");
      }
      this.render();
      if (button.closest("[hidden]")) $("[data-testid=book-button]").focus();
    } finally {
      this.showMissed();
      this.busy = false;
      button.disabled = false;
      page.tray.lockReleases();
    }
  }

  /** After "More time" was answered, or waited for too long: the seats that ran out
   * meanwhile and are not mine (again) get the dialog. */
  showMissed() {
    clearTimeout(this.answerTimer);
    this.answerTimer = 0;
    const ran = this.extending;
    this.extending = null;
    if (!ran?.length) return;
    const mine = this.heldIds();
    const missed = [...new Set(ran)].filter((id) => !mine.has(id));
    if (missed.length) this.showLapsed(missed);
  }

  /** The dialog says seats ran out that "More time" has just held again: close it. */
  closeIfHeldAgain() {
    const dialog = this.dialog();
    if (!dialog.open || !this.lapsedIds.length) return;
    const mine = this.heldIds();
    if (this.lapsedIds.every((id) => mine.has(id))) dialog.close();
  }

  /** The ids of the seats I hold now. */
  heldIds() {
    const store = this.page.store;
    return new Set(store.myHeld().map((i) => store.ids[i]));
  }

  names(ids) {
    const store = this.page.store;
    return ids.map((id) => (store.indexById.has(id) ? shortName(this.page, store.indexById.get(id)) : id));
  }

  /** The holds lapsed: say so in a dialog that offers to hold them again. */
  showLapsed(ids) {
    const dialog = this.dialog();
    this.lapsedIds = ids;
    const words = lapsedWords(this.names(ids));
    $("[data-testid=cart-expired-text]").textContent = words;
    $("[data-testid=cart-expired-result]").textContent = "";
    $("[data-testid=hold-again]").hidden = false;
    $("[data-testid=hold-again]").disabled = false;
    if (!dialog.open) {
      this.returnFocus = document.activeElement;
      dialog.showModal();
    }
    announce(this.page, `Your seats were released. ${words}`);
  }

  /** "Hold them again": hold those of the lapsed seats that are still free. */
  async holdAgain() {
    const { page } = this;
    const store = page.store;
    const button = $("[data-testid=hold-again]");
    const result = $("[data-testid=cart-expired-result]");
    if (this.busy) return;
    const plan = reholdPlan(this.lapsedIds.map((id) => store.seatState(id)).filter(Boolean));
    const gone = this.names(plan.gone);
    if (!plan.free.length) {
      result.textContent = reholdWords({ held: this.names(plan.mine), gone });
      button.hidden = true;
      $("[data-testid=cart-expired-close]").focus();
      return;
    }
    this.busy = true;
    button.disabled = true;
    try {
      const indices = plan.free.map((id) => store.indexById.get(id));
      const outcome = await hold(page, { seatIds: plan.free }, indices);
      if (outcome !== true) {
        result.textContent = `Could not hold them again: ${outcome}`;
        return;
      }
      const words = reholdWords({ held: this.names([...plan.free, ...plan.mine]), gone });
      if (!gone.length) {
        this.dialog().close();
        say(page, words, "success");
        return;
      }
      result.textContent = words;
      button.hidden = true;
      $("[data-testid=cart-expired-close]").focus();
      announce(page, words);
    } finally {
      this.busy = false;
      button.disabled = false;
    }
  }
}
