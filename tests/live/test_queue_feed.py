"""The waiting room on the seat map's socket (issue 12, item 5), in-process, both modes:
`room` messages to every watcher, `queue` messages to every tab of an account, admission
and expiry pushed at once (through the live channel: Redis in services mode), positions
on the feed's rounds, and an open socket counting as presence.

Nothing here waits for a background loop: the admitter's loop is slowed to once an hour
and the feed's is stopped, so each test drives `Admitter.tick(now_ms)` and
`QueueFeed.tick(now)` itself and the waiting-room clock is the test's."""

from __future__ import annotations

import contextlib
import itertools
import queue
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient, WebSocketTestSession

from backend.app import create_app
from backend.live.queuefeed import FAR_SECONDS
from backend.settings import Settings
from backend.timefmt import iso_from_ms
from tests.conftest import Api

HOUR_MS = 3_600_000
T0 = 1_900_000_000_000  # the waiting room's clock in these tests (2030)
GRACE_MS = 60_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def room_api(settings: Settings) -> AsyncIterator[tuple[Api, Clock]]:
    changed = replace(
        settings,
        waiting_room_interval_ms=HOUR_MS,
        waiting_room_grace_seconds=GRACE_MS // 1000,
    )
    app = create_app(changed)
    clock = Clock()
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        api = Api(client)
        state = client.app.state
        await api.run(state.queue_feed.on_shutdown)  # the tests drive its rounds
        state.rooms.clock = clock
        yield api, clock


_rounds = itertools.count(1)


async def feed_round(api: Api) -> None:
    """One round of the feed, on a cadence that is always due."""
    await api.run(api.client.app.state.queue_feed.tick, 1e9 + 10 * next(_rounds))


async def admit_round(api: Api, clock: Clock) -> Any:
    return await api.run(api.client.app.state.admitter.tick, clock.now)


class Tab:
    """One socket: its messages by type, in order."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws

    def next(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        """The next message of type `kind`, skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message: dict[str, Any] = self.ws.receive_json(
                    timeout=max(deadline - time.monotonic(), 0.001)
                )
            except queue.Empty:
                raise AssertionError(f"no {kind} message within {timeout}s") from None
            if message["type"] == kind:
                return message

    def until(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The first message of type `kind` with these fields."""
        deadline = time.monotonic() + 5.0
        while True:
            message = self.next(kind, timeout=max(deadline - time.monotonic(), 0.001))
            if all(message.get(k) == v for k, v in fields.items()):
                return message


@contextlib.contextmanager
def _opened(ws: WebSocketTestSession) -> Iterator[Tab]:
    with ws:
        yield Tab(ws)


@contextlib.asynccontextmanager
async def tab(api: Api, event: dict[str, Any], who: dict[str, Any] | None = None) -> Any:
    session = await api.client.websocket_connect(f"/ws/events/{event['id']}")
    with _opened(session) as opened:
        assert opened.next("snapshot")["eventId"] == event["id"]
        if who is not None:
            opened.ws.send_json({"type": "auth", "token": who["token"]})
            assert opened.next("auth")["userId"] == who["id"]
        yield opened


async def join(api: Api, event: dict[str, Any], who: dict[str, Any]) -> Any:
    response = await api.client.post(f"/events/{event['id']}/queue", headers=who["headers"])
    assert response.status_code == 200, response.text
    return response.json()


def iso(ms: int) -> str:
    return str(iso_from_ms(ms))


ROOM = {"enabled": True, "maxShoppers": 1, "shopperSeconds": 60}


async def room_event(api: Api, **body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    owner = await api.user()
    body.setdefault("waitingRoom", ROOM)
    return owner, await api.event(owner, **body)


# ------------------------------------------------------------------------- tests


async def test_every_watcher_gets_the_rooms_length_and_shoppers(
    room_api: tuple[Api, Clock],
) -> None:
    api, clock = room_api
    sale = T0 + 60_000
    _, event = await room_event(api, onSaleAt=iso(sale))
    async with tab(api, event) as anonymous:
        assert anonymous.next("room") == {
            "type": "room",
            "waiting": 0,
            "shopping": 0,
            "maxShoppers": 1,
            "admissionsPerMinute": None,
            "onSaleAt": iso(sale),
            "open": False,
        }
        for _ in range(3):
            await join(api, event, await api.user())
        await feed_round(api)
        assert anonymous.until("room", waiting=3)["open"] is False
        clock.now = sale
        await admit_round(api, clock)
        await feed_round(api)
        room = anonymous.until("room", shopping=1)
        assert (room["waiting"], room["open"]) == (2, True)


async def test_events_without_a_room_send_no_room_or_queue_messages(
    room_api: tuple[Api, Clock],
) -> None:
    api, _ = room_api
    owner = await api.user()
    event = await api.event(owner)
    buyer = await api.user()
    async with tab(api, event, buyer) as watcher:
        await feed_round(api)
        held = await api.client.post(
            f"/events/{event['id']}/holds",
            json={"seatIds": [event["seats"][0]["id"]]},
            headers=buyer["headers"],
        )
        assert held.status_code == 201
        # Everything up to the hold's change, in order: no room and no queue message.
        kinds: list[str] = []
        while not kinds or kinds[-1] != "seats":
            kinds.append(watcher.ws.receive_json(timeout=3)["type"])
        assert set(kinds) <= {"snapshot", "seats", "heartbeat"}, kinds


async def test_every_tab_of_an_account_gets_its_place_and_its_changes(
    room_api: tuple[Api, Clock],
) -> None:
    api, clock = room_api
    sale = T0 + 60_000
    _, event = await room_event(api, onSaleAt=iso(sale))
    buyer = await api.user()
    async with tab(api, event, buyer) as first, tab(api, event, buyer) as second:
        for opened in (first, second):
            assert opened.next("queue") == {
                "type": "queue",
                "state": "none",
                "position": None,
                "ahead": None,
                "etaSeconds": None,
            }
        joined = await join(api, event, buyer)
        assert (joined["state"], joined["position"]) == ("waiting", None)  # the draw is secret
        await feed_round(api)
        for opened in (first, second):
            assert opened.until("queue", state="waiting")["position"] is None
        others = [await api.user() for _ in range(2)]
        for other in others:
            await join(api, event, other)
        clock.now = sale  # the room opens; its first shopper goes in
        await admit_round(api, clock)
        await feed_round(api)
        places = [opened.next("queue") for opened in (first, second)]
        assert places[0] == places[1]
        mine = await api.client.get(f"/events/{event['id']}/queue", headers=buyer["headers"])
        if places[0]["state"] == "waiting":
            assert places[0]["position"] == mine.json()["position"] in (1, 2)
        else:
            assert places[0]["state"] == mine.json()["state"] == "admitted"


async def test_admission_reaches_every_tab_at_once_without_a_feed_round(
    room_api: tuple[Api, Clock],
) -> None:
    api, clock = room_api
    _, event = await room_event(api)  # on sale now
    first, second, third = [await api.user() for _ in range(3)]
    for buyer in (first, second, third):
        await join(api, event, buyer)
    assert (await admit_round(api, clock)).admitted[event["id"]] == [first["id"]]
    async with (
        tab(api, event, second) as tab_a,
        tab(api, event, second) as tab_b,
        tab(api, event, third) as third_tab,
    ):
        for opened in (tab_a, tab_b):
            assert opened.until("queue", state="waiting")["position"] == 1
        assert third_tab.until("queue", state="waiting")["position"] == 2
        seat = event["seats"][0]["id"]
        booked = await api.client.post(
            f"/events/{event['id']}/bookings", json={"seatIds": [seat]}, headers=first["headers"]
        )
        assert booked.status_code == 201, booked.text  # booking frees the first slot
        clock.now += 1000
        await admit_round(api, clock)  # no feed round: the admitter's news is published
        for opened in (tab_a, tab_b):
            admitted = opened.until("queue", state="admitted")
            assert admitted == {
                "type": "queue",
                "state": "admitted",
                "position": None,
                "ahead": None,
                "etaSeconds": None,
                "admittedUntil": iso(clock.now + 60_000),
            }
        held = await api.client.post(
            f"/events/{event['id']}/holds",
            json={"seatIds": [event["seats"][1]["id"]]},
            headers=second["headers"],
        )
        assert held.status_code == 201, held.text
        # The one behind moves up on the next round.
        await feed_round(api)
        assert third_tab.until("queue", state="waiting", position=1)["ahead"] == 0


async def test_an_ended_window_reaches_the_shopper_at_once(room_api: tuple[Api, Clock]) -> None:
    api, clock = room_api
    _, event = await room_event(api)
    buyer = await api.user()
    await join(api, event, buyer)
    await admit_round(api, clock)
    async with tab(api, event, buyer) as opened:
        until = opened.until("queue", state="admitted")["admittedUntil"]
        assert until == iso(T0 + 60_000)
        clock.now = T0 + 60_000
        report = await admit_round(api, clock)
        assert report.expired[event["id"]] == [buyer["id"]]
        expired = opened.until("queue", state="expired")
        assert (expired["position"], expired["etaSeconds"]) == (None, None)


async def test_an_open_socket_keeps_the_place_and_a_closed_one_does_not(
    room_api: tuple[Api, Clock],
) -> None:
    api, clock = room_api
    _, event = await room_event(api, onSaleAt=iso(T0 + HOUR_MS))
    watching, gone = await api.user(), await api.user()
    for buyer in (watching, gone):
        await join(api, event, buyer)  # both seen at T0
    async with tab(api, event, watching) as opened:
        opened.until("queue", state="waiting")
        clock.now = T0 + GRACE_MS - 1000
        await feed_round(api)  # the open socket is presence: seen now
        clock.now = T0 + GRACE_MS + 1
        report = await admit_round(api, clock)
        assert report.abandoned[event["id"]] == [gone["id"]]
        for buyer, state in ((watching, "waiting"), (gone, "left")):
            place = await api.client.get(f"/events/{event['id']}/queue", headers=buyer["headers"])
            assert place.json()["state"] == state


def looking(api: Api, event: dict[str, Any]) -> dict[str | None, set[bool]]:
    """Whether each account's sockets (None: the anonymous ones) look at the map at the
    lookers' pace."""
    found: dict[str | None, set[bool]] = {}
    for watcher in api.client.app.state.hub.watchers.get(event["id"], ()):
        found.setdefault(watcher.user_id, set()).add(watcher.looking)
    return found


async def test_only_shoppers_get_seat_changes_at_the_shoppers_pace(
    room_api: tuple[Api, Clock],
) -> None:
    """On an event with a room, everyone but the admitted shoppers looks at the map a
    second behind (and still sees every change); admission moves a socket to the
    shoppers' pace. Without a room, everyone shops."""
    api, clock = room_api
    _, event = await room_event(api)  # on sale now, one shopper at a time
    first, second = await api.user(), await api.user()
    for buyer in (first, second):
        await join(api, event, buyer)
    await admit_round(api, clock)  # `first` is in
    async with (
        tab(api, event) as anonymous,
        tab(api, event, first) as shopper,
        tab(api, event, second) as waiter,
    ):
        anonymous.next("room")
        shopper.until("queue", state="admitted")
        waiter.until("queue", state="waiting")
        assert looking(api, event) == {None: {True}, first["id"]: {False}, second["id"]: {True}}
        seat = event["seats"][0]["id"]
        booked = await api.client.post(
            f"/events/{event['id']}/bookings", json={"seatIds": [seat]}, headers=first["headers"]
        )
        assert booked.status_code == 201, booked.text
        for opened in (shopper, anonymous, waiter):  # the lookers a window later
            assert opened.next("seats", timeout=5)["changes"][0]["status"] == "booked"
        clock.now += 1000
        await admit_round(api, clock)  # the booking freed the slot: `second` is in
        waiter.until("queue", state="admitted")
        assert looking(api, event)[second["id"]] == {False}

    plain = await api.event(await api.user())
    async with tab(api, plain) as anonymous, tab(api, plain, first) as buyer:
        await feed_round(api)
        assert looking(api, plain) == {None: {False}, first["id"]: {False}}


async def test_waiters_far_back_are_read_and_told_less_often(
    room_api: tuple[Api, Clock],
) -> None:
    """Past `near_positions`, a waiter's place is read and sent at most every
    FAR_SECONDS by the rounds; nearer waiters on every round."""
    api, clock = room_api
    feed = api.client.app.state.queue_feed
    feed.near_positions = 1
    _, event = await room_event(api)  # on sale now, one shopper at a time
    first, second, third = [await api.user() for _ in range(3)]
    for buyer in (first, second, third):
        await join(api, event, buyer)
    await admit_round(api, clock)  # `first` shops; `second` is 1st in line, `third` 2nd
    t0 = 5e9
    async with tab(api, event, third) as opened:
        assert opened.until("queue", state="waiting")["position"] == 2
        await api.run(feed.tick, t0)  # read: still 2nd
        await queue_leave(api, event, second)  # `third` is 1st now

        def told() -> Any:  # the place last sent to `third`'s sockets
            return feed._sent[(event["id"], third["id"])].position

        await api.run(feed.tick, t0 + 2)  # due, but `third` is far back and fresh
        assert told() == 2
        await api.run(feed.tick, t0 + FAR_SECONDS + 0.5)
        assert told() == 1
        assert opened.until("queue", state="waiting")["position"] == 1


async def queue_leave(api: Api, event: dict[str, Any], who: dict[str, Any]) -> None:
    response = await api.client.delete(f"/events/{event['id']}/queue", headers=who["headers"])
    assert response.status_code == 200, response.text


async def test_the_rooms_counters_go_at_their_own_pace_and_its_settings_at_once(
    room_api: tuple[Api, Clock],
) -> None:
    """A change of the counters alone waits for the room's cadence (widened here as a
    big audience widens it); a change of the room's settings goes on the next round."""
    api, _ = room_api
    feed = api.client.app.state.queue_feed
    feed.room_sends_per_second = 0.2  # one watcher: the counters every 5 s
    owner, event = await room_event(api, onSaleAt=iso(T0 + HOUR_MS))
    t0 = 7e9
    async with tab(api, event) as anonymous:
        assert anonymous.next("room")["waiting"] == 0
        await api.run(feed.tick, t0)
        await join(api, event, await api.user())
        await api.run(feed.tick, t0 + 1.5)  # positions due; the counters are not
        assert feed._room_sent[event["id"]].waiting == 0
        await api.run(feed.tick, t0 + 5.5)
        assert anonymous.until("room", waiting=1)["maxShoppers"] == 1
        await join(api, event, await api.user())
        response = await api.client.patch(
            f"/events/{event['id']}",
            json={"waitingRoom": {**ROOM, "maxShoppers": 2}},
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        await api.run(feed.tick, t0 + 7)  # 1.5 s after the counters went: settings
        room = anonymous.until("room", maxShoppers=2)
        assert room["waiting"] == 2
