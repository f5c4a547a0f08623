"""Input strictness and consistency (issue 11, item 13), on both modes: a number sent as a
string is a 400 (not quietly converted), two labels that name the same seat are a 400
naming both, and a blank row label is a 400. Each refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


async def my_event_count(api: Api, owner: dict[str, Any]) -> int:
    events = (await api.client.get("/events")).json()["events"]
    return sum(e["organiserId"] == owner["id"] for e in events)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("maxSeatsPerUser", "3"),
        ("holdSeconds", "1e2"),
        ("holdSeconds", "60"),
        ("holdSeconds", 60.5),
        ("holdSeconds", True),
        ("name", 7),
    ],
)
async def test_numbers_and_strings_are_not_converted(api: Api, field: str, value: Any) -> None:
    owner = await api.user()
    body = {"name": "Strict night", "seats": ["A1", "A2", "A3", "A4"], field: value}
    response = await api.client.post("/events", json=body, headers=owner["headers"])
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert await my_event_count(api, owner) == 0


async def test_strict_types_on_holds_bookings_and_patches(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    path = f"/events/{event['id']}"
    held = await api.client.post(f"{path}/holds", json={"count": "2"}, headers=owner["headers"])
    assert held.status_code == 400 and "count" in held.json()["message"]
    patched = await api.client.patch(path, json={"holdSeconds": "30"}, headers=owner["headers"])
    assert patched.status_code == 400 and "holdSeconds" in patched.json()["message"]
    seats = await api.seats(event["id"])
    assert all(s["status"] == "available" for s in seats.values())
    assert (await api.client.get(path)).json()["holdSeconds"] == event["holdSeconds"]
    # The right types still work.
    assert (
        await api.client.post(f"{path}/holds", json={"count": 2}, headers=owner["headers"])
    ).status_code == 201


@pytest.mark.parametrize(
    ("labels", "named"),
    [
        (["A1", "A01"], ("A1", "A01")),
        (["A-1", "A 1"], ("A-1", "A 1")),
        (["B7", "b7"], None),  # the same label in other case: already refused as a repeat
    ],
)
async def test_labels_that_name_the_same_seat_are_refused(
    api: Api, labels: list[str], named: tuple[str, str] | None
) -> None:
    owner = await api.user()
    response = await api.client.post(
        "/events", json={"name": "Twins", "seats": ["C1", *labels]}, headers=owner["headers"]
    )
    assert response.status_code == 400, response.text
    if named is not None:
        message = response.json()["message"]
        assert all(repr(label) in message for label in named), message
    assert await my_event_count(api, owner) == 0


async def test_a_blank_row_label_is_refused(api: Api) -> None:
    owner = await api.user()
    layout = {"sections": [{"name": "Stalls", "rows": [{"label": "  ", "seats": 3}]}]}
    response = await api.client.post(
        "/events", json={"name": "Blank", "layout": layout}, headers=owner["headers"]
    )
    assert response.status_code == 400, response.text
    assert "label" in response.json()["message"]
    assert await my_event_count(api, owner) == 0
