"""Sockets that stop reading cost a bounded amount of memory and are closed (issue 11, item 5).

A real server process (uvicorn, as `boxoffice serve` runs it) in both run modes, a
100,000-seat event (a plain snapshot of about 7.9 MB) and 50 stalled readers: raw TCP
clients with a tiny receive buffer that complete the websocket handshake and then never
read. Before the fix each one kept its whole snapshot in the server's transport buffer,
for as long as it stayed connected: +413 MiB (embedded) and +408 MiB (services) once
all 50 had been written to. Now they cost no more than a snapshot read, and are closed
after WS_STALL_SECONDS.

The server's memory is the resident set of its process tree; its peak over the episode
comes from VmHWM, reset just before the readers connect (`/proc/<pid>/clear_refs`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import fcntl
import os
import socket
import sqlite3
import struct
import termios
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from backend.live.frames import FRAGMENT_BYTES
from backend.settings import Settings
from bench.common import insert_accounts, process_tree
from tests.support.live_server import LiveServer, live_server
from tests.support.waiting import eventually
from tests.support.watcher import Watcher

pytestmark = [pytest.mark.live]

SEATS = 100_000
STALLED = 50
STALL_SECONDS = 1
# asyncio's default write high-water mark (uvicorn keeps it): a transport pauses its
# writer past it, and the server writes a large message one fragment at a time below it.
HIGH_WATER = 64 * 1024
# What a stalled socket may cost the server while it waits for the deadline: its
# transport buffer (under the high-water mark plus one fragment), and its session's
# bookkeeping (the ASGI scope and tasks, the protocol, its parser: tens of kB), with
# a margin for the allocator.
PER_SOCKET = HIGH_WATER + FRAGMENT_BYTES + 128 * 1024


async def insert_event(settings: Settings, organiser_id: str, seats: int) -> str:
    """An event with `seats` available seats, written straight into the database: quicker
    than `POST /events` (seconds for 100,000 seats), which these tests are not about."""
    event_id = str(uuid.uuid4())
    per_row = 100
    rows = [
        (str(uuid.uuid4()), event_id, f"R{n // per_row + 1}-{n % per_row + 1}", "Stalls",
         f"R{n // per_row + 1}", n % per_row + 1, float(n % per_row), float(n // per_row))
        for n in range(seats)
    ]  # fmt: skip
    columns = ["id", "event", "label", "section", "row", "number", "x", "y"]
    if settings.database_url:
        conn = await asyncpg.connect(settings.database_url)
        try:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO bo_event (id, name, organiser) VALUES ($1, 'Stadium', $2)",
                    uuid.UUID(event_id),
                    uuid.UUID(organiser_id),
                )
                await conn.copy_records_to_table(
                    "bo_seat",
                    records=[(uuid.UUID(r[0]), uuid.UUID(r[1]), *r[2:]) for r in rows],
                    columns=columns,
                )
        finally:
            await conn.close()
        return event_id

    def write() -> None:
        with contextlib.closing(sqlite3.connect(settings.sqlite_path, timeout=30)) as conn:
            conn.execute(
                "INSERT INTO bo_event (id, name, organiser, created_at)"
                " VALUES (?, 'Stadium', ?, ?)",
                (event_id, organiser_id, dt.datetime.now(dt.UTC).isoformat()),
            )
            marks = ", ".join("?" for _ in columns)
            conn.executemany(f"INSERT INTO bo_seat ({', '.join(columns)}) VALUES ({marks})", rows)
            conn.commit()

    await asyncio.to_thread(write)
    return event_id


async def delete_event(settings: Settings, event_id: str) -> None:
    """Keep the session's shared database small for the tests that follow."""
    if settings.database_url:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute("DELETE FROM bo_seat WHERE event = $1", uuid.UUID(event_id))
            await conn.execute("DELETE FROM bo_event WHERE id = $1", uuid.UUID(event_id))
        finally:
            await conn.close()
        return

    def delete() -> None:
        with contextlib.closing(sqlite3.connect(settings.sqlite_path, timeout=30)) as conn:
            conn.execute("DELETE FROM bo_seat WHERE event = ?", (event_id,))
            conn.execute("DELETE FROM bo_event WHERE id = ?", (event_id,))
            conn.commit()

    await asyncio.to_thread(delete)


def stalled_reader(port: int, event_id: str) -> socket.socket:
    """A websocket client that completes the handshake and then reads nothing."""
    sock = socket.socket()
    # Before connecting, so the window it advertises stays small from the start.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/events/{event_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # a byte at a time: nothing past the response
        byte = sock.recv(1)
        assert byte, f"closed during the handshake: {head!r}"
        head += byte
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def unread(sock: socket.socket) -> int:
    """Bytes waiting in the client's receive buffer."""
    return int(struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0])


def closed_by_server(sock: socket.socket) -> bool:
    """Drain what the socket has; True once the server has closed or reset it."""
    sock.setblocking(False)
    try:
        while True:
            if not sock.recv(1 << 20):
                return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def status_kib(pids: list[int], field: str) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
    return total * 1024


def reset_peak(pids: list[int]) -> None:
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


async def metric(server: LiveServer, line_start: str) -> float:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {line_start} in /metrics")


async def too_slow(server: LiveServer) -> float:
    return await metric(server, 'boxoffice_websocket_limit_closes_total{reason="too_slow"}')


async def test_stalled_readers_are_closed_and_server_memory_stays_bounded(
    settings: Settings,
) -> None:
    [organiser] = await insert_accounts(settings, 1, f"stall-{uuid.uuid4().hex[:8]}")
    env = {
        "WS_STALL_SECONDS": str(STALL_SECONDS),
        # The stalled readers and the prompt one share 127.0.0.1 (the cap itself is
        # tested in test_websocket_limits.py).
        "WS_MAX_ANONYMOUS_PER_ADDRESS": str(STALLED + 1),
    }
    event_id = await insert_event(settings, organiser.id, SEATS)
    try:
        await stall_readers(settings, event_id, env, organiser.headers)
    finally:
        await delete_event(settings, event_id)


async def stall_readers(
    settings: Settings, event_id: str, env: dict[str, str], headers: dict[str, str]
) -> None:
    with live_server(settings, **env) as server:
        pids = process_tree(server.process.pid)
        idle = status_kib(pids, "VmRSS")
        reset_peak(pids)
        async with Watcher(server.ws_url, event_id, name="prompt") as prompt:
            assert len(prompt.map.seats) == SEATS
            # What reading and encoding this snapshot once costs the server at its peak.
            read = status_kib(pids, "VmHWM") - idle
            before = status_kib(pids, "VmRSS")
            reset_peak(pids)
            readers = await asyncio.gather(
                *(asyncio.to_thread(stalled_reader, server.port, event_id) for _ in range(STALLED))
            )
            try:
                # Every reader has been sent (the start of) its snapshot, and cannot take more.
                await eventually(
                    lambda: all(unread(r) > 0 for r in readers),
                    what="the server to write to every stalled reader",
                    timeout=20,
                )
                written = status_kib(pids, "VmRSS") - before
                print(f"written to {STALLED} stalled readers: +{written / 2**20:.1f} MiB")

                # Past the deadline the server closes them: what they held is released.
                # (Only then do the clients read: reading would unstall the others.)
                async def all_closed() -> bool:
                    return await too_slow(server) >= STALLED

                await eventually(
                    all_closed,
                    what="the server to close every stalled reader as too slow",
                    timeout=5 + 2 * STALL_SECONDS,
                    interval=0.1,
                )
                await eventually(
                    lambda: all(closed_by_server(r) for r in readers),
                    what="every stalled reader to see its socket closed by the server",
                    timeout=5,
                )
                assert await too_slow(server) == STALLED
                peak = status_kib(pids, "VmHWM") - idle
                after = status_kib(pids, "VmRSS") - idle
            finally:
                for reader in readers:
                    reader.close()
            # Two reads may be in memory at once (SharedReads runs one load per event
            # while the previous one's sockets encode), and each socket its own bound.
            bound = 2 * read + STALLED * PER_SOCKET
            mib = 2**20
            figures = (
                f"over the idle server: one snapshot read peaks at +{read / mib:.1f} MiB; "
                f"{STALLED} stalled readers: peak +{peak / mib:.1f} MiB, "
                f"+{after / mib:.1f} MiB once closed (bound +{bound / mib:.1f} MiB)"
            )
            print(figures)
            assert peak < bound, figures

            # The prompt reader was never closed and still hears changes.
            assert await metric(server, "boxoffice_websocket_watchers ") == 1
            seat = next(iter(prompt.map.seats))
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                held = await client.post(
                    f"/events/{event_id}/holds", json={"seatIds": [seat]}, headers=headers
                )
            assert held.status_code == 201, held.text
            await prompt.wait_for_seat(seat, timeout=1.0, status="held")
