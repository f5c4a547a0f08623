"""Operations: request ids, structured logs and Prometheus metrics.

* `request_context(metrics)` — route middleware: adopts a sane incoming `X-Request-ID`
  (nginx sets one) or makes one, keeps it in a context variable so every log line of the
  request carries it, returns it in the response, writes one access line, and counts
  the request (method, route template, status) and its duration.
* `logging_config(fmt)` — one formatter for the app's logs: `text` (the default) or
  `json` (one object per line: ts, level, logger, message, request_id, exc).
* `Metrics` — a registry per app (tests build many apps in one process): requests,
  durations, seats booked and held, conflicts (409/423), websocket watchers, channel
  lag, live resyncs. `GET /metrics` serves it in Prometheus' text format, per process:
  with WORKERS > 1 each scrape reaches one worker, so scrape every process directly
  (the compose file keeps /metrics off the public proxy).
* `Shutdown` — graceful shutdown. On SIGTERM/SIGINT it first closes every websocket with
  1001 (going away; browsers reconnect, to another replica behind the proxy), then hands
  the signal to uvicorn, which stops accepting connections, lets in-flight requests (a
  booking in its transaction) finish, and runs the app's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import signal
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.logging import LoggingConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from backend.booking.records import BOOKED, HELD, SeatChange
from backend.live.channel import SeatChannel

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
HEADER = b"x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("boxoffice.access")


def current_request_id() -> str | None:
    return REQUEST_ID.get()


# ------------------------------------------------------------------ logging


_factory_installed = False


def _install_record_factory() -> None:
    """Stamp every log record with the request id when it is created.

    At creation, not at formatting: Litestar formats in a queue-listener thread, where
    the request's context variables are gone.
    """
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class LogFormatter(logging.Formatter):
    """`text`: level, time, logger, message, [request id]; `json`: one object per line."""

    def __init__(self, json: bool = False) -> None:
        super().__init__()
        self.json = json

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        message = record.getMessage()
        if self.json:
            entry: dict[str, Any] = {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                    timespec="milliseconds"
                ),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
            }
            if request_id:
                entry["request_id"] = request_id
            for key in ("method", "path", "status", "duration_ms", "client"):
                if hasattr(record, key):
                    entry[key] = getattr(record, key)
            if record.exc_info:
                entry["exc"] = "".join(traceback.format_exception(*record.exc_info))[-4000:]
            return msgspec.json.encode(entry).decode()
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        text = f"{record.levelname} - {stamp} - {record.name} - {message}"
        if request_id:
            text += f" [request_id={request_id}]"
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        return text


def logging_config(fmt: str = "text", level: str = "info") -> LoggingConfig:
    """Litestar's logging set-up with our formatter; access lines at `level` and up."""
    _install_record_factory()
    formatter = {"()": "backend.observability.LogFormatter", "json": fmt == "json"}
    return LoggingConfig(
        formatters={"standard": formatter},
        loggers={"boxoffice.access": {"level": level.upper(), "propagate": True}},
        log_exceptions="debug",
    )


def uvicorn_log_config(fmt: str = "text") -> dict[str, Any]:
    """uvicorn's own loggers (start-up, errors) in the same format."""
    _install_record_factory()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "boxoffice": {"()": "backend.observability.LogFormatter", "json": fmt == "json"}
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "boxoffice",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        },
    }


# ------------------------------------------------------------------ metrics


class _LiveCollector(Collector):
    """Values read from the hub when scraped (no bookkeeping on the hot path)."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def collect(self) -> Iterable[Metric]:
        watchers = GaugeMetricFamily(
            "boxoffice_websocket_watchers", "Open seat-map websockets in this process"
        )
        watchers.add_metric([], float(self.hub.watcher_count()))
        yield watchers
        events = GaugeMetricFamily(
            "boxoffice_watched_events", "Events with at least one open seat map in this process"
        )
        events.add_metric([], float(len(getattr(self.hub, "watchers", {}))))
        yield events
        for name, attr, doc in (
            ("boxoffice_live_published", "published", "Seat-change messages published"),
            (
                "boxoffice_live_resyncs",
                "resyncs",
                "Times watchers were sent a fresh snapshot because messages may have been lost",
            ),
        ):
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], float(getattr(self.hub, attr, 0)))
            yield counter
        sends = CounterMetricFamily(
            "boxoffice_live_sends",
            "Seat-change batches delivered to websockets: written directly (frames) or queued "
            "for the socket's writer task",
            labels=["path"],
        )
        sends.add_metric(["direct"], float(getattr(self.hub, "sent_direct", 0)))
        sends.add_metric(["queued"], float(getattr(self.hub, "sent_queued", 0)))
        yield sends


class Metrics:
    LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "boxoffice_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "boxoffice_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            buckets=self.LATENCY_BUCKETS,
            registry=r,
        )
        self.conflicts = Counter(
            "boxoffice_conflicts",
            "Refused writes: 409 (booked, limit, key in flight) and "
            "423 (held or being booked by someone else)",
            ["route", "status"],
            registry=r,
        )
        self.seats_booked = Counter("boxoffice_bookings", "Seats booked (committed)", registry=r)
        self.seats_held = Counter(
            "boxoffice_holds", "Seats held or hold extended (committed)", registry=r
        )
        self.seats_freed = Counter(
            "boxoffice_seats_freed", "Seats freed: released, expired or cancelled", registry=r
        )
        self.websockets = Counter(
            "boxoffice_websocket_connections",
            "Websocket connections accepted or refused",
            registry=r,
        )
        self.channel_lag = Histogram(
            "boxoffice_channel_lag_seconds",
            "From publish (after commit) to arrival in this process's hub",
            buckets=self.LAG_BUCKETS,
            registry=r,
        )

    def watch_hub(self, hub: Any) -> None:
        self.registry.register(_LiveCollector(hub))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MeteredPublisher:
    """Counts committed seat changes on their way to the live channel."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def publish(self, event_id: str, changes: list[SeatChange]) -> None:
        for change in changes:
            if change.status == BOOKED:
                self.metrics.seats_booked.inc()
            elif change.status == HELD:
                self.metrics.seats_held.inc()
            else:
                self.metrics.seats_freed.inc()
        await self.inner.publish(event_id, changes)


class _Stamp(msgspec.Struct):
    at: int = 0


_stamp = msgspec.json.Decoder(_Stamp)


class MeteredChannel(SeatChannel):
    """A seat channel that measures each message's lag from publish to arrival."""

    def __init__(self, inner: SeatChannel, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def on_startup(self) -> None:
        """Start the wrapped channel."""
        await self.inner.on_startup()

    async def on_shutdown(self) -> None:
        """Stop the wrapped channel."""
        await self.inner.on_shutdown()

    async def publish(self, event_id: str, data: bytes) -> None:
        """Publish through the wrapped channel."""
        await self.inner.publish(event_id, data)

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        """The wrapped channel's messages, timing each stamped one."""
        async for event_id, data in self.inner.messages():
            if data[:1] == b"{":
                try:
                    at = _stamp.decode(data).at
                except msgspec.DecodeError:
                    at = 0
                if at:
                    self.metrics.channel_lag.observe(max(0.0, time.time() - at / 1000))
            yield event_id, data

    async def ping(self) -> None:
        """Ping the wrapped channel."""
        await self.inner.ping()


# ----------------------------------------------------------------- shutdown

WS_1001_GOING_AWAY = 1001
GOING_AWAY: Any = {
    "type": "websocket.close",
    "code": WS_1001_GOING_AWAY,
    "reason": "server shutting down",
}
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Socket:
    """One open websocket, as seen from outside the app."""

    def __init__(self, send: Any) -> None:
        self.send = send
        self.leave = asyncio.Event()
        self.closed = False

    async def close_going_away(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                await self.send(GOING_AWAY)
        self.leave.set()


class Shutdown:
    """Closes websockets with 1001 before the server stops (see the module docstring)."""

    def __init__(self, drain_seconds: float = 2.0) -> None:
        self.drain_seconds = drain_seconds
        self.sockets: set[_Socket] = set()
        self._emptied = asyncio.Event()
        self.leaving = False
        self._previous: dict[int, Any] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        """Chain in front of the server's signal handlers (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return  # e.g. the test client: nobody sends this process signals
        loop = asyncio.get_running_loop()
        for sig in HANDLED_SIGNALS:
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue
            self._previous[sig] = previous

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                if self.leaving:
                    previous(signum, frame)  # a second signal: no more waiting
                    return
                self.leaving = True
                loop.call_soon_threadsafe(self._start_drain, previous, signum)

            signal.signal(sig, handler)

    def uninstall(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _start_drain(self, previous: Any, signum: int) -> None:
        task = asyncio.ensure_future(self._drain_then(previous, signum))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain_then(self, previous: Any, signum: int) -> None:
        try:
            await self.drain()
        finally:
            previous(signum, None)

    async def drain(self) -> None:
        """Close every websocket with 1001; wait (bounded) until their handlers end."""
        self.leaving = True
        open_sockets = list(self.sockets)
        if open_sockets:
            logging.getLogger("boxoffice").info(
                "shutting down: closing %d websocket(s) with 1001", len(open_sockets)
            )
        await asyncio.gather(*(s.close_going_away() for s in open_sockets))
        if self.sockets:
            self._emptied.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._emptied.wait(), self.drain_seconds)

    async def websocket(self, app: ASGIApp, scope: Scope, receive: Any, send: Any) -> None:
        """Run a websocket so that shutdown can close it with 1001."""
        if self.leaving:
            # Shutting down: accept and close at once, so the browser reconnects elsewhere.
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept", "headers": []})
                await send(GOING_AWAY)
            return
        sock = _Socket(send)
        self.sockets.add(sock)

        async def receive_or_leave() -> Any:
            if sock.leave.is_set():
                return {"type": "websocket.disconnect", "code": WS_1001_GOING_AWAY}
            incoming = asyncio.ensure_future(receive())
            leaving = asyncio.ensure_future(sock.leave.wait())
            done, _ = await asyncio.wait({incoming, leaving}, return_when=asyncio.FIRST_COMPLETED)
            if incoming in done:
                leaving.cancel()
                return incoming.result()
            incoming.cancel()
            return {"type": "websocket.disconnect", "code": WS_1001_GOING_AWAY}

        async def send_unless_closed(message: Any) -> None:
            if sock.closed:
                return  # closed with 1001 already; the app is winding down
            if message["type"] == "websocket.close":
                sock.closed = True
            await send(message)

        try:
            await app(scope, receive_or_leave, send_unless_closed)
        finally:
            self.sockets.discard(sock)
            if not self.sockets:
                self._emptied.set()


def request_context(
    metrics: Metrics, shutdown: Shutdown | None = None
) -> Callable[[ASGIApp], ASGIApp]:
    """Route middleware: request id, access line, request metrics, websocket shutdown."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            if shutdown is not None and str(scope["type"]) == "websocket":
                await shutdown.websocket(app, scope, receive, send)
            else:
                await app(scope, receive, send)

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            incoming = next((v for k, v in scope["headers"] if k == HEADER), b"").decode("latin-1")
            request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
            token = REQUEST_ID.set(request_id)
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "WS")
            status = 500
            started = time.perf_counter()

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    message["headers"] = [
                        *message.get("headers", []),
                        (HEADER, request_id.encode()),
                    ]
                elif message["type"] == "websocket.accept":
                    status = 101
                    message["headers"] = [
                        *message.get("headers", []),
                        (HEADER, request_id.encode()),
                    ]
                elif message["type"] == "websocket.close" and status == 500:
                    status = 403  # closed before accept: the handshake was refused
                await send(message)

            try:
                await inner(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                if str(scope["type"]) == "websocket":
                    metrics.websockets.inc()
                else:
                    metrics.requests.labels(method, route, str(status)).inc()
                    metrics.duration.labels(method, route).observe(elapsed)
                    if status in (409, 423):
                        metrics.conflicts.labels(route, str(status)).inc()
                if access_log.isEnabledFor(logging.INFO):
                    path = scope.get("path", "")
                    access_log.info(
                        "%s %s %s %.1fms",
                        method,
                        path,
                        status,
                        elapsed * 1000,
                        extra={
                            "method": method,
                            "path": path,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 1),
                        },
                    )
                REQUEST_ID.reset(token)

        return handle

    return middleware


@get("/metrics", opt={"exclude_from_auth": True}, include_in_schema=False, sync_to_thread=False)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text exposition of this process's metrics."""
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
