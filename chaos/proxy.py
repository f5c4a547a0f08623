"""A small loopback TCP proxy that can slow down or cut a connection (Redis, here).

It runs its own event loop in a thread, so a busy test client cannot distort it. Modes:

* `pass`      — forward bytes as they come;
* `slow`      — delay every chunk by `delay` seconds, in each direction;
* `cut`       — reset every open connection and every new one at once (connection
                refused-like failures: clients notice immediately);
* `blackhole` — keep connections open but forward nothing (clients notice only by their
                own timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from typing import Literal

Mode = Literal["pass", "slow", "cut", "blackhole"]
CHUNK = 65536


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN, as a crashed or unreachable peer would look."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, listen_port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.listen_port = listen_port
        self.mode: Mode = "pass"
        self.delay = 0.0
        self._flowing = asyncio.Event()  # clear while the mode is "blackhole"
        self._flowing.set()
        self.connections_total = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._ready = threading.Event()

    @property
    def port(self) -> int:
        return self.listen_port

    def url(self, scheme: str = "redis", path: str = "/0") -> str:
        return f"{scheme}://127.0.0.1:{self.listen_port}{path}"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="chaos-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.listen_port)
        )
        self.listen_port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def stop(self) -> None:
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        with contextlib.suppress(Exception):
            future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for client, upstream in list(self._pairs):
            _reset(client)
            _reset(upstream)
        self._pairs.clear()

    # ---------------------------------------------------------------- modes

    def set_mode(self, mode: Mode, delay: float = 0.0) -> None:
        """Switch mode (thread-safe); `cut` also resets every open connection."""
        assert self._loop is not None, "proxy not started"

        def apply() -> None:
            self.mode, self.delay = mode, delay
            if mode == "blackhole":
                self._flowing.clear()
            else:
                self._flowing.set()
            if mode == "cut":
                for client, upstream in list(self._pairs):
                    _reset(client)
                    _reset(upstream)
                self._pairs.clear()

        self._loop.call_soon_threadsafe(apply)

    # ------------------------------------------------------------ forwarding

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        if self.mode == "cut":
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer),
                self._pump(up_reader, writer),
                return_exceptions=True,
            )
        finally:
            self._pairs.discard(pair)
            for w in pair:
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                with contextlib.suppress(Exception):
                    writer.write_eof()
                return
            await self._flowing.wait()  # a blackhole holds the data until it ends
            if self.mode == "cut":
                return
            if self.mode == "slow" and self.delay > 0:
                await asyncio.sleep(self.delay)
            writer.write(data)
            await writer.drain()
