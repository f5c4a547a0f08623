"""GET /ws/events/{id}: a snapshot on connect, then batched seat changes.

One task reads the client (auth, ping), one writes (snapshots, batches, heartbeats);
only the writer sends. Identity comes from a first message `{"type": "auth", "token"}`,
never from the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar.params import FromPath
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from backend.booking.events import EventService, effective_status
from backend.live.hub import LiveHub, Watcher
from backend.settings import Settings
from backend.timefmt import iso_from_ms
from backend.web.deps import decode_user_id

log = logging.getLogger("boxoffice.live")

WS_1000_NORMAL_CLOSURE = 1000
WS_1001_GOING_AWAY = 1001
WS_1003_UNSUPPORTED_DATA = 1003
WS_1008_POLICY_VIOLATION = 1008
WS_1009_MESSAGE_TOO_BIG = 1009
WS_4400_BAD_EVENT_ID = 4400
WS_4404_UNKNOWN_EVENT = 4404
WS_4429_TOO_MANY_MESSAGES = 4429

MAX_INBOUND_BYTES = 4096
RATE_PER_SECOND = 5.0
RATE_BURST = 20.0


def origin_allowed(headers: Any, allowed: tuple[str, ...]) -> bool:
    """Same-origin sockets, configured origins and non-browser clients (no Origin)."""
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    parsed = urlsplit(origin)
    if parsed.netloc and parsed.netloc.lower() == host.lower():
        return True
    return origin.rstrip("/") in {o.rstrip("/") for o in allowed}


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def snapshot_seats(rows: list[dict[str, Any]], now: int, user_id: str | None) -> list[dict[str, Any]]:
    seats = []
    for row in rows:
        status = effective_status(row, now)
        seat: dict[str, Any] = {"id": str(row["id"]), "status": status, "version": int(row["version"])}
        if status == "held":
            seat["heldUntil"] = iso_from_ms(row["held_until_ms"])
        if user_id is not None and status != "available" and str(row["holder"]) == user_id:
            seat["mine"] = True
        seats.append(seat)
    return seats


class Session:
    def __init__(
        self, socket: WebSocket[Any, Any, Any], event_id: FromPath[str], hub: LiveHub, events: EventService,
        settings: Settings,
    ) -> None:
        self.socket = socket
        self.event_id = event_id
        self.hub = hub
        self.events = events
        self.settings = settings
        self.watcher: Watcher = hub.watch(event_id, None)
        self.control: list[bytes] = []
        self.closing: tuple[int, str] | None = None

    def send_control(self, message: dict[str, Any]) -> None:
        self.control.append(msgspec.json.encode(message))
        self.watcher.wake.set()

    def close(self, code: int, reason: str) -> None:
        self.closing = (code, reason)
        self.watcher.wake.set()

    async def snapshot(self) -> bytes:
        rows, now = await self.events.states(self.event_id)
        return msgspec.json.encode(
            {
                "type": "snapshot",
                "eventId": self.event_id,
                "seats": snapshot_seats(rows, now, self.watcher.user_id),
            }
        )

    async def writer(self) -> None:
        heartbeat = self.settings.ws_heartbeat_seconds
        watcher = self.watcher
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(watcher.wake.wait(), heartbeat)
            watcher.wake.clear()
            if self.control:
                pending, self.control = self.control, []
                for data in pending:
                    await self.socket.send_text(data.decode())
            if self.closing is not None:
                return
            if watcher.needs_snapshot:
                # Anything queued so far is covered by the snapshot read after it.
                watcher.needs_snapshot = False
                watcher.queue.clear()
                await self.socket.send_text((await self.snapshot()).decode())
            elif not watcher.queue:
                await self.socket.send_text('{"type":"heartbeat"}')
                continue
            while watcher.queue:
                await self.socket.send_text(watcher.queue.popleft().decode())

    async def reader(self) -> None:
        bucket = TokenBucket(RATE_PER_SECOND, RATE_BURST)
        while True:
            raw = await self.socket.receive_data(mode="text")
            if len(raw) > MAX_INBOUND_BYTES:
                self.close(WS_1009_MESSAGE_TOO_BIG, "message too large")
                return
            if not bucket.take():
                self.close(WS_4429_TOO_MANY_MESSAGES, "too many messages")
                return
            try:
                message = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                self.send_control({"type": "error", "code": "bad_json", "message": "messages must be JSON"})
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "ping":
                self.send_control({"type": "pong"})
            elif kind == "auth":
                self.authenticate(message.get("token"))
            else:
                self.send_control(
                    {"type": "error", "code": "unknown_type",
                     "message": "expected a message of type auth or ping"}
                )

    def authenticate(self, token: Any) -> None:
        user_id = decode_user_id(token, self.settings.jwt_secret) if isinstance(token, str) else None
        if user_id is None:
            self.send_control({"type": "error", "code": "bad_token", "message": "invalid or expired token"})
            return
        # The hub groups watchers by user at each flush, so from now on batches carry
        # `mine` for this user; a fresh snapshot brings the current ones.
        self.watcher.user_id = user_id
        self.send_control({"type": "auth", "userId": user_id})
        self.watcher.needs_snapshot = True


@websocket("/ws/events/{event_id:str}", opt={"exclude_from_auth": True})
async def event_socket(socket: WebSocket[Any, Any, Any], event_id: FromPath[str]) -> None:
    """Live seat map for one event."""
    state = socket.app.state
    settings: Settings = state.settings
    if not origin_allowed(socket.headers, settings.allowed_origins):
        # Closing before accept refuses the handshake (HTTP 403).
        await socket.close(code=WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    await socket.accept()
    try:
        eid = str(uuid.UUID(event_id))
    except ValueError:
        await socket.close(code=WS_4400_BAD_EVENT_ID, reason="event id must be a UUID")
        return
    events: EventService = state.events
    if await events.find(eid) is None:
        await socket.close(code=WS_4404_UNKNOWN_EVENT, reason="unknown event")
        return
    session = Session(socket, eid, state.hub, events, settings)
    reader = asyncio.create_task(session.reader())
    writer = asyncio.create_task(session.writer())
    try:
        done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect):
                log.warning("websocket session ended with %r", exc)
        if session.closing is not None:
            with contextlib.suppress(Exception):
                await socket.close(code=session.closing[0], reason=session.closing[1])
    finally:
        reader.cancel()
        writer.cancel()
        for task in (reader, writer):
            with contextlib.suppress(BaseException):
                await task
        state.hub.unwatch(session.watcher)
        with contextlib.suppress(Exception):
            await socket.close(code=WS_1000_NORMAL_CLOSURE)
