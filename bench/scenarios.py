"""The scenarios `python -m bench` runs, each returning its figures as a dict."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.settings import Settings
from bench import flash_sale
from bench.common import (
    RESULTS,
    ROOT,
    Account,
    CpuMeter,
    create_event,
    database,
    insert_accounts,
    named_pids,
    postgres_pids,
    process_tree,
    say,
    wait_http,
)


@dataclass
class Options:
    seats: int = 1000
    buyers: int = 2000
    retries: int = 8
    workers: int = 2
    client_processes: int = 2
    deadline_s: float = 180.0
    watchers: tuple[int, ...] = (1000, 5000, 10000)
    huge_seats: int = 100_000
    changes_per_s: int = 1000
    pgbench_seconds: int = 15
    pgbench_clients: int = 16
    browser: bool = True
    modes: tuple[str, ...] = ("services", "embedded")
    client: str = "raw"
    repeat: int = 3
    watch_processes: int = 2
    deflate: bool = False
    # `book`: the seed's load on Boxoffice and on a server speaking the seed's API.
    peer_url: str | None = None
    peer_database_url: str | None = None
    peer_pid: int | None = None
    book_seconds: int = 15
    # The seed's load named a 20,000-seat event; Boxoffice now books more than 20,000 in
    # a round's 15 s, and a round that runs out of seats measures 409s, not bookings.
    book_seats: int = 40_000
    book_client: str = "auto"
    # `fanout`: who serves the watchers, taking turns, and what makes the changes.
    peers: tuple[str, ...] = ("boxoffice", "ws")
    fanout_feed: str = "sale"
    publish_rate: int = 200
    publish_seconds: int = 15
    # `onsale`: the waiting room (bench/onsale.py) and the flash sale without one.
    onsale_buyers: int = 10_000
    onsale_seats: int = 1000
    max_shoppers: int = 200
    shopper_seconds: int = 120
    join_seconds: float = 10.0
    poll: bool = False
    poll_share: float = 0.1
    onsale_processes: int = 4
    onsale_baseline: bool = True


@contextlib.contextmanager
def boxoffice(settings: Settings, workers: int, **env: str) -> Iterator[Any]:
    sys.path.insert(0, str(ROOT))
    from tests.support.live_server import live_server

    with live_server(settings, workers=workers, **env) as server:
        yield server


@contextlib.contextmanager
def bare_server(settings: Settings, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """bench/bare_app.py under the same uvicorn settings as `backend.cli serve`."""
    from tests.support.live_server import free_port

    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        JWT_SECRET=settings.jwt_secret,
        BARE_DB_POOL=str(settings.db_pool_max),
        BARE_PORT=str(port),
        BARE_WORKERS=str(workers),
    )
    log = Path(tempfile.gettempdir()) / f"bench-bare-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_http(f"{url}/health"))
        yield url, process
    finally:
        from tests.support.live_server import stop_group

        stop_group(process)


def _seat_ids(event: dict[str, Any]) -> list[str]:
    return [s["id"] for s in event["seats"]]


def _meter(server_pid: int) -> CpuMeter:
    return CpuMeter(
        {
            "app": lambda: process_tree(server_pid),
            "postgres": postgres_pids,
            "redis": lambda: named_pids("redis-server"),
        }
    )


@contextlib.contextmanager
def _profiled(server_pid: int, label: str) -> Iterator[None]:
    """`BENCH_PROFILE=<dir>`: record every app worker with py-spy (speedscope JSON) while
    the body runs. Off by default: the sampler costs CPU the server under test would use."""
    out_dir = os.environ.get("BENCH_PROFILE")
    if not out_dir:
        yield
        return
    import shutil

    spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not spy:
        raise SystemExit("BENCH_PROFILE is set but py-spy is not installed (pip install py-spy)")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    workers = [pid for pid in process_tree(server_pid) if pid != server_pid] or [server_pid]
    slug = "".join(c if c.isalnum() else "-" for c in label).strip("-")
    spies = [
        subprocess.Popen(  # noqa: S603 (our own argv list, no shell)
            [
                spy,
                "record",
                "-r",
                "200",
                "--nonblocking",
                "-f",
                "raw",
                "-p",
                str(pid),
                "-o",
                str(Path(out_dir) / f"{slug}-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in workers
    ]
    try:
        yield
    finally:
        for spy_process in spies:
            spy_process.send_signal(2)
        for spy_process in spies:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy_process.wait(timeout=30)


def run_sale(
    opts: Options,
    base_url: str,
    event_id: str,
    seat_ids: list[str],
    buyers: list[Account],
    server_pid: int,
    label: str,
) -> dict[str, Any]:
    meter = _meter(server_pid)
    meter.start()
    with _profiled(server_pid, label):
        result = flash_sale.run_load(
            base_url,
            event_id,
            seat_ids,
            buyers,
            processes=opts.client_processes,
            retries=opts.retries,
            deadline_s=opts.deadline_s,
            client=opts.client,
        )

    result["cpu"] = meter.stop()
    used = result["cpu"]["cpu_s"]
    server_side = used["app"] + used["postgres"] + used["redis"]
    n_req, n_book = max(1, result["requests"]), max(1, result["bookings"])
    result["cpu_ms_per_request"] = {
        "app": round(1000 * used["app"] / n_req, 2),
        "server_side": round(1000 * server_side / n_req, 2),
    }
    result["cpu_ms_per_booking"] = {
        "app": round(1000 * used["app"] / n_book, 2),
        "server_side": round(1000 * server_side / n_book, 2),
    }
    result["cpu"]["cores_busy"]["client"] = round(
        result["client_cpu_s"] / result["cpu"]["wall_s"], 2
    )
    lat = result["latency"]
    say(
        f"  {label}: {result['bookings']} bookings in {result['sale_seconds']} s = "
        f"{result['bookings_per_s']} bookings/s, {result['requests_per_s']} req/s; "
        + "; ".join(
            f"{e} p50/p95/p99 {v['p50_ms']}/{v['p95_ms']}/{v['p99_ms']} ms" for e, v in lat.items()
        )
    )
    say(
        f"    status {result['status_counts']}  5xx={result['server_errors_5xx']}  "
        f"errors={result['transport_errors']}  cpu={result['cpu']['cores_busy']}"
    )
    return result


def flash(opts: Options, mode: str, tmp: Path, ceiling: bool) -> dict[str, Any]:
    """The flash sale on Boxoffice, and (services mode, `ceiling`) the bare handler and
    pgbench on the same database, in the same run.

    The machine is small and may be shared, so Boxoffice and the bare handler take turns
    (`opts.repeat` rounds, each on fresh seats, only one server up at a time) and the
    median round is reported, every round kept in the JSON.
    """
    workers = opts.workers if mode == "services" else 1
    rounds = opts.repeat if ceiling else 1
    out: dict[str, Any] = {
        "mode": mode,
        "workers": workers,
        "seats": opts.seats,
        "buyers": opts.buyers,
        "retries": opts.retries,
        "client_processes": opts.client_processes,
        "rounds": rounds,
    }
    say(f"[flash/{mode}] {opts.seats} seats, {opts.buyers} buyers, {workers} worker(s)")
    with database(mode, tmp) as settings:
        organiser, *_ = asyncio.run(insert_accounts(settings, 1, "organiser"))
        buyers = asyncio.run(insert_accounts(settings, opts.buyers, "buyer"))
        with boxoffice(settings, workers) as server:
            events = [
                asyncio.run(create_event(server.url, organiser, opts.seats, f"Flash sale {i}"))
                for i in range(rounds)
            ]
            bare_events = [
                asyncio.run(create_event(server.url, organiser, opts.seats, f"Bare {i}"))
                for i in range(rounds if ceiling else 0)
            ]
            out["signin_sample"] = asyncio.run(_sample_signins(server.url, buyers[:50]))
        box_runs: list[dict[str, Any]] = []
        bare_runs: list[dict[str, Any]] = []
        for i in range(rounds):
            with boxoffice(settings, workers) as server:
                sale = run_sale(
                    opts,
                    server.url,
                    events[i]["id"],
                    _seat_ids(events[i]),
                    buyers,
                    server.process.pid,
                    f"boxoffice (round {i + 1})",
                )
            sale["audit"] = asyncio.run(
                flash_sale.audit(settings, events[i]["id"], sale.pop("_bookings"))
            )
            say(f"    audit {sale['audit']}")
            box_runs.append(sale)
            if ceiling:
                with bare_server(settings, workers) as (url, process):
                    bare = run_sale(
                        opts,
                        url,
                        bare_events[i]["id"],
                        _seat_ids(bare_events[i]),
                        buyers,
                        process.pid,
                        f"bare handler (round {i + 1})",
                    )
                bare["audit"] = asyncio.run(
                    flash_sale.audit(settings, bare_events[i]["id"], bare.pop("_bookings"))
                )
                bare_runs.append(bare)
        out["boxoffice"] = _median_run(box_runs)
        out["boxoffice_rounds"] = box_runs
        if ceiling:
            from bench import pgbench

            out["bare"] = _median_run(bare_runs)
            out["bare_rounds"] = bare_runs
            out["pgbench"] = pgbench.run(
                settings, seconds=opts.pgbench_seconds, clients=opts.pgbench_clients
            )
            out["ratios"] = ratios(out)
            say(f"  ratios {out['ratios']}")
    return out


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["bookings_per_s"])
    return {
        **ordered[len(ordered) // 2],
        "rounds_bookings_per_s": [r["bookings_per_s"] for r in runs],
    }


def ratios(out: dict[str, Any]) -> dict[str, Any]:
    box = out["boxoffice"]["bookings_per_s"]
    bare = out["bare"]["bookings_per_s"]
    pg = out["pgbench"]["bookings_per_s"]
    box_rounds = out["boxoffice"]["rounds_bookings_per_s"]
    bare_rounds = out["bare"]["rounds_bookings_per_s"]
    per_round = [round(b / r, 2) for b, r in zip(box_rounds, bare_rounds, strict=True) if r]
    box_cpu = out["boxoffice"]["cpu_ms_per_booking"]
    bare_cpu = out["bare"]["cpu_ms_per_booking"]
    return {
        "boxoffice_over_bare": round(box / bare, 2) if bare else None,
        "boxoffice_over_bare_per_round": per_round,
        "boxoffice_over_pgbench": round(box / pg, 2) if pg else None,
        "bare_over_pgbench": round(bare / pg, 2) if pg else None,
        # CPU (app + database + Redis) per booking: steadier than throughput on a
        # shared machine, and what throughput comes down to when the cores are full.
        "cpu_per_booking_bare_over_boxoffice": (
            round(bare_cpu["server_side"] / box_cpu["server_side"], 2)
            if box_cpu["server_side"]
            else None
        ),
    }


async def _sample_signins(url: str, accounts: list[Account]) -> dict[str, Any]:
    """A few real sign-ins, to time them (the sale itself uses minted tokens)."""
    import httpx

    from bench.common import latency_summary, sign_in

    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        results = await asyncio.gather(*(sign_in(client, a.email) for a in accounts))
        wall = time.perf_counter() - started
    latencies = [ms for _, ms in results]
    return {
        **latency_summary(latencies),
        "signins_per_s": round(len(accounts) / wall, 1) if wall else None,
    }


def fanout(opts: Options, tmp: Path) -> dict[str, Any]:
    """K watchers on one event's websocket, on Boxoffice and on the `ws` peer, taking turns
    at each K (services mode; see bench/fanout_peers.py for the peer and the two feeds)."""
    from bench import fanout_peers as peers

    out: dict[str, Any] = {
        "mode": "services",
        "workers": opts.workers,
        "feed": opts.fanout_feed,
        "peers": list(opts.peers),
        "runs": [],
        "unwatched": [],
    }
    if "ws" in opts.peers:
        peers.npm_ci()
    with database("services", tmp) as settings:
        organiser, *_ = asyncio.run(insert_accounts(settings, 1, "organiser"))
        buyers = (
            asyncio.run(insert_accounts(settings, opts.buyers, "buyer"))
            if opts.fanout_feed == "sale"
            else []
        )
        # Both servers get the same batch-window rule (the app's defaults unless set).
        live = {
            "LIVE_BATCH_MS": os.environ.get("LIVE_BATCH_MS", "25"),
            "LIVE_SENDS_PER_SECOND": os.environ.get("LIVE_SENDS_PER_SECOND", "40000"),
        }
        # Every watcher comes from 127.0.0.1: lift the per-address cap on anonymous sockets.
        caps = {"WS_MAX_ANONYMOUS_PER_ADDRESS": "100000"}
        with boxoffice(
            settings, opts.workers, LIVE_COMMIT_STAMPS="1", WS_BACKLOG="256", **live, **caps
        ) as server:
            app_pids = peers.boxoffice_pids(server.process.pid)
            for count in opts.watchers:
                if opts.fanout_feed == "sale":
                    # The same sale with nobody watching, in turn with the watched ones:
                    # what each keeps of it (issue 13 asks 80 % at 10,000 watchers).
                    event = asyncio.run(
                        create_event(server.url, organiser, opts.seats, f"Unwatched {count}")
                    )
                    say(f"[fanout] nobody watching: the sale alone, for the {count} turns")
                    sale = _feed(
                        opts, settings, server.url, server.process.pid, event, buyers, "sale alone"
                    )
                    out["unwatched"].append({"watchers": count, "feed": sale()})
                for name in opts.peers:
                    event = asyncio.run(
                        create_event(server.url, organiser, opts.seats, f"Fan-out {count} {name}")
                    )
                    what = (
                        f"the sale ({opts.seats} seats, {opts.buyers} buyers) on Boxoffice"
                        if opts.fanout_feed == "sale"
                        else f"{opts.publish_rate} changes/s published for {opts.publish_seconds} s"
                    )
                    say(f"[fanout] {name}: {count} watchers; changes from {what}")
                    feed = _feed(opts, settings, server.url, server.process.pid, event, buyers)
                    if name == "boxoffice":
                        turn = peers.Turn("boxoffice", server.url, event, app_pids, feed)
                        out["runs"].append(
                            peers.run_turn(turn, count, opts.watch_processes, opts.deflate)
                        )
                        continue
                    with peers.ws_peer(event, opts.workers, tmp / "ws", settings, live) as (
                        url,
                        peer,
                    ):
                        turn = peers.Turn(
                            "ws", url, event, peers.boxoffice_pids(peer.pid), feed, app_pids
                        )
                        out["runs"].append(
                            peers.run_turn(turn, count, opts.watch_processes, opts.deflate)
                        )
    out["table"] = peers.table(out["runs"])
    say(out["table"])
    if out["unwatched"]:
        out["sale_table"] = peers.sale_table(out["runs"], out["unwatched"])
        say(out["sale_table"])
    return out


def _feed(
    opts: Options,
    settings: Settings,
    url: str,
    pid: int,
    event: dict[str, Any],
    buyers: list[Account],
    label: str = "sale under watch",
) -> Callable[[], dict[str, Any]]:
    """What makes the changes during a fan-out turn: the sale, or the publisher."""
    from bench import fanout_peers as peers

    def sale() -> dict[str, Any]:
        result = run_sale(opts, url, event["id"], _seat_ids(event), buyers, pid, label)
        result.pop("_bookings")
        keep = ("bookings", "bookings_per_s", "latency", "status_counts", "server_errors_5xx")
        return {"kind": "sale", **{k: result[k] for k in (*keep, "cpu")}}

    def publish() -> dict[str, Any]:
        with peers.Publisher(settings, event, opts.publish_rate) as publisher:
            time.sleep(opts.publish_seconds)
        return {
            "kind": "publish",
            "changes": publisher.sent,
            "changes_per_s": round(publisher.sent / opts.publish_seconds, 1),
        }

    return sale if opts.fanout_feed == "sale" else publish


def huge(opts: Options, tmp: Path) -> dict[str, Any]:
    """A 100,000-seat event: GET time and bytes, snapshot, browser paint and frames."""
    from bench import huge_venue

    out: dict[str, Any] = {"mode": "services", "workers": opts.workers}
    with database("services", tmp) as settings:
        organiser, *_ = asyncio.run(insert_accounts(settings, 1, "organiser"))
        users = asyncio.run(insert_accounts(settings, 20, "changer"))
        with boxoffice(settings, opts.workers) as server:
            say(f"[huge] creating a {opts.huge_seats}-seat event")
            started = time.perf_counter()
            event = asyncio.run(
                create_event(server.url, organiser, opts.huge_seats, "Stadium", max_per_user=50)
            )
            out["create_s"] = round(time.perf_counter() - started, 1)
            out.update(huge_venue.run(server.url, event, users, opts.changes_per_s, opts.browser))
    return out


def onsale(opts: Options, tmp: Path) -> dict[str, Any]:
    """The on-sale behind a waiting room (bench/onsale.py), then today's flash sale without
    a room at the same buyer and seat counts: same database, fresh servers, one at a time."""
    from bench import onsale as room

    cfg = room.RoomConfig(
        max_shoppers=opts.max_shoppers,
        shopper_seconds=opts.shopper_seconds,
        join_seconds=opts.join_seconds,
        poll_share=1.0 if opts.poll else opts.poll_share,
        processes=opts.onsale_processes,
        retries=opts.retries,
    )
    clients = "polling" if opts.poll else f"sockets, {round(100 * cfg.poll_share)} % polling"
    out: dict[str, Any] = {
        "mode": "services",
        "workers": opts.workers,
        "seats": opts.onsale_seats,
        "buyers": opts.onsale_buyers,
        "clients": clients,
    }
    say(
        f"[onsale] {opts.onsale_seats} seats, {opts.onsale_buyers} buyers ({clients}), "
        f"maxShoppers {cfg.max_shoppers}, {opts.workers} workers"
    )
    with database("services", tmp) as settings:
        organiser, *_ = asyncio.run(insert_accounts(settings, 1, "organiser"))
        buyers = asyncio.run(insert_accounts(settings, opts.onsale_buyers, "buyer"))
        with boxoffice(settings, opts.workers, **room.SERVER_ENV) as server:
            event = asyncio.run(
                room.create_event(server.url, organiser, opts.onsale_seats, cfg, "On-sale")
            )
            meter = _meter(server.process.pid)
            meter.start()
            before = set(process_tree(server.process.pid))
            result = room.run_room(server.url, event, organiser, buyers, cfg)
            result["cpu"] = meter.stop()
            # uvicorn kills and replaces a worker that misses its 5 s health check: all
            # its sockets drop at once. New pids in the server's tree are such restarts.
            result["server_processes_replaced"] = len(
                set(process_tree(server.process.pid)) - before
            )
            # The server's own account of the run: its warnings counted, its log kept.
            result["server_log"] = room.log_digest(server.log())
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "onsale-server.log").write_text(server.log())
        for raw in ("_records", "_requests"):
            result.pop(raw)
        result["audit"] = asyncio.run(
            flash_sale.audit(settings, event["id"], result.pop("_bookings"))
        )
        for line in room.report_lines(result):
            say(line)
        say(f"    audit {result['audit']}")
        digest = {k: v for k, v in result["server_log"].items() if k != "stalls"}
        say(
            f"    server log: {digest}; "
            f"loop stalls over LOOP_STALL_LOG_MS: {len(result['server_log']['stalls'])} "
            f"(stacks in the results file); processes replaced during the run: "
            f"{result['server_processes_replaced']}"
        )
        out["room"] = result
        if not opts.onsale_baseline:
            return out
        with boxoffice(settings, opts.workers) as server:
            flat = asyncio.run(create_event(server.url, organiser, opts.onsale_seats, "No room"))
            base = run_sale(
                opts,
                server.url,
                flat["id"],
                _seat_ids(flat),
                buyers,
                server.process.pid,
                "flash sale without a room",
            )
        base["audit"] = asyncio.run(flash_sale.audit(settings, flat["id"], base.pop("_bookings")))
        say(f"    audit {base['audit']}")
        out["flash"] = base
        out["ratios"] = _onsale_ratios(result, base)
        say(f"  room vs no room {out['ratios']}")
    return out


def _onsale_ratios(room: dict[str, Any], flat: dict[str, Any]) -> dict[str, Any]:
    """The flash sale's figure over the room's: above 1, the room is faster."""

    def over(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    lat, flat_lat = room["latency"], flat["latency"]
    return {
        "hold_p99": over(flat_lat["hold"]["p99_ms"], lat.get("hold", {}).get("p99_ms")),
        "book_p99": over(flat_lat["book"]["p99_ms"], lat.get("book", {}).get("p99_ms")),
        "time_to_sell_out": over(flat["sale_seconds"], room["time_to_sell_out_s"]),
    }
