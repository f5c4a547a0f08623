"""A websocket seat-map client for tests, benchmarks and chaos runs, and the convergence check.

    async with Watcher(server.ws_url, event_id, token=user["token"]) as tab:
        await tab.wait_for_seat(seat_id, timeout=1.0, status="held", mine=True)
    await converges_with_db([tab, ...], api_truth(server.url))

* `SeatMap` is the browser's rule: a change is applied only if its version is newer
  than the one shown; a snapshot replaces a seat unless the seat shows a newer version.
* `Watcher` keeps a `SeatMap` from a live socket (`GET /ws/events/{id}`), signs in with
  a first `auth` message when given a token, and records when each change arrived
  (`arrivals`, `updated_at`). `Watcher(..., stalled=True)` is a tab that stops reading
  until `resume()`.
* `api_truth(http_url)` and `db_truth(dsn)` read what a watcher should show, from
  `GET /events/{id}` (as that watcher's user) or straight from PostgreSQL.
* `differences(view, truth)` lists seat-by-seat mismatches; `converges_with_db(...)`
  waits (with a deadline) until every watcher's map equals the truth.

A seat's state is compared as `{"status", "version", "heldUntil", "mine"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

SeatState = dict[str, Any]
SeatView = dict[str, SeatState]
Truth = Callable[["Watcher"], Awaitable[SeatView]]


def seat_state(seat: dict[str, Any]) -> SeatState:
    """The fields a seat map shows, from a snapshot seat, a change or `GET /events/{id}`."""
    return {
        "status": seat["status"],
        "version": int(seat["version"]),
        "heldUntil": seat.get("heldUntil") if seat["status"] == "held" else None,
        "mine": bool(seat.get("mine", False)),
    }


class SeatMap:
    """One event's seats as a client shows them; only newer versions are applied."""

    def __init__(self) -> None:
        self.seats: SeatView = {}

    def load(self, seats: Iterable[dict[str, Any]]) -> None:
        """Apply a snapshot: it replaces each seat unless the map already shows a newer version."""
        fresh: SeatView = {}
        for seat in seats:
            state = seat_state(seat)
            current = self.seats.get(seat["id"])
            keep = current is not None and current["version"] > state["version"]
            fresh[seat["id"]] = current if keep and current is not None else state
        self.seats = fresh

    def apply(self, change: dict[str, Any]) -> bool:
        """Apply one change if it is newer than what is shown; return whether it was."""
        current = self.seats.get(change["id"])
        if current is not None and int(change["version"]) <= current["version"]:
            return False
        self.seats[change["id"]] = seat_state(change)
        return True


@dataclass(frozen=True)
class Arrival:
    """One change as received: when (time.time()), what, and whether it was newer."""

    at: float
    seat: dict[str, Any]
    applied: bool


class Watcher:
    """An asyncio websocket client keeping one event's seat map.

    `base_url` is the server's ws:// address (`LiveServer.ws_url`). With a `token` it
    signs in by its first message; `start()` returns once the map holds a snapshot
    (the signed-in one, with `mine`, when a token was given).

    A `stalled` watcher is a tab that stops reading: a tiny receive buffer, a one-frame
    queue, and no reading at all until `resume()`, so the server's sends to it block.
    """

    def __init__(
        self,
        base_url: str,
        event_id: str,
        *,
        token: str | None = None,
        origin: str | None = None,
        name: str = "",
        stalled: bool = False,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/ws/events/{event_id}"
        self.event_id = event_id
        self.token = token
        self.origin = origin
        self.name = name or ("anonymous" if token is None else "signed-in")
        self.stalled = stalled
        self.map = SeatMap()
        self.user_id: str | None = None
        self.snapshots = 0
        self.signed_snapshots = 0  # snapshots received after the `auth` answer
        self.snapshot_times: list[float] = []
        self.arrivals: list[Arrival] = []
        self.updated_at: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.errors: list[dict[str, Any]] = []
        self.queue: list[tuple[float, dict[str, Any]]] = []  # `queue` messages, arrival time
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._socket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def seats(self) -> SeatView:
        return self.map.seats

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    async def __aenter__(self) -> Watcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, timeout: float = 10.0) -> None:
        origin = Origin(self.origin) if self.origin is not None else None
        options: dict[str, Any] = {"origin": origin, "open_timeout": timeout, "max_size": 2**24}
        if self.stalled:
            # Uncompressed, so what the server sends fills the buffers byte for byte.
            options.update(
                sock=_small_socket(self.url), max_queue=1, ping_interval=None, compression=None
            )
        self._socket = await connect(self.url, **options)
        if self.stalled:
            if self.token is not None:
                await self.send({"type": "auth", "token": self.token})
            return
        await self.resume(timeout)

    async def resume(self, timeout: float = 10.0) -> None:
        """Start reading (at once, unless stalled); wait for the first snapshot."""
        assert self._socket is not None and self._reader is None
        self._reader = asyncio.create_task(self._read(self._socket), name=f"watcher-{self.name}")
        if self.token is not None and not self.stalled:
            await self.send({"type": "auth", "token": self.token})
        if self.token is not None:
            # The server answers `auth` and then sends the signed-in snapshot.
            await self.wait_until(lambda w: w.signed_snapshots >= 1, timeout)
        else:
            await self.wait_until(lambda w: w.snapshots >= 1, timeout)

    async def close(self) -> None:
        if self._socket is not None and self._reader is None:
            # Never read: a closing handshake would wait on the server's blocked sends.
            self._socket.transport.abort()
            self.close_code = 1006
        elif self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def send(self, message: dict[str, Any] | str) -> None:
        assert self._socket is not None, "start() the watcher first"
        await self._socket.send(message if isinstance(message, str) else json.dumps(message))

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                self._handle(json.loads(raw), time.time())
        except ConnectionClosed:
            pass
        finally:
            self.close_code = socket.close_code if socket.close_code is not None else 1006
            self.close_reason = socket.close_reason
            self._changed.set()

    def _handle(self, message: dict[str, Any], now: float) -> None:
        kind = message.get("type", "?")
        self.counts[kind] += 1
        if kind == "snapshot":
            self.map.load(message["seats"])
            for seat_id in self.map.seats:
                self.updated_at[seat_id] = now
            self.snapshots += 1
            self.signed_snapshots += self.user_id is not None
            self.snapshot_times.append(now)
        elif kind == "seats":
            for change in message["changes"]:
                applied = self.map.apply(change)
                self.arrivals.append(Arrival(now, change, applied))
                if applied:
                    self.updated_at[change["id"]] = now
        elif kind == "auth":
            self.user_id = message["userId"]
        elif kind == "error":
            self.errors.append(message)
        elif kind == "queue":
            self.queue.append((now, message))
        self._changed.set()

    async def wait_until(self, condition: Callable[[Watcher], bool], timeout: float) -> None:
        """Wait until `condition(self)` holds; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.closed and not condition(self)):
                raise AssertionError(
                    f"watcher {self.name}: condition not met within {timeout}s "
                    f"(closed={self.close_code}, messages={dict(self.counts)})"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for_seat(self, seat_id: str, timeout: float = 1.0, **expected: Any) -> float:
        """Wait until the seat shows `expected` (e.g. status="held", mine=True); return
        the time.time() at which that state arrived."""

        def shows(w: Watcher) -> bool:
            state = w.seats.get(seat_id)
            return state is not None and all(state.get(k) == v for k, v in expected.items())

        try:
            await self.wait_until(shows, timeout)
        except AssertionError:
            raise AssertionError(
                f"watcher {self.name}: seat {seat_id} is {self.seats.get(seat_id)}, "
                f"expected {expected} within {timeout}s"
            ) from None
        return self.updated_at[seat_id]

    async def wait_closed(self, timeout: float = 5.0) -> int:
        await self.wait_until(lambda w: w.closed, timeout)
        assert self.close_code is not None
        return self.close_code


def _small_socket(url: str) -> socket.socket:
    """A connected TCP socket that buffers as little as the kernel allows."""
    address = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((address.hostname or "127.0.0.1", address.port or 80))
    sock.setblocking(False)
    return sock


# ----------------------------------------------------------------- the truth


def api_truth(http_url: str) -> Truth:
    """What a watcher should show, from `GET /events/{id}` as the watcher's user."""

    async def read(watcher: Watcher) -> SeatView:
        headers = {}
        if watcher.user_id is not None and watcher.token is not None:
            headers["Authorization"] = f"Bearer {watcher.token}"
        async with httpx.AsyncClient(base_url=http_url, timeout=10) as client:
            response = await client.get(f"/events/{watcher.event_id}", headers=headers)
        response.raise_for_status()
        return {seat["id"]: seat_state(seat) for seat in response.json()["seats"]}

    return read


SEATS_SQL = """
SELECT id::text AS id, status, holder::text AS holder, held_until_ms, version,
       (extract(epoch from clock_timestamp()) * 1000)::bigint AS now
FROM bo_seat WHERE event = $1
"""


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def db_truth(dsn: str) -> Truth:
    """What a watcher should show, read straight from PostgreSQL: a hold past its end
    counts as available (as the API shows it before the sweeper reaches it)."""

    async def read(watcher: Watcher) -> SeatView:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(SEATS_SQL, watcher.event_id)
        finally:
            await conn.close()
        view: SeatView = {}
        for row in rows:
            status = row["status"]
            if status == "held" and (row["held_until_ms"] or 0) <= row["now"]:
                status = "available"
            mine = (
                status != "available"
                and watcher.user_id is not None
                and row["holder"] == watcher.user_id
            )
            view[row["id"]] = {
                "status": status,
                "version": int(row["version"]),
                "heldUntil": _iso(row["held_until_ms"]) if status == "held" else None,
                "mine": mine,
            }
        return view

    return read


def differences(view: SeatView, truth: SeatView) -> list[str]:
    """Seat-by-seat mismatches between what a watcher shows and the truth."""
    diffs = [f"seat {s}: missing from the watcher" for s in truth.keys() - view.keys()]
    diffs += [f"seat {s}: not in the event" for s in view.keys() - truth.keys()]
    diffs += [
        f"seat {s}: shows {view[s]}, truth {truth[s]}"
        for s in sorted(view.keys() & truth.keys())
        if view[s] != truth[s]
    ]
    return diffs


async def converges_with_db(
    watchers: Sequence[Watcher], truth: Truth, timeout: float = 2.0
) -> None:
    """Wait until every watcher's map equals the truth, seat by seat; AssertionError
    listing the differences if one does not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        report: list[str] = []
        for watcher in watchers:
            if watcher.closed:
                report.append(f"{watcher.name}: socket closed ({watcher.close_code})")
                continue
            diffs = differences(watcher.seats, await truth(watcher))
            if diffs:
                report.append(
                    f"{watcher.name}: {len(diffs)} seat(s) differ: " + "; ".join(diffs[:5])
                )
        if not report:
            return
        if time.monotonic() >= deadline:
            raise AssertionError("watchers did not converge:\n" + "\n".join(report))
        await asyncio.sleep(0.05)
