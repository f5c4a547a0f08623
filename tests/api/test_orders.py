"""Orders (issue 15, item 1), both modes, over HTTP.

A booking request that books seats is one order: a short reference, its total and
currency, its bookings with the price each was booked at. Only its buyer sees it;
cancelling a booking takes its price off; a refused booking makes no order; a later
price change never rewrites one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.storage import orders as order_storage
from backend.storage.tables import Event
from tests.conftest import Api

REFERENCE = re.compile(r"^BX-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$")  # no 0, O, 1, I
LAYOUT = {
    "categories": [
        {"id": "standard", "name": "Standard", "colour": "#2563eb", "price": 2500},
        {"id": "premium", "name": "Premium", "colour": "#db2777", "price": 4000},
    ],
    "sections": [
        {
            "name": "Stalls",
            "category": "standard",
            "rows": [{"label": "A", "seats": 6, "category": "premium"}, {"label": "B", "seats": 6}],
        }
    ],
}


async def priced_event(api: Api) -> tuple[dict[str, Any], dict[str, str]]:
    event = await api.event(await api.user(), layout=LAYOUT)
    return event, {s["label"]: s["id"] for s in event["seats"]}


async def book(api: Api, who: dict[str, Any], event: dict[str, Any], ids: list[str]) -> Any:
    return await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": ids}, headers=who["headers"]
    )


async def orders_of(api: Api, who: dict[str, Any]) -> list[dict[str, Any]]:
    response = await api.client.get("/orders", headers=who["headers"])
    assert response.status_code == 200, response.text
    orders: list[dict[str, Any]] = response.json()["orders"]
    return orders


async def test_a_booking_request_is_one_order_with_a_reference_total_and_prices(
    api: Api,
) -> None:
    event, seat = await priced_event(api)
    buyer, stranger = await api.user(), await api.user()
    ids = [seat["A1"], seat["B1"], seat["B2"]]
    response = await book(api, buyer, event, ids)
    assert response.status_code == 201, response.text
    body = response.json()
    order = body["order"]
    assert REFERENCE.match(order["reference"]), order["reference"]
    assert (order["total"], order["currency"], order["eventId"]) == (9000, "GBP", event["id"])
    assert {b["orderId"] for b in body["bookings"]} == {order["id"]}
    assert {b["seat"]["label"]: b["price"] for b in body["bookings"]} == {
        "A1": 4000,
        "B1": 2500,
        "B2": 2500,
    }

    (listed,) = await orders_of(api, buyer)
    assert {k: listed[k] for k in order} == order
    assert sorted(b["id"] for b in listed["bookings"]) == sorted(b["id"] for b in body["bookings"])
    one = await api.client.get(f"/orders/{order['id']}", headers=buyer["headers"])
    assert one.status_code == 200
    # The one-order view is the listed order plus each booking's ticket (test_door.py).
    viewed = one.json()["order"]
    assert all(b.pop("ticket")["code"] for b in viewed["bookings"])
    assert viewed == listed

    # Nobody else sees it, or learns that it exists.
    assert await orders_of(api, stranger) == []
    hidden = await api.client.get(f"/orders/{order['id']}", headers=stranger["headers"])
    missing = await api.client.get(
        "/orders/6f1c1d2e-0000-4000-8000-000000000000", headers=stranger["headers"]
    )
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"]
    assert (await api.client.get(f"/orders/{order['id']}")).status_code == 401


async def test_each_request_is_its_own_order_newest_first(api: Api) -> None:
    event, seat = await priced_event(api)
    buyer = await api.user()
    first = (await book(api, buyer, event, [seat["B3"]])).json()["order"]
    second = (await book(api, buyer, event, [seat["A3"], seat["A4"]])).json()["order"]
    assert first["reference"] != second["reference"]
    listed = await orders_of(api, buyer)
    assert [(o["id"], o["total"]) for o in listed] == [(second["id"], 8000), (first["id"], 2500)]


async def test_cancelling_a_booking_takes_its_price_off_its_order(api: Api) -> None:
    event, seat = await priced_event(api)
    buyer = await api.user()
    body = (await book(api, buyer, event, [seat["A2"], seat["B4"]])).json()
    premium = next(b for b in body["bookings"] if b["seat"]["label"] == "A2")
    cancelled = await api.client.delete(f"/bookings/{premium['id']}", headers=buyer["headers"])
    assert cancelled.status_code == 200
    assert cancelled.json()["booking"]["orderId"] == body["order"]["id"]
    (order,) = await orders_of(api, buyer)
    assert order["total"] == 2500
    assert {b["seat"]["label"]: b["status"] for b in order["bookings"]} == {
        "A2": "cancelled",
        "B4": "active",
    }
    again = await api.client.delete(f"/bookings/{premium['id']}", headers=buyer["headers"])
    assert again.status_code == 200  # cancelled already: said again, nothing taken off twice
    assert (await orders_of(api, buyer))[0]["total"] == 2500


async def test_a_refused_booking_makes_no_order(api: Api) -> None:
    event, seat = await priced_event(api)
    first, second = await api.user(), await api.user()
    assert (await book(api, first, event, [seat["B5"]])).status_code == 201
    refused = await book(api, second, event, [seat["B6"], seat["B5"]])
    assert refused.status_code == 409
    assert await orders_of(api, second) == []
    assert [o["total"] for o in await orders_of(api, first)] == [2500]


async def test_a_later_price_change_never_rewrites_an_order(api: Api) -> None:
    event, seat = await priced_event(api)
    buyer = await api.user()
    before = (await book(api, buyer, event, [seat["A5"]])).json()["order"]
    dearer = [{**c, "price": c["price"] * 2} for c in LAYOUT["categories"]]
    await api.db(Event.update({Event.categories: dearer}).where(Event.id == event["id"]))
    (order,) = await orders_of(api, buyer)
    assert order["total"] == before["total"] == 4000
    assert order["bookings"][0]["price"] == 4000  # what was paid
    assert order["bookings"][0]["seat"]["price"] == 8000  # what it costs today
    after = (await book(api, buyer, event, [seat["A6"]])).json()["order"]
    assert after["total"] == 8000


async def test_a_reference_already_taken_is_drawn_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, seat = await priced_event(api)
    buyer = await api.user()
    taken = (await book(api, buyer, event, [seat["B1"]])).json()["order"]["reference"]
    draws = iter([taken, taken, "BX-2345-6789"])
    monkeypatch.setattr(order_storage, "new_reference", lambda: next(draws))
    response = await book(api, buyer, event, [seat["B2"]])
    assert response.status_code == 201, response.text
    assert response.json()["order"]["reference"] == "BX-2345-6789"
    assert sorted(o["reference"] for o in await orders_of(api, buyer)) == sorted(
        [taken, "BX-2345-6789"]
    )


async def test_order_ids_must_be_uuids(api: Api) -> None:
    buyer = await api.user()
    response = await api.client.get("/orders/not-an-id", headers=buyer["headers"])
    assert response.status_code == 400 and "order id" in response.json()["message"]


async def test_the_seeds_single_seat_booking_is_an_order_too(api: Api) -> None:
    _, seat = await priced_event(api)
    buyer = await api.user()
    response = await api.client.post("/book", json={"seatId": seat["A1"]}, headers=buyer["headers"])
    assert response.status_code == 201
    booking = response.json()["booking"]  # the seed's shape, plus its price and order
    assert booking["price"] == 4000
    (order,) = await orders_of(api, buyer)
    assert order["id"] == booking["orderId"] and order["total"] == 4000


def test_references_draw_every_letter_in_every_place() -> None:
    """Eight letters of the 32, each place drawn uniformly from all of them (3,000
    draws: the odds of a letter missing from a place are below 1 in 10^39)."""
    draws = [order_storage.new_reference() for _ in range(3000)]
    assert all(REFERENCE.match(d) for d in draws)
    for place in (3, 4, 5, 6, 8, 9, 10, 11):
        assert {d[place] for d in draws} == set(order_storage.REFERENCE_ALPHABET)
