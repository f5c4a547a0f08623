"""Direct frame writes: the bytes are a websocket frame, and a sink writes only when safe."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from backend.live.frames import DEFLATE_MIN_BYTES, EXTENSION, Framed, FrameSink, frame_sink


def parse(data: bytes, extensions: list[Any] | None = None) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=False, extensions=extensions)
    try:
        next(parser)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_a_text_frame_parses_back_to_its_text(size: int) -> None:
    text = ("é" + "x" * size)[:size] if size else ""
    frame = parse(Framed(text).plain)
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
        protocol.conn.extensions.append(object())  # an extension the sink cannot frame for
    elif state == "paused":
        protocol.writable.clear()
    elif state == "closing":
        protocol.transport.closing = True
    sink = FrameSink(protocol)  # type: ignore[arg-type]
    frame = Framed('{"type":"seats","changes":[]}')
    written = sink.write(frame)
    assert written == (state == "open")
    assert protocol.transport.written == ([frame.plain] if state == "open" else [])


BATCH = (
    '{"type":"seats","changes":['
    + ",".join(
        f'{{"id":"0b3f{n:04d}-6a1e-4c1d-9a5e-3f2b1c0d9e8f","status":"held","version":{n},'
        f'"heldUntil":"2026-12-05T04:4{n % 10}:00.000Z"}}'
        for n in range(40)
    )
    + "]}"
)


def client_reads(frame: bytes, window_bits: int) -> tuple[bool, str]:
    """What a client that negotiated deflate (no server context takeover, this window)
    reads from `frame`: (was it compressed, the text)."""
    decoder = PerMessageDeflate(
        remote_no_context_takeover=True,
        local_no_context_takeover=True,
        remote_max_window_bits=window_bits,
        local_max_window_bits=15,
    )
    return bool(frame[0] & 0x40), parse(frame, [decoder]).data.decode()


@pytest.mark.parametrize("window_bits", [9, 12, 15])
def test_a_deflated_frame_reads_back_as_the_message(window_bits: int) -> None:
    framed = Framed(BATCH)
    deflated = framed.deflated(window_bits)
    assert client_reads(deflated, window_bits) == (True, BATCH)
    assert len(deflated) < len(framed.plain) / 3
    assert framed.deflated(window_bits) is deflated  # compressed once per window size


def test_a_small_message_is_not_compressed() -> None:
    small = '{"type":"seats","changes":[]}'
    assert len(small) < DEFLATE_MIN_BYTES
    framed = Framed(small)
    assert framed.deflated(15) is framed.plain
    assert client_reads(framed.plain, 15) == (False, small)


@pytest.mark.parametrize(
    ("extension", "expected"),
    [
        ("none", "plain"),
        ("deflate, no context takeover", "deflated"),
        ("deflate, no context takeover, window 10", "deflated"),
        ("deflate, context takeover", "refused"),
        ("two extensions", "refused"),
    ],
)
def test_a_sink_writes_what_the_socket_negotiated(extension: str, expected: str) -> None:
    protocol = FakeProtocol()
    window = 10 if "window 10" in extension else 15
    no_takeover = "no context takeover" in extension
    deflate = PerMessageDeflate(True, no_takeover, 15, window)
    if extension.startswith("deflate"):
        protocol.conn.extensions.append(deflate)
    elif extension == "two extensions":
        protocol.conn.extensions.extend([PerMessageDeflate(True, True, 15, 15), object()])
    sink = FrameSink(protocol)  # type: ignore[arg-type]
    framed = Framed(BATCH)
    assert sink.write(framed) == (expected != "refused")
    assert sink.framing == (expected != "refused")
    if expected == "plain":
        assert protocol.transport.written == [framed.plain]
    elif expected == "deflated":
        assert protocol.transport.written == [framed.deflated(window)]
        assert client_reads(protocol.transport.written[0], window) == (True, BATCH)
    else:
        assert protocol.transport.written == []


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
