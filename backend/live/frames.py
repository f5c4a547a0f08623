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
paused (past uvicorn's write high-water mark); otherwise `write` returns False and the
hub queues the message for the socket's writer task, whose ASGI send waits for the
buffer to drain, and the capped backlog and resync rules apply as before.
"""

from __future__ import annotations

from typing import Any, Final

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

EXTENSION: Final = "boxoffice.frames"


def text_frame(data: str) -> bytes:
    """One unmasked, uncompressed, final text frame carrying `data` (RFC 6455 §5.2)."""
    return Frame(Opcode.TEXT, data.encode()).serialize(mask=False, extensions=[])


class FrameSink:
    """Writes whole pre-built frames to one websocket's transport, when it safely can."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def write(self, frame: bytes) -> bool:
        """Write `frame` now and return True, or return False and write nothing."""
        protocol = self._protocol
        if (
            not protocol.handshake_complete
            or protocol.close_sent
            or protocol.disconnected
            or protocol.initial_response is not None
            or protocol.conn.extensions  # a negotiated extension would transform frames
            or not protocol.writable.is_set()  # paused: let the ASGI path wait for a drain
            or protocol.transport.is_closing()
        ):
            return False
        protocol.transport.write(frame)
        return True


class FramingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, advertising a `FrameSink` in the scope."""

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
