"""GET /ws/events/{id}: a snapshot on connect, then batched seat changes.

One task reads the client (auth, ping), one writes (snapshots, batches, heartbeats);
only the writer sends until the session ends. Identity comes from a first message
`{"type": "auth", "token": …}`, never from the URL.

`?encoding=compact` asks for the compact snapshot, for very large venues (the `seats`
change messages are the same either way):

    {"type": "snapshot", "eventId", "encoding": "compact", "count": n,
     "status": "aahb…",            one letter a seat: available, held, booked
     "version": "1,1,3,…",         each seat's version, comma separated
     "heldUntil": {"17": "…Z"},    live holds, by index
     "mine": [17]}                 the caller's seats, by index (after auth)

Seats are listed in map order, the order of `GET /events/{id}` (y, x, id): a 100,000-seat
snapshot is about 0.3 MB instead of 7.9 MB, and PostgreSQL builds it.

Close codes: 1008 origin refused (before the handshake completes, so HTTP 403),
4400 malformed event id, 4404 unknown event, 1009 message too large,
4429 too many messages, 1011 the server could not read the seat map, 4409 too many
sockets (per account, or anonymous ones per address), 4408 too slow: the client stopped
reading (the socket is dropped, so the client rarely sees the code).

Memory per socket is bounded: what the hub queues is capped (`WS_BACKLOG`), a message
is written a fragment at a time once the transport has room (frames.py), and a socket
whose send buffer stays over its high-water mark for `WS_STALL_SECONDS` is aborted.
Anonymous sockets are capped per client address (`WS_MAX_ANONYMOUS_PER_ADDRESS`, per
process); one over the cap has ANONYMOUS_GRACE_SECONDS to sign in (the browser sends
its token first thing) before it is closed with 4409.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, cast
from urllib.parse import urlsplit

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from backend.booking.events import EventService
from backend.live.frames import FrameSink, Stalled, frame_sink
from backend.live.hub import LiveHub, Watcher
from backend.live.queuefeed import QueueFeed
from backend.seats import live_seats
from backend.settings import Settings
from backend.timefmt import iso_from_ms
from backend.tokens import decode_user_id

log = logging.getLogger("boxoffice.live")

WS_1000_NORMAL_CLOSURE: Final = 1000
WS_1008_POLICY_VIOLATION: Final = 1008
WS_1009_MESSAGE_TOO_BIG: Final = 1009
WS_1011_INTERNAL_ERROR: Final = 1011
WS_4400_BAD_EVENT_ID: Final = 4400
WS_4404_UNKNOWN_EVENT: Final = 4404
WS_4429_TOO_MANY_MESSAGES: Final = 4429
WS_4409_TOO_MANY_CONNECTIONS: Final = 4409
WS_4408_TOO_SLOW: Final = 4408

MAX_INBOUND_BYTES: Final = 4096
RATE_PER_SECOND: Final = 5.0
RATE_BURST: Final = 20.0
CLOSE_GRACE_SECONDS: Final = 1.0  # for a last error message, and for the close frame
ANONYMOUS_GRACE_SECONDS: Final = 1.0  # an over-the-cap socket's chance to sign in
HEARTBEAT: Final = b'{"type":"heartbeat"}'


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


def snapshot_seats(
    rows: Sequence[Mapping[str, Any]], now: int, user_id: str | None
) -> list[dict[str, Any]]:
    return live_seats(rows, now, user_id)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


class Session:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        event_id: str,
        hub: LiveHub,
        events: EventService,
        settings: Settings,
        compact: bool = False,
        address: str | None = None,
        greet: Callable[[Watcher], Awaitable[None]] | None = None,
    ) -> None:
        self.socket = socket
        # After each snapshot: the waiting room's state for this socket (queuefeed.py).
        self.greet = greet
        self.event_id = event_id
        self.hub = hub
        self.events = events
        self.settings = settings
        self.compact = compact
        self.watcher: Watcher = hub.watch(event_id, None, address)
        self.control: list[bytes] = []
        self.closing: tuple[int, str] | None = None
        # Why a limit closed it (a label of the limit-closes metric), if one did.
        self.limit: str | None = None
        self.signed_in = asyncio.Event()
        self.sink: FrameSink | None = None  # the transport, where the server offers it

    def send_control(self, message: dict[str, Any]) -> None:
        self.control.append(msgspec.json.encode(message))
        self.watcher.wake.set()

    def close(self, code: int, reason: str) -> None:
        self.closing = (code, reason)
        self.watcher.wake.set()

    async def send(self, data: str | bytes) -> None:
        """Send one text message; Stalled if the client has not taken what it was sent
        before for WS_STALL_SECONDS."""
        stall = self.settings.ws_stall_seconds
        encoded = data.encode() if isinstance(data, str) else data
        if self.sink is not None:
            await self.sink.send(encoded, stall)
            return
        # No transport to watch (another ASGI server, the test client): the send itself,
        # which waits while the transport is paused, has the deadline.
        text = data if isinstance(data, str) else data.decode()
        try:
            async with asyncio.timeout(stall):
                await self.socket.send_text(text)
        except TimeoutError:
            raise Stalled(f"a send took over {stall}s") from None

    async def snapshot(self) -> bytes:
        if self.compact:
            return await self.compact_snapshot()
        # Watchers asking at the same time share one read (never one older than their
        # request); anonymous ones also share its encoding.
        (rows, now), memo = await self.hub.snapshot_reads.read(
            self.event_id, lambda: self.events.states(self.event_id)
        )
        user_id = self.watcher.user_id
        if user_id is None and None in memo:
            return cast(bytes, memo[None])
        seats = snapshot_seats(rows, now, user_id)
        message = {"type": "snapshot", "eventId": self.event_id, "seats": seats}
        # Bytes, shared by every anonymous socket of this read and sent as they are: a
        # socket that stops reading holds a reference to them, not a copy (frames.py).
        encoded = msgspec.json.encode(message)
        if user_id is None:
            memo[None] = encoded = self.hub.shared_snapshot(self.event_id, encoded)
        return encoded

    async def compact_snapshot(self) -> bytes:
        state, memo = await self.hub.snapshot_reads.read(
            f"{self.event_id}:compact", lambda: self.events.seat_map(self.event_id)
        )
        user_id = self.watcher.user_id
        if user_id is None and None in memo:
            return cast(bytes, memo[None])
        message = {
            "type": "snapshot",
            "eventId": self.event_id,
            "encoding": "compact",
            "count": state["count"],
            "status": state["status"],
            "version": state["versions"],
            "heldUntil": {str(i): iso_from_ms(until) for i, until in state["held"]},
            "mine": [i for i, holder in state["taken"] if holder == user_id] if user_id else [],
        }
        encoded = msgspec.json.encode(message)
        if user_id is None:
            key = f"{self.event_id}:compact"
            memo[None] = encoded = self.hub.shared_snapshot(key, encoded)
        return encoded

    async def writer(self) -> None:
        try:
            await self.admit()
            await self.write()
        except Stalled as exc:
            log.info("closing a websocket that stopped reading (%s)", exc)
            self.limit = "too_slow"
            self.close(WS_4408_TOO_SLOW, "too slow: the client stopped reading")

    async def admit(self) -> None:
        """Close an anonymous socket over its address's cap unless it signs in within
        the grace period (the count includes this socket)."""
        address = self.watcher.address
        cap = self.settings.ws_max_anonymous_per_address
        if address is None or self.hub.anonymous_count(address) <= cap:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ANONYMOUS_GRACE_SECONDS):
                await self.signed_in.wait()
        if self.watcher.user_id is None and self.closing is None:
            self.limit = "anonymous_limit"
            self.close(
                WS_4409_TOO_MANY_CONNECTIONS,
                "too many anonymous seat maps from this address: sign in to open more",
            )

    async def write(self) -> None:
        watcher = self.watcher
        send = self.send
        while True:
            # Cleared before the work, so anything arriving during a send wakes us again.
            watcher.wake.clear()
            watcher.busy = True  # the hub queues behind us instead of writing directly
            while self.control:
                await send(self.control.pop(0))
            if self.closing is not None:
                return
            if watcher.final is not None:
                message, code, reason = watcher.final
                await send(message)
                self.close(code, reason)
                return
            if watcher.needs_snapshot:
                # Queued changes are covered by the snapshot, which is read after them.
                watcher.needs_snapshot = False
                watcher.queue.clear()
                await send(await self.snapshot())
                if self.greet is not None:
                    await self.greet(watcher)
            while watcher.queue and not watcher.needs_snapshot:
                await send(watcher.queue.popleft())
            while watcher.notices and not watcher.needs_snapshot:
                await send(watcher.notices.pop(next(iter(watcher.notices))))
            if watcher.wake.is_set():
                continue
            watcher.busy = False
            try:
                # asyncio.timeout, not wait_for: wait_for wraps every wait in a new task,
                # which the fan-out profile showed costing as much as the send itself.
                async with asyncio.timeout(self.settings.ws_heartbeat_seconds):
                    await watcher.wake.wait()
            except TimeoutError:
                watcher.busy = True
                await send(HEARTBEAT)  # idle: keep proxies from cutting the socket

    async def reader(self) -> None:
        bucket = TokenBucket(RATE_PER_SECOND, RATE_BURST)
        while True:
            event = await self.socket.receive()
            if event["type"] == "websocket.disconnect":
                return
            if event["type"] != "websocket.receive":
                continue
            text: str | None = event.get("text")
            data: bytes | None = event.get("bytes")
            size = len(text.encode()) if text is not None else len(data or b"")
            if size > MAX_INBOUND_BYTES:
                limit = f"messages are limited to {MAX_INBOUND_BYTES} bytes"
                self.close(WS_1009_MESSAGE_TOO_BIG, limit)
                return
            if not bucket.take():
                self.close(WS_4429_TOO_MANY_MESSAGES, "too many messages")
                return
            if text is None:
                self.send_control(_error("text_only", "messages must be JSON text frames"))
                continue
            self.handle(text)

    def handle(self, text: str) -> None:
        try:
            message = msgspec.json.decode(text)
        except msgspec.DecodeError:
            self.send_control(_error("bad_json", "messages must be JSON"))
            return
        except RecursionError:
            # Nested past the decoder's recursion limit, yet under the size limit: the
            # client's mistake, answered like bad JSON (it closed the socket with 1011).
            self.send_control(_error("bad_json", "the message is nested too deeply"))
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            self.send_control({"type": "pong"})
        elif kind == "auth":
            self.authenticate(message.get("token"))
        else:
            self.send_control(
                _error("unknown_type", "expected a JSON object with type auth or ping")
            )

    def authenticate(self, token: Any) -> None:
        secret = self.settings.jwt_secret
        user_id = decode_user_id(token, secret) if isinstance(token, str) else None
        if user_id is None:
            self.send_control(_error("bad_token", "invalid or expired token"))
            return
        if user_id != self.watcher.user_id and (
            self.hub.user_watcher_count(user_id) >= self.settings.ws_max_per_user
        ):
            # Per process: each app process caps its own sockets for one account.
            self.limit = "user_limit"
            self.close(WS_4409_TOO_MANY_CONNECTIONS, "too many open seat maps for this account")
            return
        # The hub groups watchers by user at each flush, so from now on batches carry
        # `mine` for this user; a fresh snapshot brings the current ones.
        self.hub.identify(self.watcher, user_id)
        self.signed_in.set()
        self.send_control({"type": "auth", "userId": user_id})
        self.watcher.needs_snapshot = True


async def _run_session(session: Session) -> None:
    reader = asyncio.create_task(session.reader(), name="ws-reader")
    writer = asyncio.create_task(session.writer(), name="ws-writer")
    try:
        await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        if session.closing is not None and not writer.done():
            # Let the writer send what it still has (an error) and stop by itself.
            await asyncio.wait({writer}, timeout=CLOSE_GRACE_SECONDS)
    finally:
        reader.cancel()
        writer.cancel()
        results = await asyncio.gather(reader, writer, return_exceptions=True)
    for result in results:
        if _failed(result) and session.closing is None:
            session.closing = (WS_1011_INTERNAL_ERROR, "try again")


def _failed(result: object) -> bool:
    """Log how a session task ended; True if it broke rather than the client leaving."""
    if not isinstance(result, BaseException) or isinstance(
        result, asyncio.CancelledError | WebSocketDisconnect
    ):
        return False
    if isinstance(result, OSError):  # the client went away mid-send
        log.debug("websocket session ended: %r", result)
        return False
    log.warning("websocket session ended with %r", result)
    return True


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
    try:
        found = await events.exists(eid)
    except Exception as exc:
        log.warning("websocket could not look up event %s: %s", eid, exc)
        await socket.close(code=WS_1011_INTERNAL_ERROR, reason="try again")
        return
    if not found:
        await socket.close(code=WS_4404_UNKNOWN_EVENT, reason="unknown event")
        return
    hub: LiveHub = state.hub
    compact = socket.query_params.get("encoding") == "compact"
    client = socket.scope.get("client")
    address = str(client[0]) if client else None
    feed: QueueFeed | None = getattr(state, "queue_feed", None)
    session = Session(
        socket,
        eid,
        hub,
        events,
        settings,
        compact=compact,
        address=address,
        greet=feed.greet if feed is not None else None,
    )
    sink = frame_sink(socket.scope)
    session.watcher.sink = sink
    session.sink = sink if sink is not None and sink.framing else None
    try:
        await _run_session(session)
    finally:
        # The last watcher of an event leaving removes the event's entry in the hub.
        hub.unwatch(session.watcher)
    if session.limit is not None:
        hub.limit_closes[session.limit] += 1
    if session.limit == "too_slow" and sink is not None:
        sink.abort()  # a close frame would wait behind everything the client did not read
        return
    code, reason = session.closing or (WS_1000_NORMAL_CLOSURE, "")
    # Bounded: a client that stopped reading would hold the close frame back forever.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_GRACE_SECONDS):
            await socket.close(code=code, reason=reason)
