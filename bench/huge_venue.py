"""Huge venue: a 100,000-seat event.

* `GET /events/{id}`: time and bytes, plain and gzip (what a browser asks for);
* the websocket snapshot: time from connect to the whole snapshot, and its bytes on the
  wire, without and with permessage-deflate (browsers offer it);
* the browser (system Chromium via Playwright): time from navigation to the first full
  paint of the map, then frame times while about 1,000 seat changes a second arrive
  (holds and releases made through the API by a few signed-in users).
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import statistics
import struct
import threading
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from bench.common import Account, say
from bench.http import Connection, HTTPError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# ------------------------------------------------------------------- HTTP


def get_event(base_url: str, event_id: str, runs: int = 3) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for label, headers in (
            ("plain", {"Accept-Encoding": "identity"}),
            ("gzip", {"Accept-Encoding": "gzip"}),
        ):
            times, wire, body = [], 0, 0
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(f"/events/{event_id}", headers=headers)
                content = response.content
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                wire = response.num_bytes_downloaded
                body = len(content)
            out[label] = {
                "ms_median": round(statistics.median(times), 1),
                "ms_runs": [round(t, 1) for t in times],
                "wire_bytes": wire,
                "json_bytes": body,
                "content_encoding": response.headers.get("content-encoding", "identity"),
            }
    return out


# -------------------------------------------------------------- websocket


async def _snapshot_once(
    base_url: str, event_id: str, deflate: bool, compact: bool = False
) -> dict[str, Any]:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    ext = (
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        if deflate
        else ""
    )
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    query = "?encoding=compact" if compact else ""
    writer.write(
        (
            f"GET /ws/events/{event_id}{query} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.decode(errors="replace"))
    negotiated = b"permessage-deflate" in head.lower()
    inflater = zlib.decompressobj(-15)
    wire = 0
    payload = b""
    first_b0: int | None = None
    while True:  # frames until the whole first data message (the snapshot) is in
        b0, b1 = await reader.readexactly(2)
        length = b1 & 0x7F
        extra = 0
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            extra = 2
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
            extra = 8
        data = await reader.readexactly(length)
        wire += 2 + extra + length
        opcode = b0 & 0x0F
        if opcode in (0, 1):
            if first_b0 is None:
                first_b0 = b0
            payload += data
            if b0 & 0x80:  # FIN
                break
    elapsed = (time.perf_counter() - started) * 1000
    compressed = first_b0 is not None and bool(first_b0 & 0x40)  # RSV1: deflated message
    text = inflater.decompress(payload + b"\x00\x00\xff\xff") if compressed else payload
    message = msgspec.json.decode(text)
    writer.close()
    return {
        "ms": round(elapsed, 1),
        "wire_bytes": wire,
        "json_bytes": len(text),
        "seats": message["count"] if compact else len(message.get("seats", [])),
        "deflate": negotiated,
        "_message": message,
    }


VARIANTS = (
    ("plain", False, False),
    ("deflate", True, False),
    ("compact", False, True),
    ("compact+deflate", True, True),
)


def snapshot(base_url: str, event_id: str, seat_ids: list[str], runs: int = 3) -> dict[str, Any]:
    out: dict[str, Any] = {}
    messages = {}
    for label, deflate, compact in VARIANTS:
        results = [
            asyncio.run(_snapshot_once(base_url, event_id, deflate, compact)) for _ in range(runs)
        ]
        messages[label] = results[-1].pop("_message")
        for r in results[:-1]:
            r.pop("_message")
        out[label] = {
            **results[-1],
            "ms_median": round(statistics.median(r["ms"] for r in results), 1),
            "ms_runs": [r["ms"] for r in results],
        }
    out["compact_matches_plain"] = compact_matches(messages["plain"], messages["compact"], seat_ids)
    return out


def compact_matches(plain: dict[str, Any], compact: dict[str, Any], seat_ids: list[str]) -> bool:
    """The compact snapshot, laid over GET /events/{id}'s seat order, says what the plain
    one says (taken back to back, with no changes in between)."""
    letters = {"a": "available", "h": "held", "b": "booked"}
    versions = compact["version"].split(",")
    decoded = {
        seat_id: (letters[compact["status"][i]], int(versions[i]), compact["heldUntil"].get(str(i)))
        for i, seat_id in enumerate(seat_ids)
    }
    expected = {s["id"]: (s["status"], s["version"], s.get("heldUntil")) for s in plain["seats"]}
    return compact["count"] == len(seat_ids) and decoded == expected


# ----------------------------------------------------------------- driver


class ChangeDriver:
    """Holds and releases seats through the API at about `rate` seat changes a second."""

    def __init__(
        self,
        base_url: str,
        event_id: str,
        seat_ids: list[str],
        users: list[Account],
        rate: int,
        seats_per_hold: int = 10,
    ) -> None:
        self.base_url, self.event_id, self.seat_ids = base_url, event_id, seat_ids
        self.users, self.rate, self.per_hold = users, rate, seats_per_hold
        self.changes = 0
        self.errors = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.started = 0.0
        self.elapsed = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()
        self.thread.start()

    def stop(self) -> dict[str, Any]:
        self.elapsed = time.perf_counter() - self.started
        counted = self.changes
        self.stop_flag.set()
        self.thread.join(timeout=30)
        self.changes = counted
        return {
            "target_changes_per_s": self.rate,
            "changes": self.changes,
            "changes_per_s": round(self.changes / self.elapsed) if self.elapsed else 0,
            "errors": self.errors,
        }

    async def _user(self, account: Account, cycle_s: float, rng: random.Random) -> None:
        conn = Connection(self.base_url, account.headers, timeout=30)
        holds = f"/events/{self.event_id}/holds"
        next_at = time.perf_counter() + rng.random() * cycle_s
        try:
            while not self.stop_flag.is_set():
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += cycle_s
                seats = rng.sample(self.seat_ids, self.per_hold)
                try:
                    held = await conn.post(holds, msgspec.json.encode({"seatIds": seats}))
                    if held.status_code == 201:
                        self.changes += self.per_hold
                    # Released half a cycle later, so a hold and its release never fall
                    # into one batch (where only the newest state would be sent).
                    await asyncio.sleep(max(0.0, next_at - cycle_s / 2 - time.perf_counter()))
                    released = await conn.request("DELETE", holds, b"")
                    if released.status_code == 200:
                        self.changes += len(released.json().get("released", []))  # type: ignore[union-attr]
                except HTTPError:
                    self.errors += 1
        finally:
            await conn.close()

    async def _run(self) -> None:
        # Each cycle is one hold and one release of `per_hold` seats: 2 * per_hold changes.
        cycles_per_s = self.rate / (2 * self.per_hold)
        cycle_s = len(self.users) / cycles_per_s
        rng = random.Random(7)
        await asyncio.gather(
            *(self._user(u, cycle_s, random.Random(rng.random())) for u in self.users)
        )


# ---------------------------------------------------------------- browser

# Counts what the page's websockets receive (installed before the page's own scripts).
COUNT_WS_JS = """(() => {
  window.__bench_ws = { messages: 0, changes: 0, chars: 0 };
  const Original = window.WebSocket;
  window.WebSocket = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const stats = window.__bench_ws;
        stats.messages++;
        stats.chars += typeof e.data === "string" ? e.data.length : 0;
        const n = typeof e.data === "string" ? e.data.split('"version"').length - 1 : 0;
        if (typeof e.data === "string" && e.data.startsWith('{"type":"seats"')) stats.changes += n;
      });
    }
  };
})();"""

FRAMES_JS = """(ms) => new Promise((resolve) => {
  const deltas = []; const longTasks = [];
  let obs = null;
  try {
    obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longTasks.push(e.duration);
    });
    obs.observe({ type: "longtask", buffered: false });
  } catch (e) { /* not supported */ }
  const before = { ...window.boxoffice.drawStats };
  let last = performance.now(); const end = last + ms;
  const tick = (t) => {
    deltas.push(t - last); last = t;
    if (t < end) requestAnimationFrame(tick);
    else {
      if (obs) obs.disconnect();
      resolve({ deltas, longTasks, before, after: { ...window.boxoffice.drawStats } });
    }
  };
  requestAnimationFrame(tick);
})"""


def browser(
    base_url: str, event_id: str, driver: ChangeDriver | None, seconds: float = 6.0
) -> dict[str, Any]:
    if not os.path.exists(CHROMIUM):
        return {"skipped": f"{CHROMIUM} not found"}
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script(COUNT_WS_JS)
            page.goto(f"{base_url}/e/{event_id}", wait_until="commit", timeout=60_000)
            page.wait_for_function(
                "() => window.boxoffice && window.boxoffice.seatCount > 0 && "
                "window.boxoffice.drawStats && window.boxoffice.drawStats.fullDraws > 0",
                polling="raf",
                timeout=120_000,
            )
            first_paint = page.evaluate("performance.now()")
            seat_count = page.evaluate("window.boxoffice.seatCount")
            fcp = page.evaluate(
                "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
                " || null"
            )
            page.wait_for_function("() => window.boxoffice.wsState === 'live'", timeout=120_000)
            live_at = page.evaluate("performance.now()")
            first_draw = page.evaluate("window.boxoffice.drawStats.lastFullDrawMs")
            idle = page.evaluate(FRAMES_JS, 2000)
            driven = None
            if driver is not None:
                driver.start()
                time.sleep(1.0)  # let the stream reach its pace
            received_before = page.evaluate("({...window.__bench_ws})")
            busy = page.evaluate(FRAMES_JS, int(seconds * 1000))
            received_after = page.evaluate("({...window.__bench_ws})")
            if driver is not None:
                driven = driver.stop()
        finally:
            chromium.close()
    return {
        "seats": seat_count,
        "first_map_paint_ms": round(first_paint, 1),
        "first_contentful_paint_ms": round(fcp, 1) if fcp else None,
        "live_ms": round(live_at, 1),
        "full_draw_ms": round(first_draw, 1),
        "idle_frames": _frames(idle),
        "frames_under_changes": _frames(busy),
        # What the page's socket received while the frames above were timed.
        "received_under_changes": {
            k: received_after[k] - received_before[k] for k in ("messages", "changes", "chars")
        },
        "changes": driven,
    }


def _frames(sample: dict[str, Any]) -> dict[str, Any]:
    deltas = sample["deltas"][1:]
    if not deltas:
        return {}
    ordered = sorted(deltas)
    median = statistics.median(deltas)
    budget = 1000 / 60
    return {
        "frames": len(deltas),
        "fps": round(len(deltas) / (sum(deltas) / 1000), 1),
        "frame_ms_p50": round(median, 1),
        "frame_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "frame_ms_max": round(ordered[-1], 1),
        # A frame that took longer than 1.5 vsync intervals missed at least one.
        "dropped_frames": sum(1 for d in deltas if d > 1.5 * budget),
        "long_tasks": len(sample["longTasks"]),
        "long_task_ms_max": round(max(sample["longTasks"], default=0), 1),
        "dirty_draws": sample["after"]["dirtyDraws"] - sample["before"]["dirtyDraws"],
        "full_draws": sample["after"]["fullDraws"] - sample["before"]["fullDraws"],
    }


def _take_some(base_url: str, event_id: str, seat_ids: list[str], users: list[Account]) -> None:
    """A few held and booked seats, so the snapshots compared are not all 'available'."""
    rng = random.Random(3)
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for n, user in enumerate(users):
            seats = rng.sample(seat_ids, 3)
            client.post(f"/events/{event_id}/holds", json={"seatIds": seats}, headers=user.headers)
            if n % 2:
                client.post(
                    f"/events/{event_id}/bookings",
                    json={"seatIds": seats[:1]},
                    headers=user.headers,
                )


def run(
    base_url: str, event: dict[str, Any], users: list[Account], rate: int, with_browser: bool
) -> dict[str, Any]:
    event_id = event["id"]
    result: dict[str, Any] = {"seats": len(event["seats"])}
    result["get_event"] = get_event(base_url, event_id)
    say(f"  GET /events/{{id}}: {result['get_event']}")
    _take_some(base_url, event_id, [s["id"] for s in event["seats"]], users[:6])
    result["snapshot"] = snapshot(base_url, event_id, [s["id"] for s in event["seats"]])
    say(f"  snapshot: {result['snapshot']}")
    if with_browser:
        driver = ChangeDriver(
            base_url, event_id, [s["id"] for s in event["seats"]], users, rate, seats_per_hold=25
        )
        result["browser"] = browser(base_url, event_id, driver)
        say(f"  browser: {result['browser']}")
    return result
