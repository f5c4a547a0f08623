// A websocket broadcaster built on `ws`: the peer bench/fanout.py measures Boxoffice's live
// fan-out against (bench/README.md, "Peers"). Not part of the app, and deliberately small.
//
// It does what Boxoffice's hub does for anonymous watchers, no more:
//   * serves GET /ws/events/{id} for the one event in SNAPSHOT_FILE (any other id: close 4404);
//   * on connect sends {"type":"snapshot","eventId","seats":[...]} from the state it keeps;
//   * pattern-subscribes to `${REDIS_PREFIX}:{*}:seats`, the channel the app publishes each
//     committed change on ({"at", "changes": [{id, status, version, heldUntil, holder}]});
//   * gathers the changes of a batch window, keeps each seat's latest version only, and
//     sends one pre-serialised {"type":"seats","at","changes":[...]} to every watcher.
//     The window is Boxoffice's rule: LIVE_BATCH_MS, widened to watchers / SENDS_PER_SECOND
//     (this process's watchers) up to 500 ms. "at" is the oldest commit stamp in the batch.
//   * a watcher whose unsent bytes pass BACKLOG_BYTES gets no more batches until it drains,
//     then a fresh snapshot (Boxoffice's capped backlog, in bytes instead of messages).
//
// WORKERS processes share the port through node:cluster (SCHED_NONE: one listening socket
// every process accepts from; Boxoffice's workers each have their own). The seats' initial state comes
// from SNAPSHOT_FILE (written by the bench from the event as the API returned it), not from
// the database: only the snapshot at connect time needs it, and that is outside what the
// bench times.

"use strict";

const cluster = require("node:cluster");
const fs = require("node:fs");
const http = require("node:http");
const Redis = require("ioredis");
const { WebSocketServer } = require("ws");

const PORT = Number(process.env.PORT || 8090);
const HOST = process.env.HOST || "127.0.0.1";
const WORKERS = Number(process.env.WORKERS || 2);
const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6379/0";
const REDIS_PREFIX = process.env.REDIS_PREFIX || "bo";
const BATCH_MS = Number(process.env.LIVE_BATCH_MS || 25);
const SENDS_PER_SECOND = Number(process.env.LIVE_SENDS_PER_SECOND || 40000);
const MAX_BATCH_MS = 500;
const BACKLOG_BYTES = Number(process.env.BACKLOG_BYTES || 4 * 1024 * 1024);
const SNAPSHOT_FILE = process.env.SNAPSHOT_FILE;
const TEXT = { binary: false }; // a Buffer is sent as a binary frame unless told otherwise

function publicSeat(change) {
  // The live seat of DESIGN §4 for an anonymous watcher: heldUntil only when it says something.
  const seat = { id: change.id, status: change.status, version: change.version };
  if (change.heldUntil) seat.heldUntil = change.heldUntil;
  return seat;
}

function worker() {
  const initial = JSON.parse(fs.readFileSync(SNAPSHOT_FILE, "utf8"));
  const eventId = String(initial.eventId);
  const seats = new Map(initial.seats.map((s) => [s.id, publicSeat(s)]));
  let snapshot = null; // the serialised snapshot, rebuilt after a change
  let pending = null; // seat id -> newest change of the open window
  let pendingAt = null;
  const watchers = new Set();
  const channel = `${REDIS_PREFIX}:{${eventId}}:seats`;

  function snapshotMessage() {
    if (snapshot === null) {
      snapshot = Buffer.from(
        JSON.stringify({ type: "snapshot", eventId, seats: Array.from(seats.values()) }),
      );
    }
    return snapshot;
  }

  function windowMs() {
    return Math.max(BATCH_MS, Math.min(MAX_BATCH_MS, (watchers.size / SENDS_PER_SECOND) * 1000));
  }

  function flush() {
    const changes = Array.from(pending.values(), publicSeat);
    const message = { type: "seats" };
    if (pendingAt !== null) message.at = pendingAt;
    message.changes = changes;
    pending = pendingAt = null;
    const data = Buffer.from(JSON.stringify(message)); // once per window, for every watcher
    for (const ws of watchers) {
      if (ws.bufferedAmount > BACKLOG_BYTES) {
        ws.behind = true; // it missed this batch: a snapshot once it has drained
      } else if (ws.behind) {
        ws.behind = false;
        ws.send(snapshotMessage(), TEXT);
      } else {
        ws.send(data, TEXT);
      }
    }
  }

  function gather(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.resync) {
      for (const ws of watchers) ws.behind = true;
      return;
    }
    const first = pending === null;
    if (first) pending = new Map();
    if (Number.isInteger(message.at)) {
      pendingAt = pendingAt === null ? message.at : Math.min(pendingAt, message.at);
    }
    for (const change of message.changes || []) {
      const current = seats.get(change.id);
      if (current !== undefined && change.version <= current.version) continue;
      seats.set(change.id, publicSeat(change));
      snapshot = null;
      const queued = pending.get(change.id);
      if (queued === undefined || change.version > queued.version) pending.set(change.id, change);
    }
    if (first) setTimeout(flush, windowMs());
  }

  const redis = new Redis(REDIS_URL);
  redis.on("pmessageBuffer", (_pattern, name, data) => {
    if (name.toString() === channel) gather(data.toString());
  });
  redis.psubscribe(`${REDIS_PREFIX}:{*}:seats`);

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === "/health" ? 200 : 404, { "Content-Type": "application/json" });
    res.end(req.url === "/health" ? '{"status":"ok"}' : '{"success":false}');
  });
  server.on("upgrade", (req, socket, head) => {
    const match = /^\/ws\/events\/([^/?]+)/.exec(req.url || "");
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!match || match[1] !== eventId) {
        ws.close(4404, "unknown event");
        return;
      }
      ws.behind = false;
      watchers.add(ws);
      ws.on("close", () => watchers.delete(ws));
      ws.on("error", () => watchers.delete(ws));
      ws.send(snapshotMessage(), TEXT);
    });
  });
  server.listen(PORT, HOST);
}

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < WORKERS; i += 1) cluster.fork();
  cluster.on("exit", (_worker, code, signal) => {
    console.error(`worker exited (${signal || code}); stopping`);
    process.exit(1);
  });
  process.on("SIGTERM", () => {
    for (const id in cluster.workers) cluster.workers[id].process.kill("SIGTERM");
    process.exit(0);
  });
  console.log(`ws broadcaster on http://${HOST}:${PORT}, ${WORKERS} workers`);
} else {
  worker();
}
