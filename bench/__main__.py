"""`python -m bench [scenarios] [flags]`: run the benchmarks, print figures, write JSON.

Scenarios: flash (services + embedded; in services mode also the bare-handler and
pgbench ceilings), fanout, huge, book (the seed's `POST /book` load and a hot seat, on
Boxoffice and, with --peer-url, on any server speaking the seed's API, taking turns; see
bench/book.py and bench/README.md), onsale (an on-sale behind a waiting room, then the
flash sale without one; bench/onsale.py). Default: all of them. `--quick` is a small version of
everything (a minute or two). Results go to bench/results/<scenario>.json, and a
markdown summary to bench/results/summary.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import book as book_scenario
from bench.common import RESULTS, machine, say, write_result
from bench.scenarios import Options, fanout, flash, huge, onsale
from bench.summary import write_summary

SCENARIOS = ("flash", "fanout", "huge", "book", "onsale")


def parse(argv: list[str] | None) -> tuple[list[str], Options]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"any of {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small N, M, K: a smoke run")
    parser.add_argument("-n", "--seats", type=int, help="flash sale seats (default 1000)")
    parser.add_argument("-m", "--buyers", type=int, help="flash sale buyers (default 2000)")
    parser.add_argument(
        "-k",
        "--watchers",
        type=str,
        help="comma-separated watcher counts (default 1000,5000,10000)",
    )
    parser.add_argument("--retries", type=int, help="seats a losing buyer tries (default 8)")
    parser.add_argument("--workers", type=int, help="app worker processes (default 2)")
    parser.add_argument("--client", choices=["raw", "httpx"], help="load client (default raw)")
    parser.add_argument("--client-processes", type=int, help="load processes (default 2)")
    parser.add_argument("--modes", type=str, help="flash sale modes (default services,embedded)")
    parser.add_argument("--huge-seats", type=int, help="huge venue seats (default 100000)")
    parser.add_argument("--changes-per-s", type=int, help="changes/s for the browser (1000)")
    parser.add_argument("--pgbench-seconds", type=int, help="pgbench duration (default 15)")
    parser.add_argument(
        "--repeat", type=int, help="flash sale rounds, Boxoffice and bare taking turns (default 3)"
    )
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="fan-out watchers offer permessage-deflate (as browsers do)",
    )
    parser.add_argument(
        "--peer-url", help="book: a server speaking the seed's API, measured beside Boxoffice"
    )
    parser.add_argument(
        "--peer-database-url",
        help="book: the peer's PostgreSQL (the seed's tables), for seats and the SQL audit",
    )
    parser.add_argument("--peer-pid", type=int, help="book: the peer's pid, for its CPU")
    parser.add_argument("--book-seconds", type=int, help="book: seconds of load a round (15)")
    parser.add_argument("--book-seats", type=int, help="book: seats of each round's event (40000)")
    parser.add_argument(
        "--book-client", choices=["auto", "wrk", "asyncio"], help="book: load client (auto: wrk)"
    )
    parser.add_argument(
        "--peers",
        type=str,
        help="fanout: who serves the watchers, taking turns (default boxoffice,ws)",
    )
    parser.add_argument(
        "--fanout-feed",
        choices=["sale", "publish"],
        help="fanout: changes from the flash sale on Boxoffice (default), or published "
        "straight onto the channel (fan-out only)",
    )
    parser.add_argument("--publish-rate", type=int, help="fanout publish feed: changes/s (200)")
    parser.add_argument("--publish-seconds", type=int, help="fanout publish feed: seconds (15)")
    parser.add_argument("--onsale-buyers", type=int, help="onsale: buyers (10000)")
    parser.add_argument("--onsale-seats", type=int, help="onsale: seats (1000)")
    parser.add_argument("--max-shoppers", type=int, help="onsale: the room's maxShoppers (200)")
    parser.add_argument(
        "--shopper-seconds", type=int, help="onsale: the room's shopperSeconds (120)"
    )
    parser.add_argument(
        "--join-seconds", type=float, help="onsale: pre-queue joins over this long (10)"
    )
    parser.add_argument(
        "--poll", action="store_true", help="onsale: every buyer polls GET …/queue, no socket"
    )
    parser.add_argument(
        "--poll-share", type=float, help="onsale: share of buyers polling, not on a socket (0.1)"
    )
    parser.add_argument("--onsale-processes", type=int, help="onsale: client processes (4)")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="onsale: skip the flash sale without a room at the same counts",
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    opts = Options()
    if args.quick:
        opts = replace(
            opts,
            seats=200,
            buyers=400,
            watchers=(200,),
            huge_seats=20_000,
            pgbench_seconds=5,
            changes_per_s=300,
            repeat=1,
            book_seconds=5,
            book_seats=5_000,
            publish_seconds=5,
            onsale_buyers=1000,
            onsale_seats=200,
            max_shoppers=50,
        )
    for name in (
        "seats",
        "buyers",
        "retries",
        "workers",
        "client",
        "huge_seats",
        "changes_per_s",
        "pgbench_seconds",
        "client_processes",
        "repeat",
        "peer_url",
        "peer_database_url",
        "peer_pid",
        "book_seconds",
        "book_seats",
        "book_client",
        "fanout_feed",
        "publish_rate",
        "publish_seconds",
        "onsale_buyers",
        "onsale_seats",
        "max_shoppers",
        "shopper_seconds",
        "join_seconds",
        "poll_share",
        "onsale_processes",
    ):
        value = getattr(args, name)
        if value is not None:
            opts = replace(opts, **{name: value})
    if args.watchers:
        opts = replace(opts, watchers=tuple(int(k) for k in args.watchers.split(",")))
    if args.modes:
        opts = replace(opts, modes=tuple(m.strip() for m in args.modes.split(",")))
    if args.peers:
        opts = replace(opts, peers=tuple(p.strip() for p in args.peers.split(",")))
        unknown_peers = set(opts.peers) - {"boxoffice", "ws"}
        if unknown_peers:
            parser.error(f"unknown peer(s) {', '.join(sorted(unknown_peers))}: boxoffice, ws")
    if args.no_browser:
        opts = replace(opts, browser=False)
    if args.deflate:
        opts = replace(opts, deflate=True)
    if args.poll:
        opts = replace(opts, poll=True)
    if args.no_baseline:
        opts = replace(opts, onsale_baseline=False)
    return list(args.scenarios) or list(SCENARIOS), opts


def book_options(opts: Options) -> book_scenario.BookOptions:
    return book_scenario.BookOptions(
        peer_url=opts.peer_url,
        peer_database_url=opts.peer_database_url,
        peer_pid=opts.peer_pid,
        seconds=opts.book_seconds,
        seats=opts.book_seats,
        rounds=opts.repeat,
        workers=opts.workers,
        client=opts.book_client,
    )


def main(argv: list[str] | None = None) -> int:
    scenarios, opts = parse(argv)
    info = machine()
    say(f"Boxoffice benchmark, {info['date']}, {info['cores']} cores, {info.get('cpu', '?')}")
    say(f"options: {json.dumps(opts.__dict__)}")
    started = time.monotonic()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="boxoffice-bench-") as tmp:
        base = Path(tmp)
        if "flash" in scenarios:
            for mode in opts.modes:
                data = flash(opts, mode, base / f"flash-{mode}", ceiling=mode == "services")
                results[f"flash_{mode}"] = data
                write_result(f"flash_{mode}", {"options": opts.__dict__, **data})
        if "fanout" in scenarios:
            results["fanout"] = fanout(opts, base / "fanout")
            write_result("fanout", {"options": opts.__dict__, **results["fanout"]})
        if "huge" in scenarios:
            results["huge"] = huge(opts, base / "huge")
            write_result("huge", {"options": opts.__dict__, **results["huge"]})
        if "book" in scenarios:
            results["book"] = book_scenario.run(book_options(opts), base / "book")
            write_result("book", results["book"])
        if "onsale" in scenarios:
            results["onsale"] = onsale(opts, base / "onsale")
            write_result("onsale", {"options": opts.__dict__, **results["onsale"]})
    path = write_summary(RESULTS, info)
    say(f"done in {time.monotonic() - started:.0f} s; summary: {path}")
    say(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
