// Websocket client for one event's live seat changes.
//
// - Identifies itself with a first `auth` message (never a token in the URL);
//   the server answers with a fresh snapshot carrying `mine` flags.
// - Reconnects with exponential backoff and full jitter (0.5 s doubling to a
//   10 s cap), so a restarted server is not hit by every browser at once.
// - After any (re)connect the server's snapshot is the resync: the page
//   applies it through the version-checked store, so nothing stale survives.
// - A deadline: a socket that has brought nothing at all (snapshot, change,
//   heartbeat, pong) for DEADLINE_MS (25 s) is dead, however open it looks
//   (proxies and sleeping laptops leave half-open connections that pass no
//   data). The server heartbeats idle sockets every 10 s, and after 10 s of
//   silence the feed pings too, so a healthy socket is never that quiet. A new
//   socket has the same deadline to bring its snapshot (pongs alone do not
//   make a map current). A dead or dropped socket makes the map stale at once
//   (`onStale(true)`: the page says so) until a fresh snapshot arrives
//   (`onStale(false)`); planned reconnects (sign-in, sign-out) are not stale.
// - Asks for the compact snapshot (`?encoding=compact`): a letter and a
//   version a seat instead of an object, 0.3 MB rather than 7.9 MB for
//   100 000 seats. Seat changes are the same in both encodings.
//
//   {type: "snapshot", encoding: "compact", count, status: "aahb…",
//    version: "1,1,3,…", heldUntil: {"17": iso}, mine: [17]}
//
//   Seats are by index in map order, the order of GET /events/{id}, so only
//   the SeatStore built from that response can place them: the snapshot is
//   handed on whole (`SeatStore.applySnapshot` takes either form). A store
//   that cannot place it throws; the feed then falls back to the plain
//   snapshot, which names every seat, for the rest of the page's life.
// - An event that is deleted ({type: "event", status: "deleted"}, then close
//   4410) or unknown (close 4404) ends the feed: no reconnecting to nothing.

const BASE_DELAY = 500;
const MAX_DELAY = 10_000;
export const DEADLINE_MS = 25_000;
const PING_SHARE = 0.4; // ping after this share of the deadline in silence (10 s of 25)
const WATCH_TICK_MS = 1000;

/**
 * What the watchdog does about a socket that has been silent for `silentMs` and last
 * pinged `sincePingMs` ago: "dead" (give it up), "ping" (ask for a pong) or "wait".
 */
export function watchdogAction(silentMs, sincePingMs, deadlineMs = DEADLINE_MS) {
  if (silentMs >= deadlineMs) return "dead";
  const quiet = deadlineMs * PING_SHARE;
  return silentMs >= quiet && sincePingMs >= quiet ? "ping" : "wait";
}

export const STATE_CONNECTING = "connecting";
export const STATE_LIVE = "live";
export const STATE_RECONNECTING = "reconnecting";
export const STATE_GONE = "gone";
const CLOSE_UNKNOWN_EVENT = 4404;
const CLOSE_EVENT_DELETED = 4410;

export class LiveFeed {
  /**
   * @param {string} eventId
   * @param {object} handlers
   *   getToken(): current bearer token or null
   *   onSnapshot(snapshot), onChanges(changes), onState(state), onAuth(userId), onError(msg, code),
   *   onQueue(msg), onRoom(msg): the waiting room's {type: "queue"} and {type: "room"} messages
   *   onGone(reason): the event was deleted ("deleted") or is unknown ("unknown"); the feed stops
   *   onDoor(msg): {type: "door", checkedIn, booked} after each check-in (organiser, door staff)
   *   onCancelled(cancelledAt, reason): the organiser cancelled the event; the feed goes on (its seats
   *     were freed in the changes before this)
   *   onStale(stale): true when the connection is lost unexpectedly (closed, or silent past
   *     the deadline), false when a fresh snapshot has made the map current again
   *   A snapshot is the compact message itself, or the plain one's seat list.
   */
  constructor(eventId, handlers) {
    this.eventId = eventId;
    this.handlers = handlers;
    this.socket = null;
    this.attempt = 0;
    this.state = null;
    this.stopped = true;
    this.retryTimer = 0;
    this.watchTimer = 0;
    this.lastMessage = 0; // when the socket last brought anything (or was opened)
    this.dialledAt = 0; // when this socket was opened
    this.awaitingSnapshot = false; // this socket has not brought its first snapshot yet
    this.lastPing = 0;
    this.deadline = DEADLINE_MS;
    this.stale = false;
    this.compact = true; // until a compact snapshot does not fit the map
    this.onOnline = () => this.#reconnectSoon();
    this.onVisible = () => {
      if (document.visibilityState === "visible") this.#reconnectSoon();
    };
  }

  get url() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const query = this.compact ? "?encoding=compact" : "";
    return `${scheme}${location.host}/ws/events/${encodeURIComponent(this.eventId)}${query}`;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.#setState(STATE_CONNECTING);
    this.#connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    document.removeEventListener("visibilitychange", this.onVisible);
    clearTimeout(this.retryTimer);
    clearInterval(this.watchTimer);
    const s = this.socket;
    this.socket = null;
    if (s) s.close(1000, "bye");
  }

  /** The silence after which a socket counts as dead (tests shorten it). */
  setDeadline(ms) {
    this.deadline = ms;
    if (this.socket) this.#watch();
  }

  /**
   * Sign-in state changed. Signing in on an open socket just sends `auth`;
   * signing out needs a new, anonymous socket, since the server keeps the old
   * identity for the socket's life.
   */
  reauthenticate() {
    if (this.state === STATE_GONE) return;
    const token = this.handlers.getToken();
    if (token && this.socket && this.socket.readyState === WebSocket.OPEN && !this.authed) {
      this.#send({ type: "auth", token });
      this.authed = true;
      return;
    }
    this.#restart();
  }

  #restart(reason = "reauth") {
    const s = this.socket;
    this.socket = null;
    if (s) s.close(1000, reason);
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.#setState(STATE_RECONNECTING);
    this.#connect();
  }

  #reconnectSoon() {
    // Coming back online / to the foreground: skip the rest of the backoff.
    if (this.stopped || this.state === STATE_LIVE) return;
    if (this.socket && this.socket.readyState === WebSocket.CONNECTING) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.#connect();
  }

  #connect() {
    if (this.stopped) return;
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (err) {
      this.handlers.onError?.(String(err));
      this.#setStale(true);
      this.#scheduleRetry();
      return;
    }
    this.socket = socket;
    this.authed = false;
    // The deadline runs from now: a handshake that never completes is as dead as a
    // socket that stopped talking.
    this.lastMessage = this.lastPing = this.dialledAt = Date.now();
    this.awaitingSnapshot = true;
    this.#watch();
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.lastMessage = Date.now();
      const token = this.handlers.getToken();
      if (token) {
        this.#send({ type: "auth", token });
        this.authed = true;
      }
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      this.lastMessage = Date.now();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return; // not ours to understand (e.g. a future binary encoding)
      }
      this.#handle(msg);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return; // an old socket we replaced on purpose
      this.socket = null;
      clearInterval(this.watchTimer);
      if (event.code === CLOSE_EVENT_DELETED || event.code === CLOSE_UNKNOWN_EVENT) {
        this.#gone(event.code === CLOSE_EVENT_DELETED ? "deleted" : "unknown");
        return;
      }
      if (this.stopped) return;
      this.#setStale(true);
      this.#scheduleRetry();
    });
    // "error" is always followed by "close"; the retry is scheduled there.
  }

  #handle(msg) {
    switch (msg.type) {
      case "snapshot":
        this.attempt = 0;
        if (msg.encoding === "compact") {
          try {
            this.handlers.onSnapshot?.(msg);
          } catch (err) {
            // Not this map's seats (another count) or unreadable: ask again in plain.
            this.handlers.onError?.(`compact snapshot refused: ${err.message}`, "compact_refused");
            this.compact = false;
            this.#restart("plain");
            return;
          }
        } else {
          this.handlers.onSnapshot?.(msg.seats || []);
        }
        this.awaitingSnapshot = false;
        this.#setStale(false);
        this.#setState(STATE_LIVE);
        break;
      case "seats":
        this.handlers.onChanges?.(msg.changes || []);
        break;
      case "auth":
        this.handlers.onAuth?.(msg.userId);
        break;
      case "queue": // the waiting room: this account's place (issue 12)
        this.handlers.onQueue?.(msg);
        break;
      case "room": // the waiting room's counters
        this.handlers.onRoom?.(msg);
        break;
      case "door": // the check-in count, to the organiser's and door staff's sockets only
        this.handlers.onDoor?.(msg);
        break;
      case "event": // the event itself: deleted or cancelled by its organiser
        if (msg.status === "deleted") this.#gone("deleted");
        else if (msg.status === "cancelled") this.handlers.onCancelled?.(msg.cancelledAt || null, msg.cancelReason || null);
        break;
      case "error":
        this.handlers.onError?.(msg.message || msg.code || "live update error", msg.code);
        break;
      default:
        break; // heartbeat, pong, and anything newer
    }
  }

  #gone(reason) {
    if (this.state === STATE_GONE) return;
    this.stop();
    this.#setStale(false); // not stale: over, and the page says so
    this.#setState(STATE_GONE);
    this.handlers.onGone?.(reason);
  }

  #watch() {
    clearInterval(this.watchTimer);
    this.watchTimer = setInterval(() => this.#watchdog(), Math.min(WATCH_TICK_MS, this.deadline / 5));
  }

  #watchdog() {
    const s = this.socket;
    if (!s) return;
    const now = Date.now();
    const silent = now - (this.awaitingSnapshot ? this.dialledAt : this.lastMessage);
    const action = watchdogAction(silent, now - this.lastPing, this.deadline);
    if (action === "dead") {
      // Silent (half-open, or a handshake that never finished): give it up ourselves;
      // its close event is ignored (no longer this.socket), so retry from here.
      this.socket = null;
      clearInterval(this.watchTimer);
      try {
        s.close(4000, "silent");
      } catch {
        /* already closing */
      }
      this.#setStale(true);
      this.#scheduleRetry();
    } else if (action === "ping" && s.readyState === WebSocket.OPEN) {
      this.lastPing = now;
      this.#send({ type: "ping" });
    }
  }

  #setStale(stale) {
    if (stale === this.stale) return;
    this.stale = stale;
    this.handlers.onStale?.(stale);
  }

  #send(msg) {
    const s = this.socket;
    if (s && s.readyState === WebSocket.OPEN) s.send(JSON.stringify(msg));
  }

  #scheduleRetry() {
    if (this.stopped) return;
    this.#setState(STATE_RECONNECTING);
    const cap = Math.min(MAX_DELAY, BASE_DELAY * 2 ** this.attempt);
    // "Full jitter", floored at half the cap so retries are not instant.
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.attempt = Math.min(this.attempt + 1, 10);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState?.(state);
  }
}
