// Websocket client for one event's live seat changes.
//
// - Identifies itself with a first `auth` message (never a token in the URL);
//   the server answers with a fresh snapshot carrying `mine` flags.
// - Reconnects with exponential backoff and full jitter (0.5 s doubling to a
//   10 s cap), so a restarted server is not hit by every browser at once.
// - After any (re)connect the server's snapshot is the resync: the page
//   applies it through the version-checked store, so nothing stale survives.
// - A watchdog pings every 20 s and treats 45 s of silence as a dead socket
//   (proxies can leave a half-open TCP connection looking alive forever).
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
const PING_EVERY = 20_000;
const SILENCE_LIMIT = 45_000;

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
    this.pingTimer = 0;
    this.lastMessage = 0;
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
    clearInterval(this.pingTimer);
    const s = this.socket;
    this.socket = null;
    if (s) s.close(1000, "bye");
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
      this.#scheduleRetry();
      return;
    }
    this.socket = socket;
    this.authed = false;
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.lastMessage = Date.now();
      const token = this.handlers.getToken();
      if (token) {
        this.#send({ type: "auth", token });
        this.authed = true;
      }
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.#watchdog(), PING_EVERY);
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
      clearInterval(this.pingTimer);
      if (event.code === CLOSE_EVENT_DELETED || event.code === CLOSE_UNKNOWN_EVENT) {
        this.#gone(event.code === CLOSE_EVENT_DELETED ? "deleted" : "unknown");
        return;
      }
      if (!this.stopped) this.#scheduleRetry();
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
      case "event": // the event itself: deleted by its organiser
        if (msg.status === "deleted") this.#gone("deleted");
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
    this.#setState(STATE_GONE);
    this.handlers.onGone?.(reason);
  }

  #watchdog() {
    const s = this.socket;
    if (!s || s.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastMessage > SILENCE_LIMIT) {
      // Half-open: close it ourselves and let the close handler reconnect.
      this.socket = null;
      clearInterval(this.pingTimer);
      try {
        s.close(4000, "silent");
      } catch {
        /* already closing */
      }
      this.#scheduleRetry();
      return;
    }
    this.#send({ type: "ping" });
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
