"""permessage-deflate on real servers, both modes: negotiated without context takeover,
a batch compressed once and read back by every compressing client as the plain clients
read it; `WS_DEFLATE=0` declines the offer (backend/live/frames.py)."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import msgspec
import pytest
from websockets.asyncio.client import connect

from tests.live.conftest import http
from tests.support.databases import mode_database
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.live

# What Chromium offers on every socket.
BROWSER_OFFER = "permessage-deflate; client_max_window_bits"


def serve(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, **env: str
) -> Iterator[LiveServer]:
    with (
        mode_database(request.param, tmp_path_factory.mktemp(request.param)) as settings,
        live_server(settings, **env) as server,
    ):
        yield server


@pytest.fixture(scope="module", params=["embedded", "services"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from serve(request, tmp_path_factory)


@pytest.fixture(scope="module", params=["embedded", "services"])
def plain_served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from serve(request, tmp_path_factory, WS_DEFLATE="0")


class RawSocket:
    """A websocket read frame by frame, to see what is on the wire (RSV1 and sizes)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.extensions = ""

    @classmethod
    async def open(cls, server: LiveServer, path: str, offer: str | None) -> RawSocket:
        parts = urlsplit(server.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        key = base64.b64encode(os.urandom(16)).decode()
        extensions = f"Sec-WebSocket-Extensions: {offer}\r\n" if offer else ""
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extensions}\r\n".encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        assert head.startswith("HTTP/1.1 101"), head
        sock = cls(reader, writer)
        for line in head.split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "sec-websocket-extensions":
                sock.extensions = value.strip()
        return sock

    async def frame(self) -> tuple[bool, bytes]:
        """The next data frame: (RSV1 set, payload as sent)."""
        while True:
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
            assert first & 0x80, "the server fragments no message these tests read"
            if first & 0x0F == 1:
                return bool(first & 0x40), payload

    async def message(self, kind: str) -> tuple[bool, bytes, bytes]:
        """The next message of `kind`: (compressed, bytes on the wire, its text)."""
        while True:
            compressed, payload = await self.frame()
            text = inflate(payload) if compressed else payload
            if msgspec.json.decode(text)["type"] == kind:
                return compressed, payload, text

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def inflate(payload: bytes) -> bytes:
    """A message compressed without context takeover, inflated on its own."""
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


async def hold_and_watch(
    server: LiveServer, offers: list[str | None]
) -> list[tuple[bool, bytes, bytes]]:
    """Sockets with these offers on a new event; one hold of six seats; the `seats`
    message each of them gets."""
    async with http(server) as api:
        owner = await api.user()
        event = await api.event(owner, seats=12)
        seat_ids = [s["id"] for s in event["seats"]]
        sockets = [await RawSocket.open(server, f"/ws/events/{event['id']}", o) for o in offers]
        try:
            async with asyncio.timeout(15):
                for sock in sockets:
                    await sock.message("snapshot")
                await api.hold(await api.user(), event["id"], seat_ids[:6])
                return [await sock.message("seats") for sock in sockets]
        finally:
            for sock in sockets:
                await sock.close()


async def test_a_browsers_offer_is_taken_without_context_takeover(served: LiveServer) -> None:
    sock = await RawSocket.open(served, "/ws/events/" + "0" * 32, BROWSER_OFFER)
    try:
        params = [p.strip() for p in sock.extensions.split(";")]
        assert params[0] == "permessage-deflate"
        assert "server_no_context_takeover" in params
        assert "client_no_context_takeover" in params
    finally:
        await sock.close()


async def test_a_batch_goes_compressed_to_compressing_sockets_and_plain_to_others(
    served: LiveServer,
) -> None:
    (
        (zipped_a, wire_a, text_a),
        (zipped_b, wire_b, text_b),
        (zipped_c, wire_c, text_c),
    ) = await hold_and_watch(served, [BROWSER_OFFER, BROWSER_OFFER, None])
    assert zipped_a and zipped_b and not zipped_c
    # One compression for both: the same bytes on both sockets.
    assert wire_a == wire_b
    assert text_a == text_b == text_c == wire_c
    message = msgspec.json.decode(text_c)
    assert [c["status"] for c in message["changes"]] == ["held"] * 6
    assert len(wire_a) < len(wire_c) / 2


async def test_a_compressing_client_library_reads_the_same_messages(served: LiveServer) -> None:
    """websockets' client (as the browser, it offers deflate) decodes what the server
    sends, and its own compressed messages are read: it signs in."""
    async with http(served) as api:
        owner = await api.user()
        buyer = await api.user()
        event = await api.event(owner, seats=12)
        seat_ids = [s["id"] for s in event["seats"]]
        url = f"{served.ws_url}/ws/events/{event['id']}"
        async with connect(url, compression="deflate") as socket:
            assert socket.protocol.extensions, "deflate was not negotiated"
            async with asyncio.timeout(15):
                first = msgspec.json.decode(await socket.recv())
                assert first["type"] == "snapshot"
                # The client compresses what it sends too (no context takeover, asked by
                # the server): the server reads it.
                await socket.send(
                    msgspec.json.encode({"type": "auth", "token": buyer.token}).decode()
                )
                while msgspec.json.decode(await socket.recv()).get("type") != "snapshot":
                    pass
                await api.hold(buyer, event["id"], seat_ids[:6])
                while (message := msgspec.json.decode(await socket.recv()))["type"] != "seats":
                    pass
    assert sorted(c["id"] for c in message["changes"]) == sorted(seat_ids[:6])
    assert all(c["mine"] is True for c in message["changes"])


async def test_small_messages_go_uncompressed(served: LiveServer) -> None:
    """Under DEFLATE_MIN_BYTES a message is sent as it is (RSV1 unset), as RFC 7692
    allows; the compressing socket reads it the same."""
    async with http(served) as api:
        owner = await api.user()
        event = await api.event(owner, seats=4)
        sock = await RawSocket.open(served, f"/ws/events/{event['id']}", BROWSER_OFFER)
        try:
            async with asyncio.timeout(15):
                await sock.message("snapshot")
                await api.hold(await api.user(), event["id"], [event["seats"][0]["id"]])
                compressed, wire, text = await sock.message("seats")
        finally:
            await sock.close()
    assert not compressed
    assert wire == text
    assert len(msgspec.json.decode(text)["changes"]) == 1


async def test_with_deflate_off_the_offer_is_declined(plain_served: LiveServer) -> None:
    [(compressed, wire, text)] = await hold_and_watch(plain_served, [BROWSER_OFFER])
    assert not compressed
    assert wire == text
    sock = await RawSocket.open(plain_served, "/ws/events/" + "0" * 32, BROWSER_OFFER)
    try:
        assert sock.extensions == ""
    finally:
        await sock.close()
