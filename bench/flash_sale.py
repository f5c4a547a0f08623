"""Flash sale: M buyers start together on N seats; each holds a seat and books it, and a
buyer who loses a seat tries another, a bounded number of times.

The load runs in a few client processes (asyncio + httpx, one connection per buyer, as
browsers would have), so the load generator is not one saturated Python core. Buyers
share what they learn within a process (a 409/423 marks a seat taken), as a buyer watching
the live seat map would. Then the database is audited: no seat has two active bookings,
and every 201 matches an active booking row (and no row exists without its 201).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import ssl
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from bench.common import Account, latency_summary
from bench.http import Connection, HTTPError

ENDPOINTS = ("hold", "book")
BOOK_RETRIES = 5  # with backoff 50, 100, 200, 400, 800 ms: "try again" is answered patiently


@dataclass
class Plan:
    base_url: str
    event_id: str
    seat_ids: list[str]
    buyers: list[tuple[str, str]]  # (user id, token)
    start_at: float  # time.time() at which every process starts its buyers
    retries: int = 8
    timeout_s: float = 60.0
    deadline_s: float = 180.0
    seed: int = 0
    client: str = "raw"  # or "httpx"


@dataclass
class Outcome:
    # (endpoint, status, latency ms, started at s from t0)
    requests: list[tuple[str, int, float, float]] = field(default_factory=list)
    # (user id, seat id, booking id, finished at s from t0)
    bookings: list[tuple[str, str, str, float]] = field(default_factory=list)
    gave_up: int = 0
    sold_out: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    finished_at: float = 0.0
    cpu_s: float = 0.0


class _Client:
    """One buyer's connection: the raw keep-alive client, or httpx (`--client httpx`)."""

    def __init__(
        self, kind: str, base_url: str, token: str, timeout: float, ctx: ssl.SSLContext
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        self.kind = kind
        if kind == "httpx":
            self._httpx = httpx.AsyncClient(
                base_url=base_url,
                timeout=timeout,
                headers=headers,
                transport=httpx.AsyncHTTPTransport(verify=ctx, retries=0),
            )
        else:
            self._raw = Connection(base_url, headers, timeout)

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        if self.kind == "httpx":
            response = await self._httpx.post(path, json=body)
            return response.status_code, response
        raw = await self._raw.post(path, msgspec.json.encode(body))
        return raw.status_code, raw

    async def get(self, path: str) -> int:
        if self.kind == "httpx":
            return (await self._httpx.get(path)).status_code
        return (await self._raw.get(path)).status_code

    async def aclose(self) -> None:
        if self.kind == "httpx":
            await self._httpx.aclose()
        else:
            await self._raw.close()


CLIENT_ERRORS = (httpx.HTTPError, HTTPError)


async def _request(
    client: _Client, out: Outcome, t0: float, endpoint: str, path: str, body: Any
) -> tuple[int, Any] | None:
    started = time.perf_counter()
    try:
        status, response = await client.post(path, body)
    except CLIENT_ERRORS as exc:
        out.errors[type(exc).__name__] += 1
        out.requests.append((endpoint, 0, (time.perf_counter() - started) * 1000, started - t0))
        return None
    out.requests.append((endpoint, status, (time.perf_counter() - started) * 1000, started - t0))
    return status, response


async def _buyer(
    plan: Plan,
    user_id: str,
    token: str,
    taken: set[str],
    rng: random.Random,
    out: Outcome,
    t0: float,
    ctx: ssl.SSLContext,
    go: asyncio.Event,
    stop_at: float,
) -> None:
    holds = f"/events/{plan.event_id}/holds"
    books = f"/events/{plan.event_id}/bookings"
    client = _Client(plan.client, plan.base_url, token, plan.timeout_s, ctx)
    try:
        # Like a browser that has the seat map open, the buyer's connection is up before
        # the sale opens: the sale times holds and bookings, not TCP handshakes.
        with contextlib.suppress(*CLIENT_ERRORS):
            await client.get("/health")
        await go.wait()
        for _attempt in range(plan.retries + 1):
            if time.perf_counter() > stop_at:
                out.gave_up += 1
                return
            free = [s for s in plan.seat_ids if s not in taken] if taken else plan.seat_ids
            if not free:
                out.sold_out += 1
                return
            seat = rng.choice(free)
            held = await _request(client, out, t0, "hold", holds, {"seatIds": [seat]})
            if held is None or held[0] != 201:
                if held is not None and held[0] in (409, 423):
                    taken.add(seat)
                continue
            taken.add(seat)
            # A 423 here means someone else's attempt holds the seat's short lock right
            # now ("try again"): the hold is ours, so try the booking again, briefly.
            for again in range(BOOK_RETRIES + 1):
                booked = await _request(client, out, t0, "book", books, {"seatIds": [seat]})
                if booked is None or booked[0] != 423 or again == BOOK_RETRIES:
                    break
                await asyncio.sleep(0.05 * 2**again)
            if booked is not None and booked[0] == 201:
                for row in booked[1].json()["bookings"]:
                    out.bookings.append(
                        (user_id, row["seat"]["id"], row["id"], time.perf_counter() - t0)
                    )
                return
        out.gave_up += 1
    finally:
        await client.aclose()


async def _run_buyers(plan: Plan) -> Outcome:
    out = Outcome()
    rng = random.Random(plan.seed)
    ctx = ssl.create_default_context()
    taken: set[str] = set()
    go = asyncio.Event()
    # Connections are made before the start line: the sale measures holds and bookings.
    tasks: list[asyncio.Task[None]] = []
    wait = max(0.0, plan.start_at - time.time())
    t0 = time.perf_counter() + wait
    stop_at = t0 + plan.deadline_s
    for user_id, token in plan.buyers:
        tasks.append(
            asyncio.create_task(_buyer(plan, user_id, token, taken, rng, out, t0, ctx, go, stop_at))
        )
    await asyncio.sleep(max(0.0, plan.start_at - time.time()))
    go.set()
    await asyncio.wait(tasks, timeout=plan.deadline_s + plan.timeout_s + 5)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.gather(*tasks, return_exceptions=True)
    out.finished_at = time.perf_counter() - t0
    return out


def _process_main(plan: Plan) -> Outcome:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    started = time.process_time()
    out = asyncio.run(_run_buyers(plan))
    out.cpu_s = time.process_time() - started
    return out


def run_load(
    base_url: str,
    event_id: str,
    seat_ids: Sequence[str],
    buyers: Sequence[Account],
    *,
    processes: int = 2,
    retries: int = 8,
    deadline_s: float = 180.0,
    seed: int = 1,
    client: str = "raw",
) -> dict[str, Any]:
    """Run the sale from `processes` client processes; return the figures and raw outcome."""
    processes = max(1, min(processes, len(buyers)))
    start_at = time.time() + 1.0 + len(buyers) / 4000  # time to spawn and build clients
    plans = [
        Plan(
            base_url=base_url,
            event_id=event_id,
            seat_ids=list(seat_ids),
            buyers=[(b.id, b.token) for b in buyers[i::processes]],
            start_at=start_at,
            retries=retries,
            deadline_s=deadline_s,
            seed=seed * 1000 + i,
            client=client,
        )
        for i in range(processes)
    ]
    if processes == 1:
        outcomes = [_process_main(plans[0])]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
            outcomes = list(pool.map(_process_main, plans))
    return summarise(outcomes)


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    requests = [r for o in outcomes for r in o.requests]
    bookings = [b for o in outcomes for b in o.bookings]
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for endpoint, status, latency, _ in requests:
        by_endpoint[endpoint].append(latency)
        statuses[endpoint][status] += 1
    ok_latencies = [lat for _, status, lat, _ in requests if 200 <= status < 300]
    last_booking = max((b[3] for b in bookings), default=0.0)
    finished = max((o.finished_at for o in outcomes), default=0.0)
    last_response = max((r[3] + r[2] / 1000 for r in requests), default=0.0)
    sale_s = last_booking or finished
    server_errors = sum(n for c in statuses.values() for s, n in c.items() if s >= 500)
    client_errors = Counter[str]()
    for o in outcomes:
        client_errors.update(o.errors)
    return {
        "bookings": len(bookings),
        "sale_seconds": round(sale_s, 3),
        "bookings_per_s": round(len(bookings) / sale_s, 1) if sale_s else 0.0,
        "requests": len(requests),
        "requests_per_s": round(len(requests) / last_response, 1) if last_response else 0.0,
        "latency": {e: latency_summary(by_endpoint[e]) for e in ENDPOINTS if e in by_endpoint},
        "latency_all": latency_summary([r[2] for r in requests]),
        "latency_2xx": latency_summary(ok_latencies),
        "status_counts": {
            e: {str(k): v for k, v in sorted(statuses[e].items())} for e in ENDPOINTS
        },
        "server_errors_5xx": server_errors,
        "transport_errors": dict(client_errors),
        "client_cpu_s": round(sum(o.cpu_s for o in outcomes), 2),
        "buyers_gave_up": sum(o.gave_up for o in outcomes),
        "buyers_saw_sold_out": sum(o.sold_out for o in outcomes),
        "_bookings": bookings,
    }


# -------------------------------------------------------------------- audit


async def audit(
    settings: Any, event_id: str, acknowledged: Sequence[tuple[str, str, str, float]]
) -> dict[str, Any]:
    """Check the database against what the clients were told."""
    if settings.database_url:
        import asyncpg

        conn = await asyncpg.connect(settings.database_url)
        try:
            rows = await conn.fetch(
                'SELECT id::text, seat::text, "user"::text FROM bo_booking '
                "WHERE event = $1 AND status = 'active'",
                event_id,
            )
            active = [(r[0], r[1], r[2]) for r in rows]
            seats = await conn.fetch(
                "SELECT id::text, holder::text FROM bo_seat WHERE event = $1 AND status = 'booked'",
                event_id,
            )
            booked = {r[0]: r[1] for r in seats}
            all_rows = await conn.fetchval(
                "SELECT count(*) FROM bo_booking WHERE event = $1", event_id
            )
            # Rows inserted by one transaction share its xmin: bookings per committing
            # transaction is the group commit's mean batch size for bookings, measured
            # from outside the app (1.0 when each request is its own transaction).
            commits = await conn.fetchval(
                "SELECT count(DISTINCT xmin::text) FROM bo_booking WHERE event = $1", event_id
            )
        finally:
            await conn.close()
    else:
        import sqlite3

        with contextlib.closing(sqlite3.connect(settings.sqlite_path, timeout=30)) as conn:
            active = [
                (str(a), str(b), str(c))
                for a, b, c in conn.execute(
                    'SELECT id, seat, "user" FROM bo_booking WHERE event = ? AND status = ?',
                    (event_id, "active"),
                )
            ]
            booked = {
                str(a): str(b)
                for a, b in conn.execute(
                    "SELECT id, holder FROM bo_seat WHERE event = ? AND status = ?",
                    (event_id, "booked"),
                )
            }
            all_rows = conn.execute(
                "SELECT count(*) FROM bo_booking WHERE event = ?", (event_id,)
            ).fetchone()[0]
            commits = None  # SQLite keeps no per-row transaction id
    norm = lambda v: v.replace("-", "").lower()  # noqa: E731  (SQLite stores UUIDs as text)
    per_seat = Counter(norm(seat) for _, seat, _ in active)
    double = sum(1 for n in per_seat.values() if n > 1)
    db_rows = {norm(i): (norm(s), norm(u)) for i, s, u in active}
    acked = {norm(b): (norm(s), norm(u)) for u, s, b, _ in acknowledged}
    acked_missing = [b for b in acked if b not in db_rows]
    acked_wrong = [b for b, v in acked.items() if b in db_rows and db_rows[b] != v]
    unacknowledged = [b for b in db_rows if b not in acked]
    booked_n = {norm(k): norm(v) for k, v in booked.items()}
    seat_mismatch = sum(
        1 for b, (seat, user) in db_rows.items() if booked_n.get(seat) != user
    ) + sum(1 for seat in booked_n if seat not in per_seat)
    return {
        "double_bookings": double,
        "active_booking_rows": len(db_rows),
        "booking_rows_total": int(all_rows),
        "acknowledged_2xx": len(acked),
        "acknowledged_without_row": len(acked_missing),
        "acknowledged_with_wrong_row": len(acked_wrong),
        "rows_without_2xx": len(unacknowledged),
        "booked_seats": len(booked_n),
        "seat_booking_mismatches": seat_mismatch,
        "ok": double == 0 and not acked_missing and not acked_wrong and seat_mismatch == 0,
        "bookings_per_commit": round(int(all_rows) / int(commits), 2) if commits else None,
    }
