"""The seed's own load: uncontended `POST /book` and a hot seat, on Boxoffice and on a peer.

A peer is any server that speaks the seed's API (`POST /signup`, `POST /signin`,
`POST /events {name, seats}`, `POST /book {seatId}`), such as the seed itself. The load is
the one issue 13 measured: 64 connections for 15 s, each request a distinct seat of a
20,000-seat event (40,000 by default now: Boxoffice books more than 20,000 in 15 s), 64
users' tokens taken in turn; then a hot seat, 200 requests for one
seat sent at once (a few seats in a row). Boxoffice and the peer take turns, round by round,
so a noisy neighbour on this shared machine lands on both.

The uncontended load is wrk's when wrk is installed: a C client on this 2-core machine
costs the servers far less CPU than any Python client (bench/http.py's raw client spends
about 0.2 ms a request, a tenth of a core at 600 requests/s), and wrk's latency histogram
is exact. Its Lua script is written at run time into a temporary folder: each wrk thread
books its own stride of the seats, counts statuses and keeps the seat of every 2xx. Without
wrk, an asyncio client does the same from this process (`"client": "asyncio"` in the
JSON). The hot seat is always the asyncio client: 200 connections opened first, then 200
requests written together, which wrk cannot do.

Double bookings: with the database at hand (Boxoffice's always, the peer's with
`--peer-database-url`, which must hold the seed's tables), SQL counts seats with more than
one booking and compares the booking rows with the 2xx answers; without it, 2xx answers are
counted per seat. App CPU per booking needs the app's pid (`--peer-pid` for the peer; the
pid and its children are counted), PostgreSQL and Redis CPU are those servers' processes.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec

from bench.common import (
    PASSWORD,
    CpuMeter,
    latency_summary,
    named_pids,
    postgres_pids,
    process_tree,
    say,
)
from bench.http import Connection, HTTPError
from bench.wrk import wrk_book

CONNECTIONS = 64
SECONDS = 15
SEATS = 20_000
USERS = 64
HOT_REQUESTS = 200
HOT_SEATS = 5  # hot seats per round, one after another
CHUNK = 2_000  # seats per POST /events when the peer's database is not at hand


@dataclass
class BookOptions:
    peer_url: str | None = None
    peer_database_url: str | None = None
    peer_pid: int | None = None
    connections: int = CONNECTIONS
    seconds: int = SECONDS
    seats: int = SEATS
    users: int = USERS
    hot_requests: int = HOT_REQUESTS
    hot_seats: int = HOT_SEATS
    rounds: int = 3
    workers: int = 2
    client: str = "auto"  # wrk when installed, else asyncio


@dataclass
class Target:
    """One server under load for one round: its URL, seats, tokens and how to audit it."""

    name: str
    url: str
    seat_ids: list[str]
    tokens: list[str]
    pids: Callable[[], list[int]] | None = None
    database_url: str | None = None
    schema: str = "seed"  # "seed" (Prisma's tables) or "boxoffice"
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------- asyncio


async def _asyncio_load(
    url: str, seat_ids: Sequence[str], tokens: Sequence[str], opts: BookOptions
) -> Any:
    """The same closed loop as wrk's, from this process."""
    seats = iter(seat_ids)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    booked: list[str] = []
    errors = 0
    deadline = time.monotonic() + opts.seconds

    async def connection(i: int) -> None:
        nonlocal errors
        conn = Connection(url, {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}, 10)
        try:
            while time.monotonic() < deadline:
                seat = next(seats, None)
                if seat is None:
                    return
                started = time.perf_counter()
                try:
                    response = await conn.post("/book", msgspec.json.encode({"seatId": seat}))
                except HTTPError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] += 1
                if 200 <= response.status_code < 300:
                    booked.append(seat)
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(opts.connections)))
    seconds = time.perf_counter() - started
    summary = latency_summary(latencies)
    latency = {k: summary[k] for k in ("p50_ms", "p99_ms", "max_ms")}
    return seconds, len(latencies) + errors, statuses, latency, booked, {"errors": errors}


# -------------------------------------------------------------- hot seat


async def hot_seat(url: str, seat_id: str, tokens: Sequence[str], n: int) -> dict[str, Any]:
    """`n` requests for one seat, on `n` connections opened first, written together."""
    conns = [
        Connection(url, {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}, 30)
        for i in range(n)
    ]
    body = msgspec.json.encode({"seatId": seat_id})
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    try:
        await asyncio.gather(*(c.connect() for c in conns))

        async def one(conn: Connection) -> None:
            started = time.perf_counter()
            try:
                response = await conn.post("/book", body)
            except HTTPError:
                statuses[0] += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[response.status_code] += 1

        await asyncio.gather(*(one(c) for c in conns))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    return {"latencies": latencies, "statuses": statuses}


# ------------------------------------------------------------------ audit


async def audit(target: Target, seat_ids: Sequence[str]) -> dict[str, Any] | None:
    """Seats with more than one active booking, and booking rows, among `seat_ids` (SQL)."""
    if not target.database_url:
        return None
    if target.schema == "boxoffice":
        table, seat, where = "bo_booking", "seat::text", "AND status = 'active'"
    else:
        table, seat, where = '"Booking"', '"seatId"', ""
    conn = await asyncpg.connect(target.database_url)
    try:
        rows = await conn.fetch(
            f"SELECT {seat} AS seat, count(*) AS n FROM {table} "  # noqa: S608 (our constants)
            f"WHERE {seat} = ANY($1::text[]) {where} GROUP BY 1",
            list(seat_ids),
        )
    finally:
        await conn.close()
    return {
        "double_bookings": sum(1 for r in rows if r["n"] > 1),
        "booking_rows": sum(r["n"] for r in rows),
    }


# ------------------------------------------------------------------ a round


def run_round(target: Target, opts: BookOptions, label: str) -> dict[str, Any]:
    """The uncontended load, then the hot seats, on one server; figures as a dict."""
    hot_ids = target.seat_ids[-opts.hot_seats :] if opts.hot_seats else []
    load_ids = target.seat_ids[: len(target.seat_ids) - len(hot_ids)]
    groups: dict[str, Callable[[], list[int]]] = {
        "postgres": postgres_pids,
        "redis": lambda: named_pids("redis-server"),
    }
    if target.pids is not None:
        groups["app"] = target.pids
    meter = CpuMeter(groups)
    use_wrk = opts.client == "wrk" or (opts.client == "auto" and shutil.which("wrk"))
    meter.start()
    if use_wrk:
        seconds, requests, statuses, latency, booked, raw = wrk_book(
            target.url, load_ids, target.tokens, opts
        )
    else:
        seconds, requests, statuses, latency, booked, raw = asyncio.run(
            _asyncio_load(target.url, load_ids, target.tokens, opts)
        )
    cpu = meter.stop()
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    if ok > 0.95 * len(load_ids):
        # Past the last seat wrk starts over, and what follows measures refusals.
        say(f"  warning: {ok} of {len(load_ids)} seats booked; raise --book-seats")
    out: dict[str, Any] = {
        "target": target.name,
        "url": target.url,
        "client": "wrk" if use_wrk else "asyncio",
        "connections": opts.connections,
        "seconds": round(seconds, 2),
        "requests": requests,
        "bookings": ok,
        "bookings_per_s": round(ok / seconds, 1) if seconds else 0,
        "latency": latency,
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors_5xx": sum(n for s, n in statuses.items() if s >= 500),
        "transport_errors": raw.get("errors"),
        "cpu": cpu,
    }
    used = cpu["cpu_s"]
    per = max(1, ok)
    out["cpu_ms_per_booking"] = {k: round(1000 * v / per, 2) for k, v in used.items()}
    hot_latencies: list[float] = []
    hot_statuses: Counter[int] = Counter()
    hot_wins: list[int] = []
    for seat_id in hot_ids:
        hot = asyncio.run(hot_seat(target.url, seat_id, target.tokens, opts.hot_requests))
        hot_latencies += hot["latencies"]
        hot_statuses += hot["statuses"]
        wins = sum(n for s, n in hot["statuses"].items() if 200 <= s < 300)
        hot_wins.append(wins)
        if wins:
            booked.append(seat_id)
    out["hot_seat"] = {
        "seats": len(hot_ids),
        "requests_each": opts.hot_requests,
        **latency_summary(hot_latencies),
        "status_counts": {str(k): v for k, v in sorted(hot_statuses.items())},
        "wins_per_seat": hot_wins,
        "server_errors_5xx": sum(n for s, n in hot_statuses.items() if s >= 500),
    }
    per_seat = Counter(booked)
    acked = ok + sum(hot_wins)
    out["double_bookings_by_2xx"] = sum(1 for n in per_seat.values() if n > 1) + sum(
        1 for w in hot_wins if w > 1
    )
    checked = asyncio.run(audit(target, target.seat_ids))
    if checked is not None:
        # wrk stops with a request in flight on each connection: those may commit unanswered,
        # so up to `connections` rows more than 2xx answers is expected, never fewer.
        out["audit"] = {
            **checked,
            "acknowledged_2xx": acked,
            "rows_unanswered": checked["booking_rows"] - acked,
        }
        out["double_bookings"] = checked["double_bookings"]
    else:
        out["double_bookings"] = out["double_bookings_by_2xx"]
    app = out["cpu_ms_per_booking"].get("app", "?")
    say(
        f"  {label}: {out['bookings_per_s']} bookings/s ({ok} in {out['seconds']} s, "
        f"{out['client']}), p50/p99 {latency['p50_ms']}/{latency['p99_ms']} ms, "
        f"5xx {out['server_errors_5xx']}, statuses {out['status_counts']}, "
        f"app CPU {app} ms/booking, cpu {out['cpu_ms_per_booking']}"
    )
    hot_out = out["hot_seat"]
    say(
        f"    hot seat x{len(hot_ids)}: p50/p99 {hot_out['p50_ms']}/{hot_out['p99_ms']} ms, "
        f"wins {hot_wins}, statuses {hot_out['status_counts']}; "
        f"double bookings {out['double_bookings']}"
        + (f" (audit {out['audit']})" if "audit" in out else " (2xx per seat)")
    )
    return out


# ------------------------------------------------------------------- peer


async def peer_tokens(url: str, users: int) -> list[str]:
    """Sign up and sign in `users` fresh accounts through the seed's API."""
    tag = uuid.uuid4().hex[:8]
    emails = [f"book-{tag}-{i}@bench.example" for i in range(users)]
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(email: str) -> str:
            async with gate:
                body = {"email": email, "password": PASSWORD}
                made = await client.post("/signup", json=body)
                if made.status_code >= 300:
                    raise RuntimeError(f"peer signup: {made.status_code} {made.text[:200]}")
                signed = await client.post("/signin", json=body)
                if signed.status_code >= 300:
                    raise RuntimeError(f"peer signin: {signed.status_code} {signed.text[:200]}")
                return str(signed.json()["token"])

        return list(await asyncio.gather(*(one(e) for e in emails)))


async def peer_seats(url: str, token: str, seats: int, database_url: str | None) -> list[str]:
    """`seats` new seats on the peer: one small `POST /events` and the rest by SQL into the
    seed's `Seat` table when its database is at hand (the seed refuses bodies over
    100 kB), else events of CHUNK seats each (`POST /book` needs only the seat's id)."""
    headers = {"Authorization": f"Bearer {token}"}
    tag = uuid.uuid4().hex[:6]
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as client:
        while len(ids) < seats:
            n = 1 if database_url else min(CHUNK, seats - len(ids))
            labels = [f"S{len(ids) + i + 1}" for i in range(n)]
            response = await client.post(
                "/events",
                json={"name": f"Book {tag}", "seats": labels, "maxSeatsPerUser": n},
            )
            if response.status_code >= 300:
                raise RuntimeError(f"peer POST /events: {response.status_code} {response.text}")
            event = response.json()
            ids += [str(s["id"]) for s in event["seats"]]
            if database_url:
                conn = await asyncpg.connect(database_url)
                try:
                    rows = await conn.fetch(
                        'INSERT INTO "Seat" (id, "seatNo", "eventId") '
                        "SELECT gen_random_uuid()::text, 'S' || g, $1 "
                        "FROM generate_series(2, $2) AS g RETURNING id",
                        str(event["id"]),
                        seats,
                    )
                finally:
                    await conn.close()
                ids += [r["id"] for r in rows]
    return ids


# ------------------------------------------------------------------ summary


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(rounds, key=lambda r: r["bookings_per_s"])
    return ordered[len(ordered) // 2]


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown: one line per server, the median round's figures and every round's rate."""
    lines = [
        "| server | bookings/s (median; rounds) | p50 / p99 | hot seat p50 / p99 | 5xx "
        "| double bookings | app / PostgreSQL CPU per booking |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, rounds in results.items():
        if not rounds:
            continue
        mid = median_round(rounds)
        lat, hot, cpu = mid["latency"], mid["hot_seat"], mid["cpu_ms_per_booking"]
        every = ", ".join(str(r["bookings_per_s"]) for r in rounds)
        fives = sum(r["server_errors_5xx"] + r["hot_seat"]["server_errors_5xx"] for r in rounds)
        doubles = sum(r["double_bookings"] for r in rounds)
        lines.append(
            f"| {name} | {mid['bookings_per_s']} ({every}) | {lat['p50_ms']} / {lat['p99_ms']} ms "
            f"| {hot['p50_ms']} / {hot['p99_ms']} ms | {fives} | {doubles} "
            f"| {cpu.get('app', '?')} / {cpu.get('postgres', '?')} ms |"
        )
    return "\n".join(lines)


# -------------------------------------------------------------- scenario


def run(opts: BookOptions, tmp: Path) -> dict[str, Any]:
    """Boxoffice (services mode, `opts.workers` workers) and the peer, if any, taking turns.

    Everything is made before the first round (accounts, one fresh event per round on each
    server), so a round measures booking alone. Boxoffice starts afresh for each round, as
    in the flash sale; the peer is whatever runs at `opts.peer_url`.
    """
    from bench.common import create_event, database, insert_accounts
    from bench.scenarios import boxoffice

    shown = dict(opts.__dict__)
    if opts.peer_database_url:  # the results file never keeps a password
        parts = urlsplit(opts.peer_database_url)
        host = parts.hostname or ""
        netloc = f"{parts.username}@{host}" if parts.username else host
        shown["peer_database_url"] = urlunsplit(
            parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else ""))
        )
    out: dict[str, Any] = {"options": shown, "rounds": opts.rounds}
    results: dict[str, list[dict[str, Any]]] = {"boxoffice": []}
    peer_ids: list[list[str]] = []
    peer_keys: list[str] = []
    peer_pid = opts.peer_pid
    peer_pids = functools.partial(process_tree, peer_pid) if peer_pid else None
    if opts.peer_url:
        results["peer"] = []
        say(f"[book] peer {opts.peer_url}: {opts.users} accounts, {opts.rounds} x {opts.seats}")
        peer_keys = asyncio.run(peer_tokens(opts.peer_url, opts.users))
        peer_ids = [
            asyncio.run(peer_seats(opts.peer_url, peer_keys[0], opts.seats, opts.peer_database_url))
            for _ in range(opts.rounds)
        ]
    say(f"[book] boxoffice: {opts.workers} workers, {opts.rounds} x {opts.seats} seats")
    with database("services", tmp) as settings:
        organiser, *_ = asyncio.run(insert_accounts(settings, 1, "organiser"))
        users = asyncio.run(insert_accounts(settings, opts.users, "booker"))
        with boxoffice(settings, opts.workers) as server:
            events = [
                asyncio.run(
                    create_event(
                        server.url, organiser, opts.seats, f"Book {i}", max_per_user=opts.seats
                    )
                )
                for i in range(opts.rounds)
            ]
        for i in range(opts.rounds):
            with boxoffice(settings, opts.workers) as server:
                pid = server.process.pid
                box = Target(
                    "boxoffice",
                    server.url,
                    [str(s["id"]) for s in events[i]["seats"]],
                    [u.token for u in users],
                    pids=functools.partial(process_tree, pid),
                    database_url=settings.database_url,
                    schema="boxoffice",
                )
                results["boxoffice"].append(run_round(box, opts, f"boxoffice (round {i + 1})"))
            if opts.peer_url:
                peer = Target(
                    "peer",
                    opts.peer_url,
                    peer_ids[i],
                    peer_keys,
                    pids=peer_pids,
                    database_url=opts.peer_database_url,
                )
                results["peer"].append(run_round(peer, opts, f"peer (round {i + 1})"))
    out["results"] = results
    out["median"] = {name: median_round(rounds) for name, rounds in results.items()}
    out["table"] = table(results)
    if opts.peer_url:
        box_mid, peer_mid = out["median"]["boxoffice"], out["median"]["peer"]
        out["ratios"] = {
            "bookings_per_s_boxoffice_over_peer": (
                round(box_mid["bookings_per_s"] / peer_mid["bookings_per_s"], 2)
                if peer_mid["bookings_per_s"]
                else None
            ),
            "per_round": [
                round(b["bookings_per_s"] / p["bookings_per_s"], 2) if p["bookings_per_s"] else None
                for b, p in zip(results["boxoffice"], results["peer"], strict=True)
            ],
        }
    say(out["table"])
    return out
