"""One cart, one end (issue 14, item 1): a buyer's holds on an event all end together.

Holding another seat re-holds every other live hold of the buyer on the event to the
new hold's end (the event's hold time from now), never past the cap "More time" already
had (twice the hold time after the cart's first hold). Run on both modes, with the group
commit and without it (each request alone); the batch's own equivalence with the
requests alone is in test_batching.py.

"Later" is made without waiting: a hold is moved back in time in the database (its
`held_since_ms` and `held_until_ms`), as if it had been taken that long ago.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from backend.storage.tables import Seat
from tests.conftest import Api
from tests.live.test_websocket import tab

HOLD_SECONDS = 60


def ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture(params=["batched", "alone"])
def path(request: pytest.FixtureRequest, api: Api, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "alone":
        monkeypatch.setattr(api.client.app.state.booking, "batcher", None)
    return str(request.param)


async def hold(api: Api, who: dict[str, Any], event: dict[str, Any], *labels: str) -> Any:
    response = await api.client.post(
        f"/events/{event['id']}/holds",
        json={"seatIds": ids(event, *labels)},
        headers=who["headers"],
    )
    assert response.status_code == 201, response.text
    return response.json()


def ids(event: dict[str, Any], *labels: str) -> list[str]:
    by_label = {s["label"]: s["id"] for s in event["seats"]}
    return [by_label[label] for label in labels]


async def backdate(api: Api, seat_id: str, *, since_ms: int = 0, until_ms: int = 0) -> None:
    """Move a hold's start and end back by these many milliseconds."""
    await api.db(
        Seat.update(
            {
                Seat.held_since_ms: Seat.held_since_ms - since_ms,
                Seat.held_until_ms: Seat.held_until_ms - until_ms,
            }
        ).where(Seat.id == seat_id)
    )


async def held_since(api: Api, seat_id: str) -> int:
    rows = await api.db(Seat.select(Seat.held_since_ms).where(Seat.id == seat_id))
    return int(rows[0]["held_since_ms"])


async def seats(api: Api, event: dict[str, Any], who: dict[str, Any]) -> dict[str, Any]:
    by_id = await api.seats(event["id"], who)
    return {s["label"]: s for s in by_id.values()}


async def test_a_later_hold_reholds_the_earlier_ones_to_its_end(api: Api, path: str) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=HOLD_SECONDS)
    other = await hold(api, b, event, "B1")  # another buyer's cart
    first = await hold(api, a, event, "A1", "A2")
    await backdate(api, ids(event, "A1")[0], since_ms=20_000, until_ms=20_000)
    await backdate(api, ids(event, "A2")[0], since_ms=20_000, until_ms=20_000)
    before = await seats(api, event, a)

    later = await hold(api, a, event, "A3")
    end = later["expiresAt"]
    # A1 and A2 had 40 s left; now all three have the new hold's full time, from now.
    assert ms(end) - ms(before["A1"]["heldUntil"]) >= 20_000
    assert ms(end) >= ms(first["expiresAt"])
    after = await seats(api, event, a)
    assert [after[s]["heldUntil"] for s in ("A1", "A2", "A3")] == [end, end, end]
    assert all(after[s]["version"] == before[s]["version"] + 1 for s in ("A1", "A2"))
    assert after["B1"]["heldUntil"] == other["expiresAt"]  # b's cart is b's
    assert after["B1"]["version"] == before["B1"]["version"]

    # Releasing one seat leaves the others' end as it was.
    released = await api.client.request(
        "DELETE",
        f"/events/{event['id']}/holds",
        json={"seatIds": ids(event, "A1")},
        headers=a["headers"],
    )
    assert released.json()["released"] == ids(event, "A1")
    rest = await seats(api, event, a)
    assert rest["A1"]["status"] == "available"
    assert (rest["A2"]["heldUntil"], rest["A2"]["version"]) == (end, after["A2"]["version"])
    assert (rest["A3"]["heldUntil"], rest["A3"]["version"]) == (end, after["A3"]["version"])


async def test_the_shared_end_stops_at_the_cap_from_the_carts_first_hold(
    api: Api, path: str
) -> None:
    owner, a = await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=HOLD_SECONDS)
    await hold(api, a, event, "A1")
    a1 = ids(event, "A1")[0]
    # As if A1 was taken 100 s ago and extended since: its cart may last 120 s from then.
    await backdate(api, a1, since_ms=100_000)
    first = await held_since(api, a1)

    capped = await hold(api, a, event, "A2")
    assert ms(capped["expiresAt"]) == first + 2 * HOLD_SECONDS * 1000
    after = await seats(api, event, a)
    assert after["A1"]["heldUntil"] == after["A2"]["heldUntil"] == capped["expiresAt"]
    # "More time" on the whole cart changes nothing more: it is at its cap.
    again = await hold(api, a, event, "A1", "A2")
    assert again["expiresAt"] == capped["expiresAt"]
    assert [s["version"] for s in again["seats"]] == [
        after["A1"]["version"],
        after["A2"]["version"],
    ]


async def test_more_time_on_one_seat_extends_the_whole_cart(api: Api, path: str) -> None:
    owner, a = await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=HOLD_SECONDS)
    await hold(api, a, event, "A1", "A2")
    for seat_id in ids(event, "A1", "A2"):
        await backdate(api, seat_id, since_ms=30_000, until_ms=30_000)
    more = await hold(api, a, event, "A1")
    after = await seats(api, event, a)
    assert after["A1"]["heldUntil"] == after["A2"]["heldUntil"] == more["expiresAt"]


async def test_the_reheld_seats_reach_the_live_map_with_their_new_end(api: Api, path: str) -> None:
    owner, a = await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=HOLD_SECONDS)
    await hold(api, a, event, "A1")
    a1, a2 = ids(event, "A1", "A2")
    await backdate(api, a1, since_ms=10_000, until_ms=10_000)
    async with tab(api.client, event["id"]) as watcher:
        later = await hold(api, a, event, "A2")
        watcher.until(
            lambda seen: all(seen.seats[s].get("heldUntil") == later["expiresAt"] for s in (a1, a2))
        )
        assert watcher.seat(a1)["status"] == "held"


async def test_a_refused_hold_leaves_the_cart_as_it_was(api: Api, path: str) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=HOLD_SECONDS)
    await hold(api, a, event, "A1")
    await hold(api, b, event, "A2")
    await backdate(api, ids(event, "A1")[0], since_ms=10_000, until_ms=10_000)
    before = await seats(api, event, a)
    refused = await api.client.post(
        f"/events/{event['id']}/holds",
        json={"seatIds": ids(event, "A2", "A3")},
        headers=a["headers"],
    )
    assert refused.status_code == 423
    after = await seats(api, event, a)
    assert after["A1"] == before["A1"]
    assert after["A3"]["status"] == "available"
