// The door: staff type or scan ticket codes; each answer is a big green or red panel,
// with the seat and whose it is, and the checked-in count stays current: after every
// scan, at once for the other doors' scans (the event's socket tells the organiser and
// door staff), and read every few seconds while that socket is not live.

import { api, ApiError } from "../api.js";
import { isSignedIn, onAuthChange, token } from "../auth.js";
import { $, h } from "../dom.js";
import { formatDate, formatTime } from "../format.js";
import { LiveFeed, STATE_LIVE } from "../live.js";
import { initNav } from "../nav.js";
import { doorRefusal } from "../tickets.js";

initNav();

const COUNT_EVERY_MS = 5000;
const LIVE_COUNT_EVERY = 6; // ticks: every 30 s while the socket is live
const SAME_CODE_QUIET_MS = 3000; // the camera sees one ticket many times a second

const eventId = document.querySelector("main").dataset.eventId;
const form = $("[data-testid=door-form]");
const input = $("[data-testid=ticket-code]");
const submit = $("[data-testid=check-in]");
const count = $("[data-testid=door-count]");
const status = $("[data-testid=door-status]");
const answer = $("[data-testid=door-answer]");
const cameraButton = $("[data-testid=scan-camera]");
const video = $("[data-testid=door-camera]");
let countTimer = null;
let feed = null; // the event's socket: brings the other doors' check-ins
let lastScan = { code: "", at: 0 };
let busy = false;


function showCount(checkedIn, booked) {
  if (Number.isInteger(checkedIn) && Number.isInteger(booked)) count.textContent = `Checked in: ${checkedIn} of ${booked}`;
}

function show(verdict, heading, seat, detail) {
  answer.dataset.verdict = verdict;
  $("[data-testid=door-verdict]").textContent = heading;
  $("[data-testid=door-seat]").textContent = seat || "";
  $("[data-testid=door-detail]").textContent = detail || "";
  answer.hidden = false;
}

async function refreshCount() {
  try {
    const data = await api(`/events/${eventId}/checkins`, { reauth: false });
    showCount(data.checkedIn, data.booked);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }
}

async function checkIn(code, { typed: fromForm = true } = {}) {
  const typed = code.trim();
  if (!typed || busy) return;
  busy = true;
  submit.disabled = true;
  try {
    const data = await api(`/events/${eventId}/checkins`, { method: "POST", body: { code: typed } });
    const t = data.ticket;
    show("ok", "Welcome in", t.seat, `${t.holder}${t.orderReference ? ` · order ${t.orderReference}` : ""}`);
    showCount(data.checkedIn, data.booked);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const refusal = doorRefusal(err.code, err.body, formatTime);
    if (refusal) {
      const whose = err.body?.seat ? `${err.body.seat}${err.body.holder ? ` · ${err.body.holder}` : ""}` : "";
      show("no", refusal.verdict, whose, refusal.detail);
      showCount(err.body?.checkedIn, err.body?.booked);
    } else {
      show("error", "Could not check this ticket", "", err.message);
    }
  } finally {
    busy = false;
    submit.disabled = false;
    if (fromForm) {
      input.value = ""; // a camera scan leaves whatever staff were typing
      input.focus();
    }
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  checkIn(input.value);
});

// The camera, where the browser can read QR codes itself (BarcodeDetector: Chrome on
// Android and macOS, Safari on iOS 17+); typing the code works everywhere.
async function startCamera() {
  cameraButton.disabled = true;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    cameraButton.hidden = true;
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    const look = async () => {
      if (video.hidden) return;
      try {
        for (const found of await detector.detect(video)) {
          const now = Date.now();
          // The same ticket held up to the camera is one scan for as long as it stays
          // in view (each sighting restarts the quiet time): no red "Already checked
          // in" for the guest just let in.
          const same = found.rawValue === lastScan.code && now - lastScan.at < SAME_CODE_QUIET_MS;
          lastScan = { code: found.rawValue, at: now };
          if (same) continue;
          await checkIn(found.rawValue, { typed: false });
          break;
        }
      } catch {
        // A frame the detector could not read: try the next one.
      }
      setTimeout(look, 250);
    };
    look();
  } catch {
    cameraButton.disabled = false;
    show("error", "The camera is not available", "", "Allow the camera for this site, or type the code.");
  }
}

cameraButton.addEventListener("click", startCamera);

function stopCamera() {
  for (const track of video.srcObject?.getTracks?.() || []) track.stop();
  video.srcObject = null;
  video.hidden = true;
}

/** Follow the event's socket for `door` messages; read the count when it (re)connects. */
function follow() {
  feed?.stop();
  feed = new LiveFeed(eventId, {
    getToken: token,
    onDoor: (msg) => showCount(msg.checkedIn, msg.booked),
    onState: (state) => {
      count.dataset.live = String(state === STATE_LIVE); // polled only while not live
      if (state === STATE_LIVE) refreshCount(); // what was missed while it was away
    },
    onGone: () => feed?.stop(),
  });
  feed.start();
}

async function load() {
  clearInterval(countTimer);
  feed?.stop();
  feed = null;
  stopCamera();
  if (!isSignedIn()) {
    form.hidden = true;
    status.hidden = false;
    status.replaceChildren("Sign in with the organiser’s or a door staff account to check tickets. ", h("a", { href: `/account/signin?next=${encodeURIComponent(location.pathname)}`, text: "Sign in" }));
    return;
  }
  try {
    const [events, counts] = await Promise.all([api("/events", { auth: false }), api(`/events/${eventId}/checkins`)]);
    const event = (events.events || []).find((e) => e.id === eventId);
    if (event) {
      $("[data-testid=door-event]").replaceChildren(h("a", { href: `/e/${eventId}`, text: event.name }), event.startsAt ? ` · ${formatDate(event.startsAt)}` : "");
      document.title = `Door: ${event.name} · Boxoffice`;
    }
    showCount(counts.checkedIn, counts.booked);
    status.hidden = true;
    form.hidden = false;
    cameraButton.hidden = !("BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia);
    input.focus();
    follow();
    let ticks = 0;
    countTimer = setInterval(() => {
      // Live: the socket brings each count (and a slower read catches one that came
      // out of order from two processes); not live: read it every few seconds.
      ticks++;
      if (document.visibilityState !== "visible") return;
      if (feed?.state !== STATE_LIVE || ticks % LIVE_COUNT_EVERY === 0) refreshCount();
    }, COUNT_EVERY_MS);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    form.hidden = true;
    status.hidden = false;
    status.textContent = err.status === 403 ? "Only this event’s organiser and its door staff can check tickets here." : `Could not open the door: ${err.message}`;
  }
}

load();
onAuthChange(() => load());
