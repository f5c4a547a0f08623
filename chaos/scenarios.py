"""The fault scenarios. Each is a bounded run (counts and seconds) on loopback only.

CI selection (`make test`): negative-control, hot-seat, lock-expiry, lock-expiry-alone,
redis-restart, app-kill9. Everything (`make chaos`): those plus app-pause, redis-proxy,
postgres-restart, expired-hold, slow-watchers, delete-race and the lock-expiry negative
control.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from chaos import db as chaosdb
from chaos.clients import Client
from chaos.history import FAIL, OK
from chaos.runner import Run, Scenario

UNSAFE = {"BOXOFFICE_UNSAFE_DISABLE_GUARD": "1", "BOXOFFICE_TESTING": "1"}


# ------------------------------------------------------------------ helpers


async def wait_until(
    probe: Callable[[], Awaitable[bool]], seconds: float, interval: float = 0.05
) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await probe():
            return True
        await asyncio.sleep(interval)
    return False


async def churn(
    run: Run,
    event_id: str,
    seat_ids: Sequence[str],
    clients: Sequence[Client],
    seconds: float,
    max_ops: int = 200,
    op_deadline: float = 15.0,
) -> None:
    """Mixed load: book 1 to 3 random seats (sometimes hold first), cancel some bookings.

    Bounded by `seconds` and `max_ops` per client, each operation by `op_deadline`.
    """
    stop_at = time.monotonic() + seconds

    async def one(client: Client) -> None:
        mine: list[str] = []
        rng = random.Random(client.name)
        for _ in range(max_ops):
            if time.monotonic() >= stop_at:
                return
            if mine and rng.random() < 0.15:
                await client.cancel(mine.pop(rng.randrange(len(mine))))
                continue
            seats = rng.sample(list(seat_ids), 1 if rng.random() < 0.7 else rng.randint(2, 3))
            held = False
            if rng.random() < 0.25:
                held = await client.hold(event_id, seats) == OK
                if not held:
                    continue
            outcome = await client.book(event_id, seats, deadline=op_deadline)
            if outcome == OK:
                mine += [b["id"] for b in client.last.get("bookings", [])]
            elif held:
                await client.release(event_id)
            await asyncio.sleep(rng.uniform(0, 0.03))

    await asyncio.gather(*(one(c) for c in clients))


def outcomes(results: Sequence[str]) -> dict[str, int]:
    return dict(Counter(results))


# ---------------------------------------------------------------- hot seat


async def hot_seat(run: Run, clients_per_seat: int = 200, rounds: int = 3) -> None:
    """200 people press "book" on the same seat at the same moment, three times.

    They retry "being booked" (423) for a few seconds, as the browser invites them to:
    with the guard, the first booking makes every later try a definite 409.
    """
    users = await run.users(clients_per_seat)
    event_id, seats = await run.event(seats=20)
    await run.watch(event_id)
    clients = [run.client(f"c{i}", u) for i, u in enumerate(users)]
    per_round = []
    for seat in seats[:rounds]:
        go = asyncio.Event()

        async def press(client: Client, seat: str = seat, go: asyncio.Event = go) -> str:
            await go.wait()
            return await client.book(event_id, [seat], deadline=4.0)

        tasks = [asyncio.create_task(press(c)) for c in clients]
        await asyncio.sleep(0.05)
        go.set()
        results = await asyncio.gather(*tasks)
        per_round.append(outcomes(results))
        if run.scenario.expect_valid:
            run.expect(
                results.count(OK) == 1,
                f"hot seat {seat}: exactly one of {len(clients)} booked it "
                f"(got {results.count(OK)})",
            )
    run.note("rounds", per_round)
    if not run.scenario.expect_valid:
        run.expect(
            any(r.get(OK, 0) > 1 for r in per_round),
            "without the guard, some hot seat was acknowledged to several people",
        )


# --------------------------------------------------------------- lock expiry


async def lock_expiry(run: Run, rounds: int = 3, per_round: int = 24) -> None:
    """The Redis lock expires while its transaction is still running.

    A test connection holds the seat's row lock, so the first booker waits inside its
    UPDATE; the 50 ms seat lock expires, retrying clients take it and queue up inside
    the transaction too. When the row lock goes, the database alone decides.

    With the group commit (the default) an app process has one batch of an event in
    flight, the rest queue behind it in the process: the batches of both app processes
    wait inside the database at once (one each). `lock-expiry-alone` runs the
    one-request path, where every client's transaction can queue there.
    """
    want = run.scenario.apps if run.scenario.app_env.get("WRITE_BATCHING") != "0" else 0
    want = want or per_round // 2
    users = await run.users(rounds * per_round)
    event_id, seats = await run.event(seats=10)
    await run.watch(event_id)
    peaks = []
    for r, seat in enumerate(seats[:rounds]):
        group = users[r * per_round : (r + 1) * per_round]
        clients = [run.client(f"r{r}c{i}", u, timeout=15) for i, u in enumerate(group)]
        async with chaosdb.row_blocker(run.dsn, [seat]):
            tasks = [asyncio.create_task(c.book(event_id, [seat], deadline=12)) for c in clients]
            peak = 0
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline and peak < want:
                peak = max(peak, await chaosdb.waiting_seat_updates(run.dsn))
                await asyncio.sleep(0.05)
        results = await asyncio.gather(*tasks)
        peaks.append(peak)
        run.expect(
            peak >= 2,
            f"seat {seat}: {peak} transactions were inside the critical "
            "section at once (their seat locks had expired)",
        )
        if run.scenario.expect_valid:
            run.expect(
                results.count(OK) == 1,
                f"seat {seat}: exactly one booking acknowledged (got {results.count(OK)})",
            )
    run.note("transactions_waiting_at_once", peaks)


# ------------------------------------------------------------- app kill -9


async def app_kill9(run: Run) -> None:
    """kill -9 an app process before and after its booking commits, then under load.

    Clients retry under their Idempotency-Key on the other process: the one killed before
    commit is booked by the retry once the key's lease ends; the one killed after commit
    gets the stored response, the same booking.
    """
    a, b = run.apps
    assert run.proxy is not None
    users = await run.users(34)
    event_id, seats = await run.event(seats=160, hold_seconds=2)
    await run.watch(event_id)

    # Before commit: the booking waits on a row lock inside its transaction when killed.
    before = run.client("before", users[0], servers=[a.url, b.url], start=0)
    async with chaosdb.row_blocker(run.dsn, [seats[0]]):
        task = asyncio.create_task(before.book(event_id, [seats[0]], deadline=25))
        inside = await wait_until(lambda: _gt(chaosdb.waiting_seat_updates(run.dsn), 0), 10)
        run.expect(inside, "before-commit: the booking was waiting inside its transaction")
        await run.blocking(a.kill)
    restart = asyncio.create_task(run.blocking(a.start))
    outcome = await task
    run.note("before_commit", {"outcome": outcome, "trace": before.last.get("trace")})
    run.expect(outcome == OK, "before-commit: the retry under the same key booked the seat")
    await restart

    # After commit: Redis is slowed, so the lock release and the publish that follow the
    # commit keep the response from leaving; the process dies with the booking committed.
    after = run.client("after", users[1], servers=[a.url, b.url], start=0)
    run.proxy.set_mode("slow", delay=0.4)
    task = asyncio.create_task(after.book(event_id, [seats[1]], deadline=25))
    committed = await wait_until(
        lambda: _gt(chaosdb.committed_bookings(run.dsn, users[1].id), 0), 15, interval=0.01
    )
    await run.blocking(a.kill)
    run.proxy.set_mode("pass")
    run.expect(committed, "after-commit: the booking committed before the kill")
    restart = asyncio.create_task(run.blocking(a.start))
    outcome = await task
    trace = after.last.get("trace") or []
    run.note("after_commit", {"outcome": outcome, "trace": trace})
    run.expect(outcome == OK, "after-commit: the retry got the stored response")
    run.expect(
        bool(trace) and not str(trace[0]).startswith("201"),
        "after-commit: the killed attempt never answered",
    )
    await restart

    # Under load: both processes killed once each while 30 clients book and cancel.
    clients = [run.client(f"c{i}", u) for i, u in enumerate(users[2:32])]

    async def faults() -> None:
        for app in (a, b):
            await asyncio.sleep(2.5)
            await run.blocking(app.kill)
            await asyncio.sleep(0.3)
            await run.blocking(app.start)

    await asyncio.gather(churn(run, event_id, seats[2:], clients, seconds=9), faults())
    run.note("restarts", {app.name: app.starts for app in run.apps})


async def _gt(value: Awaitable[int], than: int) -> bool:
    return (await value) > than


# ------------------------------------------------------------- redis faults


async def redis_restart(run: Run) -> None:
    """The test-owned Redis is killed and restarted, and flushed, under load."""
    assert run.redis is not None
    redis = run.redis
    users = await run.users(30)
    event_id, seats = await run.event(seats=150, hold_seconds=2)
    await run.watch(event_id, per_app=2)
    clients = [run.client(f"c{i}", u) for i, u in enumerate(users)]
    timeline: list[tuple[float, str]] = []

    async def faults() -> None:
        await asyncio.sleep(2)
        await run.blocking(redis.kill)
        timeline.append((round(run.elapsed(), 1), "redis killed"))
        await asyncio.sleep(1.5)
        await run.blocking(redis.start)
        timeline.append((round(run.elapsed(), 1), "redis restarted (empty)"))
        await asyncio.sleep(2)
        await run.blocking(redis.flushall)
        timeline.append((round(run.elapsed(), 1), "redis flushed"))
        await asyncio.sleep(1.5)
        await run.blocking(redis.kill)
        await asyncio.sleep(0.3)
        await run.blocking(redis.start)
        timeline.append((round(run.elapsed(), 1), "redis killed and restarted"))

    await asyncio.gather(churn(run, event_id, seats, clients, seconds=10), faults())
    run.note("timeline", timeline)


async def redis_proxy(run: Run) -> None:
    """Redis slowed, cut off (connections reset) and black-holed through the proxy."""
    assert run.proxy is not None
    proxy = run.proxy
    users = await run.users(30)
    event_id, seats = await run.event(seats=150, hold_seconds=2)
    await run.watch(event_id, per_app=2)
    clients = [run.client(f"c{i}", u, timeout=8) for i, u in enumerate(users)]
    timeline: list[tuple[float, str]] = []

    async def faults() -> None:
        steps: list[tuple[float, str, float]] = [
            (1.5, "slow", 0.25),
            (3.0, "pass", 0),
            (1.0, "cut", 0),
            (2.5, "pass", 0),
            (1.0, "blackhole", 0),
            (2.5, "pass", 0),
        ]
        for wait, mode, delay in steps:
            await asyncio.sleep(wait)
            proxy.set_mode(mode, delay)  # type: ignore[arg-type]
            timeline.append((round(run.elapsed(), 1), mode))

    await asyncio.gather(churn(run, event_id, seats, clients, seconds=13), faults())
    run.note("timeline", timeline)


# ----------------------------------------------------------- app SIGSTOP


async def app_pause(run: Run) -> None:
    """An app process is frozen (SIGSTOP) mid-transaction past the lock TTL and lease.

    While it is frozen, its Redis lock expires and the client's retry on the other
    process takes the Idempotency-Key over; when it wakes up, its owner token no longer
    matches and its transaction must not commit — or, if it commits first, the retry
    gets its response. Then the same again, at random moments, under load.
    """
    a, b = run.apps
    users = await run.users(33)
    event_id, seats = await run.event(seats=150, hold_seconds=2)
    await run.watch(event_id)

    frozen = run.client("frozen", users[0], servers=[a.url, b.url], start=0, timeout=1.0)
    rival = run.client("rival", users[1], servers=[b.url])
    async with chaosdb.row_blocker(run.dsn, [seats[0]]):
        task = asyncio.create_task(frozen.book(event_id, [seats[0]], deadline=25))
        inside = await wait_until(lambda: _gt(chaosdb.waiting_seat_updates(run.dsn), 0), 10)
        run.expect(inside, "the frozen booking was inside its transaction")
        await run.blocking(a.pause)
    # The row lock now belongs to the frozen process's transaction.
    rival_task = asyncio.create_task(rival.book(event_id, [seats[0]], deadline=25))
    await asyncio.sleep(3.5)  # past the 1 s lock TTL and the 2 s idempotency lease
    await run.blocking(a.resume)
    results = [await task, await rival_task]
    run.note(
        "frozen_vs_rival",
        {"frozen": results[0], "rival": results[1], "frozen_trace": frozen.last.get("trace")},
    )
    run.expect(results.count(OK) == 1, "exactly one of the frozen client and its rival booked")

    clients = [run.client(f"c{i}", u, timeout=1.5) for i, u in enumerate(users[2:32])]

    async def faults() -> None:
        for app in (a, b):
            await asyncio.sleep(2)
            await run.blocking(app.pause)
            await asyncio.sleep(2.5)
            await run.blocking(app.resume)

    await asyncio.gather(churn(run, event_id, seats[1:], clients, seconds=11), faults())


# -------------------------------------------------------- postgres restart


async def postgres_restart(run: Run) -> None:
    """The test-owned PostgreSQL is stopped with `-m immediate` (a crash) and restarted."""
    assert run.cluster is not None
    cluster = run.cluster
    users = await run.users(30)
    event_id, seats = await run.event(seats=150, hold_seconds=2)
    await run.watch(event_id)
    clients = [run.client(f"c{i}", u) for i, u in enumerate(users)]
    timeline: list[tuple[float, str]] = []

    async def faults() -> None:
        await asyncio.sleep(3)
        await run.blocking(lambda: cluster.stop("immediate"))
        timeline.append((round(run.elapsed(), 1), "postgres stopped -m immediate"))
        await asyncio.sleep(1.5)
        await run.blocking(cluster.start)
        timeline.append((round(run.elapsed(), 1), "postgres started (crash recovery)"))

    await asyncio.gather(churn(run, event_id, seats, clients, seconds=12, op_deadline=20), faults())
    run.note("timeline", timeline)
    unavailable = run.stats.by_status.get("503:unavailable", 0)
    run.expect(unavailable > 0, "the outage was seen: requests were answered 503")
    run.expect(
        not any(k.startswith("500") for k in run.stats.by_status),
        "the outage answered 503 (try again), never 500",
    )


# ---------------------------------------------------------- expired hold


async def expired_hold(run: Run, pairs: int = 16) -> None:
    """A hold expires, someone else books the seat, then the first holder confirms.

    Half the pairs race the sweeper (the expired hold is still a `held` row when the
    other person books it: the database's `held_until` check decides), half come after
    it. Every late confirmation must be refused.
    """
    users = await run.users(2 * pairs)
    event_id, seats = await run.event(seats=pairs * 2, hold_seconds=1)
    await run.watch(event_id)
    holders = [run.client(f"holder{i}", users[i]) for i in range(pairs)]
    others = [run.client(f"other{i}", users[pairs + i]) for i in range(pairs)]
    held = await asyncio.gather(*(h.hold(event_id, [seats[i]]) for i, h in enumerate(holders)))
    run.expect(held.count(OK) == pairs, "every first holder got the hold")
    await asyncio.sleep(1.15)
    unswept = await chaosdb.live_holds(run.dsn, [event_id])
    half = pairs // 2
    first = await asyncio.gather(*(others[i].book(event_id, [seats[i]]) for i in range(half)))
    await asyncio.sleep(4.0)  # the sweeper has long run
    second = await asyncio.gather(
        *(others[i].book(event_id, [seats[i]]) for i in range(half, pairs))
    )
    late = await asyncio.gather(
        *(holders[i].book(event_id, [seats[i]], retry_transient=False) for i in range(pairs))
    )
    run.note("expired_holds_still_unswept_when_others_booked", unswept)
    run.note("others", outcomes([*first, *second]))
    run.note("late_confirmations", outcomes(late))
    run.expect([*first, *second].count(OK) == pairs, "every other person booked the seat")
    run.expect(late.count(FAIL) == pairs, "every late confirmation of an expired hold failed")


# ------------------------------------------------------------- slow readers


NOISE_BLOCK = 300


async def slow_watchers(run: Run) -> None:
    """Watchers that stop reading for seconds at a time, with tiny receive buffers.

    Besides the usual churn, three clients hold and release blocks of 300 seats as fast
    as they can (messages of tens of kB), so the stalled sockets' send paths (kernel and
    transport buffers take a few MB) fill up and the server's per-socket backlog
    overflows. The server must not buffer without bound: past its backlog cap it
    drops the backlog and sends a fresh snapshot. Every watcher must still converge.
    """
    users = await run.users(33)
    event_id, seats = await run.event(seats=1050, hold_seconds=2, max_per_user=NOISE_BLOCK)
    await run.watch(event_id, per_app=1)
    slow = await run.watch(event_id, per_app=2, small_buffer=True, prefix="slow")
    clients = [run.client(f"c{i}", u) for i, u in enumerate(users[:30])]
    noisy = [run.client(f"noise{i}", u) for i, u in enumerate(users[30:])]
    end = time.monotonic() + 11

    async def stall() -> None:
        # One long stall: the send path must fill up (a few MB) before the backlog cap
        # has anything to do.
        await asyncio.sleep(0.5)
        for watcher in slow:
            watcher.pause(9.0)

    async def noise(client: Client, block: list[str]) -> None:
        for _ in range(400):
            if time.monotonic() >= end:
                return
            if await client.hold(event_id, block) == OK:
                await client.release(event_id)

    rss_before = {app.name: _rss_kb(app.pid) for app in run.apps}
    blocks = [seats[150 + NOISE_BLOCK * i : 150 + NOISE_BLOCK * (i + 1)] for i in range(3)]
    await asyncio.gather(
        churn(run, event_id, seats[:150], clients, seconds=11),
        stall(),
        *(noise(c, b) for c, b in zip(noisy, blocks, strict=True)),
    )
    rss_after = {app.name: _rss_kb(app.pid) for app in run.apps}
    run.note("rss_kb", {"before": rss_before, "after": rss_after})
    # More than 1 means the backlog overflowed and a snapshot replaced it; whether it does
    # depends on how much the kernel buffers (a few MB on loopback). tests/live covers
    # the overflow itself; here the point is correctness and bounded memory.
    run.note("slow_snapshots", {w.name: w.snapshots for w in slow})
    grown = max(rss_after[name] - rss_before[name] for name in rss_after) / 1024
    run.expect(grown < 64, f"server memory stayed bounded with stalled readers (+{grown:.0f} MiB)")


def _rss_kb(pid: int) -> int:
    try:
        # read_text closes the file (an open() left to the collector was a ResourceWarning,
        # which the suite's warnings-as-errors turned into a failed scenario)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


# ---------------------------------------------------------- event deletion


async def delete_race(run: Run) -> None:
    """Events deleted while bookings for them are in flight, across both app processes.

    Beside a churned event (for the history checker), 20 small events each get six
    bookings and their organiser's DELETE at the same moment, spread over the apps. A
    deletion must be a 204 or a 409, never a 5xx; a booking a 201, 404 or 409/423; a
    deleted event has no booking in the database and no 201 was given for it; a
    surviving one has exactly the bookings that were confirmed (issue 11, item 7)."""
    users = await run.users(12)
    event_id, seats = await run.event(seats=100, hold_seconds=2)
    await run.watch(event_id, per_app=1)
    clients = [run.client(f"c{i}", u) for i, u in enumerate(users[:6])]
    buyers = users[6:]
    organiser = (await run.users(1))[0]
    outcomes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()

    async def race(n: int) -> None:
        servers = run.urls
        labels = [f"A{i}" for i in range(1, 7)]
        created = await run.http.post(
            f"{servers[0]}/events",
            json={"name": f"doomed {n}", "seats": labels},
            headers=organiser.headers,
        )
        created.raise_for_status()
        doomed = created.json()
        path = f"/events/{doomed['id']}"
        books = [
            run.http.post(
                f"{servers[(n + i) % len(servers)]}{path}/bookings",
                json={"seatIds": [seat["id"]]},
                headers=buyer.headers,
                timeout=15,
            )
            for i, (seat, buyer) in enumerate(zip(doomed["seats"], buyers, strict=True))
        ]
        deletion = run.http.delete(
            f"{servers[n % len(servers)]}{path}", headers=organiser.headers, timeout=15
        )
        *booked, deleted = await asyncio.gather(*books, deletion)
        codes = [r.status_code for r in booked]
        statuses.update([f"book {c}" for c in codes] + [f"delete {deleted.status_code}"])
        run.expect(deleted.status_code in (204, 409), f"doomed {n}: delete {deleted.status_code}")
        run.expect(all(c in (201, 404, 409, 423) for c in codes), f"doomed {n}: bookings {codes}")
        in_db = await chaosdb.active_bookings_of(run.dsn, doomed["id"])
        if deleted.status_code == 204:
            outcomes["deleted"] += 1
            run.expect(201 not in codes and in_db == 0, f"doomed {n}: deleted with bookings")
        else:
            outcomes["kept"] += 1
            run.expect(in_db == codes.count(201), f"doomed {n}: {in_db} in db, {codes}")

    async def races() -> None:
        for n in range(20):
            await race(n)

    await asyncio.gather(churn(run, event_id, seats, clients, seconds=8), races())
    run.note("doomed_events", dict(outcomes))
    run.note("doomed_statuses", dict(sorted(statuses.items())))


# ----------------------------------------------------------------- registry


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            "negative-control",
            "hot seat x200 with the guard removed (BOXOFFICE_UNSAFE_DISABLE_GUARD): "
            "the checker must find double bookings",
            hot_seat,
            ci=True,
            app_env=UNSAFE,
            expect_valid=False,
        ),
        Scenario(
            "hot-seat", "200 clients book the same seat at once, three seats", hot_seat, ci=True
        ),
        Scenario(
            "lock-expiry",
            "seat lock (50 ms TTL) expires while transactions wait",
            lock_expiry,
            ci=True,
            app_env={"LOCK_TTL_MS": "50"},
        ),
        Scenario(
            "lock-expiry-alone",
            "lock-expiry with the group commit off (WRITE_BATCHING=0): each request its own "
            "transaction",
            lock_expiry,
            ci=True,
            app_env={"LOCK_TTL_MS": "50", "WRITE_BATCHING": "0"},
        ),
        Scenario(
            "redis-restart",
            "test-owned Redis killed, restarted and flushed under load",
            redis_restart,
            ci=True,
            redis="own",
        ),
        Scenario(
            "app-kill9",
            "app process kill -9 before and after commit, then under load; clients retry "
            "under their Idempotency-Key",
            app_kill9,
            ci=True,
            redis="shared+proxy",
            app_env={"LOCK_TTL_MS": "1000", "IDEMPOTENCY_LEASE_MS": "1500"},
        ),
        Scenario(
            "negative-control-lock-expiry",
            "lock-expiry with the guard removed: the checker must find double bookings",
            lock_expiry,
            app_env={"LOCK_TTL_MS": "50", **UNSAFE},
            expect_valid=False,
        ),
        Scenario(
            "app-pause",
            "app process SIGSTOPped mid-transaction past the lock TTL and lease, then resumed",
            app_pause,
            app_env={"LOCK_TTL_MS": "1000", "IDEMPOTENCY_LEASE_MS": "2000"},
            converge_seconds=10,
        ),
        Scenario(
            "redis-proxy",
            "Redis slowed, cut off and black-holed through a proxy",
            redis_proxy,
            redis="own+proxy",
            converge_seconds=12,
        ),
        Scenario(
            "postgres-restart",
            "test-owned PostgreSQL stopped with -m immediate and restarted under load",
            postgres_restart,
            own_postgres=True,
            converge_seconds=12,
        ),
        Scenario(
            "expired-hold",
            "an expired hold confirmed after another user booked the seat",
            expired_hold,
            app_env={"EXPIRY_INTERVAL_MS": "2000"},
        ),
        Scenario(
            "delete-race",
            "events deleted while bookings for them are in flight on both apps: 204 or 409, "
            "never a 5xx, nothing lost",
            delete_race,
        ),
        Scenario(
            "slow-watchers",
            "watchers that stall for seconds with tiny receive buffers",
            slow_watchers,
            app_env={"WS_BACKLOG": "4"},
            converge_seconds=10,
        ),
    ]
}

CI_SELECTION = [name for name, s in SCENARIOS.items() if s.ci]
