"""A cheaper send for live fan-out: a batch framed once, written to every socket directly.

Every `seats` batch goes to every watcher of an event. Through ASGI each of those sends
walks Litestar's and the app's send wrappers, uvicorn's ASGI `send`, and websockets'
framing, after waking the socket's writer task: with 10,000 watchers that was most of
the server's CPU during a sale (see README, Performance). A websocket frame from the
server is not masked, so the bytes of one message are the same for every socket: they
can be framed once per batch and handed to each socket's transport.

The server advertises this through the ASGI scope's `extensions` (the spec's place for
server-specific capabilities): `FramingWebSocketProtocol` is uvicorn's websockets-sansio
protocol plus a `boxoffice.frames` extension holding a `FrameSink` for the connection.
`backend.cli serve` runs uvicorn with it. Where the extension is absent (the test client,
another ASGI server) the hub uses the plain ASGI send; the messages are the same.

A sink writes only while the websocket is open, uncompressed, and its transport is not
paused (past its write high-water mark, asyncio's 64 KiB); otherwise `write` returns
False and the hub queues the message for the socket's writer task, and the capped
backlog and resync rules apply as before.

The writer task sends through the sink too (`send`), so that what one socket buffers
stays bounded: a message is written a fragment (`FRAGMENT_BYTES`) at a time, each only
once the transport is under its high-water mark again, so a client that stops reading
holds at most the mark plus one fragment in the server, never a whole 7.9 MB snapshot
(before: 50 such clients took a server from +0 to +413 MiB). A transport that stays over
the mark for the deadline raises `Stalled`, and the socket is aborted: its buffer is
dropped at once, which a graceful close would keep until the client read it.

Compression (RFC 7692, permessage-deflate) is negotiated with no context takeover in
either direction (`WS_DEFLATE`, on by default; browsers offer it on every socket). With
no context takeover each compressed message stands alone, so a batch is compressed once
and the same bytes go to every socket that negotiated it (`Framed.deflated`, one
variant per window size the clients asked for; browsers leave it at 32 KiB); a
compressing socket holds no compressor between messages, and reads a client message
with a decompressor made for it and dropped after it. Seat changes are mostly keys,
statuses and times repeated seat after seat: a batch goes out at about a quarter of its
size (README, Performance item 32). Before, compression was per socket (uvicorn's
factory, with context takeover), which halved a sale beside 1,000 watchers and was
switched off. The writer task's messages (snapshots, queued batches) are sent
uncompressed, which the RFC allows on a compressing connection (RSV1 unset), so a socket
that connects costs no compression.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Iterator
from typing import Any, Final

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

EXTENSION: Final = "boxoffice.frames"
# A large message goes out in fragments of this size (RFC 6455 §5.4): the transport never
# holds more than its high-water mark plus one of them for a socket.
FRAGMENT_BYTES: Final = 64 * 1024
# Smaller messages go out uncompressed on a compressing socket too: deflating a few
# dozen bytes saves nothing.
DEFLATE_MIN_BYTES: Final = 256
# The socket has negotiated an extension whose frames the sink cannot build.
_UNSUPPORTED: Final = -1


class Stalled(Exception):
    """The client stopped reading: its send buffer stayed over its high-water mark."""


class Framed:
    """One text message framed once for every socket: as it is, and compressed once per
    window size for the sockets that negotiated permessage-deflate (no context takeover:
    the compressed bytes depend on nothing a socket sent before)."""

    __slots__ = ("_deflated", "data", "plain")

    def __init__(self, data: str | bytes) -> None:
        self.data = data.encode() if isinstance(data, str) else data
        self.plain = Frame(Opcode.TEXT, self.data).serialize(mask=False, extensions=[])
        self._deflated: dict[int, bytes] = {}

    def deflated(self, window_bits: int) -> bytes:
        """The message compressed for a deflate window of 2**window_bits (the plain frame
        if it is too small to gain)."""
        if len(self.data) < DEFLATE_MIN_BYTES:
            return self.plain
        frame = self._deflated.get(window_bits)
        if frame is None:
            # websockets' own encoder (it sets RSV1 and trims the sync flush's tail).
            encoder = PerMessageDeflate(True, True, 15, window_bits)
            frame = Frame(Opcode.TEXT, self.data).serialize(mask=False, extensions=[encoder])
            self._deflated[window_bits] = frame
        return frame


def text_fragments(data: bytes) -> Iterator[bytes]:
    """`data` as one text message in frames of at most FRAGMENT_BYTES of payload.

    Uvicorn writes its own control frames (keepalive pings, pongs, a close) to the same
    transport at any time; the RFC allows them between fragments, and each fragment is
    written whole, so they never land inside one.
    """
    if len(data) <= FRAGMENT_BYTES:
        yield Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
        return
    view = memoryview(data)
    for start in range(0, len(data), FRAGMENT_BYTES):
        opcode = Opcode.TEXT if start == 0 else Opcode.CONT
        last = start + FRAGMENT_BYTES >= len(data)
        chunk = view[start : start + FRAGMENT_BYTES]
        yield Frame(opcode, chunk, fin=last).serialize(mask=False, extensions=[])


class FrameSink:
    """Writes pre-built frames to one websocket's transport, when it safely can."""

    __slots__ = ("_protocol", "_window")

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol
        self._window: int | None = None  # learnt from the handshake, on first use

    def _window_bits(self) -> int:
        """0: no extension; the deflate window's bits for permessage-deflate without
        context takeover on the server's side; _UNSUPPORTED for anything else."""
        window = self._window
        if window is None:
            extensions = self._protocol.conn.extensions
            if not extensions:
                window = 0
            elif (
                len(extensions) == 1
                and isinstance(extensions[0], PerMessageDeflate)
                and extensions[0].local_no_context_takeover
            ):
                window = extensions[0].local_max_window_bits
            else:
                window = _UNSUPPORTED
            if self._protocol.handshake_complete:  # the extensions are settled from then on
                self._window = window
        return window

    def write(self, frame: Framed) -> bool:
        """Write `frame` now, compressed if the socket compresses, and return True; or
        return False and write nothing."""
        protocol = self._protocol
        if (
            not protocol.handshake_complete
            or protocol.close_sent
            or protocol.disconnected
            or protocol.initial_response is not None
            or not protocol.writable.is_set()  # paused: let the ASGI path wait for a drain
            or protocol.transport.is_closing()
        ):
            return False
        window = self._window_bits()
        if window == 0:
            protocol.transport.write(frame.plain)
        elif window > 0:
            protocol.transport.write(frame.deflated(window))
        else:
            return False
        return True

    @property
    def framing(self) -> bool:
        """Whether the sink can write this socket's messages: no extension, or
        permessage-deflate without context takeover (an uncompressed message is valid
        there too)."""
        return self._window_bits() != _UNSUPPORTED

    async def send(self, data: bytes, stall_seconds: float) -> None:
        """Write `data` as one text message, a fragment at a time, each once the transport
        is under its high-water mark: Stalled if it stays over it for `stall_seconds`,
        ConnectionResetError if the connection closes meanwhile."""
        protocol = self._protocol
        for frame in text_fragments(data):
            if not protocol.writable.is_set():
                try:
                    async with asyncio.timeout(stall_seconds):
                        await protocol.writable.wait()
                except TimeoutError:
                    buffered = protocol.transport.get_write_buffer_size()
                    raise Stalled(
                        f"{buffered} bytes still unsent after {stall_seconds:g}s"
                    ) from None
            if protocol.close_sent or protocol.disconnected or protocol.transport.is_closing():
                raise ConnectionResetError("the websocket closed while a message was sent")
            protocol.transport.write(frame)

    def abort(self) -> None:
        """Drop the connection now, and whatever it still had to send (a graceful close
        waits for a client that stopped reading to read it all, which it never does)."""
        transport = self._protocol.transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: the kernel drops its send queue too and answers with a reset,
            # instead of keeping an orphaned socket retrying into a zero window.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


class FramingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, advertising a `FrameSink` in the scope; with
    `ws_per_message_deflate`, it negotiates permessage-deflate without context takeover
    (uvicorn's own offer keeps each socket's compressor, which the sink cannot share)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[
                    ServerPerMessageDeflateFactory(
                        server_no_context_takeover=True, client_no_context_takeover=True
                    )
                ],
                max_size=self.config.ws_max_size,
                logger=self.conn.logger,
            )

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][EXTENSION] = {"sink": FrameSink(self)}


def frame_sink(scope: Any) -> FrameSink | None:
    """The connection's sink, if the server offers one."""
    extension = (scope.get("extensions") or {}).get(EXTENSION)
    sink = extension.get("sink") if isinstance(extension, dict) else None
    return sink if isinstance(sink, FrameSink) else None
