"""A live seat-map watcher for chaos runs: `tests.support.watcher.SeatMap` on a socket
that survives faults.

It applies a change only if it is newer than what it shows (versions only grow), and,
unlike the tests' one-tab `Watcher`, reconnects with backoff when the server closes or goes away,
as the browser does. `pause(seconds)` makes it a slow reader: it stops reading, and with
a tiny receive buffer the server's send path fills up quickly, so the server's per-socket
backlog cap (and its snapshot-instead-of-backlog rule) is what keeps it bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.support.watcher import SeatMap

START_SECONDS = 10.0


class SeatWatcher:
    def __init__(
        self,
        ws_base: str,
        event_id: str,
        name: str,
        token: str | None = None,
        small_buffer: bool = False,
    ) -> None:
        self.url = f"{ws_base}/ws/events/{event_id}"
        self.event_id = event_id
        self.name = name
        self.token = token
        self.small_buffer = small_buffer
        self.map = SeatMap()  # the browser's rule: only newer versions are applied
        self.snapshots = 0
        self.batches = 0
        self.heartbeats = 0
        self.connects = 0
        self.close_codes: list[int | None] = []
        self.errors: list[str] = []
        self.last_message_at = 0.0
        self._paused_until = 0.0
        self._stop = asyncio.Event()
        self._snapshot = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> SeatWatcher:
        """Connect; return once the first snapshot is in (TimeoutError after START_SECONDS)."""
        self._task = asyncio.create_task(self._run(), name=f"watcher-{self.name}")
        await asyncio.wait_for(self._snapshot.wait(), START_SECONDS)
        return self

    async def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    def pause(self, seconds: float) -> None:
        """Stop reading for `seconds` (a slow or stalled client)."""
        self._paused_until = time.monotonic() + seconds

    def view(self) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "seats": {
                sid: {"status": s["status"], "version": s["version"]}
                for sid, s in self.map.seats.items()
            },
        }

    # ---------------------------------------------------------------- reading

    def _socket(self) -> socket.socket | None:
        if not self.small_buffer:
            return None
        parts = urlsplit(self.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        sock.setblocking(False)
        return sock

    async def _run(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                sock = self._socket()
                async with connect(
                    self.url,
                    sock=sock,
                    max_queue=1 if self.small_buffer else 64,
                    open_timeout=5,
                    ping_interval=None,
                    max_size=8 * 1024 * 1024,
                ) as ws:
                    self._ws = ws
                    self.connects += 1
                    delay = 0.1
                    if self.token:
                        await ws.send(json.dumps({"type": "auth", "token": self.token}))
                    while not self._stop.is_set():
                        wait = self._paused_until - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                            continue
                        self._apply(json.loads(await ws.recv()))
            except ConnectionClosed as exc:
                self.close_codes.append(exc.rcvd.code if exc.rcvd else None)
            except (TimeoutError, OSError, InvalidHandshake, InvalidStatus) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            finally:
                self._ws = None
            if self._stop.is_set():
                return
            # Reconnect with backoff, like the browser; the next snapshot resyncs.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(delay * 2, 1.0)

    def _apply(self, message: dict[str, Any]) -> None:
        self.last_message_at = time.monotonic()
        kind = message.get("type")
        if kind == "snapshot":
            self.snapshots += 1
            self.map.load(message.get("seats", []))
            self._snapshot.set()
        elif kind == "seats":
            self.batches += 1
            for change in message.get("changes", []):
                self.map.apply(change)
        elif kind == "heartbeat":
            self.heartbeats += 1


def differences(watcher: SeatWatcher, truth: dict[str, dict[str, Any]]) -> int:
    """How many seats the watcher shows differently from `truth` ({id: {status, version}})."""
    view = watcher.view()["seats"]
    return sum(
        1
        for sid in set(view) | set(truth)
        if (view.get(sid) or {}).get("version") != (truth.get(sid) or {}).get("version")
        or (view.get(sid) or {}).get("status") != (truth.get(sid) or {}).get("status")
    )
