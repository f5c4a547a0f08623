"""A minimal HTTP/1.1 keep-alive client for load generation.

httpx costs about half a millisecond of CPU per request on this 2-core machine (measured:
one process tops out near 1,500-2,000 tiny requests/s at 0.9 cores). The load generator
shares the machine with the server, so every millisecond it burns is taken from the
server. This client does only what the scenarios need (one persistent connection, JSON
bodies, Content-Length or chunked responses) at a fraction of that cost. `--client httpx`
runs the same scenarios through httpx instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit


class HTTPError(Exception):
    """The connection failed or the response could not be read."""


class Response:
    __slots__ = ("body", "status_code")

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.body = body

    def json(self) -> object:
        import msgspec

        return msgspec.json.decode(self.body)


class Connection:
    """One keep-alive connection; requests on it are sequential."""

    def __init__(
        self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 60
    ) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = f"Host: {self.host}:{self.port}\r\n{extra}"
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def connect(self) -> None:
        """Open the connection now (a request opens it anyway when it is closed)."""
        if self._writer is None:
            await self._connect()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def get(self, path: str) -> Response:
        return await self.request("GET", path, None)

    async def post(self, path: str, body: bytes) -> Response:
        return await self.request("POST", path, body)

    async def request(self, method: str, path: str, body: bytes | None) -> Response:
        try:
            return await asyncio.wait_for(self._request(method, path, body), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            raise HTTPError(f"{type(exc).__name__}: {exc}") from None

    async def _request(self, method: str, path: str, body: bytes | None) -> Response:
        if self._writer is None:
            await self._connect()
        assert self._reader is not None and self._writer is not None
        if body is None:
            head = f"{method} {path} HTTP/1.1\r\n{self._head}\r\n"
            self._writer.write(head.encode())
        else:
            head = (
                f"{method} {path} HTTP/1.1\r\n{self._head}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            self._writer.write(head.encode() + body)
        reader = self._reader
        status_line = await reader.readline()
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
        status = int(status_line.split(b" ", 2)[1])
        length = -1
        chunked = close = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                parts.append(await reader.readexactly(size))
                await reader.readline()
            data = b"".join(parts)
        elif length >= 0:
            data = await reader.readexactly(length)
        else:
            data = await reader.read()
            close = True
        if close:
            await self.close()
        return Response(status, data)
