"""On-sale time and waiting room over HTTP (issue 12), on both run modes.

The services mode's database is shared by the session, so a tick also visits other
tests' rooms: assertions look at their own event's entries only.

The admitter's background loop is slowed to once an hour here, so nobody is admitted
behind a test's back: each test drives admission by calling `Admitter.tick(now_ms)` on
the app's loop, with the time it wants (a shopper's window running out is a tick in the
future, not a wait).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.app import create_app
from backend.booking.admission import Admitter
from backend.booking.latency import LatencyWindow
from backend.booking.looplag import LoopLag
from backend.booking.onsale import SaleConfigs
from backend.booking.queue import SNAPSHOT_MS, WaitingRooms
from backend.settings import Mode, Settings
from backend.timefmt import iso_from_ms
from backend.waitingroom import RedisWaitingRoomStore
from tests.conftest import Api
from tests.support.databases import flush_redis_prefix
from tests.support.services import unique_name
from tests.support.waiting import eventually

HOUR_MS = 3_600_000
ROOM = {"enabled": True, "maxShoppers": 1, "shopperSeconds": 60}


@pytest.fixture
def room_settings(settings: Settings) -> Settings:
    return replace(settings, waiting_room_interval_ms=HOUR_MS)


@pytest.fixture
async def room_api(room_settings: Settings) -> AsyncIterator[Api]:
    app = create_app(room_settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        api = Api(client)
        # The tests drive the admitter's ticks; its own loop (a round at start-up, then
        # one an hour) is stopped, or that first round could land between a test's joins
        # and its first tick and move the pace under it.
        await api.run(client.app.state.admitter.on_shutdown)
        yield api


def now_ms() -> int:
    return int(time.time() * 1000)


async def tick(api: Api, at_ms: int | None = None) -> Any:
    admitter = api.client.app.state.admitter
    return await api.run(admitter.tick, now_ms() if at_ms is None else at_ms)


async def queue(api: Api, method: str, event: dict[str, Any], who: dict[str, Any]) -> Any:
    response = await api.client.request(
        method, f"/events/{event['id']}/queue", headers=who["headers"]
    )
    assert response.status_code == 200, response.text
    return response.json()


async def hold(api: Api, event: dict[str, Any], who: dict[str, Any], n: int = 1) -> Any:
    seat_ids = [s["id"] for s in event["seats"][:n]]
    return await api.client.post(
        f"/events/{event['id']}/holds", json={"seatIds": seat_ids}, headers=who["headers"]
    )


async def book(api: Api, event: dict[str, Any], who: dict[str, Any], n: int = 1) -> Any:
    seat_ids = [s["id"] for s in event["seats"][:n]]
    return await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": seat_ids}, headers=who["headers"]
    )


async def summary(api: Api, event: dict[str, Any], who: dict[str, Any]) -> Any:
    response = await api.client.get(f"/events/{event['id']}/queue/summary", headers=who["headers"])
    assert response.status_code == 200, response.text
    return response.json()


# ------------------------------------------------------------ configuration


async def test_events_sell_at_once_without_a_room_by_default(room_api: Api) -> None:
    owner = await room_api.user()
    event = await room_api.event(owner)
    assert event["onSaleAt"] is None
    assert event["waitingRoom"] == {"enabled": False, "maxShoppers": 200, "shopperSeconds": 600}
    buyer = await room_api.user()
    assert (await hold(room_api, event, buyer)).status_code == 201


async def test_the_configuration_round_trips_and_patches_field_by_field(room_api: Api) -> None:
    owner = await room_api.user()
    event = await room_api.event(
        owner,
        onSaleAt="2031-03-04T18:00:00+01:00",
        waitingRoom={"enabled": True, "maxShoppers": 50, "shopperSeconds": 300},
    )
    expected_room = {"enabled": True, "maxShoppers": 50, "shopperSeconds": 300}
    assert event["onSaleAt"] == "2031-03-04T17:00:00.000Z"
    assert event["waitingRoom"] == expected_room
    got = (await room_api.client.get(f"/events/{event['id']}")).json()
    assert (got["onSaleAt"], got["waitingRoom"]) == (event["onSaleAt"], expected_room)
    listed = next(
        e for e in (await room_api.client.get("/events")).json()["events"] if e["id"] == event["id"]
    )
    assert (listed["onSaleAt"], listed["waitingRoom"]) == (event["onSaleAt"], expected_room)

    patched = await room_api.client.patch(
        f"/events/{event['id']}",
        json={"onSaleAt": None, "waitingRoom": {"maxShoppers": 7}},
        headers=owner["headers"],
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["onSaleAt"] is None
    assert patched.json()["waitingRoom"] == {**expected_room, "maxShoppers": 7}
    off = await room_api.client.patch(
        f"/events/{event['id']}", json={"waitingRoom": {"enabled": False}}, headers=owner["headers"]
    )
    assert off.json()["waitingRoom"] == {"enabled": False, "maxShoppers": 7, "shopperSeconds": 300}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"waitingRoom": {"enabled": True, "maxShoppers": 0}}, "maxShoppers"),
        ({"waitingRoom": {"enabled": True, "maxShoppers": 100_001}}, "maxShoppers"),
        ({"waitingRoom": {"enabled": True, "shopperSeconds": 59}}, "shopperSeconds"),
        ({"waitingRoom": {"enabled": True, "shopperSeconds": 7201}}, "shopperSeconds"),
        ({"waitingRoom": {"enabled": "yes"}}, "enabled"),
        ({"onSaleAt": "2031-03-04T18:00:00"}, "timezone"),
        ({"onSaleAt": "next tuesday"}, "onSaleAt"),
    ],
)
async def test_bad_configuration_is_a_clear_400_and_changes_nothing(
    room_api: Api, body: dict[str, Any], words: str
) -> None:
    owner = await room_api.user()
    created = await room_api.client.post(
        "/events", json={"name": "Bad", "seats": ["A1"], **body}, headers=owner["headers"]
    )
    assert created.status_code == 400, created.text
    assert created.json()["code"] == "invalid_input" and words in created.json()["message"]
    event = await room_api.event(owner)
    patched = await room_api.client.patch(
        f"/events/{event['id']}", json=body, headers=owner["headers"]
    )
    assert patched.status_code == 400 and words in patched.json()["message"]
    after = (await room_api.client.get(f"/events/{event['id']}")).json()
    assert after["onSaleAt"] is None and after["waitingRoom"] == event["waitingRoom"]


async def test_only_the_organiser_changes_the_sale(room_api: Api) -> None:
    owner, other = await room_api.user(), await room_api.user()
    event = await room_api.event(owner)
    refused = await room_api.client.patch(
        f"/events/{event['id']}", json={"waitingRoom": {"enabled": True}}, headers=other["headers"]
    )
    assert refused.status_code == 403


# ------------------------------------------------------------------ the gate


async def test_nobody_but_the_organiser_holds_or_books_before_the_sale(room_api: Api) -> None:
    owner, buyer = await room_api.user(), await room_api.user()
    on_sale = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    event = await room_api.event(owner, onSaleAt=on_sale.isoformat())
    seat = event["seats"][0]["id"]
    attempts = [
        await hold(room_api, event, buyer),
        await room_api.client.post(
            f"/events/{event['id']}/holds", json={"count": 2}, headers=buyer["headers"]
        ),
        await book(room_api, event, buyer),
        await room_api.client.post("/book", json={"seatId": seat}, headers=buyer["headers"]),
    ]
    for response in attempts:
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["code"] == "not_on_sale" and body["onSaleAt"] == event["onSaleAt"]
    assert (await room_api.seats(event["id"]))[seat]["status"] == "available"
    # The organiser's comps and test purchases go ahead.
    assert (await hold(room_api, event, owner)).status_code == 201
    # Once the time is moved to the past, everyone may.
    await room_api.client.patch(
        f"/events/{event['id']}",
        json={"onSaleAt": "2020-01-01T00:00:00Z"},
        headers=owner["headers"],
    )
    assert (await book(room_api, event, buyer, 2)).status_code in (201, 423)


async def test_without_admission_holds_and_bookings_are_refused_with_the_place(
    room_api: Api,
) -> None:
    owner, first, second = [await room_api.user() for _ in range(3)]
    event = await room_api.event(owner, waitingRoom=ROOM)
    refused = await hold(room_api, event, first)
    assert refused.status_code == 403 and refused.json()["code"] == "not_admitted"
    assert refused.json()["queue"]["state"] == "none"

    await queue(room_api, "POST", event, first)
    await queue(room_api, "POST", event, second)
    for response in (await hold(room_api, event, second), await book(room_api, event, second)):
        assert response.status_code == 403 and response.json()["code"] == "not_admitted"
        place = response.json()["queue"]
        assert (place["state"], place["position"], place["ahead"]) == ("waiting", 2, 1)
    # The organiser needs no place.
    assert (await hold(room_api, event, owner)).status_code == 201


# ------------------------------------------------------------------ joining


async def test_join_admit_hold_book_and_the_slot_goes_to_the_next(room_api: Api) -> None:
    owner, first, second = [await room_api.user() for _ in range(3)]
    event = await room_api.event(owner, waitingRoom=ROOM)
    joined = await queue(room_api, "POST", event, first)
    assert joined == {
        "eventId": event["id"],
        "state": "waiting",
        "position": 1,
        "ahead": 0,
        "etaSeconds": 0,
    }
    assert (await queue(room_api, "POST", event, second))["position"] == 2

    report = await tick(room_api)
    assert report.admitted[event["id"]] == [first["id"]]  # one slot
    mine = await queue(room_api, "GET", event, first)
    assert mine["state"] == "admitted" and mine["admittedUntil"]
    waiting = await queue(room_api, "GET", event, second)
    assert (waiting["state"], waiting["position"], waiting["ahead"]) == ("waiting", 1, 0)

    assert (await hold(room_api, event, first, 2)).status_code == 201
    assert (await book(room_api, event, first, 2)).status_code == 201
    assert (await queue(room_api, "GET", event, first))["state"] == "left"  # done: slot free
    assert (await tick(room_api)).admitted[event["id"]] == [second["id"]]
    assert (await queue(room_api, "GET", event, second))["state"] == "admitted"
    counts = await summary(room_api, event, owner)
    assert (counts["waiting"], counts["shopping"], counts["admittedTotal"]) == (0, 1, 2)
    assert counts["maxShoppers"] == 1 and counts["enabled"] is True
    scraped = (await room_api.client.get("/metrics")).text
    assert 'boxoffice_waiting_room_total{kind="admitted"}' in scraped


async def test_one_place_per_account_under_concurrent_joins(room_api: Api) -> None:
    owner, buyer, other = [await room_api.user() for _ in range(3)]
    event = await room_api.event(owner, waitingRoom={"enabled": True})
    app = room_api.client.app

    async def joins() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            url = f"/events/{event['id']}/queue"
            return list(
                await asyncio.gather(*(c.post(url, headers=buyer["headers"]) for _ in range(8)))
            )

    places = [r.json() for r in await room_api.run(joins)]
    assert {(p["state"], p["position"]) for p in places} == {("waiting", 1)}
    assert (await queue(room_api, "POST", event, other))["position"] == 2
    assert (await queue(room_api, "POST", event, buyer))["position"] == 1  # again: same place
    assert (await summary(room_api, event, owner))["waiting"] == 2


async def _reads_behind_a_slow_one(
    room_api: Api, monkeypatch: pytest.MonkeyPatch, *, fail_second: bool
) -> tuple[list[list[str]], list[httpx.Response], list[dict[str, Any]]]:
    """Four buyers in a room poll their places: the first poll's store read is held
    until the other three are waiting for it, then let go (the second read fails, if
    asked). The store reads made (accounts each), the polls' responses, the buyers."""
    owner = await room_api.user()
    buyers = [await room_api.user() for _ in range(4)]
    event = await room_api.event(owner, waitingRoom=ROOM)
    for buyer in buyers:
        await queue(room_api, "POST", event, buyer)
    rooms = room_api.client.app.state.rooms
    real = rooms.store.present
    calls: list[list[str]] = []
    let_go: list[asyncio.Event] = []

    async def present(event_id: str, user_ids: list[str], now: int) -> Any:
        calls.append(list(user_ids))
        if len(calls) == 1:
            await let_go[0].wait()
        elif fail_second:
            raise RedisConnectionError("Connection refused")
        return await real(event_id, user_ids, now)

    monkeypatch.setattr(rooms.store, "present", present)
    app = room_api.client.app

    async def polls() -> list[httpx.Response]:
        let_go.append(asyncio.Event())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            url = f"/events/{event['id']}/queue"
            sent = [asyncio.ensure_future(c.get(url, headers=buyers[0]["headers"]))]
            await eventually(lambda: len(calls) == 1, what="the first poll's read")
            for n, buyer in enumerate(buyers[1:], start=1):
                sent.append(asyncio.ensure_future(c.get(url, headers=buyer["headers"])))
                await eventually(
                    lambda n=n: len(rooms.reads._waiting.get(event["id"], {})) == n,
                    what=f"poll {n + 1} to wait for the read out",
                )
            let_go[0].set()
            return list(await asyncio.gather(*sent))

    responses = await room_api.run(polls)
    return calls, responses, buyers


async def test_polls_that_come_together_are_read_together(
    room_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polls of one room that arrive while its store read is out share the next read,
    and each gets its own place."""
    calls, responses, buyers = await _reads_behind_a_slow_one(
        room_api, monkeypatch, fail_second=False
    )
    ids = [b["id"] for b in buyers]
    assert calls == [ids[:1], ids[1:]]
    assert [(r.status_code, r.json()["position"]) for r in responses] == [
        (200, 1),
        (200, 2),
        (200, 3),
        (200, 4),
    ]


async def test_a_failed_shared_read_is_each_polls_503(
    room_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared read's failure reaches every poll that waited for it, as the 503 each
    would get alone; the poll before it is answered."""
    calls, responses, _ = await _reads_behind_a_slow_one(room_api, monkeypatch, fail_second=True)
    assert len(calls) == 2
    assert [r.status_code for r in responses] == [200, 503, 503, 503]
    assert {r.json()["message"] for r in responses[1:]} == {
        "the waiting room is unavailable; try again"
    }


async def test_leaving_gives_the_place_up(room_api: Api) -> None:
    owner, first, second = [await room_api.user() for _ in range(3)]
    event = await room_api.event(owner, waitingRoom=ROOM)
    await queue(room_api, "POST", event, first)
    await queue(room_api, "POST", event, second)
    left = await queue(room_api, "DELETE", event, first)
    assert (left["state"], left["position"]) == ("left", None)
    assert (await queue(room_api, "GET", event, second))["position"] == 1
    refused = await hold(room_api, event, first)
    assert refused.status_code == 403 and refused.json()["queue"]["state"] == "left"
    assert (await queue(room_api, "POST", event, first))["position"] == 2  # at the back


async def test_a_busy_store_is_a_503_that_says_busy_and_changes_nothing(
    room_api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When every connection to the waiting room's store stays in use past the pool's
    wait (redis-py's error; `test_redisclient` shows the library raising it), a join is
    a 503 with Retry-After that says the room is busy, the log says the process is
    overloaded rather than Redis down, and nobody gets a place."""
    owner, buyer = await room_api.user(), await room_api.user()
    event = await room_api.event(owner, waitingRoom=ROOM)
    store = room_api.client.app.state.rooms.store

    async def exhausted(*_: object) -> None:
        raise RedisConnectionError("No connection available.") from TimeoutError()

    monkeypatch.setattr(store, "join", exhausted)
    response = await room_api.client.post(f"/events/{event['id']}/queue", headers=buyer["headers"])
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["message"] == "the waiting room is busy; try again in a moment"
    assert "waiting-room store busy: no free connection in this process" in caplog.text
    monkeypatch.undo()
    assert (await summary(room_api, event, owner))["waiting"] == 0


async def test_releasing_everything_frees_the_slot_but_changing_a_pick_does_not(
    room_api: Api,
) -> None:
    owner, buyer = await room_api.user(), await room_api.user()
    event = await room_api.event(owner, waitingRoom=ROOM)
    await queue(room_api, "POST", event, buyer)
    await tick(room_api)
    assert (await hold(room_api, event, buyer)).status_code == 201
    url = f"/events/{event['id']}/holds"
    one = {"seatIds": [event["seats"][0]["id"]]}
    released = await room_api.client.request("DELETE", url, json=one, headers=buyer["headers"])
    assert released.status_code == 200
    assert (await queue(room_api, "GET", event, buyer))["state"] == "admitted"
    assert (await hold(room_api, event, buyer)).status_code == 201
    everything = await room_api.client.delete(url, headers=buyer["headers"])
    assert everything.json()["released"] == [event["seats"][0]["id"]]
    assert (await queue(room_api, "GET", event, buyer))["state"] == "left"


async def test_a_shoppers_window_running_out_releases_their_holds(room_api: Api) -> None:
    owner, buyer = await room_api.user(), await room_api.user()
    event = await room_api.event(owner, waitingRoom=ROOM)
    await queue(room_api, "POST", event, buyer)
    start = now_ms()
    await tick(room_api, start)
    assert (await hold(room_api, event, buyer, 2)).status_code == 201
    report = await tick(room_api, start + 60_000 + 1)
    assert report.expired[event["id"]] == [buyer["id"]]
    seats = await room_api.seats(event["id"])
    assert [seats[s["id"]]["status"] for s in event["seats"][:2]] == ["available", "available"]
    assert (await queue(room_api, "GET", event, buyer))["state"] == "expired"
    refused = await hold(room_api, event, buyer)
    assert refused.status_code == 403 and refused.json()["queue"]["state"] == "expired"


async def test_places_and_slots_unseen_for_the_grace_are_given_up(room_api: Api) -> None:
    owner, shopper, waiter = [await room_api.user() for _ in range(3)]
    event = await room_api.event(owner, waitingRoom={**ROOM, "shopperSeconds": 600})
    await queue(room_api, "POST", event, shopper)
    await queue(room_api, "POST", event, waiter)
    start = now_ms()
    await tick(room_api, start)
    assert (await hold(room_api, event, shopper)).status_code == 201  # a hold is a sign
    grace_ms = room_api.client.app.state.settings.waiting_room_grace_seconds * 1000
    report = await tick(room_api, now_ms() + grace_ms + 1_000)
    assert sorted(report.abandoned[event["id"]]) == sorted([shopper["id"], waiter["id"]])
    assert (await room_api.seats(event["id"]))[event["seats"][0]["id"]]["status"] == "available"
    for who in (shopper, waiter):
        assert (await queue(room_api, "GET", event, who))["state"] == "left"


async def crowd(api: Api, event: dict[str, Any], count: int) -> None:
    for _ in range(count):
        await queue(api, "POST", event, await api.user())


async def window_ticks(
    api: Api, event: dict[str, Any], at_ms: list[int]
) -> tuple[list[int], list[int]]:
    """The room's shopping window and the admissions at each of these ticks."""
    windows, admitted = [], []
    for at in at_ms:
        report = await tick(api, at)
        windows.append(report.window[event["id"]])
        admitted.append(len(report.admitted.get(event["id"], [])))
    return windows, admitted


async def test_the_shopping_window_doubles_until_the_path_is_slow_then_grows_by_a_step(
    room_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await room_api.user()
    event = await room_api.event(owner, waitingRoom={**ROOM, "maxShoppers": 40})
    await crowd(room_api, event, 30)
    admitter = room_api.client.app.state.admitter
    # The window also shrinks on this process's event-loop lag (tests/unit/test_loop_lag.py).
    # The test process's loop is the host's: on a loaded machine (a browser test beside
    # this one) it ran late enough once to hold the window at its start. A probe of
    # its own, with no samples, keeps this test about the booking path; and the
    # requests' times are on a clock of the test's own (each tick judges "the last
    # second", and on a slow host the ticks below take more than one).
    monkeypatch.setattr(admitter, "loop_lag", LoopLag())
    clock = [0.0]
    latency = LatencyWindow(clock=lambda: clock[0])
    monkeypatch.setattr(admitter, "latency", latency)
    t = now_ms()
    # No request measured: the path is idle, so quick. Ten first (a twentieth of
    # maxShoppers, at least 10; not all 40 at once); the window full, it doubles once a
    # second, not each tick.
    windows, admitted = await window_ticks(room_api, event, [t, t + 250, t + 500, t + 1_000])
    assert (windows, admitted) == ([10, 10, 10, 20], [10, 0, 0, 10])
    for _ in range(20):
        latency.add(5.0)  # a slow second: a quarter less, and no more doubling
    assert await window_ticks(room_api, event, [t + 2_000]) == ([15], [0])
    clock[0] = 10.0  # quick again (the slow second forgotten): a twentieth more a second;
    # the 20 shopping are over the window, so nobody more comes in yet
    windows, admitted = await window_ticks(room_api, event, [t + 3_000, t + 4_000])
    assert (windows, admitted) == ([17, 19], [0, 0])


async def test_a_window_not_in_use_does_not_grow(
    room_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shoppers who finish at once leave the window unused: a quick path then proves
    nothing about a bigger one, so it stays, and refills."""
    owner = await room_api.user()
    event = await room_api.event(owner, waitingRoom={**ROOM, "maxShoppers": 40})
    buyers = [await room_api.user() for _ in range(16)]
    for buyer in buyers:
        await queue(room_api, "POST", event, buyer)
    monkeypatch.setattr(room_api.client.app.state.admitter, "loop_lag", LoopLag())
    t = now_ms()
    assert await window_ticks(room_api, event, [t]) == ([10], [10])
    for buyer in buyers[:4]:  # four of the ten shoppers leave: 6 of 10 in use
        assert (await queue(room_api, "DELETE", event, buyer))["state"] == "left"
    assert await window_ticks(room_api, event, [t + 1_000]) == ([10], [4])
    assert await window_ticks(room_api, event, [t + 2_000]) == ([20], [2])  # full: grows


async def test_the_window_shrinks_while_the_booking_path_is_slow_but_never_closes(
    room_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await room_api.user()
    event = await room_api.event(owner, waitingRoom={**ROOM, "maxShoppers": 80})
    buyers = [await room_api.user() for _ in range(16)]
    for buyer in buyers:
        await queue(room_api, "POST", event, buyer)
    # The requests' times on a clock of the test's own: each tick judges "the last
    # second", and on a slow host the ticks below take more than one.
    latency = LatencyWindow(clock=lambda: 0.0)
    monkeypatch.setattr(room_api.client.app.state.admitter, "latency", latency)
    t = now_ms()
    assert await window_ticks(room_api, event, [t]) == ([10], [10])
    for _ in range(20):
        latency.add(5.0)  # five seconds a request: far over WAITING_ROOM_SLOW_MS
    # A quarter less, at most once a second, down to a twentieth of maxShoppers: the
    # 10 shopping keep whoever waits out meanwhile.
    windows, admitted = await window_ticks(
        room_api, event, [t + 250, t + 1_000, t + 1_500, t + 2_000, t + 3_000, t + 4_000]
    )
    assert windows == [10, 7, 7, 5, 4, 4]
    assert admitted == [0, 0, 0, 0, 0, 0]
    # Everyone shopping leaves: a slow path still lets shoppers in, whose requests tell it
    # when it is quick again.
    shopping = [
        b for b in buyers if (await queue(room_api, "GET", event, b))["state"] == "admitted"
    ]
    assert len(shopping) == 10
    for buyer in shopping:
        await queue(room_api, "DELETE", event, buyer)
    report = await tick(room_api, t + 5_000)
    assert (report.slow, report.window[event["id"]]) == (True, 4)
    assert len(report.admitted[event["id"]]) == 4


async def test_the_eta_comes_from_the_measured_admission_rate(room_api: Api) -> None:
    owner = await room_api.user()
    buyers = [await room_api.user() for _ in range(4)]
    event = await room_api.event(owner, waitingRoom=ROOM)
    for buyer in buyers:
        await queue(room_api, "POST", event, buyer)
    assert (await queue(room_api, "GET", event, buyers[2]))["etaSeconds"] is None  # unknown
    start = now_ms()
    await tick(room_api, start)  # buyers[0] in
    await queue(room_api, "DELETE", event, buyers[0])
    await tick(room_api, start + 10_000)  # buyers[1] in: one admission in 10 s
    place = await queue(room_api, "GET", event, buyers[3])
    assert (place["ahead"], place["etaSeconds"]) == (1, 10)
    assert (await summary(room_api, event, owner))["admissionsPerMinute"] == 6.0


# ------------------------------------------------------------- refusals


async def test_queue_refusals(room_api: Api) -> None:
    owner, buyer = await room_api.user(), await room_api.user()
    plain = await room_api.event(owner)
    no_room = await room_api.client.post(f"/events/{plain['id']}/queue", headers=buyer["headers"])
    assert no_room.status_code == 409 and no_room.json()["code"] == "no_waiting_room"
    missing = "00000000-0000-0000-0000-000000000000"
    unknown = await room_api.client.post(f"/events/{missing}/queue", headers=buyer["headers"])
    assert unknown.status_code == 404
    assert (await room_api.client.post(f"/events/{plain['id']}/queue")).status_code == 401
    event = await room_api.event(owner, waitingRoom=ROOM)
    others = await room_api.client.get(
        f"/events/{event['id']}/queue/summary", headers=buyer["headers"]
    )
    assert others.status_code == 403
    never = await queue(room_api, "GET", event, buyer)
    assert (never["state"], never["position"]) == ("none", None)


async def test_joins_are_throttled_per_address(settings: Settings) -> None:
    prefix = unique_name("botestq")
    throttled = replace(
        settings,
        waiting_room_interval_ms=HOUR_MS,
        waiting_room_joins_per_address=2,
        redis_prefix=prefix,
    )
    try:
        async with AsyncTestClient(app=create_app(throttled)) as client:
            api = Api(client)
            owner = await api.user()
            event = await api.event(owner, waitingRoom=ROOM)
            codes = []
            for _ in range(3):
                buyer = await api.user()
                joined = await client.post(f"/events/{event['id']}/queue", headers=buyer["headers"])
                codes.append(joined.status_code)
            assert codes == [200, 200, 429]
            assert joined.headers["retry-after"]
    finally:
        if settings.mode is Mode.SERVICES:
            await flush_redis_prefix(prefix)


async def test_two_admitters_never_admit_past_max_shoppers(services_settings: Settings) -> None:
    """A second admitter with its own Redis client and its own caches stands for a second
    app process (Piccolo binds its tables to one engine per Python process, so two apps
    cannot share one test process); both tick at once on the app's loop."""
    slow = replace(services_settings, waiting_room_interval_ms=HOUR_MS)
    async with AsyncTestClient(app=create_app(slow)) as client:
        api = Api(client)
        services = client.app.state.services
        owner = await api.user()
        event = await api.event(owner, waitingRoom={**ROOM, "maxShoppers": 3})
        buyers = [await api.user() for _ in range(10)]
        for buyer in buyers:
            await queue(api, "POST", event, buyer)
        other_rooms = WaitingRooms(
            RedisWaitingRoomStore(slow.redis_url or "", slow.redis_prefix),
            SaleConfigs(services.storage),
        )
        other = Admitter(
            other_rooms,
            services.booking,
            LatencyWindow(),
            interval=HOUR_MS / 1000,
            grace_ms=60_000,
            slow_ms=1000,
        )
        admitters = [services.admitter, other]

        async def ticks() -> list[str]:
            rounds = await asyncio.gather(*(a.tick() for a in admitters for _ in range(3)))
            return [user for report in rounds for user in report.admitted.get(event["id"], [])]

        await api.run(other_rooms.on_startup)
        try:
            admitted = await api.run(ticks)
            assert sorted(admitted) == sorted(b["id"] for b in buyers[:3])  # in order, once
            # A shopper books: exactly one more comes in, whichever admitter sees it.
            done = next(b for b in buyers if b["id"] == admitted[0])
            assert (await book(api, event, done)).status_code == 201
            assert len(await api.run(ticks)) == 1
        finally:
            await api.run(other_rooms.on_shutdown)
        counts = await summary(api, event, owner)
        assert (counts["shopping"], counts["waiting"], counts["admittedTotal"]) == (3, 6, 4)


# ------------------------------------------------- a store that loses its rooms


async def places(api: Api, event: dict[str, Any], buyers: list[dict[str, Any]]) -> list[Any]:
    return [
        {k: v for k, v in (await queue(api, "GET", event, b)).items() if k != "etaSeconds"}
        for b in buyers
    ]


async def test_a_store_that_lost_the_room_gets_it_back_from_the_database(room_api: Api) -> None:
    owner = await room_api.user()
    event = await room_api.event(owner, waitingRoom=ROOM)
    buyers = [await room_api.user() for _ in range(4)]
    for buyer in buyers:
        await queue(room_api, "POST", event, buyer)
    t = now_ms()
    await tick(room_api, t)  # a copy of the room is taken, then the first goes in
    await tick(room_api, t + 6_000)  # the next copy has the shopper
    assert (await hold(room_api, event, buyers[0])).status_code == 201
    before = await places(room_api, event, buyers)
    assert [p["state"] for p in before] == ["admitted", "waiting", "waiting", "waiting"]

    rooms = room_api.client.app.state.rooms
    await room_api.run(rooms.store.clear, event["id"])  # Redis restarted without its data
    assert (await queue(room_api, "GET", event, buyers[1]))["state"] == "none"
    refused = await hold(room_api, event, buyers[0])
    assert (refused.status_code, refused.json()["code"]) == (403, "not_admitted")

    await tick(room_api, t + 7_000)  # the admitter sees the loss and restores the copy
    assert await places(room_api, event, buyers) == before
    assert (await hold(room_api, event, buyers[0], 2)).status_code == 201
    counts = await summary(room_api, event, owner)
    assert (counts["waiting"], counts["shopping"], counts["admittedTotal"]) == (3, 1, 1)
    # Once only: the next tick finds the room as the copy left it.
    assert rooms.restores[event["id"]] == 1
    await tick(room_api, t + 8_000)
    assert rooms.restores[event["id"]] == 1


async def test_a_hold_and_a_poll_each_ask_the_room_once(room_api: Api) -> None:
    """A shopper's hold checks its admission and counts as presence, and a poll reads the
    place and counts as presence, each in one call to the room's store (one round trip
    to Redis): at an opening those calls wait their turn on a saturated loop, 20-60 ms
    each (`make bench onsale`), so a second one costs every hold that much again."""
    owner, shopper, waiter = [await room_api.user() for _ in range(3)]
    event = await room_api.event(owner, waitingRoom=ROOM)
    await queue(room_api, "POST", event, shopper)
    await queue(room_api, "POST", event, waiter)
    await tick(room_api)
    store = room_api.client.app.state.rooms.store
    calls: list[str] = []
    for name in ("status", "touch", "present"):
        original = getattr(store, name)

        def counting(*args: Any, _name: str = name, _original: Any = original) -> Any:
            if args[0] == event["id"]:
                calls.append(_name)
            return _original(*args)

        setattr(store, name, counting)
    try:
        assert (await hold(room_api, event, shopper)).status_code == 201
        assert len(calls) == 1, calls
        calls.clear()
        refused = await hold(room_api, event, waiter)
        assert (refused.status_code, refused.json()["queue"]["state"]) == (403, "waiting")
        assert len(calls) == 1, calls
        calls.clear()
        assert (await queue(room_api, "GET", event, waiter))["state"] == "waiting"
        assert len(calls) == 1, calls
    finally:
        for name in ("status", "touch", "present"):
            vars(store).pop(name, None)


async def test_a_busy_room_is_copied_once_per_interval_not_on_every_tick(
    room_api: Api,
) -> None:
    """A copy reads every place: taken on each admitter round (a few a second), it
    would cost the sale more than the sale itself."""
    owner = await room_api.user()
    event = await room_api.event(owner, waitingRoom=ROOM)
    rooms = room_api.client.app.state.rooms
    dumps = 0
    dump = rooms.store.dump_json

    async def counting(event_id: str) -> Any:
        nonlocal dumps
        dumps += event_id == event["id"]  # (earlier tests' rooms are in this database)
        return await dump(event_id)

    rooms.store.dump_json = counting
    t = now_ms()
    for step in range(8):  # the room moves between rounds: a join each time
        await queue(room_api, "POST", event, await room_api.user())
        await tick(room_api, t + step * 500)
    assert dumps == 1
    await queue(room_api, "POST", event, await room_api.user())
    await tick(room_api, t + SNAPSHOT_MS)
    assert dumps == 2


async def test_two_app_processes_copy_a_busy_room_once_per_interval(room_api: Api) -> None:
    """Every process's admitter visits every room: each copying it on its own would
    read every place twice as often as needed."""
    owner = await room_api.user()
    event = await room_api.event(owner, waitingRoom=ROOM)
    rooms = room_api.client.app.state.rooms
    store = rooms.store
    if isinstance(store, RedisWaitingRoomStore):  # a second process: its own connections
        store = RedisWaitingRoomStore(room_api.client.app.state.settings.redis_url, store._prefix)
        await room_api.run(store.on_startup)
    second = WaitingRooms(store, rooms.configs, rooms.clock, rooms.snapshots)
    dumps = 0
    for view_store in {id(v.store): v.store for v in (rooms, second)}.values():
        dump = view_store.dump_json  # (in memory both processes' views share one store)

        async def counting(event_id: str, _dump: Any = dump) -> Any:
            nonlocal dumps
            dumps += event_id == event["id"]
            return await _dump(event_id)

        view_store.dump_json = counting
    try:
        t = now_ms()
        for step in range(4):  # both visit the room as it moves, a second apart
            await queue(room_api, "POST", event, await room_api.user())
            for view in (rooms, second):
                summary = await room_api.run(view.store.summary, event["id"])
                await room_api.run(view.safeguard, event["id"], summary, t + step * 1_000)
        assert dumps == 1
        await queue(room_api, "POST", event, await room_api.user())
        for view in (second, rooms):  # the next interval: whoever comes first copies
            summary = await room_api.run(view.store.summary, event["id"])
            await room_api.run(view.safeguard, event["id"], summary, t + SNAPSHOT_MS + 1)
        assert dumps == 2
    finally:
        for view in (rooms, second):
            vars(view.store).pop("dump_json", None)
        if store is not rooms.store:
            await room_api.run(store.on_shutdown)


async def test_a_restarted_embedded_server_keeps_every_place(embedded_settings: Settings) -> None:
    """Embedded mode keeps its rooms in memory: a restart of its one process empties
    them, and its copies in SQLite bring them back."""
    slow = replace(embedded_settings, waiting_room_interval_ms=HOUR_MS)
    async with AsyncTestClient(app=create_app(slow)) as client:
        api = Api(client)
        owner = await api.user()
        sale = now_ms() + 10_000
        event = await api.event(owner, onSaleAt=iso_from_ms(sale), waitingRoom=ROOM)
        buyers = [await api.user() for _ in range(5)]
        for buyer in buyers:
            await queue(api, "POST", event, buyer)
        await tick(api)
    async with AsyncTestClient(app=create_app(slow)) as client:
        api = Api(client)
        await tick(api)  # restores the room, still before the sale
        await tick(api, sale)  # opens it: the pre-queue's draw, kept across the restart
        shown = await places(api, event, buyers)
        positions = sorted(p["position"] or 0 for p in shown)
        assert positions == [0, 1, 2, 3, 4] and sum(p["state"] == "admitted" for p in shown) == 1
