"""GET /ws/events/{id} in-process (Litestar's test client), in both run modes: snapshot,
batched changes, identity by first message, close codes, origin, limits, heartbeats
and clean unsubscription."""

from __future__ import annotations

import contextlib
import gc
import queue
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient, WebSocketTestSession

from backend.app import create_app
from backend.live import websocket as live_websocket
from backend.live.hub import LiveHub
from backend.live.websocket import MAX_INBOUND_BYTES
from backend.settings import Settings
from tests.conftest import Api
from tests.support.waiting import eventually
from tests.support.watcher import SeatMap, differences, seat_state

BASE = "http://testserver.local"


class Tab:
    """One in-process socket and the seat map it would show."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.map = SeatMap()
        self.messages: list[dict[str, Any]] = []
        self.arrived: dict[str, float] = {}

    def next(self, timeout: float = 3.0, skip: tuple[str, ...] = ("heartbeat",)) -> dict[str, Any]:
        """The next message (heartbeats skipped), applied to the map."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                message: dict[str, Any] = self.ws.receive_json(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(f"no message within {timeout}s") from None
            self.messages.append(message)
            if message["type"] == "snapshot":
                self.map.load(message["seats"])
            elif message["type"] == "seats":
                for change in message["changes"]:
                    if self.map.apply(change):
                        self.arrived[change["id"]] = time.time()
            if message["type"] not in skip:
                return message

    def until(self, condition: Callable[[SeatMap], bool], timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.map):
            self.next(timeout=max(deadline - time.monotonic(), 0.001))

    def seat(self, seat_id: str) -> dict[str, Any]:
        return self.map.seats[seat_id]

    def sign_in(self, token: str) -> str:
        self.ws.send_json({"type": "auth", "token": token})
        answer = self.next()
        assert answer["type"] == "auth", answer
        assert self.next()["type"] == "snapshot"  # the signed-in one, with `mine`
        return str(answer["userId"])


@contextlib.asynccontextmanager
async def tab(
    client: AsyncTestClient[Any], event_id: str, token: str | None = None, **headers: str
) -> AsyncIterator[Tab]:
    session = await client.websocket_connect(f"/ws/events/{event_id}", headers=headers or None)
    with session as ws:
        opened = Tab(ws)
        assert opened.next()["type"] == "snapshot"
        if token is not None:
            opened.sign_in(token)
        yield opened


def close_code(ws: WebSocketTestSession, timeout: float = 3.0) -> int:
    """Read until the server closes; return its close code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ws.receive(timeout=max(deadline - time.monotonic(), 0.001))
        except WebSocketDisconnect as exc:
            assert exc.code is not None
            return exc.code
        except queue.Empty:
            break
    raise AssertionError(f"socket not closed within {timeout}s")


async def truth(api: Api, event_id: str, who: dict[str, Any] | None = None) -> dict[str, Any]:
    return {seat_id: seat_state(seat) for seat_id, seat in (await api.seats(event_id, who)).items()}


def ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@contextlib.asynccontextmanager
async def custom_client(settings: Settings, **changes: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(replace(settings, **changes))
    async with AsyncTestClient(app=app, base_url=BASE) as test_client:
        yield test_client


# ------------------------------------------------------------------ tests


async def test_snapshot_on_connect_then_one_batched_message_per_change(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    seat_ids = [s["id"] for s in event["seats"]]
    async with tab(api.client, event["id"]) as watcher:
        snapshot = watcher.messages[0]
        assert snapshot["eventId"] == event["id"]
        assert sorted(s["id"] for s in snapshot["seats"]) == sorted(seat_ids)
        assert all(s["status"] == "available" and s["version"] == 1 for s in snapshot["seats"])
        assert not any("mine" in s for s in snapshot["seats"])

        held = await api.client.post(
            f"/events/{event['id']}/holds", json={"seatIds": seat_ids[:3]}, headers=owner["headers"]
        )
        assert held.status_code == 201, held.text
        message = watcher.next()
        # Three seats held in one transaction arrive as one message.
        assert message["type"] == "seats"
        assert sorted(c["id"] for c in message["changes"]) == sorted(seat_ids[:3])
        for change in message["changes"]:
            assert change == {
                "id": change["id"],
                "status": "held",
                "version": 2,
                "heldUntil": held.json()["expiresAt"],
            }
        assert differences(watcher.map.seats, await truth(api, event["id"])) == []


async def test_signed_in_tabs_see_mine_others_see_a_locked_seat(api: Api) -> None:
    owner, other = await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    eid = event["id"]
    async with (
        tab(api.client, eid, owner["token"]) as tab1,
        tab(api.client, eid, owner["token"]) as tab2,
        tab(api.client, eid, other["token"]) as stranger,
        tab(api.client, eid) as anonymous,
    ):
        everyone = (tab1, tab2, stranger, anonymous)
        held = await api.client.post(
            f"/events/{eid}/holds", json={"seatIds": [seat]}, headers=owner["headers"]
        )
        assert held.status_code == 201
        for w in everyone:
            w.until(lambda m: m.seats[seat]["status"] == "held")
        assert tab1.seat(seat)["mine"] and tab2.seat(seat)["mine"]
        for w in (stranger, anonymous):
            assert not w.seat(seat)["mine"]
            assert w.seat(seat)["heldUntil"] == held.json()["expiresAt"]

        booked = await api.client.post(
            f"/events/{eid}/bookings", json={"seatIds": [seat]}, headers=owner["headers"]
        )
        assert booked.status_code == 201, booked.text
        for w in everyone:
            w.until(lambda m: m.seats[seat]["status"] == "booked")
        assert [w.seat(seat)["mine"] for w in everyone] == [True, True, False, False]

        booking_id = booked.json()["bookings"][0]["id"]
        cancelled = await api.client.delete(f"/bookings/{booking_id}", headers=owner["headers"])
        assert cancelled.status_code in (200, 204), cancelled.text
        for w in everyone:
            w.until(lambda m: m.seats[seat]["status"] == "available")

        for w, who in ((tab1, owner), (tab2, owner), (stranger, other), (anonymous, None)):
            assert differences(w.map.seats, await truth(api, eid, who)) == []


async def test_auth_answers_then_resends_the_snapshot_with_mine(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    await api.client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat]}, headers=owner["headers"]
    )
    async with tab(api.client, event["id"]) as watcher:
        assert watcher.seat(seat)["status"] == "held" and not watcher.seat(seat)["mine"]
        assert watcher.sign_in(owner["token"]) == owner["id"]
        assert watcher.seat(seat)["mine"]


async def test_a_bad_token_gets_an_error_and_the_socket_stays_anonymous(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    async with tab(api.client, event["id"]) as watcher:
        for token in ("not-a-jwt", owner["token"] + "x", 42):
            watcher.ws.send_json({"type": "auth", "token": token})
            error = watcher.next()
            assert error["type"] == "error" and error["code"] == "bad_token"
        watcher.ws.send_json({"type": "ping"})
        assert watcher.next()["type"] == "pong"


async def test_unknown_and_malformed_event_ids_are_closed_with_clear_codes(api: Api) -> None:
    session = await api.client.websocket_connect("/ws/events/6f1c1ad4-1111-4aaa-8bbb-123456789abc")
    with session as ws:
        assert close_code(ws) == 4404
    session = await api.client.websocket_connect("/ws/events/not-a-uuid")
    with session as ws:
        assert close_code(ws) == 4400


async def test_sockets_learn_the_event_exists_from_the_cached_settings(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An on-sale's thousands of sockets do not each read the event from the database
    (backend/booking/events.py, `exists`): the process's copy of its settings answers.
    The copy is kept for an hour here, so only the reads are counted, not the clock."""
    owner = await api.user()
    event = await api.event(owner)
    events = api.client.app.state.events
    monkeypatch.setattr(events.sale_configs, "ttl", 3600)
    repository = events.storage.events
    reads: list[str] = []
    read = repository.get

    async def counted(event_id: str) -> Any:
        reads.append(event_id)
        return await read(event_id)

    monkeypatch.setattr(repository, "get", counted)
    for _ in range(3):
        async with tab(api.client, event["id"]):
            pass
    assert reads.count(event["id"]) <= 1, reads
    # Deleted by this process: the copy is forgotten, and a new socket is told at once.
    deleted = await api.client.delete(f"/events/{event['id']}", headers=owner["headers"])
    assert deleted.status_code in (200, 204), deleted.text
    session = await api.client.websocket_connect(f"/ws/events/{event['id']}")
    with session as ws:
        assert close_code(ws) == 4404


async def test_a_foreign_origin_is_refused_before_the_handshake(settings: Settings) -> None:
    async with custom_client(settings, allowed_origins=("https://tickets.example",)) as client:
        api = Api(client)
        event = await api.event(await api.user())
        url = f"/ws/events/{event['id']}"
        session = await client.websocket_connect(url, headers={"Origin": "https://evil.example"})
        with pytest.raises(WebSocketDisconnect) as refused, session:
            pass
        assert refused.value.code == 1008
        for origin in ("http://testserver.local", "https://tickets.example"):
            async with tab(client, event["id"], Origin=origin) as watcher:
                assert watcher.messages[0]["type"] == "snapshot"


async def test_an_oversized_message_closes_the_socket_1009(api: Api) -> None:
    event = await api.event(await api.user())
    async with tab(api.client, event["id"]) as watcher:
        watcher.ws.send_text("x" * (MAX_INBOUND_BYTES + 1))
        assert close_code(watcher.ws) == 1009


async def test_a_message_flood_closes_the_socket_4429(api: Api) -> None:
    event = await api.event(await api.user())
    async with tab(api.client, event["id"]) as watcher:
        for _ in range(40):
            watcher.ws.send_json({"type": "ping"})
        pongs = 0
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                pongs += watcher.next()["type"] == "pong"
        assert closed.value.code == 4429
        assert pongs < 40


async def test_bad_messages_get_errors_and_the_socket_carries_on(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    async with tab(api.client, event["id"]) as watcher:
        for raw, code in (
            ("not json", "bad_json"),
            ("[1, 2]", "unknown_type"),
            ('{"type": "dance"}', "unknown_type"),
            ('"auth"', "unknown_type"),
        ):
            watcher.ws.send_text(raw)
            error = watcher.next()
            assert (error["type"], error["code"]) == ("error", code), error
            assert error["message"]
        watcher.ws.send_bytes(b'{"type": "ping"}')
        assert watcher.next()["code"] == "text_only"
        watcher.ws.send_json({"type": "ping"})
        assert watcher.next() == {"type": "pong"}
        # ...and it still gets live changes.
        seat = event["seats"][0]["id"]
        await api.client.post(
            f"/events/{event['id']}/holds", json={"seatIds": [seat]}, headers=owner["headers"]
        )
        watcher.until(lambda m: m.seats[seat]["status"] == "held")


async def test_a_deeply_nested_message_gets_an_error_and_the_socket_carries_on(
    api: Api,
) -> None:
    """Under the size limit but past the decoder's recursion limit: it closed the socket
    with 1011 (an internal error); it is the client's mistake, answered like bad JSON."""
    event = await api.event(await api.user())
    async with tab(api.client, event["id"]) as watcher:
        for deep in ("[" * 2040 + "]" * 2040, '{"type":' + "[" * 2000 + "]" * 2000 + "}"):
            assert len(deep.encode()) < MAX_INBOUND_BYTES
            watcher.ws.send_text(deep)
            error = watcher.next()
            assert (error["type"], error["code"]) == ("error", "bad_json"), error
            assert "nested too deeply" in error["message"]
        watcher.ws.send_json({"type": "ping"})
        assert watcher.next() == {"type": "pong"}


async def test_an_idle_socket_gets_heartbeats(settings: Settings) -> None:
    async with custom_client(settings, ws_heartbeat_seconds=0.2) as client:
        api = Api(client)
        event = await api.event(await api.user())
        async with tab(client, event["id"]) as watcher:
            assert watcher.next(timeout=2, skip=()) == {"type": "heartbeat"}
            assert watcher.next(timeout=2, skip=()) == {"type": "heartbeat"}


async def test_the_last_watcher_leaving_removes_the_event_from_the_hub(api: Api) -> None:
    hub: LiveHub = api.client.app.state.hub
    event = await api.event(await api.user())
    async with tab(api.client, event["id"]), tab(api.client, event["id"]):
        assert hub.watcher_count() == 2 and set(hub.watchers) == {event["id"]}
    # The app runs on the test client's own thread and loop: the test's loop stays free.
    await eventually(
        lambda: hub.watchers == {},
        what="the hub to forget the event once its last watcher left",
        timeout=3,
    )


async def test_hold_expiry_reaches_the_socket_within_a_second(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner, holdSeconds=1)
    seat = event["seats"][0]["id"]
    async with tab(api.client, event["id"]) as watcher:
        held = await api.client.post(
            f"/events/{event['id']}/holds", json={"seatIds": [seat]}, headers=owner["headers"]
        )
        watcher.until(lambda m: m.seats[seat]["status"] == "held")
        version = watcher.seat(seat)["version"]
        watcher.until(lambda m: m.seats[seat]["status"] == "available", timeout=3)
        assert watcher.seat(seat)["version"] == version + 1
        late = watcher.arrived[seat] - ms(held.json()["expiresAt"])
        assert late < 1.0, f"expiry announced {late:.2f}s after heldUntil"


async def test_a_closed_sockets_session_is_freed_at_once_not_by_the_collector(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a client leaves, its session (socket, watcher, queues, sink) is freed by
    reference counting as the handler returns. Closing a socket the client already left
    raises in the close; awaited through `asyncio.wait_for`, that error's traceback held
    the handler's frame from a task the error was stored in: a cycle only the cyclic
    collector could free, ~150 objects a socket, which at a sale's end (thousands of
    buyers told "sold out" leaving at once) made young collections of 100-150 ms."""
    owner = await api.user()
    event = await api.event(owner)
    sessions: list[weakref.ref[Any]] = []
    original = live_websocket.Session.__init__

    def remembered(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        sessions.append(weakref.ref(self))

    monkeypatch.setattr(live_websocket.Session, "__init__", remembered)
    hub = api.client.app.state.hub
    gc.collect()
    gc.disable()
    try:
        async with tab(api.client, event["id"]):
            assert len(sessions) == 1 and sessions[0]() is not None
        await eventually(lambda: hub.watcher_count() == 0, what="the server to see the tab go")
        await eventually(
            lambda: sessions[0]() is None, what="the session to be freed without a collection"
        )
    finally:
        gc.enable()
