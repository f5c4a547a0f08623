"""Cancelling an event (issue 15, item 6), on both modes: its organiser cancels it, and in
one transaction every booking is cancelled (orders down to nothing, tickets void at the
door), every hold released, each seat's log line written; nothing is held or booked on it
again, its watchers are told, and bookings racing the cancellation never survive it.
"""

from __future__ import annotations

import asyncio
import queue
import time
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import Api

BASE = "http://testserver.local"


async def _book(api: Api, event: dict[str, Any], buyer: dict[str, Any], *labels: str) -> Any:
    ids = [s["id"] for s in event["seats"] if s["label"] in labels]
    booked = await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": ids}, headers=buyer["headers"]
    )
    assert booked.status_code == 201, booked.text
    return booked.json()["order"]


def _seat(event: dict[str, Any], label: str) -> str:
    return next(s["id"] for s in event["seats"] if s["label"] == label)


async def test_cancelling_cancels_every_booking_and_hold_and_stops_the_sale(api: Api) -> None:
    owner, buyer, other = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    eid, path = event["id"], f"/events/{event['id']}"
    order = await _book(api, event, buyer, "A1", "A2")
    read = await api.client.get(f"/orders/{order['id']}", headers=buyer["headers"])
    code = read.json()["order"]["bookings"][0]["ticket"]["code"]
    held = await api.client.post(
        f"{path}/holds", json={"seatIds": [_seat(event, "B1")]}, headers=other["headers"]
    )
    assert held.status_code == 201

    # Only the organiser; bad bodies are a 400; none of them changes anything.
    assert (await api.client.post(f"{path}/cancel", headers=other["headers"])).status_code == 403
    unknown = await api.client.post(
        "/events/00000000-0000-4000-8000-000000000000/cancel", headers=owner["headers"]
    )
    assert unknown.status_code == 404
    for bad in (
        b'{"reason": 5}',
        b"{not json",
        b'{"reason": "' + b"x" * 501 + b'"}',
        b'{"reason": "a\\u0000b"}',  # PostgreSQL stores no NUL: a 400, not a 500
    ):
        refused = await api.client.post(
            f"{path}/cancel",
            content=bad,
            headers={**owner["headers"], "Content-Type": "application/json"},
        )
        assert refused.status_code == 400, refused.text
    seats = await api.seats(eid)
    assert seats[_seat(event, "A1")]["status"] == "booked"
    assert seats[_seat(event, "B1")]["status"] == "held"

    done = await api.client.post(
        f"{path}/cancel", json={"reason": "  The band is ill  "}, headers=owner["headers"]
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["eventId"] == eid
    assert body["cancelReason"] == "The band is ill"
    assert (body["bookingsCancelled"], body["holdsReleased"]) == (2, 1)
    assert body["cancelledAt"]

    # Every seat is free, the event says it is cancelled (on its page and in the list).
    read_event = (await api.client.get(path)).json()
    assert {s["status"] for s in read_event["seats"]} == {"available"}
    assert read_event["cancelledAt"] == body["cancelledAt"]
    assert read_event["cancelReason"] == "The band is ill"
    listed = (await api.client.get("/events")).json()["events"]
    assert next(e for e in listed if e["id"] == eid)["cancelledAt"] == body["cancelledAt"]

    # The buyer's bookings are cancelled and their order is down to nothing.
    reread = await api.client.get(f"/orders/{order['id']}", headers=buyer["headers"])
    mine = reread.json()["order"]
    assert mine["total"] == 0
    assert {b["status"] for b in mine["bookings"]} == {"cancelled"}
    scan = await api.client.post(f"{path}/checkins", json={"code": code}, headers=owner["headers"])
    assert scan.status_code == 409 and scan.json()["code"] == "cancelled", scan.text

    # Nothing more is held, booked or changed; the organiser is refused too.
    free = _seat(event, "C1")
    for who in (buyer, owner):
        for url, payload in (
            (f"{path}/holds", {"seatIds": [free]}),
            (f"{path}/holds", {"count": 2}),
            (f"{path}/bookings", {"seatIds": [free]}),
            ("/book", {"seatId": free}),
        ):
            refused = await api.client.post(url, json=payload, headers=who["headers"])
            assert refused.status_code == 409, (url, refused.text)
            assert refused.json()["code"] == "event_cancelled"
    patched = await api.client.patch(path, json={"name": "Back on"}, headers=owner["headers"])
    assert patched.status_code == 409 and patched.json()["code"] == "event_cancelled"
    assert (await api.client.get(path)).json()["name"] == event["name"]
    assert {s["status"] for s in (await api.client.get(path)).json()["seats"]} == {"available"}

    # Cancelling again answers the first cancellation and changes nothing.
    again = await api.client.post(f"{path}/cancel", json={"reason": "x"}, headers=owner["headers"])
    assert again.status_code == 200
    assert again.json() == {**body, "bookingsCancelled": 0, "holdsReleased": 0}

    # The seat log has each freed seat, by the organiser: cancelled (with the order) or
    # released.
    log = await api.client.get(f"{path}/log?latest=true&limit=50", headers=owner["headers"])
    lines = [x for x in log.json()["entries"] if x["actorId"] == owner["id"]]
    found = {(x["seatId"], x["action"], x["orderId"]) for x in lines}
    assert found == {
        (_seat(event, "A1"), "cancelled", order["id"]),
        (_seat(event, "A2"), "cancelled", order["id"]),
        (_seat(event, "B1"), "released", None),
    }


async def test_a_cancelled_events_waiting_room_takes_nobody(api: Api) -> None:
    owner, buyer = await api.user(), await api.user()
    event = await api.event(owner, waitingRoom={"enabled": True})
    path = f"/events/{event['id']}"
    assert (await api.client.post(f"{path}/cancel", headers=owner["headers"])).status_code == 200
    joined = await api.client.post(f"{path}/queue", headers=buyer["headers"])
    assert joined.status_code == 409 and joined.json()["code"] == "event_cancelled"
    held = await api.client.post(
        f"{path}/holds", json={"seatIds": [event["seats"][0]["id"]]}, headers=buyer["headers"]
    )
    assert held.status_code == 409 and held.json()["code"] == "event_cancelled"


async def test_watchers_see_the_seats_freed_and_are_told_it_is_cancelled(api: Api) -> None:
    owner, buyer = await api.user(), await api.user()
    event = await api.event(owner)
    await _book(api, event, buyer, "A1")
    session = await api.client.websocket_connect(f"/ws/events/{event['id']}")
    with session as ws:
        snapshot = ws.receive_json(timeout=3)
        assert snapshot["type"] == "snapshot"
        done = await api.client.post(f"/events/{event['id']}/cancel", headers=owner["headers"])
        assert done.status_code == 200
        told: dict[str, Any] | None = None
        freed: set[str] = set()
        deadline = time.monotonic() + 5
        while told is None and time.monotonic() < deadline:
            try:
                message = ws.receive_json(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if message["type"] == "seats":
                freed |= {c["id"] for c in message["changes"] if c["status"] == "available"}
            elif message["type"] == "event":
                told = message
        assert told == {
            "type": "event",
            "eventId": event["id"],
            "status": "cancelled",
            "cancelledAt": done.json()["cancelledAt"],
            "cancelReason": None,
        }
        assert freed == {_seat(event, "A1")}  # before the news, in order


@pytest.mark.parametrize("path", ["batched", "alone"])
async def test_bookings_racing_a_cancellation_never_survive_it(
    api: Api, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Holds and bookings in flight as the event is cancelled, through the group commit
    and each as its own transaction: each either committed first (and was then cancelled
    with the rest) or was refused; afterwards no seat is held or booked and no booking
    is active, whatever the interleaving. (Without the check inside the transactions,
    seats stay held and booked here.)"""
    app = api.client.app
    if path == "alone":
        monkeypatch.setattr(app.state.booking, "batcher", None)
    owner = await api.user()
    buyers = [await api.user() for _ in range(8)]

    async def race(event: dict[str, Any]) -> tuple[int, list[int]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            path = f"/events/{event['id']}"
            writes = [
                http.post(
                    f"{path}/{'bookings' if n % 2 else 'holds'}",
                    json={"seatIds": [event["seats"][n]["id"]]},
                    headers=buyer["headers"],
                )
                for n, buyer in enumerate(buyers)
            ]
            cancel = http.post(f"{path}/cancel", headers=owner["headers"])
            *written, cancelled = await asyncio.gather(*writes, cancel)
            return cancelled.status_code, [r.status_code for r in written]

    outcomes: set[int] = set()
    for _ in range(6):
        event = await api.event(owner)
        cancelled, written = await api.run(race, event)
        assert cancelled == 200
        assert set(written) <= {201, 409}, written
        outcomes |= set(written)
        seats = (await api.client.get(f"/events/{event['id']}")).json()["seats"]
        assert {s["status"] for s in seats} == {"available"}
    for buyer in buyers:
        mine = (await api.client.get("/bookings", headers=buyer["headers"])).json()
        assert all(b["status"] == "cancelled" for b in mine["bookings"]), mine


async def test_a_deadlock_with_a_buyers_hold_is_retried_not_a_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL aborts one of two transactions locking seats in opposite orders (a
    single hold re-holding the buyer's cart, the sweeper); the cancel then tries again.
    The abort is made here (a real one cannot be timed in a test): the first attempt's
    lock raises the driver's own deadlock error."""
    owner, buyer = await api.user(), await api.user()
    event = await api.event(owner)
    await _book(api, event, buyer, "A1")
    bookings = api.client.app.state.events.storage.bookings
    real = bookings.lock_event
    calls: list[str] = []

    async def deadlocked_once(event_id: str) -> None:
        calls.append(event_id)
        if len(calls) == 1:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        await real(event_id)

    monkeypatch.setattr(bookings, "lock_event", deadlocked_once)
    done = await api.client.post(f"/events/{event['id']}/cancel", headers=owner["headers"])
    assert done.status_code == 200, done.text
    assert done.json()["bookingsCancelled"] == 1 and len(calls) == 2


async def test_a_patch_racing_the_cancellation_changes_nothing_after_it(api: Api) -> None:
    owner = await api.user()
    app = api.client.app

    async def race(event: dict[str, Any]) -> tuple[int, int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            path = f"/events/{event['id']}"
            patch = http.patch(path, json={"name": "Renamed"}, headers=owner["headers"])
            cancel = http.post(f"{path}/cancel", headers=owner["headers"])
            patched, cancelled = await asyncio.gather(patch, cancel)
            return patched.status_code, cancelled.status_code

    for _ in range(4):
        event = await api.event(owner, name="Original")
        patched, cancelled = await api.run(race, event)
        assert cancelled == 200 and patched in (200, 409)
        name = (await api.client.get(f"/events/{event['id']}")).json()["name"]
        # A 409 changed nothing; a 200 came before the cancellation.
        assert name == ("Renamed" if patched == 200 else "Original")
