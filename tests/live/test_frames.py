"""Direct frame writes: the bytes are a websocket frame, and a sink writes only when safe."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from backend.live.frames import EXTENSION, FrameSink, frame_sink, text_frame


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_a_text_frame_parses_back_to_its_text(size: int) -> None:
    text = ("é" + "x" * size)[:size] if size else ""
    frame = parse(text_frame(text))
    assert frame.opcode is Opcode.TEXT
    assert frame.fin
    assert frame.data.decode() == text


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing


class FakeConn:
    def __init__(self) -> None:
        self.extensions: list[Any] = []


class FakeProtocol:
    """The attributes of uvicorn's websockets-sansio protocol a sink reads."""

    def __init__(self) -> None:
        self.handshake_complete = True
        self.close_sent = False
        self.disconnected = False
        self.initial_response = None
        self.conn = FakeConn()
        self.writable = asyncio.Event()
        self.writable.set()
        self.transport = FakeTransport()


@pytest.mark.parametrize(
    "state",
    [
        "open",
        "not accepted",
        "close sent",
        "disconnected",
        "http response",
        "compressed",
        "paused",
        "closing",
    ],
)
def test_a_sink_writes_only_to_an_open_uncompressed_unpaused_socket(state: str) -> None:
    protocol = FakeProtocol()
    if state == "not accepted":
        protocol.handshake_complete = False
    elif state == "close sent":
        protocol.close_sent = True
    elif state == "disconnected":
        protocol.disconnected = True
    elif state == "http response":
        protocol.initial_response = (403, [], b"")  # type: ignore[assignment]
    elif state == "compressed":
        protocol.conn.extensions.append(object())
    elif state == "paused":
        protocol.writable.clear()
    elif state == "closing":
        protocol.transport.closing = True
    sink = FrameSink(protocol)  # type: ignore[arg-type]
    frame = text_frame('{"type":"seats","changes":[]}')
    written = sink.write(frame)
    assert written == (state == "open")
    assert protocol.transport.written == ([frame] if state == "open" else [])


def test_the_sink_is_found_only_where_the_server_offers_it() -> None:
    sink = FrameSink(FakeProtocol())  # type: ignore[arg-type]
    assert frame_sink({"extensions": {EXTENSION: {"sink": sink}}}) is sink
    assert frame_sink({"extensions": {"websocket.http.response": {}}}) is None
    assert frame_sink({"extensions": None}) is None
    assert frame_sink({}) is None
    assert frame_sink({"extensions": {EXTENSION: {"sink": "not a sink"}}}) is None


class RecordingSink:
    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.frames: list[bytes] = []

    def write(self, frame: bytes) -> bool:
        if self.accept:
            self.frames.append(frame)
        return self.accept


async def test_a_watcher_is_written_directly_only_when_nothing_is_ahead_of_the_message() -> None:
    from backend.live.hub import Watcher

    watcher = Watcher(event_id="e", user_id=None, cap=4)
    sink = RecordingSink()
    watcher.sink = sink  # type: ignore[assignment]
    # New: its snapshot is due and its writer is busy, so messages queue behind it.
    assert not watcher.push("m1", b"f1")
    watcher.needs_snapshot = False
    assert not watcher.push("m2", b"f2")  # the writer is still busy
    watcher.busy = False
    assert not watcher.push("m3", b"f3")  # m1, m2 are still queued: no overtaking
    watcher.queue.clear()
    assert watcher.push("m4", b"f4")  # idle and nothing queued: straight to the socket
    assert sink.frames == [b"f4"]
    assert not watcher.push("m5")  # no frame built: the writer sends it
    watcher.queue.clear()
    sink.accept = False  # e.g. the transport paused: fall back to the queue
    assert not watcher.push("m6", b"f6")
    assert list(watcher.queue) == ["m6"]
    assert watcher.wake.is_set()


class BrokenSink:
    def write(self, frame: bytes) -> bool:
        raise RuntimeError("transport gone")


async def test_a_sink_that_breaks_is_dropped_and_the_message_still_goes_out() -> None:
    from backend.live.hub import Watcher

    watcher = Watcher(event_id="e", user_id=None, cap=4)
    watcher.sink = BrokenSink()  # type: ignore[assignment]
    watcher.needs_snapshot = False
    watcher.busy = False
    assert not watcher.push("m1", b"f1")
    assert watcher.sink is None  # not tried again
    assert list(watcher.queue) == ["m1"]
    assert watcher.wake.is_set()
