// How the event page shows the waiting room (the state is ./queuepanel.js's):
// the queue panel where the tray will be, the shopper's and the organiser's
// bars, the map's hint; and which changes a screen reader hears (role=timer
// countdowns are silent; milestones, moves in the queue and admission are said).

import { $ } from "../../dom.js";
import {
  countdownText,
  demandText,
  panelWords,
  passedMilestone,
  PHASE_COUNTDOWN,
  PHASE_JOIN,
  PHASE_OPEN,
  PHASE_ORGANISER,
  PHASE_PREQUEUE,
  PHASE_SHOPPING,
  PHASE_SIGNIN,
  PHASE_WAITING,
  queueProgress,
  SHOP_MILESTONES,
  shouldAnnounceMove,
  speakPlace,
  speakSeconds,
  stableEta,
} from "../../queue.js";
import { announce, say } from "./actions.js";

// The map's hint (its keyboard cursor's description) while it is only to look at.
const HINT_GATED = "Look around: you can choose seats when the sale is open to you · drag to pan · scroll or pinch to zoom · Tab to the map, then arrow keys";

/** Say the changes that matter aloud (the panel shows them all). */
export function speakChanges(panel, before, view) {
  const page = panel.page;
  const was = before?.phase;
  if (was && was !== view.phase) {
    if (view.phase === PHASE_SHOPPING) {
      const minutes = view.shopLeft ? ` You have ${speakSeconds(Math.max(60, Math.round(view.shopLeft / 60_000) * 60))} to choose and book seats.` : "";
      // The map is usable again, so its message box (a live region) is heard.
      if (was === PHASE_WAITING || was === PHASE_PREQUEUE) say(page, `It’s your turn!${minutes}`, "success");
      else announce(page, `You are shopping.${minutes}`);
      focusIfLost($("[data-testid=shopper-bar]"));
    } else if (view.phase === PHASE_OPEN && was === PHASE_COUNTDOWN) {
      say(page, "Tickets are on sale now: choose your seats.", "success");
    } else if (view.phase === PHASE_JOIN && was === PHASE_SHOPPING && view.reason === "expired") {
      announce(page, "Your time to shop ran out. Seats you held have been released.");
      focusIfLost($("[data-testid=queue-heading]"));
    } else if (view.phase === PHASE_JOIN && view.reason === "done") {
      focusIfLost($("[data-testid=queue-heading]"));
    } else if (view.phase === PHASE_PREQUEUE) {
      announce(page, "You are in the queue. Your place will be drawn when the sale starts.");
    } else if (view.phase === PHASE_JOIN && view.reason === "left" && (was === PHASE_WAITING || was === PHASE_PREQUEUE)) {
      announce(page, "You left the queue.");
    }
  }
  if (view.phase === PHASE_WAITING && view.position !== null) {
    panel.eta = stableEta(view.etaSeconds, panel.eta);
    const t = Date.now();
    if (shouldAnnounceMove(panel.lastMove, view.ahead, t)) {
      announce(page, speakPlace(view, panel.eta));
      panel.lastMove = { ahead: view.ahead, at: t };
    }
  } else if (view.phase !== PHASE_WAITING) {
    panel.lastMove = null;
    panel.eta = null;
  }
  const milestone = passedMilestone(before?.untilSale ?? null, view.untilSale);
  if (milestone !== null && view.phase !== PHASE_OPEN) announce(page, `The sale starts in ${speakSeconds(milestone)}.`);
  const shopMilestone = view.phase === PHASE_SHOPPING && before?.phase === PHASE_SHOPPING ? passedMilestone(before.shopLeft, view.shopLeft, SHOP_MILESTONES) : null;
  if (shopMilestone !== null) announce(page, `${speakSeconds(shopMilestone)} left to book.`);
}

/** A control that had focus was hidden: move focus somewhere that makes sense. */
function focusIfLost(target) {
  const active = document.activeElement;
  if (!target || (active && active !== document.body && active.offsetParent !== null)) return;
  target.focus();
}

/** Show a view: the panel or the map's tray, the banners, the map's hint. */
export function renderGate(panel, view) {
  const page = panel.page;
  const gated = !view.mapUsable;
  const box = $("[data-testid=queue-panel]");
  box.hidden = !gated;
  box.dataset.phase = view.phase;
  $("[data-testid=tray]").hidden = gated;
  $("[data-testid=event-layout]").classList.toggle("is-gated", gated);
  const hint = $("#map-hint");
  const hintText = gated ? HINT_GATED : panel.openHint;
  if (hint.textContent !== hintText) hint.textContent = hintText;
  renderBanners(panel, view);
  if (!gated) return;

  const words = panelWords(view, panel.saleAtText());
  $("[data-testid=queue-heading]").textContent = words.heading;
  $("[data-testid=queue-text]").textContent = words.text;

  const countdown = $("[data-testid=sale-countdown-box]");
  countdown.hidden = view.untilSale === null;
  if (view.untilSale !== null) {
    $("[data-testid=sale-countdown]").textContent = countdownText(view.untilSale);
    $("[data-testid=sale-time]").textContent = panel.saleAtText();
  }

  const placed = view.phase === PHASE_WAITING && view.position !== null;
  $("[data-testid=queue-stats]").hidden = !placed;
  const bar = $("[data-testid=queue-progress]");
  bar.hidden = !placed;
  if (placed) {
    const counts = new Intl.NumberFormat(undefined);
    $("[data-testid=queue-position]").textContent = counts.format(view.position);
    $("[data-testid=queue-ahead]").textContent = view.ahead === null ? "–" : counts.format(view.ahead);
    $("[data-testid=queue-eta]").textContent = panel.eta ? panel.eta.words : "working it out…";
    const progress = queueProgress(panel.baseline(), view.ahead);
    if (progress) {
      bar.max = progress.max;
      bar.value = progress.value;
      bar.setAttribute("aria-valuetext", view.ahead === 0 ? "You are next" : `${counts.format(view.ahead)} ahead of you`);
    }
  }

  const demand = $("[data-testid=queue-demand]");
  const demandLine = panel.roomOn ? demandText(page.room) : "";
  demand.hidden = !demandLine;
  demand.textContent = demandLine;

  const join = $("[data-testid=queue-join]");
  join.hidden = view.phase !== PHASE_JOIN;
  join.disabled = panel.joining;
  join.textContent = panel.joining ? "Joining…" : view.reason ? "Join the queue again" : "Join the queue";
  $("[data-testid=queue-signin]").hidden = view.phase !== PHASE_SIGNIN;
  $("[data-testid=queue-leave]").hidden = view.phase !== PHASE_WAITING && view.phase !== PHASE_PREQUEUE;
}

function renderBanners(panel, view) {
  const page = panel.page;
  const shopper = $("[data-testid=shopper-bar]");
  shopper.hidden = view.phase !== PHASE_SHOPPING;
  if (view.phase === PHASE_SHOPPING) {
    const clock = $("[data-testid=shopper-countdown]");
    clock.textContent = view.shopLeft === null ? "–" : countdownText(view.shopLeft);
    clock.classList.toggle("is-urgent", view.shopLeft !== null && view.shopLeft < 60_000);
  }
  const note = $("[data-testid=organiser-note]");
  note.hidden = view.phase !== PHASE_ORGANISER;
  if (view.phase === PHASE_ORGANISER) {
    const event = page.event;
    const bits = ["You organise this event, so you can hold and book seats now."];
    if (view.untilSale !== null) bits.push(`Buyers can from ${panel.saleAtText()} (in ${countdownText(view.untilSale)}).`);
    if (panel.roomOn) {
      const max = page.room?.maxShoppers ?? event.waitingRoom.maxShoppers;
      bits.push(`They come through a waiting room, up to ${max} shopping at a time.`);
      const counters = page.room || page.roomSummary;
      const demand = demandText(counters);
      if (demand) bits.push(`Now: ${demand}.`);
    }
    note.textContent = bits.join(" ");
  }
}
