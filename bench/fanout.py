"""Live fan-out: K websocket watchers on one event while the flash sale runs.

Watchers are raw asyncio protocols (a few hundred bytes of state each, no per-socket
task), spread over a few client processes, so 10,000 of them fit beside the server on
this machine. Each reads frames and, for a `seats` message, only looks up its `"at"`
field (the commit timestamp the server puts in it, epoch ms) to time commit-to-socket;
the JSON is not decoded (with `--deflate`, a message compressed on its own is inflated
only as far as that field). A watcher "fell behind" if the server had to send it a fresh
snapshot after the first one (its backlog overflowed), if a message reached it more
than a second after its commit, or if its socket closed during the sale.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import struct
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import percentile

BEHIND_MS = 1000
HIST_MAX_MS = 120_000


@dataclass
class WatchPlan:
    base_url: str
    event_id: str
    count: int
    connect_concurrency: int = 100
    deflate: bool = False
    # The parent writes "go" / "stop" into these files; polling a file keeps the
    # processes independent of a shared manager.
    control_dir: str = ""
    timeout_s: float = 600.0


@dataclass
class WatchResult:
    connected: int = 0
    failed: int = 0
    connect_seconds: float = 0.0
    first_snapshot_ms: list[float] = field(default_factory=list)
    snapshot_bytes: int = 0
    # during the measured window
    messages: int = 0
    bytes: int = 0
    window_s: float = 0.0
    hist: list[int] = field(default_factory=list)  # latency histogram, 1 ms buckets
    resynced: int = 0
    late: int = 0
    closed: int = 0
    behind: int = 0
    cpu_s: float = 0.0


class WatcherProtocol(asyncio.Protocol):
    __slots__ = (
        "buf",
        "closed",
        "counting",
        "got_snapshot",
        "hist",
        "inflater",
        "max_ms",
        "opened_at",
        "result",
        "snapshots",
        "standalone",
        "stats",
        "transport",
        "upgrade_req",
        "upgraded",
    )

    def __init__(self, upgrade: bytes, stats: Stats) -> None:
        self.upgrade_req = upgrade
        self.stats = stats
        self.buf = bytearray()
        self.upgraded = False
        self.got_snapshot: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.snapshots = 0
        self.max_ms = 0
        self.closed = False
        self.opened_at = time.perf_counter()
        self.transport: asyncio.Transport | None = None
        self.inflater: Any = None
        self.standalone = False  # compressed messages stand alone (no context takeover)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.opened_at = time.perf_counter()
        transport.write(self.upgrade_req)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.stats.counting:
            self.stats.closed_during += 1
        if not self.got_snapshot.done():
            self.got_snapshot.set_exception(ConnectionError("closed before the snapshot"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                if not self.got_snapshot.done():
                    self.got_snapshot.set_exception(
                        ConnectionError(bytes(buf[:80]).decode(errors="replace"))
                    )
                assert self.transport is not None
                self.transport.close()
                return
            head_text = bytes(buf[:end]).lower()
            if b"permessage-deflate" in head_text:
                self.inflater = zlib.decompressobj(-15)
                self.standalone = b"server_no_context_takeover" in head_text
            del buf[: end + 4]
            self.upgraded = True
        stats = self.stats
        while True:
            n = len(buf)
            if n < 2:
                return
            opcode = buf[0] & 0x0F
            length = buf[1] & 0x7F
            head = 2
            if length == 126:
                if n < 4:
                    return
                length = struct.unpack_from("!H", buf, 2)[0]
                head = 4
            elif length == 127:
                if n < 10:
                    return
                length = struct.unpack_from("!Q", buf, 2)[0]
                head = 10
            if n < head + length:
                return
            if opcode == 1 and buf[0] & 0x40 and self.standalone:
                # permessage-deflate without the server's context takeover: each message
                # inflates on its own, and only its start is read (its type and "at"),
                # as a browser's native inflate costs the server's host nothing.
                data = zlib.decompressobj(-15).decompress(bytes(buf[head : head + length]), 96)
                self._message(data, 0, len(data), stats, head + length)
            elif opcode == 1 and buf[0] & 0x40 and self.inflater is not None:
                # permessage-deflate (RSV1): inflate with the connection's context.
                data = self.inflater.decompress(
                    bytes(buf[head : head + length]) + b"\x00\x00\xff\xff"
                )
                self._message(data, 0, len(data), stats, head + length)
            elif opcode == 1:
                self._message(buf, head, length, stats, head + length)
            elif opcode == 9:  # ping: answer with a masked pong
                self._send(0xA, bytes(buf[head : head + length]))
            elif opcode == 8:
                assert self.transport is not None
                self.transport.close()
            del buf[: head + length]

    def _message(
        self, buf: bytes | bytearray, head: int, length: int, stats: Stats, wire: int
    ) -> None:
        if buf.startswith(b'{"type":"seats"', head):
            if stats.counting:
                stats.messages += 1
                stats.bytes += wire
                at = buf.find(b'"at":', head, head + 64)
                if at >= 0:
                    start = at + 5
                    end = start
                    while 48 <= buf[end] <= 57:
                        end += 1
                    lag = int(time.time() * 1000) - int(buf[start:end])
                    if lag > self.max_ms:
                        self.max_ms = lag
                    stats.hist[min(max(lag, 0), HIST_MAX_MS - 1)] += 1
        elif buf.startswith(b'{"type":"snapshot"', head):
            self.snapshots += 1
            if self.snapshots == 1 and not self.got_snapshot.done():
                stats.snapshot_bytes += wire
                self.got_snapshot.set_result((time.perf_counter() - self.opened_at) * 1000)
            elif stats.counting:
                stats.resyncs += 1
                stats.bytes += wire

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        header = bytes([0x80 | opcode, 0x80 | len(payload)])
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(header + mask + masked)


class Stats:
    def __init__(self) -> None:
        self.counting = False
        self.messages = 0
        self.bytes = 0
        self.resyncs = 0
        self.closed_during = 0
        self.snapshot_bytes = 0
        self.hist = [0] * HIST_MAX_MS


def _upgrade(host: str, port: int, path: str, deflate: bool) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    extensions = (
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        if deflate
        else ""
    )
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extensions}\r\n"
    ).encode()


async def _wait_file(path: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if await asyncio.to_thread(os.path.exists, path):
            return True
        await asyncio.sleep(0.05)
    return False


async def _watch(plan: WatchPlan) -> WatchResult:
    parts = urlsplit(plan.base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = f"/ws/events/{plan.event_id}"
    loop = asyncio.get_running_loop()
    stats = Stats()
    result = WatchResult()
    protocols: list[WatcherProtocol] = []
    gate = asyncio.Semaphore(plan.connect_concurrency)
    deadline = time.monotonic() + plan.timeout_s

    async def open_one() -> None:
        async with gate:
            try:
                _, proto = await loop.create_connection(
                    lambda: WatcherProtocol(_upgrade(host, port, path, plan.deflate), stats),
                    host,
                    port,
                )
                protocols.append(proto)
                result.first_snapshot_ms.append(await asyncio.wait_for(proto.got_snapshot, 120))
                result.connected += 1
            except (TimeoutError, OSError, ConnectionError):
                result.failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(open_one() for _ in range(plan.count)))
    result.connect_seconds = time.perf_counter() - started
    result.snapshot_bytes = stats.snapshot_bytes
    ready = Path(plan.control_dir, f"ready-{os.getpid()}")
    await asyncio.to_thread(ready.touch)
    if await _wait_file(os.path.join(plan.control_dir, "go"), deadline):
        for proto in protocols:
            proto.max_ms = 0
        stats.counting = True
        cpu0 = time.process_time()
        window = time.perf_counter()
        await _wait_file(os.path.join(plan.control_dir, "stop"), deadline)
        stats.counting = False
        result.window_s = time.perf_counter() - window
        result.cpu_s = time.process_time() - cpu0
    result.messages = stats.messages
    result.bytes = stats.bytes
    result.resynced = sum(1 for p in protocols if p.snapshots > 1)
    result.late = sum(1 for p in protocols if p.max_ms > BEHIND_MS)
    result.closed = stats.closed_during
    result.behind = sum(1 for p in protocols if p.snapshots > 1 or p.max_ms > BEHIND_MS or p.closed)
    # Trim the histogram to what was used (it travels back to the parent).
    last = max((i for i, n in enumerate(stats.hist) if n), default=-1)
    result.hist = stats.hist[: last + 1]
    for proto in protocols:
        if proto.transport is not None:
            proto.transport.close()
    await asyncio.sleep(0.2)
    return result


def _process_main(plan: WatchPlan) -> WatchResult:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, plan.count + 1024)), hard))
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    return asyncio.run(_watch(plan))


class Fleet:
    """K watchers in `processes` client processes; `go()` starts counting, `stop()` ends."""

    def __init__(
        self,
        base_url: str,
        event_id: str,
        count: int,
        processes: int,
        control_dir: str,
        deflate: bool = False,
    ) -> None:
        self.control_dir = control_dir
        self.processes = max(1, min(processes, count))
        share = [
            count // self.processes + (1 if i < count % self.processes else 0)
            for i in range(self.processes)
        ]
        self.plans = [
            WatchPlan(base_url, event_id, n, control_dir=control_dir, deflate=deflate)
            for n in share
        ]
        ctx = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=ctx)
        self.futures = [self.pool.submit(_process_main, plan) for plan in self.plans]

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = [f for f in os.listdir(self.control_dir) if f.startswith("ready-")]
            if len(ready) >= self.processes:
                return True
            if any(f.done() for f in self.futures):
                for f in self.futures:
                    if f.done() and f.exception():
                        raise f.exception()  # type: ignore[misc]
            time.sleep(0.2)
        return False

    def go(self) -> None:
        open(os.path.join(self.control_dir, "go"), "w").close()

    def stop(self) -> list[WatchResult]:
        open(os.path.join(self.control_dir, "stop"), "w").close()
        results = [f.result(timeout=120) for f in self.futures]
        self.pool.shutdown()
        return results


def summarise(results: list[WatchResult], count: int) -> dict[str, Any]:
    hist = [0] * max((len(r.hist) for r in results), default=0)
    for r in results:
        for i, n in enumerate(r.hist):
            hist[i] += n
    total = sum(hist)

    def hist_pct(p: float) -> int | None:
        if not total:
            return None
        target = p / 100 * total
        seen = 0
        for i, n in enumerate(hist):
            seen += n
            if seen >= target:
                return i
        return len(hist) - 1

    window = max((r.window_s for r in results), default=0.0)
    snapshots = [ms for r in results for ms in r.first_snapshot_ms]
    return {
        "watchers": count,
        "connected": sum(r.connected for r in results),
        "connect_failed": sum(r.failed for r in results),
        "connect_seconds": round(max((r.connect_seconds for r in results), default=0.0), 1),
        "first_snapshot_ms_p50": round(percentile(snapshots, 50) or 0, 1),
        "first_snapshot_ms_p99": round(percentile(snapshots, 99) or 0, 1),
        "snapshot_bytes_each": (
            round(sum(r.snapshot_bytes for r in results) / max(1, len(snapshots)))
        ),
        "window_s": round(window, 2),
        "commit_to_socket_ms": {
            "count": total,
            "p50": hist_pct(50),
            "p99": hist_pct(99),
            "max": len(hist) - 1 if total else None,
        },
        "messages": sum(r.messages for r in results),
        "messages_per_s": round(sum(r.messages for r in results) / window) if window else 0,
        "bytes_per_s": round(sum(r.bytes for r in results) / window) if window else 0,
        "fell_behind": sum(r.behind for r in results),
        "fell_behind_detail": {
            "resynced_by_server": sum(r.resynced for r in results),
            "over_1s_late": sum(r.late for r in results),
            "closed": sum(r.closed for r in results),
        },
        "client_cpu_s": round(sum(r.cpu_s for r in results), 2),
    }
