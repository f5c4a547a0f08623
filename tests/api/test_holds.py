from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from tests.conftest import Api
from tests.support.waiting import eventually


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def hold(api: Api, who: dict[str, Any], event_id: str, **body: Any) -> Any:
    return await api.client.post(f"/events/{event_id}/holds", json=body, headers=who["headers"])


async def test_hold_by_ids_is_exclusive_and_shows_when_it_ends(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=120)
    ids = [s["id"] for s in event["seats"][:2]]
    response = await hold(api, a, event["id"], seatIds=ids)
    assert response.status_code == 201
    body = response.json()
    assert [s["id"] for s in body["seats"]] == ids
    assert all(s["status"] == "held" and s["mine"] for s in body["seats"])
    assert 100 < ts(body["expiresAt"]) - datetime.now().timestamp() <= 121

    refused = await hold(api, b, event["id"], seatIds=[ids[1]])
    assert refused.status_code == 423
    assert refused.json()["code"] == "seat_held"
    assert refused.json()["seats"][0]["id"] == ids[1] and refused.json()["seats"][0]["heldUntil"]
    booked = await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": [ids[0]]}, headers=b["headers"]
    )
    assert booked.status_code == 423


async def test_hold_is_all_or_nothing(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    s1, s2, s3 = (s["id"] for s in event["seats"][:3])
    assert (await hold(api, a, event["id"], seatIds=[s2])).status_code == 201
    assert (await hold(api, b, event["id"], seatIds=[s1, s2, s3])).status_code == 423
    seats = await api.seats(event["id"])
    assert seats[s1]["status"] == seats[s3]["status"] == "available"
    assert seats[s1]["version"] == seats[s3]["version"] == 1  # untouched, not written and undone


async def test_rehold_extends_own_hold_up_to_a_cap(api: Api) -> None:
    owner, a = await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=2)
    seat = event["seats"][0]["id"]
    first = (await hold(api, a, event["id"], seatIds=[seat])).json()
    # Time is the behaviour here: a re-hold 0.6 s later must end 0.6 s later (expiresAt
    # has millisecond precision), and four of them (2.4 s) outlast the 2 s the cap allows.
    await asyncio.sleep(0.6)
    second = (await hold(api, a, event["id"], seatIds=[seat])).json()
    assert ts(second["expiresAt"]) > ts(first["expiresAt"])
    assert second["seats"][0]["version"] > first["seats"][0]["version"]
    # The cap: a hold lives at most twice holdSeconds from when it was first taken.
    for _ in range(3):
        await asyncio.sleep(0.6)
        last = (await hold(api, a, event["id"], seatIds=[seat])).json()
    assert ts(last["expiresAt"]) - ts(first["expiresAt"]) <= 2.05


async def test_release_frees_own_holds_only(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    s1, s2, s3 = (s["id"] for s in event["seats"][:3])
    await hold(api, a, event["id"], seatIds=[s1, s2])
    await hold(api, b, event["id"], seatIds=[s3])
    path = f"/events/{event['id']}/holds"
    one = await api.client.request("DELETE", path, json={"seatIds": [s1]}, headers=a["headers"])
    assert one.status_code == 200 and one.json()["released"] == [s1]
    # b "releasing" a's seat changes nothing.
    none = await api.client.request("DELETE", path, json={"seatIds": [s2]}, headers=b["headers"])
    assert none.json()["released"] == []
    rest = await api.client.request("DELETE", path, headers=a["headers"])
    assert rest.json()["released"] == [s2]
    seats = await api.seats(event["id"])
    assert (seats[s1]["status"], seats[s2]["status"], seats[s3]["status"]) == (
        "available",
        "available",
        "held",
    )


async def test_expired_holds_are_released_by_the_sweeper(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner, holdSeconds=1)
    seat = event["seats"][0]["id"]
    held = (await hold(api, a, event["id"], seatIds=[seat])).json()
    version = held["seats"][0]["version"]

    async def swept() -> dict[str, Any] | None:
        # A newer version means the sweeper wrote it: the API alone shows an expired hold
        # as available without changing its version.
        state = (await api.seats(event["id"]))[seat]
        return state if state["version"] > version else None

    state = await eventually(swept, what="the sweeper to free the expired hold", timeout=3)
    assert state["status"] == "available"
    assert time.time() >= ts(held["expiresAt"]), "freed before the hold ended"
    assert (await hold(api, b, event["id"], seatIds=[seat])).status_code == 201


async def test_max_seats_per_user_counts_holds_and_bookings(api: Api) -> None:
    owner, a = await api.user(), await api.user()
    event = await api.event(owner, maxSeatsPerUser=3)
    ids = [s["id"] for s in event["seats"][:5]]
    assert (await hold(api, a, event["id"], seatIds=ids[:2])).status_code == 201
    book = await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": [ids[2]]}, headers=a["headers"]
    )
    assert book.status_code == 201
    over = await hold(api, a, event["id"], seatIds=[ids[3]])
    assert over.status_code == 409 and over.json()["code"] == "seat_limit"
    too_many = await hold(api, a, event["id"], seatIds=ids)
    assert too_many.status_code == 409
    assert (await api.seats(event["id"]))[ids[3]]["status"] == "available"


async def test_best_available_picks_adjacent_seats_in_a_category(api: Api) -> None:
    owner, a = await api.user(), await api.user()
    layout = {
        "categories": [
            {"id": "vip", "name": "VIP", "price": 100},
            {"id": "std", "name": "Std", "price": 50},
        ],
        "sections": [
            {
                "name": "Main",
                "category": "std",
                "rows": [
                    {"label": "A", "seats": 6, "category": "vip"},
                    {"label": "B", "seats": 10},
                    {"label": "C", "seats": 10},
                ],
            }
        ],
    }
    event = await api.event(owner, layout=layout, maxSeatsPerUser=8)
    response = await hold(api, a, event["id"], count=3, category="std")
    assert response.status_code == 201
    seats = response.json()["seats"]
    assert {s["row"] for s in seats} == {"B"} and {s["category"] for s in seats} == {"std"}
    numbers = sorted(s["number"] for s in seats)
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert (await hold(api, a, event["id"], count=7, category="vip")).status_code == 409
    bad = await hold(api, a, event["id"], count=2, category="nope")
    assert bad.status_code == 400


async def test_best_available_under_contention_never_overlaps(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner, seats=[f"A{n}" for n in range(1, 13)], maxSeatsPerUser=12)
    buyers = [await api.user() for _ in range(5)]
    responses = await asyncio.gather(*(hold(api, b, event["id"], count=2) for b in buyers))
    won = [r.json()["seats"] for r in responses if r.status_code == 201]
    assert all(r.status_code in (201, 409, 423) for r in responses)
    taken = [s["id"] for seats in won for s in seats]
    assert len(taken) == len(set(taken)) == 2 * len(won) >= 2


async def test_asking_for_more_than_the_limit_is_the_same_409_by_count_or_by_ids(
    api: Api,
) -> None:
    """`count` over the per-user limit answered 400 while as many `seatIds` answered 409
    (issue 11, item 13): both are the limit's 409 now; a count below 1 stays a 400."""
    owner, a = await api.user(), await api.user()
    event = await api.event(owner, maxSeatsPerUser=2)
    ids = [s["id"] for s in event["seats"][:3]]
    by_ids = await hold(api, a, event["id"], seatIds=ids)
    by_count = await hold(api, a, event["id"], count=3)
    assert by_ids.status_code == by_count.status_code == 409
    assert by_ids.json()["code"] == by_count.json()["code"] == "seat_limit"
    assert (await hold(api, a, event["id"], count=0)).status_code == 400
