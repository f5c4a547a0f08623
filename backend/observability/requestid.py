"""Request ids and the route middleware that measures each request.

`request_context(metrics, shutdown)` adopts a sane incoming `X-Request-ID` (nginx sets
one) or makes one, keeps it in a context variable so every log line of the request
carries it (see `logs`), returns it in the response, writes one access line, and counts
the request (method, route template, status) and its duration. Websockets run under
`Shutdown`, so that SIGTERM can close them with 1001 first.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.observability.metrics import Metrics
from backend.observability.shutdown import Shutdown

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
HEADER = b"x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("boxoffice.access")


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


def record_unrouted(metrics: Metrics, scope: Scope, status: int) -> str | None:
    """Log and count a response made before the route's middleware ran: the router's
    404 and 405, the auth middleware's 401. Returns the request id it gave the request,
    or None when the request went through `request_context` (already logged)."""
    if REQUEST_ID.get() is not None:
        return None
    request_id = uuid.uuid4().hex
    method = str(scope.get("method", "WS"))
    route = str(scope.get("path_template") or "unmatched")
    metrics.requests.labels(method, route, str(status)).inc()
    if access_log.isEnabledFor(logging.INFO):
        path = str(scope.get("path", ""))
        token = REQUEST_ID.set(request_id)  # the record factory stamps it on the line
        try:
            access_log.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={"method": method, "path": path, "status": status},
            )
        finally:
            REQUEST_ID.reset(token)
    return request_id
