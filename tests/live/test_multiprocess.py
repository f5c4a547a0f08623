"""Real websockets against real app processes on PostgreSQL + Redis.

Two single-process servers, A and B, share one database and one Redis. A change made
through either reaches watchers on both within a second; each test ends by comparing
every watcher's map, seat by seat, with the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from backend.live.channel import RedisSeatChannel
from backend.settings import Settings
from tests.live.conftest import LIVE_ENV, Pair, http, server_pair
from tests.support.redis_server import private_redis
from tests.support.waiting import eventually
from tests.support.watcher import Watcher, api_truth, converges_with_db, db_truth

pytestmark = [pytest.mark.live, pytest.mark.services]

LATENCY = 1.0  # seconds from a change (or a hold's end) to every watcher showing it


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def shows_within(
    watchers: list[Watcher], since: float, seat: str, **expected: Any
) -> list[float]:
    """Every watcher shows `expected` for `seat` within LATENCY of `since`; the delays."""
    delays = []
    for w in watchers:
        arrived = await w.wait_for_seat(
            seat, timeout=max(since + 3 * LATENCY - time.time(), 0.1), **expected
        )
        delays.append(arrived - since)
    assert max(delays) < LATENCY, f"{seat} {expected}: delays {delays}"
    return delays


@contextlib.asynccontextmanager
async def channel_tap(settings: Settings, event_id: str) -> AsyncIterator[list[bytes]]:
    """Every message published on an event's Redis channel, as published."""
    assert settings.redis_url is not None
    name = RedisSeatChannel(settings.redis_url, settings.redis_prefix).channel_name(event_id)
    client = Redis.from_url(settings.redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(name)
    seen: list[bytes] = []

    async def listen() -> None:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                seen.append(message["data"])

    task = asyncio.create_task(listen())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


def received_more_than(count: int) -> Callable[[Watcher], bool]:
    return lambda watcher: len(watcher.arrivals) > count


def published_changes(seen: list[bytes]) -> list[dict[str, Any]]:
    return [c for data in seen for c in json.loads(data).get("changes", [])]


# ---------------------------------------------------------------------------


async def test_changes_through_a_reach_watchers_on_b_within_a_second(pair: Pair) -> None:
    async with http(pair.a) as a, http(pair.b) as b:
        owner, other = await a.user(), await b.user()
        event = await a.event(owner, holdSeconds=2)
        eid, seats = event["id"], [s["id"] for s in event["seats"]]
        async with (
            Watcher(pair.b.ws_url, eid, name="anonymous@B") as anonymous_b,
            Watcher(pair.b.ws_url, eid, token=other.token, name="other@B") as other_b,
            Watcher(pair.a.ws_url, eid, name="anonymous@A") as anonymous_a,
        ):
            watchers = [anonymous_b, other_b, anonymous_a]
            seat = seats[0]

            start = time.time()
            hold = await a.hold(owner, eid, [seat])
            await shows_within(watchers, start, seat, status="held", heldUntil=hold["expiresAt"])
            assert not other_b.seats[seat]["mine"]

            start = time.time()
            [booking] = await a.book(owner, eid, [seat])
            await shows_within(watchers, start, seat, status="booked")

            start = time.time()
            await b.cancel(owner, booking["id"])  # cancelled through the other process
            await shows_within(watchers, start, seat, status="available")

            expiring = seats[1]
            hold = await a.hold(owner, eid, [expiring])
            [held] = hold["seats"]
            for w in watchers:
                await w.wait_for_seat(expiring, status="held", version=held["version"])
            version = held["version"]
            # Announced within a second of heldUntil (the sweeper runs in A and B).
            await shows_within(
                watchers,
                epoch(hold["expiresAt"]),
                expiring,
                status="available",
                version=version + 1,
            )
            await converges_with_db(watchers, db_truth(pair.settings.database_url or ""))
            await converges_with_db(watchers, api_truth(pair.a.url))
        # Real uvicorn offers direct frame writes (backend/live/frames.py): the batches
        # above reached B's idle sockets that way, not through their writer tasks.
        assert (await live_sends(b))["direct"] > 0


async def test_admission_on_one_process_reaches_the_buyers_tabs_on_both(pair: Pair) -> None:
    """Issue 12, item 5, across processes: a buyer waiting in a room, with a tab on each
    server, is told of their admission in both tabs promptly, whichever process admitted
    them, and both tabs show the same place before it."""
    room = {"enabled": True, "maxShoppers": 1, "shopperSeconds": 600}
    async with http(pair.a) as a, http(pair.b) as b:
        owner, first, buyer = await a.user(), await a.user(), await a.user()
        event = await a.event(owner, waitingRoom=room)
        eid, seats = event["id"], [s["id"] for s in event["seats"]]

        async def queue(api: Any, who: Any, method: str = "POST") -> dict[str, Any]:
            response = await api.client.request(method, f"/events/{eid}/queue", headers=who.headers)
            assert response.status_code == 200, response.text
            return dict(response.json())

        await queue(a, first)

        async def admitted(who: Any) -> bool:
            return (await queue(b, who, "GET"))["state"] == "admitted"

        await eventually(lambda: admitted(first), what="the first buyer to be admitted")
        place = await queue(b, buyer)  # joins through B; waits behind the one shopping
        assert place["state"] == "waiting" and place["position"] == 1, place
        async with (
            Watcher(pair.a.ws_url, eid, token=buyer.token, name="buyer@A") as on_a,
            Watcher(pair.b.ws_url, eid, token=buyer.token, name="buyer@B") as on_b,
        ):
            tabs = [on_a, on_b]
            for tab in tabs:  # the same place in both, from either process's feed
                await tab.wait_until(
                    lambda w: any(m["state"] == "waiting" for _, m in w.queue), timeout=5
                )
                assert [m["position"] for _, m in tab.queue if m["state"] == "waiting"][-1] == 1

            await a.hold(first, eid, [seats[0]])
            start = time.time()
            await a.book(first, eid, [seats[0]])  # the slot frees; some process admits
            for tab in tabs:
                await tab.wait_until(
                    lambda w: any(m["state"] == "admitted" for _, m in w.queue), timeout=5
                )
            arrivals = [
                next(t for t, m in tab.queue if m["state"] == "admitted") - start for tab in tabs
            ]
            assert max(arrivals) < 2 * LATENCY, arrivals
            told = [next(m for _, m in tab.queue if m["state"] == "admitted") for tab in tabs]
            assert told[0]["admittedUntil"] == told[1]["admittedUntil"]
            assert await admitted(buyer)
            # Admitted on one process, shopping on the other.
            assert (await b.hold(buyer, eid, [seats[1]]))["seats"][0]["id"] == seats[1]


async def live_sends(api: Any) -> dict[str, float]:
    """A server's `boxoffice_live_sends_total` counters by path, from /metrics."""
    text = (await api.client.get("/metrics")).text
    found = {}
    for line in text.splitlines():
        if line.startswith("boxoffice_live_sends_total{"):
            path = line.split('path="', 1)[1].split('"', 1)[0]
            found[path] = float(line.rsplit(" ", 1)[1])
    assert set(found) == {"direct", "queued"}, text
    return found


async def test_one_users_tabs_on_both_processes_show_mine_and_nobody_elses_do(pair: Pair) -> None:
    async with http(pair.a) as a, http(pair.b) as b:
        owner, other = await a.user(), await a.user()
        event = await a.event(owner)
        eid, seats = event["id"], [s["id"] for s in event["seats"]]
        async with (
            Watcher(pair.a.ws_url, eid, token=owner.token, name="owner-tab@A") as tab_a,
            Watcher(pair.b.ws_url, eid, token=owner.token, name="owner-tab@B") as tab_b,
            Watcher(pair.b.ws_url, eid, token=other.token, name="other@B") as other_b,
            Watcher(pair.a.ws_url, eid, name="anonymous@A") as anonymous_a,
        ):
            start = time.time()
            hold = await b.hold(owner, eid, seats[:2])
            for seat in seats[:2]:
                await shows_within([tab_a, tab_b], start, seat, status="held", mine=True)
                await shows_within(
                    [other_b, anonymous_a],
                    start,
                    seat,
                    status="held",
                    mine=False,
                    heldUntil=hold["expiresAt"],
                )
            start = time.time()
            await a.hold(other, eid, [seats[2]])
            await shows_within([other_b], start, seats[2], status="held", mine=True)
            await shows_within(
                [tab_a, tab_b, anonymous_a], start, seats[2], status="held", mine=False
            )

            start = time.time()
            await a.book(owner, eid, [seats[0]])
            await shows_within([tab_a, tab_b], start, seats[0], status="booked", mine=True)
            await shows_within([other_b, anonymous_a], start, seats[0], status="booked", mine=False)

            everyone = [tab_a, tab_b, other_b, anonymous_a]
            await converges_with_db(everyone, db_truth(pair.settings.database_url or ""))
            await converges_with_db(everyone, api_truth(pair.b.url))


async def test_hold_expiry_is_announced_once_within_a_second(pair: Pair) -> None:
    async with http(pair.a) as a:
        owner = await a.user()
        event = await a.event(owner, holdSeconds=1)
        eid, seats = event["id"], [s["id"] for s in event["seats"]][:5]
        async with (
            channel_tap(pair.settings, eid) as published,
            Watcher(pair.a.ws_url, eid, name="anonymous@A") as on_a,
            Watcher(pair.b.ws_url, eid, token=owner.token, name="owner@B") as on_b,
        ):
            hold = await a.hold(owner, eid, seats)
            ends = epoch(hold["expiresAt"])
            held_version = {s["id"]: s["version"] for s in hold["seats"]}
            for seat in seats:
                for w in (on_a, on_b):
                    await w.wait_for_seat(seat, status="held", version=held_version[seat])
            for seat in seats:
                expired = {"status": "available", "version": held_version[seat] + 1}
                await shows_within([on_a, on_b], ends, seat, **expired)
            # That something does not happen can only be shown over a window, so here time
            # is the behaviour: a second announcement would come from the other process's
            # sweep racing the first, and both sweep every expiry_interval (100 ms). Five
            # intervals give each process several sweeps past the claimed expiries.
            await asyncio.sleep(5 * pair.settings.expiry_interval)
            for seat in seats:
                expiries = [
                    c
                    for c in published_changes(published)
                    if c["id"] == seat and c["version"] == held_version[seat] + 1
                ]
                assert len(expiries) == 1, f"{seat} expiry announced {len(expiries)} times"
                assert expiries[0]["status"] == "available"
            await converges_with_db([on_a, on_b], db_truth(pair.settings.database_url or ""))


async def test_changes_replayed_out_of_order_leave_the_newest_version(pair: Pair) -> None:
    async with http(pair.a) as a, http(pair.b) as b:
        owner = await a.user()
        event = await a.event(owner)
        eid, seat = event["id"], event["seats"][0]["id"]
        assert pair.settings.redis_url is not None
        async with (
            channel_tap(pair.settings, eid) as published,
            Watcher(pair.a.ws_url, eid, name="anonymous@A") as on_a,
            Watcher(pair.b.ws_url, eid, token=owner.token, name="owner@B") as on_b,
        ):
            await a.hold(owner, eid, [seat])  # v2
            await b.release(owner, eid, [seat])  # v3
            await a.hold(owner, eid, [seat])  # v4
            for w in (on_a, on_b):
                await w.wait_for_seat(seat, status="held", version=4)
            await eventually(
                lambda: len(published) >= 3, what="the three changes on the Redis channel"
            )
            # Replay what was published, newest first, one batch at a time: as a slow
            # process's messages would arrive after a fast one's.
            channel = RedisSeatChannel(pair.settings.redis_url, pair.settings.redis_prefix)
            redis = Redis.from_url(pair.settings.redis_url)
            try:
                for data in reversed(published[:3]):
                    counts = [len(w.arrivals) for w in (on_a, on_b)]
                    await redis.publish(channel.channel_name(eid), data)
                    for w, n in zip((on_a, on_b), counts, strict=True):
                        await w.wait_until(received_more_than(n), LATENCY)
            finally:
                await redis.aclose()
            for w in (on_a, on_b):
                assert [x.seat["version"] for x in w.arrivals[-3:]] == [4, 3, 2]
                assert not any(x.applied for x in w.arrivals[-3:])
                assert w.seats[seat]["version"] == 4 and w.seats[seat]["status"] == "held"
            assert on_b.seats[seat]["mine"]
            await converges_with_db([on_a, on_b], db_truth(pair.settings.database_url or ""))


async def test_a_real_server_refuses_foreign_origins_and_closes_unknown_events(pair: Pair) -> None:
    url = f"{pair.b.ws_url}/ws/events/{uuid.uuid4()}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin=Origin("https://evil.example")):
            pass
    assert refused.value.response.status_code == 403
    # Same origin is accepted; the unknown event then gets its own close code.
    async with connect(url, origin=Origin(pair.b.url)) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_a_socket_that_never_reads_stays_bounded_and_others_stay_prompt(pair: Pair) -> None:
    # Each round holds and releases 1000 seats: two batches of ~120 kB and ~75 kB. The
    # kernel and the transport take the first ~3 MB the stalled socket does not read;
    # after that its backlog (8 batches here) overflows and is replaced by a snapshot.
    seats_per_round, rounds = 1000, 26
    async with http(pair.a) as a:
        owner = await a.user()
        event = await a.event(owner, seats=seats_per_round, maxSeatsPerUser=seats_per_round)
        eid, seats = event["id"], [s["id"] for s in event["seats"]]
        last = seats[-1]
        async with (
            Watcher(pair.b.ws_url, eid, name="prompt@B") as prompt,
            Watcher(pair.b.ws_url, eid, name="stalled@B", stalled=True) as stalled,
        ):
            before = rss_bytes(pair.b.process.pid)
            delays: list[float] = []
            # Timed from each answer, when the change is committed: a request for 1,000
            # seats takes a few hundred ms itself on a busy host (in one CI run the hold
            # and its fan-out together took 1.22 s), and that is not the stalled reader's
            # doing. A socket may see the change before its writer reads the answer.
            for _ in range(rounds):
                await a.hold(owner, eid, seats)
                delays += await shows_within([prompt], time.time(), last, status="held")
                await a.release(owner, eid, seats)
                delays += await shows_within([prompt], time.time(), last, status="available")
            grown = rss_bytes(pair.b.process.pid) - before
            assert max(delays) < LATENCY, delays
            # The prompt socket was written directly; once the stalled one's transport
            # paused, its batches went to its writer task's queue (and overflowed).
            async with http(pair.b) as b:
                sends = await live_sends(b)
            assert sends["direct"] >= 2 * rounds, sends
            assert sends["queued"] > 0, sends
            assert grown < 24 * 1024 * 1024, f"server grew by {grown / 1e6:.1f} MB"

            # Reading again, the stalled tab catches up through a fresh snapshot, not
            # through everything it missed, and ends up showing the truth.
            await stalled.resume()
            database = db_truth(pair.settings.database_url or "")
            await converges_with_db([prompt, stalled], database, timeout=5)
            assert stalled.snapshots >= 2, stalled.counts
            assert stalled.counts["seats"] < 2 * rounds, stalled.counts


async def test_redis_restart_every_watcher_converges_and_bookings_go_on(
    services_settings: Settings, tmp_path: Path
) -> None:
    with (
        private_redis(tmp_path) as redis,
        server_pair(services_settings, REDIS_URL=redis.url, **LIVE_ENV) as servers,
    ):
        database = db_truth(services_settings.database_url or "")
        async with http(servers.a) as a, http(servers.b) as b:
            owner, other = await a.user(), await b.user()
            event = await a.event(owner)
            eid, seats = event["id"], [s["id"] for s in event["seats"]]
            async with (
                Watcher(servers.a.ws_url, eid, name="anonymous@A") as anonymous_a,
                Watcher(servers.a.ws_url, eid, token=owner.token, name="owner@A") as owner_a,
                Watcher(servers.b.ws_url, eid, token=other.token, name="other@B") as other_b,
                Watcher(servers.b.ws_url, eid, name="anonymous@B") as anonymous_b,
            ):
                watchers = [anonymous_a, owner_a, other_b, anonymous_b]
                start = time.time()
                await a.hold(owner, eid, [seats[0]])
                await shows_within(watchers, start, seats[0], status="held")
                snapshots = [w.snapshots for w in watchers]

                redis.stop()
                for server in (servers.a, servers.b):
                    await wait_ready(server.url, ok=False)
                # Redis is down: bookings go on, the database is the guard.
                await a.book(owner, eid, [seats[0]])
                await b.hold(other, eid, [seats[1], seats[2]])
                await b.book(other, eid, [seats[1]])
                await a.release(other, eid, [seats[2]])
                await a.hold(owner, eid, [seats[3]])

                redis.start()
                for server in (servers.a, servers.b):
                    await wait_ready(server.url, ok=True)
                await converges_with_db(watchers, database, timeout=5)
                assert all(w.snapshots > n for w, n in zip(watchers, snapshots, strict=True))

                # And live updates flow again, across processes.
                start = time.time()
                await b.hold(other, eid, [seats[4]])
                await shows_within(watchers, start, seats[4], status="held")
                assert other_b.seats[seats[4]]["mine"] and not owner_a.seats[seats[4]]["mine"]
                await converges_with_db(watchers, database)


async def wait_ready(url: str, ok: bool, timeout: float = 10.0) -> None:
    """Wait until /ready says the server is (ok) or is not (not ok) ready."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:

        async def answer() -> httpx.Response | None:
            response = await client.get("/ready")
            return response if (response.status_code == 200) == ok else None

        response = await eventually(
            answer,
            what=f"{url}/ready to say {'ready' if ok else 'not ready'}",
            timeout=timeout,
            interval=0.05,
        )
    if not ok:
        assert response.status_code == 503
        assert response.json()["checks"]["channel"].startswith("down")
        assert response.json()["checks"]["database"] == "ok"
