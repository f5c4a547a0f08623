"""On-sale behind a waiting room (issue 12): M buyers join an event's room in the seconds
before `onSaleAt`, wait on the seat map's socket (or by polling `GET …/queue`), and buy
1-4 seats each once admitted; a few join after the opening, one after another.

Buyers run in a few client processes (asyncio). A socket buyer is a raw asyncio protocol,
as the fan-out watchers are (`bench/fanout.py`): it signs in with `{"type": "auth"}`,
decodes only `queue` messages and skips the seat changes unread. Each process also keeps
one anonymous map socket whose snapshot and `seats` messages are its buyers' view of the
free seats, as the seat map's live view would be. Admitted, a buyer holds a random run of
adjacent seats it sees free (fewer, or scattered, when none fits), books them, and tries
again after a 409/423, a bounded number of times; finding the event sold out it leaves
the room, which frees its slot, so the whole queue is admitted and the people who joined
after the opening are reached too.

What is measured, from the clients' records and the organiser's `…/queue/summary`
sampled meanwhile: time to sell out (from `onSaleAt`), admitted buyers' hold and book
latency, queue-message latency (admission to the client knowing: the server's admission
time is `admittedUntil - shopperSeconds`, one machine, one clock), how many were
admitted and whether anyone was admitted twice (clients: two windows; server:
`admittedTotal` against distinct buyers), fairness (Spearman's rank correlation of join
and admission order among pre-queue joiners: ~0; admission order within one admitter
tick is not visible from outside, so ties share a rank) and FIFO after the opening
(admission times never decrease along the join sequence), and shoppers never above
`maxShoppers` in any sample. The database audit is `flash_sale.audit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import statistics
import struct
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from bench.common import Account, latency_summary, layout_for
from bench.http import Connection, HTTPError

# Every buyer comes from 127.0.0.1: lift the per-address caps a load from one machine meets.
SERVER_ENV = {
    "WAITING_ROOM_JOINS_PER_ADDRESS": "10000000",
    "WS_MAX_ANONYMOUS_PER_ADDRESS": "100000",
    # The server logs its loop's stack when it stops for 100 ms; the log digest below
    # counts those stalls by where they were.
    "LOOP_STALL_LOG_MS": "100",
}
SETTLE_S = 1.5  # after the PATCH of onSaleAt: every app process's settings cache (1 s) has it
IDLE_S = 70.0  # the server keeps an idle connection 75 s (KEEP_ALIVE_SECONDS): reopen before
POLL_MAX_S = 5.0  # a polling page asks at least this often (the grace is 60 s)
SILENT_S = 20.0  # a socket buyer that heard nothing this long asks once over HTTP (counted)
JOIN_ATTEMPTS = 8  # a join that failed or timed out is sent again, up to this many times
BOOK_RETRIES = 5  # a 423 on one's own booking: again after 50, 100, 200, 400, 800 ms
QUEUE, AUTH, ERROR = b'{"type":"queue"', b'{"type":"auth"', b'{"type":"error"'
SNAPSHOT, SEATS = b'{"type":"snapshot"', b'{"type":"seats"'


@dataclass(frozen=True)
class RoomConfig:
    max_shoppers: int = 200
    shopper_seconds: int = 120
    join_seconds: float = 10.0  # pre-queue joins spread over this long before onSaleAt
    post_start_share: float = 0.05  # buyers joining after the opening, one after another
    post_start_seconds: float = 5.0  # over this long, from a second after the opening
    poll_share: float = 0.1  # buyers without a socket, polling GET …/queue (1.0: --poll)
    processes: int = 4
    retries: int = 8
    deadline_s: float = 240.0  # from onSaleAt
    sample_s: float = 0.2  # the organiser's summary, this often
    seed: int = 12


@dataclass(frozen=True)
class BuyerPlan:
    user_id: str
    token: str
    quantity: int
    poll: bool
    post_start: bool
    join_at_s: float  # pre-queue: after the window opens; post-start: after onSaleAt


@dataclass
class ProcessPlan:
    base_url: str
    event_id: str
    rows: list[list[str]]
    buyers: list[BuyerPlan]
    config: RoomConfig
    control_dir: str
    seed: int


@dataclass
class BuyerRecord:
    user_id: str
    poll: bool
    post_start: bool
    quantity: int
    chain: int = -1  # place in the post-start join sequence
    join_sent_ms: float | None = None
    pre_queue: bool | None = None  # the join's answer had no position: the room was shut
    admitted_until_ms: int | None = None
    windows: int = 0  # distinct admission windows seen: over 1 is admitted twice
    told_ms: float | None = None  # when the client learnt it was admitted
    # socket, poll, silence (the socket said nothing: asked over HTTP) or deadline (asked
    # once the run was over)
    told_by: str = ""
    done_ms: float | None = None
    outcome: str = "waiting"
    seats: int = 0
    queue_messages: int = 0
    socket_closed: bool = False


@dataclass
class ProcessOutcome:
    records: list[BuyerRecord]
    requests: list[tuple[str, int, float, float]]  # endpoint, status, ms, sent at (epoch ms)
    bookings: list[tuple[str, str, str, float]]  # user, seat, booking id, at (epoch s)
    sockets: int = 0
    socket_failures: int = 0
    connect_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0
    loop_lag_ms: list[float] = field(default_factory=list)  # see _probe_lag


# ------------------------------------------------------------------ the socket


def _frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    head = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
    return bytes([0x80 | opcode]) + head + mask + body


class RoomSocket(asyncio.Protocol):
    """One socket on `/ws/events/{id}`: the upgrade, `first` (the auth message) once
    upgraded, then frames; messages starting with one of `wants` are decoded and handed to
    `deliver` with their arrival time (epoch ms), the rest are skipped unread."""

    def __init__(
        self,
        request: bytes,
        first: bytes | None,
        wants: tuple[bytes, ...],
        deliver: Callable[[Any, float], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        self.request, self.first, self.wants, self.deliver = request, first, wants, deliver
        self.buf = bytearray()
        self.parts: bytearray | None = None  # a fragmented message being kept
        self.skipping = False  # a fragmented message being skipped
        self.upgraded = False
        self.close_code: int | None = None  # the server's, from its close frame
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now_ms = time.time() * 1000
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(bytes(buf[:80]).decode(errors="replace")))
                self.close()
                return
            del buf[: end + 4]
            self.upgraded = True
            if self.first is not None and self.transport is not None:
                self.transport.write(_frame(self.first))
            self.opened.set_result(None)
        while len(buf) >= 2:
            fin, opcode, length, head = buf[0] & 0x80, buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, head = struct.unpack_from("!H", buf, 2)[0], 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, head = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < head + length:
                return
            if opcode in (0, 1):
                self._text(buf, head, length, opcode == 1, bool(fin), now_ms)
            elif opcode == 9 and self.transport is not None:  # ping: pong
                self.transport.write(_frame(bytes(buf[head : head + length]), 0xA))
            elif opcode == 8:
                if length >= 2:
                    self.close_code = struct.unpack_from("!H", buf, head)[0]
                self.close()
            del buf[: head + length]

    def _text(
        self, buf: bytearray, head: int, length: int, first: bool, fin: bool, now_ms: float
    ) -> None:
        if first:
            wanted = any(buf.startswith(w, head) for w in self.wants)
            if fin:
                if wanted:
                    self.deliver(msgspec.json.decode(bytes(buf[head : head + length])), now_ms)
                return
            self.parts, self.skipping = (bytearray() if wanted else None), not wanted
        if self.parts is not None:
            self.parts += buf[head : head + length]
        if fin:
            if self.parts is not None:
                self.deliver(msgspec.json.decode(bytes(self.parts)), now_ms)
            self.parts, self.skipping = None, False


def _upgrade(base_url: str, path: str) -> bytes:
    parts = urlsplit(base_url)
    key = "b25zYWxlLWJlbmNoLWtleQ=="  # any 16 bytes, base64: nothing checks it but the server
    return (
        f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


# ------------------------------------------------------------------- the map


class SeatView:
    """What a process's buyers know of the seats: the map socket's snapshot and changes,
    and the seats their own answers showed taken."""

    def __init__(self, rows: list[list[str]]) -> None:
        self.rows = rows
        self.total = sum(len(r) for r in rows)
        self.taken: set[str] = set()
        self.versions: dict[str, int] = {}
        self.ready = asyncio.get_running_loop().create_future()

    def on_message(self, message: Any, _at: float) -> None:
        seats = message.get("seats") if message.get("type") == "snapshot" else None
        for seat in seats if seats is not None else message.get("changes", ()):
            version = int(seat.get("version", 0))
            if version < self.versions.get(seat["id"], -1):
                continue  # an older change overtaken by a newer one
            self.versions[seat["id"]] = version
            if seat["status"] == "available":
                self.taken.discard(seat["id"])
            else:
                self.taken.add(seat["id"])
        if seats is not None and not self.ready.done():
            self.ready.set_result(None)

    def pick(self, count: int, rng: random.Random, avoid: set[str]) -> list[str]:
        """A random run of `count` adjacent seats seen free (and not in `avoid`), else any
        free ones (fewer at the very end), else none."""
        taken = self.taken
        if len(taken) >= self.total:
            return []
        windows: list[tuple[list[str], int]] = []
        for row in self.rows:
            run = 0
            for i, seat in enumerate(row):
                run = 0 if seat in taken or seat in avoid else run + 1
                if run >= count:
                    windows.append((row, i - count + 1))
        if windows:
            row, start = rng.choice(windows)
            return row[start : start + count]
        free = [s for row in self.rows for s in row if s not in taken and s not in avoid]
        return rng.sample(free, min(count, len(free)))


# ------------------------------------------------------------------ a buyer


class Line:
    """One buyer's HTTP/1.1 keep-alive connection, reopened before the server's idle cut."""

    def __init__(self, base_url: str, token: str, out: ProcessOutcome) -> None:
        self.conn = Connection(base_url, {"Authorization": f"Bearer {token}"}, timeout=60)
        self.out = out
        self.used = 0.0

    async def call(
        self, endpoint: str, method: str, path: str, body: Any = None
    ) -> tuple[int, Any] | None:
        if time.monotonic() - self.used > IDLE_S:
            await self.conn.close()
            with contextlib.suppress(HTTPError, OSError):
                await self.conn.connect()  # not timed: a browser's connection is up already
        sent_at, started = time.time() * 1000, time.perf_counter()
        data = body if body is None or isinstance(body, bytes) else msgspec.json.encode(body)
        try:
            response = await self.conn.request(method, path, data)
        except HTTPError as exc:
            self.out.errors[f"{endpoint}: {str(exc).split(':')[0]}"] += 1
            self.out.requests.append((endpoint, 0, (time.perf_counter() - started) * 1000, sent_at))
            self.used = 0.0
            return None
        self.used = time.monotonic()
        self.out.requests.append(
            (endpoint, response.status_code, (time.perf_counter() - started) * 1000, sent_at)
        )
        return response.status_code, response.json() if response.body else {}

    async def open(self) -> bool:
        """Connect now (the page's load), not timed; False if it failed (the first call
        then connects)."""
        try:
            await self.conn.connect()
        except (HTTPError, OSError):
            return False
        self.used = time.monotonic()
        return True

    async def close(self) -> None:
        await self.conn.close()
        self.used = 0.0


def _ms(iso: Any) -> int | None:
    if not isinstance(iso, str):
        return None
    return round(dt.datetime.fromisoformat(iso).timestamp() * 1000)


class Buyer:
    """One buyer's run: join, wait (socket or polling), shop, leave."""

    def __init__(self, plan: BuyerPlan, shop: Shop) -> None:
        self.plan, self.shop = plan, shop
        self.rec = BuyerRecord(plan.user_id, plan.poll, plan.post_start, plan.quantity)
        self.socket: RoomSocket | None = None
        self.greeted = asyncio.get_running_loop().create_future()
        self.news: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.joined = False
        self.join_done = asyncio.Event()  # answered or given up: the next post-start may go
        self.first_view: dict[str, Any] = {"state": "waiting"}
        self.heard = time.monotonic()
        # The page's HTTP connection, opened with the page (Shop.open) and kept, as a
        # browser keeps it, for the join and then the shopping.
        self.line: Line | None = None

    def on_message(self, message: Any, at_ms: float) -> None:
        if message.get("type") == "seats":  # admitted: the map at the shoppers' pace
            self.shop.view.on_message(message, at_ms)
            return
        if message.get("type") == "error":
            self.shop.out.errors[f"socket error {message.get('code')}"] += 1
            return
        if message.get("type") != "queue":
            return
        rec = self.rec
        rec.queue_messages += 1
        self.heard = time.monotonic()
        if not self.greeted.done():
            self.greeted.set_result(None)
        self.learn(message, at_ms, "socket")

    def learn(self, view: dict[str, Any], at_ms: float, how: str) -> None:
        """Take in a place (a message or an answer): admission, or a place lost."""
        rec, state = self.rec, view.get("state")
        if state == "admitted":
            until = _ms(view.get("admittedUntil"))
            if until is not None and until != rec.admitted_until_ms:
                rec.windows += 1
                if rec.admitted_until_ms is None:
                    rec.admitted_until_ms, rec.told_ms, rec.told_by = until, at_ms, how
            if not self.news.done():
                self.news.set_result("admitted")
            # A shopper's page gets the seat changes at the shoppers' pace (the anonymous
            # map socket is a looker, a second behind): its process's map takes them in.
            if self.socket is not None and SEATS not in self.socket.wants:
                self.socket.wants = (*self.socket.wants, SEATS)
        elif state in ("left", "expired") and self.joined and not self.news.done():
            self.news.set_result(str(state))

    async def run(self) -> None:
        try:
            line = self.line or Line(self.shop.plan.base_url, self.plan.token, self.shop.out)
            try:
                if not await self.shop.join(self, line):
                    return
                if self.socket is None:
                    state = await self.shop.poll(self, line)
                else:
                    state = await self.shop.listen(self, line)
                if state == "admitted":
                    await self.shop.buy(self, line)
                else:
                    self.rec.outcome = f"lost place: {state}"
            finally:
                self.rec.done_ms = self.rec.done_ms or time.time() * 1000
                await line.close()
        finally:
            if self.socket is not None:
                self.socket.close()


class Shop:
    """A client process: its buyers, their map, and what they record."""

    def __init__(self, plan: ProcessPlan) -> None:
        self.plan = plan
        self.cfg = plan.config
        self.rng = random.Random(plan.seed)
        self.view = SeatView(plan.rows)
        self.out = ProcessOutcome([], [], [])
        self.buyers = [Buyer(b, self) for b in plan.buyers]
        self.queue_path = f"/events/{plan.event_id}/queue"
        self.holds_path = f"/events/{plan.event_id}/holds"
        self.books_path = f"/events/{plan.event_id}/bookings"
        self.on_sale_ms = 0.0
        self.map: RoomSocket | None = None

    async def open(self) -> None:
        """The map socket, then every socket buyer's, signed in and greeted with its place."""
        loop = asyncio.get_running_loop()
        url = urlsplit(self.plan.base_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        path = f"/ws/events/{self.plan.event_id}"
        _, self.map = await loop.create_connection(
            lambda: RoomSocket(
                _upgrade(self.plan.base_url, path), None, (SNAPSHOT, SEATS), self.view.on_message
            ),
            host,
            port,
        )
        await asyncio.wait_for(self.view.ready, 60)
        gate = asyncio.Semaphore(100)
        compact = _upgrade(self.plan.base_url, f"{path}?encoding=compact")

        async def open_one(buyer: Buyer) -> None:
            auth = msgspec.json.encode({"type": "auth", "token": buyer.plan.token})
            async with gate:
                try:
                    _, sock = await loop.create_connection(
                        lambda: RoomSocket(compact, auth, (QUEUE, AUTH, ERROR), buyer.on_message),
                        host,
                        port,
                    )
                    buyer.socket = sock
                    await asyncio.wait_for(asyncio.shield(sock.opened), 60)
                    await asyncio.wait_for(asyncio.shield(buyer.greeted), 60)
                    self.out.sockets += 1
                except (TimeoutError, OSError, ConnectionError) as exc:
                    self.out.socket_failures += 1
                    self.out.errors[f"socket: {type(exc).__name__}"] += 1
                    if buyer.socket is not None:
                        buyer.socket.close()
                    buyer.socket = None  # it polls instead

        async def load_page(buyer: Buyer) -> None:
            line = Line(self.plan.base_url, buyer.plan.token, self.out)
            async with gate:
                if await line.open():
                    buyer.line = line

        started = time.perf_counter()
        await asyncio.gather(*(open_one(b) for b in self.buyers if not b.plan.poll))
        self.out.connect_s = time.perf_counter() - started
        await asyncio.gather(*(load_page(b) for b in self.buyers))
        wanted = sum(1 for b in self.buyers if not b.plan.poll)
        if wanted and self.out.sockets == 0:
            raise RuntimeError(
                "no socket buyer got a `queue` message after signing in: this server has no "
                "live queue feed (backend/live/queuefeed.py); run with --poll"
            )

    async def join(self, buyer: Buyer, line: Line) -> bool:
        """Join, again after a failure (a join is idempotent: the same place comes back), as
        a page would: a buyer who gave up might still have a place it would never use."""
        rec = buyer.rec
        try:
            for attempt in range(JOIN_ATTEMPTS):
                rec.join_sent_ms = time.time() * 1000
                got = await line.call("join", "POST", self.queue_path, b"")
                if got is not None and got[0] == 200:
                    buyer.joined = True
                    rec.pre_queue = got[1].get("position") is None
                    buyer.first_view = got[1]
                    buyer.learn(got[1], time.time() * 1000, "poll")
                    return True
                await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
            rec.outcome = "join failed"
            return False
        finally:
            buyer.join_done.set()

    async def listen(self, buyer: Buyer, line: Line) -> str:
        """Wait on the socket; a silent one gets one question over HTTP, a closed one
        leaves its buyer polling."""
        sock = buyer.socket
        assert sock is not None
        while not buyer.news.done():
            either: set[asyncio.Future[Any]] = {buyer.news, sock.closed}
            await asyncio.wait(either, timeout=SILENT_S, return_when=asyncio.FIRST_COMPLETED)
            if buyer.news.done():
                break
            if sock.closed.done():
                buyer.rec.socket_closed = True
                self.out.errors[f"socket closed while waiting: {sock.close_code}"] += 1
                return await self.poll(buyer, line)
            if time.monotonic() - buyer.heard > SILENT_S:
                got = await line.call("poll", "GET", self.queue_path)
                if got is not None and got[0] == 200:
                    buyer.learn(got[1], time.time() * 1000, "silence")
                    buyer.heard = time.monotonic()
        return buyer.news.result()

    def interval(self, view: dict[str, Any]) -> float:
        """How long a polling page waits: until the opening (with jitter) while the draw
        is secret, then half its ETA, 0.5-5 s (the grace is 60 s)."""
        now = time.time()
        if view.get("position") is None and now * 1000 < self.on_sale_ms:
            return self.on_sale_ms / 1000 - now + self.rng.uniform(0, 1)
        ahead, eta = view.get("ahead"), view.get("etaSeconds")
        wait = eta / 2 if eta is not None else 0.5 + (ahead or 0) / 400
        return min(POLL_MAX_S, max(0.5, wait)) * self.rng.uniform(0.8, 1.2)

    async def poll(self, buyer: Buyer, line: Line) -> str:
        view = buyer.first_view
        while not buyer.news.done():
            await asyncio.sleep(self.interval(view))
            got = await line.call("poll", "GET", self.queue_path)
            if got is None or got[0] != 200:
                await asyncio.sleep(1)
                continue
            view = got[1]
            buyer.learn(view, time.time() * 1000, "poll")
            if view.get("state") not in ("waiting", "admitted") and not buyer.news.done():
                buyer.news.set_result(str(view.get("state")))
        return buyer.news.result()

    async def buy(self, buyer: Buyer, line: Line) -> None:
        rec = buyer.rec
        booked = False
        # Seats someone else's request had locked (423): avoided by this buyer only. The
        # lock may belong to a request that then fails, leaving the seat free and its map
        # unchanged, so the shared view must not count it as taken.
        avoid: set[str] = set()
        for _attempt in range(self.cfg.retries + 1):
            seats = self.view.pick(rec.quantity, self.rng, avoid)
            if not seats and avoid and len(self.view.taken) < self.view.total:
                avoid.clear()
                await asyncio.sleep(0.2)
                continue
            if not seats:
                rec.outcome = "sold out"
                break
            got = await line.call("hold", "POST", self.holds_path, {"seatIds": seats})
            if got is None:
                continue
            status, body = got
            if status == 409:  # booked: for good
                self.view.taken.update(body.get("seatIds") or seats)
                continue
            if status == 423:
                avoid.update([s["id"] for s in body.get("seats", ())] or seats)
                continue
            if status != 201:
                rec.outcome = f"hold {status} {body.get('code')}"
                break
            self.view.taken.update(seats)
            booked = await self.book(buyer, line, seats)
            if not booked:
                rec.outcome = "booking failed"
                await line.call("release", "DELETE", self.holds_path)
            break
        else:
            rec.outcome = "gave up"
        if not booked:
            await line.call("leave", "DELETE", self.queue_path)  # frees the slot
        rec.done_ms = time.time() * 1000

    async def book(self, buyer: Buyer, line: Line, seats: list[str]) -> bool:
        for again in range(BOOK_RETRIES + 1):
            got = await line.call("book", "POST", self.books_path, {"seatIds": seats})
            if got is not None and got[0] == 201:
                at = time.time()
                for row in got[1]["bookings"]:
                    self.out.bookings.append((buyer.plan.user_id, row["seat"]["id"], row["id"], at))
                buyer.rec.outcome, buyer.rec.seats = "booked", len(got[1]["bookings"])
                return True
            if got is None or got[0] != 423 or again == BOOK_RETRIES:
                return False
            await asyncio.sleep(0.05 * 2**again)
        return False

    async def ask_unfinished(self) -> None:
        """Past the deadline: where do the buyers still waiting stand? (Admitted but never
        told would be a lost message.)"""
        gate = asyncio.Semaphore(50)

        async def ask(buyer: Buyer) -> None:
            async with gate:
                line = Line(self.plan.base_url, buyer.plan.token, self.out)
                got = await line.call("final", "GET", self.queue_path)
                await line.close()
            if got is not None and got[0] == 200:
                buyer.learn(got[1], time.time() * 1000, "deadline")
                buyer.rec.outcome += f", at the end {got[1].get('state')}"

        await asyncio.gather(
            *(ask(b) for b in self.buyers if b.rec.outcome in ("waiting", "join failed"))
        )

    async def sale(self) -> None:
        """Pre-queue buyers join at their times in the window; post-start ones one after
        another (each join answered before the next is sent: their order is exact)."""
        opens = self.on_sale_ms / 1000
        window = opens - self.cfg.join_seconds
        tasks: list[asyncio.Task[None]] = []

        async def at(when: float, buyer: Buyer) -> None:
            await asyncio.sleep(max(0.0, when - time.time()))
            await buyer.run()

        chain = sorted(
            (b for b in self.buyers if b.plan.post_start), key=lambda b: b.plan.join_at_s
        )

        async def post_start() -> None:
            for i, buyer in enumerate(chain):
                await asyncio.sleep(max(0.0, opens + buyer.plan.join_at_s - time.time()))
                buyer.rec.chain = i
                tasks.append(asyncio.create_task(buyer.run()))
                await buyer.join_done.wait()

        for buyer in self.buyers:
            if not buyer.plan.post_start:
                tasks.append(asyncio.create_task(at(window + buyer.plan.join_at_s, buyer)))
        chain_task = asyncio.create_task(post_start())
        deadline = self.on_sale_ms / 1000 + self.cfg.deadline_s
        await asyncio.wait({chain_task}, timeout=max(0.0, deadline - time.time()))
        while tasks and time.time() < deadline:
            pending = [t for t in tasks if not t.done()]
            if not pending:
                break
            await asyncio.wait(pending, timeout=max(0.0, deadline - time.time()))
        for task in [chain_task, *tasks]:
            task.cancel()
        await asyncio.gather(chain_task, *tasks, return_exceptions=True)
        await self.ask_unfinished()
        if self.map is not None:
            self.map.close()
        await asyncio.sleep(0.1)


LAG_PROBE_S = 0.05


async def _probe_lag(samples: list[float]) -> None:
    """The client process's own event-loop lag, until cancelled: how late a 50 ms sleep
    wakes. Every latency this process measures includes it, so when it is large the
    figure is the client's as much as the server's (they share the machine's cores)."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(LAG_PROBE_S)
        samples.append((loop.time() - start - LAG_PROBE_S) * 1000)


async def _run_process(plan: ProcessPlan) -> ProcessOutcome:
    shop = Shop(plan)
    await shop.open()
    control = Path(plan.control_dir)
    await asyncio.to_thread((control / f"ready-{os.getpid()}").touch)
    go = control / "go"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if await asyncio.to_thread(go.exists):
            break
        await asyncio.sleep(0.05)
    shop.on_sale_ms = float(json.loads(go.read_text())["onSaleAt"])
    probe = asyncio.create_task(_probe_lag(shop.out.loop_lag_ms))
    try:
        await shop.sale()
    finally:
        probe.cancel()
    shop.out.records = [b.rec for b in shop.buyers]
    return shop.out


def _process_main(plan: ProcessPlan) -> ProcessOutcome:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * len(plan.buyers) + 1024  # a socket and a connection each
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, want)), hard))
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    started = time.process_time()
    out = asyncio.run(_run_process(plan))
    out.cpu_s = time.process_time() - started
    return out


# ------------------------------------------------------------------ the parent


def _iso(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


async def create_event(
    base_url: str, organiser: Account, seats: int, cfg: RoomConfig, name: str
) -> dict[str, Any]:
    """An event with a waiting room, on sale tomorrow until `run_room` sets the time."""
    body = {
        "name": name,
        "layout": layout_for(seats),
        "maxSeatsPerUser": 4,
        "onSaleAt": _iso(time.time() * 1000 + 86_400_000),
        "waitingRoom": {
            "enabled": True,
            "maxShoppers": cfg.max_shoppers,
            "shopperSeconds": cfg.shopper_seconds,
        },
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
        response = await client.post("/events", json=body, headers=organiser.headers)
        response.raise_for_status()
        event = dict(response.json())
        if "seats" not in event:  # a large event's 201 names it only: read it
            got = await client.get(f"/events/{event['id']}", headers=organiser.headers)
            event = dict(got.raise_for_status().json())
        return event


def seat_rows(event: dict[str, Any]) -> list[list[str]]:
    rows: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for seat in event["seats"]:
        rows[(seat["section"], seat["row"])].append((int(seat["number"]), seat["id"]))
    return [[sid for _, sid in sorted(r)] for r in rows.values()]


class Sampler(threading.Thread):
    """The organiser's `GET …/queue/summary`, every `every` seconds until `stop()`."""

    def __init__(self, base_url: str, event_id: str, organiser: Account, every: float) -> None:
        super().__init__(daemon=True)
        self.url = f"{base_url}/events/{event_id}/queue/summary"
        self.headers, self.every = organiser.headers, every
        self.samples: list[tuple[float, int, int, int]] = []  # at ms, waiting, shopping, total
        self.failures = 0
        self._halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10, headers=self.headers) as client:
            while not self._halt.is_set():
                try:
                    s = client.get(self.url).raise_for_status().json()
                    at = time.time() * 1000
                    self.samples.append((at, s["waiting"], s["shopping"], s["admittedTotal"]))
                except httpx.HTTPError:
                    self.failures += 1
                self._halt.wait(self.every)

    def stop(self) -> dict[str, Any]:
        self._halt.set()
        self.join(timeout=15)
        return dict(httpx.get(self.url, headers=self.headers, timeout=30).json())


def plans(
    base_url: str, event: dict[str, Any], buyers: Sequence[Account], cfg: RoomConfig, control: str
) -> list[ProcessPlan]:
    """Who is a polling buyer, who joins after the opening (all in the first process, so
    one sequence orders them), how many seats each wants, when each joins."""
    rng = random.Random(cfg.seed)
    order = list(buyers)
    rng.shuffle(order)
    n_post = round(len(order) * cfg.post_start_share)
    spacing = cfg.post_start_seconds / max(1, n_post)
    count = max(1, min(cfg.processes, len(order)))
    shares: list[list[BuyerPlan]] = [[] for _ in range(count)]
    for i, account in enumerate(order):
        post = i < n_post
        plan = BuyerPlan(
            user_id=account.id,
            token=account.token,
            quantity=rng.randint(1, 4),
            poll=rng.random() < cfg.poll_share,
            post_start=post,
            join_at_s=1.0 + i * spacing if post else rng.uniform(0, cfg.join_seconds - 0.5),
        )
        target = 0 if post else min(range(count), key=lambda p: len(shares[p]))
        shares[target].append(plan)
    rows = seat_rows(event)
    return [
        ProcessPlan(base_url, event["id"], rows, share, cfg, control, cfg.seed * 100 + i)
        for i, share in enumerate(shares)
    ]


def _wait_ready(control: str, futures: list[Future[ProcessOutcome]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len([f for f in os.listdir(control) if f.startswith("ready-")]) >= len(futures):
            return
        for f in futures:
            if f.done() and f.exception() is not None:
                raise RuntimeError(f"a client process failed: {f.exception()}")
        time.sleep(0.2)
    raise RuntimeError(f"client processes not connected within {timeout:.0f} s")


def run_room(
    base_url: str,
    event: dict[str, Any],
    organiser: Account,
    buyers: Sequence[Account],
    cfg: RoomConfig,
) -> dict[str, Any]:
    """The on-sale: connect everyone, set `onSaleAt`, let them join and buy; the figures."""
    with tempfile.TemporaryDirectory(prefix="onsale-") as control:
        process_plans = plans(base_url, event, buyers, cfg, control)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(process_plans), mp_context=ctx) as pool:
            futures = [pool.submit(_process_main, p) for p in process_plans]
            _wait_ready(control, futures, timeout=120 + len(buyers) / 50)
            on_sale_ms = int(time.time() * 1000 + (SETTLE_S + cfg.join_seconds) * 1000)
            httpx.patch(
                f"{base_url}/events/{event['id']}",
                json={"onSaleAt": _iso(on_sale_ms)},
                headers=organiser.headers,
                timeout=30,
            ).raise_for_status()
            sampler = Sampler(base_url, event["id"], organiser, cfg.sample_s)
            sampler.start()
            (Path(control) / "go.tmp").write_text(json.dumps({"onSaleAt": on_sale_ms}))
            (Path(control) / "go.tmp").rename(Path(control) / "go")
            try:
                outcomes = [f.result() for f in futures]
            finally:
                final = sampler.stop()
    seats = sum(len(r) for r in process_plans[0].rows)
    return figures(outcomes, sampler, final, on_sale_ms, cfg, seats)


# ------------------------------------------------------------------ figures


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson's over the ranks, ties averaged)."""
    if len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return cov / var if var else None


def figures(
    outcomes: Sequence[ProcessOutcome],
    sampler: Sampler,
    final: dict[str, Any],
    on_sale_ms: int,
    cfg: RoomConfig,
    seats: int,
) -> dict[str, Any]:
    records = [r for o in outcomes for r in o.records]
    requests = [q for o in outcomes for q in o.requests]
    bookings = [b for o in outcomes for b in o.bookings]
    window_ms = cfg.shopper_seconds * 1000

    def admitted_at(r: BuyerRecord) -> float:
        assert r.admitted_until_ms is not None
        return r.admitted_until_ms - window_ms

    admitted = [r for r in records if r.admitted_until_ms is not None]
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    # Holds and bookings by the second after the opening they were sent in: where the
    # slow ones are (the opening's burst, or all along).
    by_second: dict[str, dict[int, list[float]]] = {
        "hold": defaultdict(list),
        "book": defaultdict(list),
    }
    for endpoint, status, ms, sent_ms in requests:
        statuses[endpoint][status] += 1
        if endpoint in ("hold", "book", "join", "leave") and status:
            by_endpoint[endpoint].append(ms)
        if endpoint in by_second and status:
            by_second[endpoint][max(0, int((sent_ms - on_sale_ms) // 1000))].append(ms)
    booked_seats = {seat for _, seat, _, _ in bookings}
    last_booking = max((at for *_, at in bookings), default=None)
    sold_out = len(booked_seats) == seats and last_booking is not None
    sell_out_s = round(last_booking - on_sale_ms / 1000, 3) if sold_out and last_booking else None

    # Fairness: pre-queue joiners, join order against admission order.
    pre = [r for r in admitted if r.pre_queue and r.join_sent_ms is not None]
    rho = spearman([r.join_sent_ms or 0.0 for r in pre], [admitted_at(r) for r in pre])
    chain = sorted(
        (r for r in admitted if r.chain >= 0 and r.pre_queue is False), key=lambda r: r.chain
    )
    steps_back = sum(1 for a, b in itertools.pairwise(chain) if admitted_at(b) < admitted_at(a))
    last_pre = max((admitted_at(r) for r in pre), default=None)
    ahead_of_pre = sum(1 for r in chain if last_pre is not None and admitted_at(r) < last_pre)

    def told(how: str) -> list[float]:
        return [(r.told_ms or 0) - admitted_at(r) for r in admitted if r.told_by == how]

    # Little's law over the sale (opening to last booking), after the opening's burst
    # (every slot filled at once): shopping L = admission rate x time in the shop W.
    end_ms = last_booking * 1000 if last_booking else on_sale_ms + 1
    phase = [r for r in admitted if on_sale_ms <= admitted_at(r) <= end_ms]
    first_tick = min((admitted_at(r) for r in phase), default=on_sale_ms)
    later = [r for r in phase if admitted_at(r) > first_tick]
    span_s = max(1e-3, (end_ms - first_tick) / 1000)
    rate = len(later) / span_s
    stays = [(r.done_ms or 0) - admitted_at(r) for r in phase if r.done_ms is not None]
    mean_w = statistics.fmean(stays) / 1000 if stays else None
    in_phase = [s for s in sampler.samples if first_tick <= s[0] <= end_ms]
    mean_l = statistics.fmean(s[2] for s in in_phase) if in_phase else None

    unseen = sum(
        1
        for r in records
        if r.admitted_until_ms is None and not r.outcome.endswith(("waiting", "none"))
    )
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(sampler.samples)]
    errors: Counter[str] = Counter()
    for o in outcomes:
        errors.update(o.errors)
    distinct = len(admitted)
    return {
        "buyers": len(records),
        "seats": seats,
        "config": cfg.__dict__,
        "on_sale_at_ms": on_sale_ms,
        "sockets": {
            "connected": sum(o.sockets for o in outcomes),
            "failed": sum(o.socket_failures for o in outcomes),
            "connect_s": round(max(o.connect_s for o in outcomes), 1),
            "closed_while_waiting": sum(1 for r in records if r.socket_closed),
            "queue_messages": sum(r.queue_messages for r in records),
        },
        "sold_out": sold_out,
        "seats_booked": len(booked_seats),
        "time_to_sell_out_s": sell_out_s,
        "latency": {e: latency_summary(v) for e, v in sorted(by_endpoint.items())},
        "latency_by_second": {
            e: {str(k): latency_summary(v) for k, v in sorted(seconds.items())}
            for e, seconds in by_second.items()
        },
        "status_counts": {
            e: {str(k): v for k, v in sorted(c.items())} for e, c in sorted(statuses.items())
        },
        "server_errors_5xx": sum(n for c in statuses.values() for s, n in c.items() if s >= 500),
        "transport_errors": dict(errors),
        "queue_message_ms": {
            "socket": latency_summary(told("socket")),
            "poll": latency_summary(told("poll")),
            "told_after_silence": len(told("silence")),
        },
        "admitted": {
            "buyers": distinct,
            "server_total": final.get("admittedTotal"),
            "twice_by_clients": sum(1 for r in records if r.windows > 1),
            # admittedTotal over the buyers who saw their admission: admitted twice, or
            # admitted after the client had given up (its join failed) or while it could
            # not hear (its place was lost unseen); only the excess over those is certain.
            "server_total_over_clients": (final.get("admittedTotal") or 0) - distinct,
            "lost_unseen": unseen,
            "twice_by_server": max(0, (final.get("admittedTotal") or 0) - distinct - unseen),
            "never": sum(1 for r in records if r.admitted_until_ms is None),
        },
        "shoppers": {
            "max_shoppers": cfg.max_shoppers,
            "max_sampled": max((s[2] for s in sampler.samples), default=None),
            "samples": len(sampler.samples),
            "sample_failures": sampler.failures,
            "longest_gap_s": round(max(gaps, default=0) / 1000, 1),
        },
        "fairness": {
            "pre_queue_admitted": len(pre),
            "spearman_join_vs_admission": None if rho is None else round(rho, 4),
            "band_95": round(1.96 / math.sqrt(len(pre) - 1), 4) if len(pre) > 1 else None,
            "late_pre_queue_joins": sum(
                1 for r in records if not r.post_start and r.pre_queue is False
            ),
        },
        "fifo_after_start": {
            "joiners_admitted": len(chain),
            "admitted_out_of_join_order": steps_back,
            "admitted_before_a_pre_queue_joiner": ahead_of_pre,
            "exact": steps_back == 0 and ahead_of_pre == 0,
        },
        "littles_law": {
            "after_opening_s": round(span_s, 2),
            "admissions_per_s": round(rate, 1),
            "time_in_shop_s": None if mean_w is None else round(mean_w, 3),
            "mean_shopping_sampled": None if mean_l is None else round(mean_l, 1),
            "rate_times_time": None if mean_w is None else round(rate * mean_w, 1),
            "predicted_admissions_per_s": (
                None if not mean_w else round(cfg.max_shoppers / mean_w, 1)
            ),
        },
        "outcomes": {
            kind: dict(Counter(r.outcome for r in records if r.poll == (kind == "polling")))
            for kind in ("socket", "polling")
        },
        "client_cpu_s": round(sum(o.cpu_s for o in outcomes), 2),
        "client_loop_lag_ms": latency_summary([x for o in outcomes for x in o.loop_lag_ms]),
        "samples": [list(s) for s in sampler.samples],
        "_bookings": bookings,
        "_records": records,
        "_requests": requests,
    }


STALL = "event loop stalled"
MAX_STALLS_KEPT = 50


def log_digest(text: str, top: int = 6) -> dict[str, Any]:
    """The server log's warnings and errors, counted by message with ids, numbers and
    times masked: what went wrong in the server during the run, in a few lines."""
    kinds: Counter[str] = Counter()
    for line in text.splitlines():
        level = next((lv for lv in ("ERROR", "WARNING", "CRITICAL") if f"{lv} " in line), None)
        if level is None:
            continue
        message = line.split(" - ", 3)[-1]
        message = re.sub(r"\[request_id=\w+\]|[0-9a-f-]{36}|\d+(\.\d+)?", "#", message)
        kinds[f"{level}: {message.strip()[:160]}"] += 1
    # The loop's stalls (LOOP_STALL_LOG_MS) whole, stacks and all, for the results file.
    stalls = [line.strip() for line in text.splitlines() if STALL in line]
    return {
        "lines": sum(kinds.values()),
        "most_common": kinds.most_common(top),
        "stalls": stalls[:MAX_STALLS_KEPT],
    }


def _pair(lat: dict[str, Any] | None) -> str:
    return "-" if not lat or not lat.get("count") else f"{lat['p50_ms']}/{lat['p99_ms']} ms"


def report_lines(r: dict[str, Any]) -> list[str]:
    """The run in words, for the console."""
    cfg, adm, fair, fifo, law = (
        r["config"],
        r["admitted"],
        r["fairness"],
        r["fifo_after_start"],
        r["littles_law"],
    )
    lat, told, shop = r["latency"], r["queue_message_ms"], r["shoppers"]
    sold = (
        f"sold out ({r['seats']} seats) {r['time_to_sell_out_s']} s after onSaleAt"
        if r["sold_out"]
        else f"NOT sold out: {r['seats_booked']} of {r['seats']} seats booked"
    )
    return [
        f"  on-sale: {r['buyers']} buyers ({r['sockets']['connected']} on sockets, connected in "
        f"{r['sockets']['connect_s']} s); {sold}",
        f"    admitted hold p50/p99 {_pair(lat.get('hold'))}, book {_pair(lat.get('book'))} "
        "(target p99 < 300 ms); join "
        f"{_pair(lat.get('join'))}; the clients' own loop lag "
        f"{_pair(r.get('client_loop_lag_ms'))}",
        "    hold by second after the opening (n p50/p99): "
        + ", ".join(
            f"{k}s {v['count']} {v['p50_ms']:.0f}/{v['p99_ms']:.0f}"
            for k, v in list(r.get("latency_by_second", {}).get("hold", {}).items())[:12]
        ),
        f"    queue message, admission to client: socket {_pair(told['socket'])}, polling "
        f"{_pair(told['poll'])}; {told['told_after_silence']} told only after {SILENT_S:.0f} s "
        "of silence",
        f"    admitted {adm['buyers']} (server admittedTotal {adm['server_total']}; "
        f"{adm['lost_unseen']} places lost unseen), twice: {adm['twice_by_clients']} by "
        f"clients, {adm['twice_by_server']} by the server's count; never {adm['never']}",
        f"    shoppers at most {shop['max_sampled']} in {shop['samples']} samples "
        f"(maxShoppers {shop['max_shoppers']}; longest gap {shop['longest_gap_s']} s)",
        f"    fairness: Spearman {fair['spearman_join_vs_admission']} between join and admission "
        f"order of {fair['pre_queue_admitted']} pre-queue joiners (a fair draw: within "
        f"±{fair['band_95']}, 95 %); after the start {fifo['joiners_admitted']} joiners, "
        f"{fifo['admitted_out_of_join_order']} out of order, "
        f"{fifo['admitted_before_a_pre_queue_joiner']} ahead of a pre-queue joiner",
        f"    Little's law: maxShoppers {cfg['max_shoppers']} (shopperSeconds "
        f"{cfg['shopper_seconds']}); W, admission to booked or gone, "
        f"{law['time_in_shop_s']} s: a full room admits maxShoppers / W = "
        f"{law['predicted_admissions_per_s']}/s; measured after the opening's burst "
        f"{law['admissions_per_s']}/s, {law['mean_shopping_sampled']} shopping on average "
        f"(rate x W = {law['rate_times_time']})",
        f"    status {r['status_counts']}  5xx={r['server_errors_5xx']}  "
        f"errors={r['transport_errors']}",
        f"    outcomes {r['outcomes']}",
    ]
