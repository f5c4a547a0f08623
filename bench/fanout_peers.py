"""Fan-out turns: the same watchers on Boxoffice or on the `ws` peer, fed the same changes.

The peer is bench/peers/ws-broadcaster.js (Node.js, `ws`, 2 processes), installed with
`npm ci` from its committed lock file. It subscribes to the Redis channel Boxoffice
publishes each committed change on and sends every watcher one pre-serialised message per
batch window, with each seat's latest state only (the hub's rule, window included). The
watchers (bench/fanout.py) connect to the same path and read the same frames, so both are
measured identically.

Two feeds (`--fanout-feed`):

* `sale` (default): the flash sale runs on Boxoffice, whose commits are the changes. In
  Boxoffice's turn its workers also fan out; in the peer's turn they only sell, and the peer
  fans out. Server CPU is the fanning server's; in the peer's turn Boxoffice's own CPU is
  reported beside it (`sale_app_cpu_s`).
* `publish`: fan-out only. Changes in the app's payload format are published straight onto
  the event's channel at `--publish-rate` a second (one seat each, as single bookings would
  be), with an idle Boxoffice or the peer as the only server at work, so server CPU per
  message compares like with like.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from bench import fanout as fan
from bench.common import ROOT, CpuMeter, named_pids, process_tree, rss_mib, say, wait_http

PEERS = ROOT / "bench" / "peers"
BROADCASTER = PEERS / "ws-broadcaster.js"


def npm_ci() -> None:
    """Install the peers' packages exactly as locked (`npm ci`), once per run."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("the ws peer needs Node.js 20+ and npm (`--peers boxoffice` skips it)")
    say("  npm ci (bench/peers)")
    subprocess.run(  # noqa: S603 (our own argv list, no shell)
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEERS, check=True
    )


@contextlib.contextmanager
def ws_peer(
    event: dict[str, Any], workers: int, tmp: Path, settings: Any, live: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The broadcaster serving `event`'s watchers, in `workers` processes, on `settings`'
    Redis, with the batch-window settings `live` (LIVE_BATCH_MS, LIVE_SENDS_PER_SECOND)
    Boxoffice was given; yields (url, process)."""
    from tests.support.live_server import free_port, stop_group

    node = shutil.which("node")
    if node is None:
        raise SystemExit("the ws peer needs Node.js 20+ (`--peers boxoffice` skips it)")
    tmp.mkdir(parents=True, exist_ok=True)
    snapshot = tmp / f"snapshot-{event['id']}.json"
    seats = [
        {k: s[k] for k in ("id", "status", "version", "heldUntil") if k in s}
        for s in event["seats"]
    ]
    snapshot.write_text(json.dumps({"eventId": event["id"], "seats": seats}))
    port = free_port()
    env = dict(os.environ)
    env.update(
        PORT=str(port),
        WORKERS=str(workers),
        REDIS_URL=settings.redis_url or "",
        REDIS_PREFIX=settings.redis_prefix,
        SNAPSHOT_FILE=str(snapshot),
    )
    env.update(live)
    log = tmp / f"ws-peer-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own argv list, no shell)
            [node, str(BROADCASTER)],
            cwd=PEERS,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_http(f"{url}/health", 30))
        # The workers listen before they have subscribed; give the PSUBSCRIBE a moment.
        time.sleep(0.5)
        yield url, process
    finally:
        stop_group(process)


class Publisher:
    """`rate` seat changes a second straight onto the event's channel, in a thread."""

    def __init__(self, settings: Any, event: dict[str, Any], rate: int) -> None:
        self.settings = settings
        self.event_id = str(event["id"])
        self.seats = [(str(s["id"]), int(s["version"])) for s in event["seats"]]
        self.rate = rate
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    async def _run(self) -> None:
        from redis.asyncio import Redis

        channel = f"{self.settings.redis_prefix}:{{{self.event_id}}}:seats"
        client = Redis.from_url(self.settings.redis_url)
        versions = dict(self.seats)
        order = [seat for seat, _ in self.seats]
        step = 1 / self.rate
        started = time.perf_counter()
        try:
            while not self.stop.is_set():
                seat = order[self.sent % len(order)]
                versions[seat] += 1
                held = versions[seat] % 2 == 0
                now_ms = int(time.time() * 1000)
                until = dt.datetime.fromtimestamp(now_ms / 1000 + 600, dt.UTC)
                change = {
                    "id": seat,
                    "status": "held" if held else "available",
                    "version": versions[seat],
                    "heldUntil": until.isoformat().replace("+00:00", "Z") if held else None,
                    "holder": None,
                }
                await client.publish(
                    channel, msgspec.json.encode({"at": now_ms, "changes": [change]})
                )
                self.sent += 1
                # Paced against the start, so a late wake-up is caught up, not lost.
                delay = started + self.sent * step - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            await client.aclose()


@dataclass
class Turn:
    """One server's turn: who serves the watchers and how the changes are made."""

    server: str  # "boxoffice" or "ws"
    watch_url: str
    event: dict[str, Any]
    server_pids: Callable[[], list[int]]
    feed: Callable[[], dict[str, Any]]  # makes the changes; returns its own figures
    app_pids: Callable[[], list[int]] | None = None  # Boxoffice's, when it is not the server


def _rss_sampler(pids: Callable[[], list[int]], stop: threading.Event, peak: list[float]) -> None:
    while not stop.wait(0.25):
        peak[0] = max(peak[0], rss_mib(pids()))


def run_turn(turn: Turn, count: int, processes: int, deflate: bool) -> dict[str, Any]:
    """Connect `count` watchers to `turn.watch_url`, make the changes, time what arrives."""
    rss_idle = rss_mib(turn.server_pids())
    control = tempfile.mkdtemp(prefix="bench-fanout-")
    fleet = fan.Fleet(turn.watch_url, turn.event["id"], count, processes, control, deflate=deflate)
    if not fleet.wait_ready(timeout=600):
        raise RuntimeError(f"{count} watchers did not connect to {turn.server} in 600 s")
    rss_connected = rss_mib(turn.server_pids())
    stop, peak = threading.Event(), [rss_connected]
    sampler = threading.Thread(
        target=_rss_sampler, args=(turn.server_pids, stop, peak), daemon=True
    )
    sampler.start()
    groups: dict[str, Callable[[], list[int]]] = {
        "server": turn.server_pids,
        "redis": lambda: named_pids("redis-server"),
    }
    if turn.app_pids is not None:
        groups["sale_app"] = turn.app_pids
    meter = CpuMeter(groups)
    meter.start()
    fleet.go()
    feed = turn.feed()
    time.sleep(1.0)  # the last batches reach the sockets
    results = fleet.stop()
    cpu = meter.stop()
    stop.set()
    sampler.join()
    shutil.rmtree(control, ignore_errors=True)
    summary = fan.summarise(results, count)
    summary["server"] = turn.server
    summary["server_rss_mib"] = {
        "before_watchers": rss_idle,
        "watchers_connected": rss_connected,
        "peak_during_feed": peak[0],
    }
    summary["server_cpu"] = cpu
    server_s = cpu["cpu_s"]["server"]
    summary["server_cores_busy"] = cpu["cores_busy"].get("server")
    summary["server_cpu_ms_per_1000_messages"] = (
        round(1e6 * server_s / summary["messages"], 1) if summary["messages"] else None
    )
    summary["feed"] = feed
    lat = summary["commit_to_socket_ms"]
    say(
        f"  {turn.server}, {count} watchers: commit-to-socket p50/p99 {lat['p50']}/{lat['p99']} "
        f"ms, {summary['messages_per_s']} msg/s, server CPU {summary['server_cores_busy']} cores "
        f"({summary['server_cpu_ms_per_1000_messages']} ms/1000 msg), RSS peak {peak[0]} MiB, "
        f"fell behind {summary['fell_behind']} {summary['fell_behind_detail']}"
    )
    return summary


def table(runs: list[dict[str, Any]]) -> str:
    """Markdown: one line per server and watcher count.

    CPU is in cores busy: the fanning server's, then in brackets every app process's (the
    peer's turn adds Boxoffice selling; with the publish feed Boxoffice idles then)."""
    lines = [
        "| server | watchers | commit-to-socket p50 / p99 | messages/s | server CPU, cores "
        "(all app processes) | CPU ms per 1,000 msg | RSS connected / peak | fell behind |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        lat, rss = run["commit_to_socket_ms"], run["server_rss_mib"]
        busy = run["server_cpu"]["cores_busy"]
        apps = round(busy.get("server", 0) + busy.get("sale_app", 0), 2)
        lines.append(
            f"| {run['server']} | {run['watchers']:,} | {lat['p50']} / {lat['p99']} ms "
            f"| {run['messages_per_s']:,} | {busy.get('server')} ({apps}) "
            f"| {run['server_cpu_ms_per_1000_messages']} "
            f"| {rss['watchers_connected']} / {rss['peak_during_feed']} MiB "
            f"| {run['fell_behind']} of {run['connected']} |"
        )
    return "\n".join(lines)


def sale_table(runs: list[dict[str, Any]], unwatched: list[dict[str, Any]]) -> str:
    """Markdown: the sale at each watcher count, alone and beside each server's fan-out,
    with the share of the unwatched sale's bookings/s each keeps. In the `ws` peer's turn
    Boxoffice only sells: what the sale loses there is the audience's own cost on this
    host (its clients, the peer), not Boxoffice's fan-out."""
    lines = [
        "| watchers | fan-out by | sale bookings/s | of the sale alone | hold p50 / p99 "
        "| book p50 / p99 | 5xx |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    alone = {u["watchers"]: u["feed"] for u in unwatched}

    def line(count: int, who: str, sale: dict[str, Any], share: str) -> str:
        hold, book = sale["latency"].get("hold", {}), sale["latency"].get("book", {})
        return (
            f"| {count:,} | {who} | {sale['bookings_per_s']} | {share} "
            f"| {hold.get('p50_ms')} / {hold.get('p99_ms')} ms "
            f"| {book.get('p50_ms')} / {book.get('p99_ms')} ms | {sale['server_errors_5xx']} |"
        )

    for count, base in alone.items():
        lines.append(line(count, "nobody watching", base, "1.00"))
        for run in runs:
            sale = run.get("feed") or {}
            if run["watchers"] != count or sale.get("kind") != "sale":
                continue
            rate, base_rate = sale["bookings_per_s"], base["bookings_per_s"]
            share = f"{rate / base_rate:.2f}" if rate and base_rate else "n/a"
            lines.append(line(count, run["server"], sale, share))
    return "\n".join(lines)


def boxoffice_pids(pid: int) -> Callable[[], list[int]]:
    return lambda: process_tree(pid)
