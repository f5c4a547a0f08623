"""The waiting room across two real app processes sharing PostgreSQL and Redis (issue 12).

`tests/api/test_waiting_room.py` drives the admitter tick by tick inside one process. Here
two `python -m backend.cli serve` processes run their own admitters every 50 ms against
one database and one Redis prefix, and buyers talk to them over real HTTP:

* under concurrent bookings, admission never goes past `maxShoppers`, whichever process
  admits, and every buyer is admitted exactly once;
* killing the processes (SIGKILL) loses nobody's place, and a fresh process admits on;
* a shopper who stops being seen for the grace (5 s, the least allowed) is freed and
  their holds released, and a shopper whose window ran out is reaped by exactly one
  process and their holds released, both as seen through the other process. The
  shortest window is 60 s, too long for the suite: that test moves the window's end
  in Redis and leaves the rest to the processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from backend.settings import Settings
from backend.waitingroom.redis import room_keys
from chaos import db as chaosdb
from chaos.services import AppProcess
from tests.support.databases import services_database
from tests.support.redis_server import PrivateRedis, private_redis
from tests.support.services import REDIS_URL, require_services
from tests.support.waiting import eventually

pytestmark = [pytest.mark.services, pytest.mark.live]

# Each process reaps and admits every 50 ms: admissions follow bookings closely, so the
# two admitters race for every freed slot.
INTERVAL_MS = "50"
GRACE_SECONDS = 5  # WAITING_ROOM_GRACE_SECONDS's minimum
POLL_SECONDS = 0.05  # a polling client's pace


@dataclass(frozen=True)
class Apps:
    a: AppProcess
    b: AppProcess
    settings: Settings

    @property
    def dsn(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url

    def shop_key(self, event_id: str) -> str:
        """The room's shoppers in Redis (zset: shopper -> end of their window, ms)."""
        return room_keys(self.settings.redis_prefix, event_id)[2]


@contextlib.contextmanager
def two_apps(tmp: Path, **extra: str) -> Iterator[Apps]:
    """A fresh database and Redis prefix, and two app processes on them (started at
    once: `serve` takes a start-up lock around its migrations)."""
    require_services()
    env = {"WAITING_ROOM_INTERVAL_MS": INTERVAL_MS, **extra}
    with services_database(tmp) as settings:
        apps = Apps(
            AppProcess(settings, "a", tmp, 1, **env),
            AppProcess(settings, "b", tmp, 1, **env),
            settings,
        )
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(AppProcess.start, (apps.a, apps.b)))
            yield apps
        finally:
            apps.a.stop()
            apps.b.stop()


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    """One pair for the tests that kill nothing, with the shortest grace there is: each
    test has its own event and accounts, and compares counters before and after."""
    tmp = tmp_path_factory.mktemp("waiting-room")
    with two_apps(tmp, WAITING_ROOM_GRACE_SECONDS=str(GRACE_SECONDS)) as started:
        yield started


async def transitions(http: httpx.AsyncClient, app: AppProcess, kind: str) -> int:
    """The process's `boxoffice_waiting_room_total{kind=...}` (0 before the first)."""
    name = f'boxoffice_waiting_room_total{{kind="{kind}"}}'
    for line in (await http.get(f"{app.url}/metrics")).text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


class Room:
    """One event's room, spoken to through whichever process a call names."""

    def __init__(self, http: httpx.AsyncClient, event: dict[str, Any]) -> None:
        self.http = http
        self.event = event
        self.id: str = event["id"]

    async def queue(self, app: AppProcess, method: str, who: chaosdb.User) -> dict[str, Any]:
        response = await self.http.request(
            method, f"{app.url}/events/{self.id}/queue", headers=who.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def admitted(self, app: AppProcess, who: chaosdb.User) -> bool:
        """One status poll (which also keeps the place): admitted yet?"""
        state: str = (await self.queue(app, "GET", who))["state"]
        assert state in ("waiting", "admitted"), f"{who.id} lost their place: {state}"
        return state == "admitted"

    async def wait_admitted(self, app: AppProcess, who: chaosdb.User, timeout: float) -> None:
        admitted: bool = await eventually(
            lambda: self.admitted(app, who),
            what=f"{who.id} to be admitted (polling {app.name})",
            timeout=timeout,
            interval=POLL_SECONDS,
        )
        assert admitted

    async def hold(self, app: AppProcess, who: chaosdb.User, **body: Any) -> httpx.Response:
        return await self.http.post(
            f"{app.url}/events/{self.id}/holds", json=body, headers=who.headers
        )

    async def book(self, app: AppProcess, who: chaosdb.User, seat_ids: list[str]) -> httpx.Response:
        return await self.http.post(
            f"{app.url}/events/{self.id}/bookings", json={"seatIds": seat_ids}, headers=who.headers
        )

    async def summary(self, app: AppProcess, owner: chaosdb.User) -> dict[str, Any]:
        response = await self.http.get(
            f"{app.url}/events/{self.id}/queue/summary", headers=owner.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def seat_statuses(self, app: AppProcess) -> dict[str, str]:
        response = await self.http.get(f"{app.url}/events/{self.id}")
        assert response.status_code == 200, response.text
        return {s["id"]: s["status"] for s in response.json()["seats"]}


async def new_room(
    http: httpx.AsyncClient, app: AppProcess, owner: chaosdb.User, seats: int, **body: Any
) -> Room:
    labels = [f"A{n}" for n in range(1, seats + 1)]
    created = await http.post(
        f"{app.url}/events",
        json={"name": "Waiting room", "seats": labels, **body},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    return Room(http, created.json())


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an interval ending as another starts does
    not overlap it)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


# ------------------------------------------------ 1. the bound under concurrent buying

MAX_SHOPPERS = 3
BUYERS = 30


@dataclass(frozen=True)
class Purchase:
    buyer: str
    seat: str
    admitted_seen: float  # monotonic: the buyer's poll first answered "admitted"
    booking_sent: float  # monotonic: just before the booking request went out


def test_admission_never_passes_max_shoppers_across_two_processes(tmp_path: Path) -> None:
    # A pair of its own, with the default grace (60 s): 30 waiters polling beside two
    # busy samplers once went more than the module pair's 5 s without being served on a
    # slow, loaded host, and lost their place; losing one is not what this test is about.
    with two_apps(tmp_path) as apps:
        asyncio.run(_bounded(apps))


async def _bounded(apps: Apps) -> None:
    owner, *buyers = await chaosdb.create_users(
        apps.dsn, BUYERS + 1, apps.settings.jwt_secret, prefix="wr"
    )
    both = (apps.a, apps.b)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        admitted_before = [await transitions(http, app, "admitted") for app in both]
        # Everyone joins before the sale opens; at the opening both admitters race for
        # the first three slots, then for each slot a booking frees.
        on_sale = datetime.now(UTC) + timedelta(seconds=2)
        room = await new_room(
            http,
            apps.a,
            owner,
            BUYERS,
            onSaleAt=on_sale.isoformat(),
            waitingRoom={"enabled": True, "maxShoppers": MAX_SHOPPERS, "shopperSeconds": 600},
        )
        shop_key = apps.shop_key(room.id)
        done, stop = asyncio.Event(), threading.Event()
        shopping_seen: list[int] = []
        summaries_seen: list[tuple[str, int]] = []

        def sample_redis() -> None:
            # The shoppers' set itself, as often as Redis answers, from a thread of its
            # own so the buyers' event loop does not pace it.
            with SyncRedis.from_url(REDIS_URL) as sync:
                while not stop.is_set():
                    shopping_seen.append(int(sync.zcard(shop_key)))

        async def sample_summaries() -> None:
            # The organiser's view, through both processes.
            while not done.is_set():
                for app in both:
                    summaries_seen.append((app.name, (await room.summary(app, owner))["shopping"]))

        async def buy(i: int, buyer: chaosdb.User) -> Purchase:
            home, other = both[i % 2], both[(i + 1) % 2]
            joined = await room.queue(home, "POST", buyer)
            assert joined["state"] == "waiting", joined
            await room.wait_admitted(home, buyer, timeout=45)
            admitted_seen = time.monotonic()
            # Hold and book through the other process than the one joined.
            for _ in range(5):  # the best seat may be taken by another shopper meanwhile
                held = await room.hold(other, buyer, count=1)
                if held.status_code != 423:
                    break
            assert held.status_code == 201, held.text
            seat = held.json()["seats"][0]["id"]
            booking_sent = time.monotonic()
            # Another shopper's best-available hold may lock this seat for a moment
            # while it finds the seat taken; the holder's booking takes no lock on it.
            booked = await room.book(other, buyer, [seat])
            assert booked.status_code == 201, booked.text
            # Booking freed the slot, as either process sees it.
            assert (await room.queue(home, "GET", buyer))["state"] == "left"
            return Purchase(buyer.id, seat, admitted_seen, booking_sent)

        samplers = [
            asyncio.create_task(sample_summaries()),
            asyncio.create_task(asyncio.to_thread(sample_redis)),
        ]
        try:
            purchases = await asyncio.gather(*(buy(i, b) for i, b in enumerate(buyers)))
        finally:
            done.set()
            stop.set()
            await asyncio.gather(*samplers)
        counts = [await room.summary(app, owner) for app in both]
        admissions = [
            await transitions(http, app, "admitted") - before
            for app, before in zip(both, admitted_before, strict=True)
        ]

    # The bound, at every sample of the shoppers' set and of both processes' summaries;
    # and it was reached, or the run did not put it to the test.
    most = max(shopping_seen, default=0)
    assert most <= MAX_SHOPPERS, f"{most} shopping at once ({len(shopping_seen)} samples)"
    assert most == MAX_SHOPPERS, f"the room never filled ({len(shopping_seen)} samples)"
    over = [(name, n) for name, n in summaries_seen if n > MAX_SHOPPERS]
    assert not over, f"summaries over the bound: {over[:10]} of {len(summaries_seen)}"
    # And between samples: each buyer shopped at least from the poll that saw them
    # admitted to the moment they sent their booking, so no more than MAX_SHOPPERS of
    # those stretches may overlap.
    stretches = [(p.admitted_seen, p.booking_sent) for p in purchases]
    assert most_at_once(stretches) <= MAX_SHOPPERS

    # Everyone admitted exactly once, everyone booked, no seat twice.
    for summary in counts:
        assert (summary["waiting"], summary["shopping"], summary["admittedTotal"]) == (
            0,
            0,
            BUYERS,
        ), summary
    assert sum(admissions) == BUYERS, f"admissions by process: {admissions}"
    assert all(admissions), f"one process did all the admitting: {admissions}"
    final = await chaosdb.final_read(apps.dsn, [room.id])
    active = [b for b in final["bookings"] if b["status"] == "active"]
    assert sorted(b["user"] for b in active) == sorted(b.id for b in buyers)
    assert len({b["seat"] for b in active}) == BUYERS == len(active)
    assert sorted((p.buyer, p.seat) for p in purchases) == sorted(
        (b["user"], b["seat"]) for b in active
    )


# ---------------------------------------------------------------- 2. restarts


def test_killing_the_processes_loses_nobodys_place(tmp_path: Path) -> None:
    with two_apps(tmp_path) as apps:
        asyncio.run(_restart(apps))


async def _restart(apps: Apps) -> None:
    owner, *buyers = await chaosdb.create_users(apps.dsn, 6, apps.settings.jwt_secret, "wr")
    a, b = apps.a, apps.b
    async with httpx.AsyncClient(timeout=30) as http:
        room = await new_room(http, a, owner, 5, waitingRoom={"enabled": True, "maxShoppers": 1})
        for buyer in buyers:  # one at a time: first come, first placed
            assert (await room.queue(a, "POST", buyer))["state"] in ("waiting", "admitted")
        first, *rest = buyers
        await room.wait_admitted(a, first, timeout=10)
        held = await room.hold(a, first, count=1)
        assert held.status_code == 201, held.text

        async def places(app: AppProcess) -> list[tuple[str, int | None]]:
            return [
                (p["state"], p["position"])
                for p in [await room.queue(app, "GET", who) for who in buyers]
            ]

        expected = [("admitted", None)] + [("waiting", n) for n in range(1, len(rest) + 1)]
        assert await places(a) == expected

        a.kill()  # SIGKILL to the group: no shutdown code runs
        assert await places(b) == expected
        b.kill()  # and the other one: no app process is left
        await asyncio.to_thread(a.start)
        assert await places(a) == expected, "a fresh process must find every place"

        # The fresh process, alone, admits on: the shopper books, the next comes in.
        booked = await room.book(a, first, [held.json()["seats"][0]["id"]])
        assert booked.status_code == 201, booked.text
        await room.wait_admitted(a, rest[0], timeout=10)
        after = [("left", None), ("admitted", None)] + [("waiting", n) for n in range(1, len(rest))]
        assert await places(a) == after
        assert await transitions(http, a, "admitted") == 1
        summary = await room.summary(a, owner)
        assert (summary["waiting"], summary["shopping"], summary["admittedTotal"]) == (3, 1, 2)


# --------------------------------------- 3. a shopper's slot freed behind their back


def test_an_unseen_shopper_is_freed_and_their_holds_released(apps: Apps) -> None:
    asyncio.run(_abandoned(apps))


async def _abandoned(apps: Apps) -> None:
    owner, shopper, waiter = await chaosdb.create_users(apps.dsn, 3, apps.settings.jwt_secret, "wr")
    a, b = apps.a, apps.b
    async with httpx.AsyncClient(timeout=30) as http:
        abandoned_before = [await transitions(http, app, "abandoned") for app in (a, b)]
        room = await new_room(http, a, owner, 3, waitingRoom={"enabled": True, "maxShoppers": 1})
        await room.queue(a, "POST", shopper)
        await room.wait_admitted(a, shopper, timeout=10)
        await room.queue(b, "POST", waiter)
        last_seen = time.monotonic()  # the hold below is the shopper's last sign of life
        held = await room.hold(a, shopper, count=2)
        assert held.status_code == 201, held.text
        seats = [s["id"] for s in held.json()["seats"]]

        async def freed() -> bool:
            # The waiter polls through the other process (which keeps its place) until
            # the shopper's slot has passed to it and the shopper's seats are free again.
            # Both, not one then the other: the process that frees the slot releases the
            # holds after, and the other process may admit the waiter in between.
            admitted = await room.admitted(b, waiter)
            statuses = await room.seat_statuses(b)
            return admitted and all(statuses[s] == "available" for s in seats)

        done: bool = await eventually(
            freed,
            what="the silent shopper's slot and seats to be freed",
            timeout=GRACE_SECONDS + 10,
            interval=POLL_SECONDS,
        )
        assert done
        waited = time.monotonic() - last_seen
        # Not before the grace: the shopper was seen during the hold, after `last_seen`.
        assert waited >= GRACE_SECONDS, f"freed after {waited:.2f}s, before the grace"

        refused = await room.hold(b, shopper, seatIds=seats[:1])
        assert refused.status_code == 403, refused.text
        assert refused.json()["queue"]["state"] == "left"
        # The seats really are free: the new shopper takes one, through the first process.
        assert (await room.hold(a, waiter, seatIds=seats[:1])).status_code == 201
        # Exactly one process freed the shopper.
        freers = [
            await transitions(http, app, "abandoned") - before
            for app, before in zip((a, b), abandoned_before, strict=True)
        ]
        assert sum(freers) == 1, f"abandoned by process: {freers}"


def test_a_shoppers_window_running_out_releases_their_holds(apps: Apps) -> None:
    asyncio.run(_expired(apps))


async def _expired(apps: Apps) -> None:
    owner, shopper, waiter = await chaosdb.create_users(apps.dsn, 3, apps.settings.jwt_secret, "wr")
    a, b = apps.a, apps.b
    async with (
        httpx.AsyncClient(timeout=30) as http,
        Redis.from_url(REDIS_URL) as redis,
    ):
        expired_before = [await transitions(http, app, "expired") for app in (a, b)]
        room = await new_room(
            http, a, owner, 3, waitingRoom={"enabled": True, "maxShoppers": 1, "shopperSeconds": 60}
        )
        await room.queue(a, "POST", shopper)
        await room.wait_admitted(a, shopper, timeout=10)
        await room.queue(b, "POST", waiter)
        held = await room.hold(a, shopper, count=2)
        assert held.status_code == 201, held.text
        seats = [s["id"] for s in held.json()["seats"]]

        # shopperSeconds is at least 60, too long to wait out in the suite: the window's
        # end, the shopper's score in the room's shoppers set, is moved to now instead.
        # Everything after it is the processes' own doing: reaping, releasing, admitting.
        now_ms = int(time.time() * 1000)
        changed = await redis.zadd(apps.shop_key(room.id), {shopper.id: now_ms}, xx=True, ch=True)
        assert changed == 1, "the shopper's window was not in Redis where expected"

        async def reaped() -> bool:
            admitted = await room.admitted(b, waiter)  # as in the test above
            statuses = await room.seat_statuses(b)
            return admitted and all(statuses[s] == "available" for s in seats)

        done: bool = await eventually(
            reaped,
            what="the window's end to free the slot and seats",
            timeout=10,
            interval=POLL_SECONDS,
        )
        assert done
        assert (await room.queue(b, "GET", shopper))["state"] == "expired"
        refused = await room.hold(b, shopper, seatIds=seats[:1])
        assert refused.status_code == 403, refused.text
        assert refused.json()["queue"]["state"] == "expired"
        assert (await room.hold(a, waiter, seatIds=seats[:1])).status_code == 201
        # Reaped by exactly one of the two processes.
        reapers = [
            await transitions(http, app, "expired") - before
            for app, before in zip((a, b), expired_before, strict=True)
        ]
        assert sum(reapers) == 1, f"expired by process: {reapers}"


# ------------------------------------------------------- 5. Redis loses the room


def test_a_redis_restart_without_persistence_keeps_every_place(tmp_path: Path) -> None:
    """The processes run on a test-owned Redis that is killed and started empty: the
    admitters notice the room is not the one they copied to the database and put the
    copy back, places, shopper and all."""
    require_services()
    with private_redis(tmp_path) as redis, services_database(tmp_path) as base:
        settings = replace(base, redis_url=redis.url)
        env = {"WAITING_ROOM_INTERVAL_MS": INTERVAL_MS}
        apps = Apps(
            AppProcess(settings, "a", tmp_path, 1, **env),
            AppProcess(settings, "b", tmp_path, 1, **env),
            settings,
        )
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(AppProcess.start, (apps.a, apps.b)))
            asyncio.run(_redis_restart(apps, redis))
        finally:
            apps.a.stop()
            apps.b.stop()


async def _redis_restart(apps: Apps, redis: PrivateRedis) -> None:
    owner, *buyers = await chaosdb.create_users(apps.dsn, 7, apps.settings.jwt_secret, "wrr")
    a, b = apps.a, apps.b
    async with httpx.AsyncClient(timeout=30) as http:
        room = await new_room(http, a, owner, 5, waitingRoom={"enabled": True, "maxShoppers": 1})
        for n, buyer in enumerate(buyers):
            await room.queue(a if n % 2 else b, "POST", buyer)
        first, *rest = buyers
        await room.wait_admitted(a, first, timeout=10)

        async def places(app: AppProcess) -> list[tuple[str, int | None]]:
            return [
                (p["state"], p["position"])
                for p in [await room.queue(app, "GET", who) for who in buyers]
            ]

        expected = [("admitted", None)] + [("waiting", n) for n in range(1, len(rest) + 1)]
        assert await places(b) == expected

        async def copied() -> bool:
            """The database's copy has the shopper and every waiter (copies follow every
            5 s). A copy taken while the last joins were still coming in lacks them, and
            what came after the last copy is lost with Redis, as documented: under load
            that copy could be the one the test restarted Redis on."""
            row = await chaosdb.room_snapshot(apps.dsn, room.id)
            return (
                row is not None
                and first.id in {u for u, _ in row["shop"]}
                and {w.id for w in rest} <= {u for u, _ in row["queue"]}
            )

        await eventually(copied, what="a copy of the room with all its places", timeout=15)
        await asyncio.to_thread(redis.stop)
        await asyncio.to_thread(redis.start)  # no persistence: the room is gone from Redis

        async def restored() -> bool:
            return await places(b) == expected

        await eventually(restored, what="every place back, seen through b", timeout=20)
        assert await places(a) == expected
        # And the room goes on: the shopper books, the next in line is admitted.
        held = await room.hold(b, first, count=1)
        assert held.status_code == 201, held.text
        booked = await room.book(a, first, [held.json()["seats"][0]["id"]])
        assert booked.status_code == 201, booked.text
        await room.wait_admitted(b, rest[0], timeout=10)
