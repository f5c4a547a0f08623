"""Graceful shutdown: websockets are closed with 1001 before the server stops.

On SIGTERM/SIGINT, `Shutdown` first closes every websocket with 1001 (going away;
browsers reconnect, to another replica behind the proxy), then hands the signal to
uvicorn, which stops accepting connections, lets in-flight requests (a booking in its
transaction) finish, and runs the app's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from typing import Any

from litestar.types import ASGIApp, Scope

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

    async def on_startup(self) -> None:
        """Install the signal handlers (see `install`)."""
        self.install()

    async def on_shutdown(self) -> None:
        """Give the signals back to the server's own handlers."""
        self.uninstall()

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
        # One waiter on the socket's leave event for its whole life, cancelled when the
        # socket ends: a waiter made for each receive and left pending when the app
        # cancelled its reader ("Task was destroyed but it is pending … Event.wait()",
        # a hundred a minute in make bench onsale) cost a task per message besides.
        leaving: asyncio.Future[Any] | None = None

        async def receive_or_leave() -> Any:
            nonlocal leaving
            if sock.leave.is_set():
                return {"type": "websocket.disconnect", "code": WS_1001_GOING_AWAY}
            if leaving is None:
                leaving = asyncio.ensure_future(sock.leave.wait())
            incoming = asyncio.ensure_future(receive())
            try:
                done, _ = await asyncio.wait(
                    {incoming, leaving}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if not incoming.done():
                    incoming.cancel()  # leaving, or this receive itself was cancelled
            if incoming in done:
                return incoming.result()
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
            if leaving is not None:
                leaving.cancel()
            self.sockets.discard(sock)
            if not self.sockets:
                self._emptied.set()
