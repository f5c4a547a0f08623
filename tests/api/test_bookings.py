from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Api
from tests.support.waiting import eventually


async def book(
    api: Api, who: dict[str, Any], event_id: str, ids: list[str], key: str | None = None
) -> Any:
    headers = dict(who["headers"])
    if key:
        headers["Idempotency-Key"] = key
    return await api.client.post(
        f"/events/{event_id}/bookings", json={"seatIds": ids}, headers=headers
    )


async def test_book_held_seats_then_list_and_cancel(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    ids = [s["id"] for s in event["seats"][:2]]
    await api.client.post(
        f"/events/{event['id']}/holds", json={"seatIds": ids}, headers=a["headers"]
    )
    response = await book(api, a, event["id"], ids)
    assert response.status_code == 201
    bookings = response.json()["bookings"]
    assert [x["seatId"] for x in bookings] == ids
    assert bookings[0]["event"]["name"] == "Test night" and bookings[0]["seat"]["label"] == "A1"
    seats = await api.seats(event["id"], a)
    assert all(seats[i]["status"] == "booked" and seats[i]["mine"] for i in ids)

    mine = (await api.client.get("/bookings", headers=a["headers"])).json()["bookings"]
    assert {x["id"] for x in mine} == {x["id"] for x in bookings}
    assert (await api.client.get("/bookings", headers=b["headers"])).json()["bookings"] == []

    target = bookings[0]["id"]
    assert (await api.client.delete(f"/bookings/{target}", headers=b["headers"])).status_code == 403
    cancelled = await api.client.delete(f"/bookings/{target}", headers=a["headers"])
    assert cancelled.status_code == 200 and cancelled.json()["booking"]["status"] == "cancelled"
    assert (await api.seats(event["id"]))[ids[0]]["status"] == "available"
    # The seat can be booked again by someone else once cancelled.
    assert (await book(api, b, event["id"], [ids[0]])).status_code == 201
    unknown = await api.client.delete(
        "/bookings/6f1c1d2e-0000-4000-8000-000000000000", headers=a["headers"]
    )
    assert unknown.status_code == 404


async def test_book_free_seats_directly_all_or_nothing(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    s1, s2 = (s["id"] for s in event["seats"][:2])
    assert (await book(api, a, event["id"], [s2])).status_code == 201
    refused = await book(api, b, event["id"], [s1, s2])
    assert refused.status_code == 409 and refused.json()["code"] == "seat_booked"
    assert refused.json()["seatIds"] == [s2]
    assert (await api.seats(event["id"]))[s1]["status"] == "available"


async def test_seed_book_endpoint(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    first = await api.client.post("/book", json={"seatId": seat}, headers=a["headers"])
    assert first.status_code == 201
    assert first.json()["success"] is True and first.json()["booking"]["seatId"] == seat
    second = await api.client.post("/book", json={"seatId": seat}, headers=b["headers"])
    assert second.status_code == 409 and second.json()["success"] is False
    missing = await api.client.post(
        "/book", json={"seatId": "6f1c1d2e-0000-4000-8000-000000000000"}, headers=a["headers"]
    )
    assert missing.status_code == 404
    assert (await api.client.post("/book", json={"seatId": seat})).status_code == 401


async def test_concurrent_lookups_of_a_seats_event_share_one_read(
    api: Api, monkeypatch: Any
) -> None:
    """The seed's `POST /book` names a seat, and the seat's event is looked up once and
    remembered. A hot seat's requests come together, before any lookup has finished: they
    must share the one read, not send one each (a stampede the hot-seat profile showed:
    a fifth of the workers' CPU and a queue for the pool). A missing seat is answered 404
    to every waiter and not remembered."""
    owner = await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    missing = "6f1c1d2e-0000-4000-8000-000000000000"
    booking = api.client.app.state["booking"]
    reads = counted_seat_reads(booking, monkeypatch)

    async def lookups(seat_id: str) -> list[Any]:
        return await asyncio.gather(
            *(booking.event_of_seat(seat_id) for _ in range(50)), return_exceptions=True
        )

    assert await api.run(lookups, seat) == [event["id"]] * 50
    assert reads == [[seat]]
    assert await api.run(lookups, seat) == [event["id"]] * 50  # remembered
    assert reads == [[seat]]

    refused = await api.run(lookups, missing)
    assert [type(r).__name__ for r in refused] == ["NotFound"] * 50
    assert reads == [[seat], [missing]]
    await api.run(lookups, missing)  # not remembered: asked again
    assert reads == [[seat], [missing], [missing]]


async def test_lookups_of_many_seats_events_go_to_the_database_together(
    api: Api, monkeypatch: Any
) -> None:
    """Under the seed's own load every `POST /book` names a seat not seen before: one
    read each was a tenth of a worker's samples (py-spy, 2026-12-04). Lookups made
    together go to the database as one read (those that arrive while a read is out, in
    the next one), seats of several events alike; a seat already remembered is not read
    again; a missing or malformed seat is 404 to its own requests only."""
    owner = await api.user()
    first, second = await api.event(owner), await api.event(owner)
    seats = [s["id"] for s in first["seats"][:3]] + [s["id"] for s in second["seats"][:3]]
    known = first["seats"][3]["id"]
    missing = "6f1c1d2e-0000-4000-8000-000000000000"
    booking = api.client.app.state["booking"]
    reads = counted_seat_reads(booking, monkeypatch)
    assert await api.run(booking.event_of_seat, known) == first["id"]
    assert reads == [[known]]

    async def together() -> list[Any]:
        asked = [seats[0], *seats[1:], known, missing, "not-a-seat", seats[1]]
        return await asyncio.gather(
            *(booking.event_of_seat(s) for s in asked), return_exceptions=True
        )

    answers = await api.run(together)
    assert answers[:6] == [first["id"]] * 3 + [second["id"]] * 3
    assert answers[6] == first["id"]
    assert [type(a).__name__ for a in answers[7:9]] == ["NotFound", "NotFound"]
    assert answers[9] == first["id"]
    # One read for all of them, each seat once, without the seat already remembered.
    assert len(reads) == 2
    assert sorted(reads[1]) == sorted([*seats, missing, "not-a-seat"])


def counted_seat_reads(booking: Any, monkeypatch: Any) -> list[list[str]]:
    """The seats of each read of seats' events the booking service makes."""
    reads: list[list[str]] = []
    real = booking.seats.events_of

    async def counted(seat_ids: list[str]) -> dict[str, str]:
        reads.append(list(seat_ids))
        return dict(await real(seat_ids))

    monkeypatch.setattr(booking.seats, "events_of", counted)
    return reads


async def test_an_expired_hold_cannot_be_booked_after_someone_else_booked(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=1)
    seat = event["seats"][0]["id"]
    await api.client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat]}, headers=a["headers"]
    )

    async def free() -> bool:
        return bool((await api.seats(event["id"]))[seat]["status"] == "available")

    await eventually(free, what="a's one-second hold to end", timeout=3)
    assert (await book(api, b, event["id"], [seat])).status_code == 201
    late = await book(api, a, event["id"], [seat])
    assert late.status_code == 409


async def test_idempotency_key_replays_the_first_response(api: Api) -> None:
    owner, a = await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    first = await book(api, a, event["id"], [seat], key="order-1")
    again = await book(api, a, event["id"], [seat], key="order-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert len((await api.client.get("/bookings", headers=a["headers"])).json()["bookings"]) == 1
    # Same key, different body → 422; the seed endpoint honours keys too.
    other = await book(api, a, event["id"], [event["seats"][1]["id"]], key="order-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    seed1 = await api.client.post(
        "/book",
        json={"seatId": event["seats"][2]["id"]},
        headers={**a["headers"], "Idempotency-Key": "s"},
    )
    seed2 = await api.client.post(
        "/book",
        json={"seatId": event["seats"][2]["id"]},
        headers={**a["headers"], "Idempotency-Key": "s"},
    )
    assert seed1.status_code == seed2.status_code == 201 and seed1.json() == seed2.json()


async def test_idempotency_keys_are_per_user_and_failures_can_be_retried(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    s1, s2 = (s["id"] for s in event["seats"][:2])
    assert (await book(api, a, event["id"], [s1], key="k")).status_code == 201
    # b's "k" is b's own key, not a replay of a's booking.
    assert (await book(api, b, event["id"], [s1], key="k")).status_code == 409
    # A failed attempt is not remembered: after the conflict clears, the same key works.
    first = (await api.client.get("/bookings", headers=a["headers"])).json()["bookings"][0]
    await api.client.delete(
        f"/bookings/{first['id']}",
        headers=a["headers"],
    )
    assert (await book(api, b, event["id"], [s1], key="k")).status_code == 201
    assert (await book(api, b, event["id"], [s2], key="x" * 256)).status_code == 400


async def test_idempotency_key_in_flight_is_409(api: Api) -> None:
    from backend.booking.idempotency import request_hash

    owner, a = await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    path = f"/events/{event['id']}/bookings"
    body = f'{{"seatIds":["{seat}"]}}'.encode()
    idem = api.client.app.state.idempotency
    # A first request has claimed the key and is still running.
    claim = await api.run(idem.begin, a["id"], "slow", request_hash("POST", path, body))
    assert claim.__class__.__name__ == "Ticket"
    response = await api.client.post(
        path,
        content=body,
        headers={**a["headers"], "Idempotency-Key": "slow", "Content-Type": "application/json"},
    )
    assert response.status_code == 409 and response.json()["code"] == "idempotency_in_flight"


async def test_concurrent_bookings_of_one_seat_yield_one_winner(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    buyers = [await api.user() for _ in range(8)]
    responses = await asyncio.gather(*(book(api, b, event["id"], [seat]) for b in buyers))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and set(codes) <= {201, 409, 423}
