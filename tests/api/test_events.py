from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.settings import Settings
from backend.storage.tables import Seat
from backend.web.schemas import event_out
from tests.conftest import Api

LAYOUT = {
    "categories": [
        {"id": "vip", "name": "VIP", "colour": "#aa0000", "price": 9000},
        {"id": "std", "name": "Standard", "colour": "#0000aa", "price": 4000},
    ],
    "sections": [
        {
            "name": "Stalls",
            "category": "std",
            "rows": [
                {"label": "A", "seats": 6, "category": "vip", "accessible": [1, 6]},
                {"label": "B", "seats": 8},
            ],
        },
        {"name": "Circle", "category": "std", "rows": [{"label": "A", "seats": 4}]},
    ],
}


async def test_create_from_seed_labels(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner, name="Seed style", seats=["A1", "A2", "B1"])
    assert event["organiserId"] == owner["id"]
    assert event["holdSeconds"] == 600 and event["maxSeatsPerUser"] == 3  # capped by seat count
    assert event["counts"] == {"total": 3, "available": 3, "held": 0, "booked": 0}
    seat = next(s for s in event["seats"] if s["label"] == "B1")
    assert (seat["row"], seat["number"], seat["status"], seat["version"]) == (
        "B",
        1,
        "available",
        1,
    )
    assert {"x", "y", "category", "section", "accessible"} <= set(seat)


async def test_create_from_layout_with_categories_and_accessible_seats(api: Api) -> None:
    owner = await api.user()
    event = await api.event(
        owner,
        name="Layout",
        layout=LAYOUT,
        holdSeconds=30,
        maxSeatsPerUser=4,
        venue="Hall",
        startsAt="2030-01-02T19:30:00Z",
    )
    assert event["counts"]["total"] == 18
    assert event["holdSeconds"] == 30 and event["maxSeatsPerUser"] == 4
    assert event["venue"] == "Hall" and event["startsAt"] == "2030-01-02T19:30:00.000Z"
    assert [c["id"] for c in event["categories"]] == ["vip", "std"]
    seats = {s["label"]: s for s in event["seats"]}
    assert seats["Stalls-A1"]["category"] == "vip" and seats["Stalls-A1"]["accessible"]
    assert seats["Stalls-B3"]["category"] == "std" and not seats["Stalls-B3"]["accessible"]
    assert seats["Circle-A1"]["section"] == "Circle"


async def test_list_has_live_counts(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    seat_ids = [s["id"] for s in event["seats"][:3]]
    await api.client.post(
        f"/events/{event['id']}/holds", json={"seatIds": seat_ids[:2]}, headers=owner["headers"]
    )
    await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": seat_ids[2:]}, headers=owner["headers"]
    )
    listed = (await api.client.get("/events")).json()["events"]
    mine = next(e for e in listed if e["id"] == event["id"])
    assert mine["counts"] == {"total": 30, "available": 27, "held": 2, "booked": 1}


async def test_detail_marks_only_the_callers_seats_as_mine(api: Api) -> None:
    owner, other = await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    await api.client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat]}, headers=owner["headers"]
    )
    assert (await api.seats(event["id"], owner))[seat]["mine"] is True
    theirs = (await api.seats(event["id"], other))[seat]
    assert theirs["status"] == "held" and "mine" not in theirs and theirs["heldUntil"]
    anonymous = (await api.seats(event["id"]))[seat]
    assert anonymous["status"] == "held" and "mine" not in anonymous


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x"}, "give one of seats"),
        ({"name": "x", "seats": []}, "seats"),
        ({"name": "x", "seats": ["A1", "A1"]}, "more than once"),
        ({"name": "", "seats": ["A1"]}, "name"),
        ({"name": "n" * 201, "seats": ["A1"]}, "name"),
        ({"name": "x", "seats": ["A1"], "holdSeconds": 0}, "holdSeconds"),
        ({"name": "x", "seats": ["A1"], "holdSeconds": 7201}, "holdSeconds"),
        ({"name": "x", "seats": ["A1", "A2"], "maxSeatsPerUser": 3}, "maxSeatsPerUser"),
        (
            {
                "name": "x",
                "layout": {
                    "sections": [
                        {"name": "S", "rows": [{"label": "A", "seats": 2, "category": "zz"}]}
                    ]
                },
            },
            "category",
        ),
        ({"name": "x", "seats": ["A1"], "layout": LAYOUT}, "give one of seats"),
        ({"name": "x", "seats": "A1"}, "seats"),
    ],
)
async def test_bad_events_are_refused(api: Api, body: dict[str, Any], fragment: str) -> None:
    owner = await api.user()
    before = len((await api.client.get("/events")).json()["events"])
    response = await api.client.post("/events", json=body, headers=owner["headers"])
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]
    assert len((await api.client.get("/events")).json()["events"]) == before


async def test_creating_needs_a_token(api: Api) -> None:
    response = await api.client.post("/events", json={"name": "x", "seats": ["A1"]})
    assert response.status_code == 401


async def test_organiser_can_patch_others_cannot(api: Api) -> None:
    owner, other = await api.user(), await api.user()
    event = await api.event(owner)
    path = f"/events/{event['id']}"
    denied = await api.client.patch(path, json={"name": "Hijacked"}, headers=other["headers"])
    assert denied.status_code == 403
    changed = await api.client.patch(
        path,
        json={"name": "Renamed", "holdSeconds": 5, "organiserId": other["id"]},
        headers=owner["headers"],
    )
    assert changed.status_code == 200
    body = changed.json()
    # organiserId is not a field anyone can set (no mass assignment).
    assert (body["name"], body["holdSeconds"], body["organiserId"]) == ("Renamed", 5, owner["id"])
    bad = await api.client.patch(path, json={"maxSeatsPerUser": 31}, headers=owner["headers"])
    assert bad.status_code == 400


async def test_delete_is_organiser_only_and_refused_with_bookings(api: Api) -> None:
    owner, buyer = await api.user(), await api.user()
    event = await api.event(owner)
    path = f"/events/{event['id']}"
    assert (await api.client.delete(path, headers=buyer["headers"])).status_code == 403
    booked = await api.client.post(
        f"{path}/bookings", json={"seatIds": [event["seats"][0]["id"]]}, headers=buyer["headers"]
    )
    assert booked.status_code == 201
    refused = await api.client.delete(path, headers=owner["headers"])
    assert refused.status_code == 409 and refused.json()["code"] == "event_has_bookings"
    booking_id = booked.json()["bookings"][0]["id"]
    assert (
        await api.client.delete(f"/bookings/{booking_id}", headers=buyer["headers"])
    ).status_code == 200
    assert (await api.client.delete(path, headers=owner["headers"])).status_code == 204
    assert (await api.client.get(path)).status_code == 404


async def test_unknown_and_malformed_event_ids(api: Api) -> None:
    assert (await api.client.get("/events/6f1c1d2e-0000-4000-8000-000000000000")).status_code == 404
    response = await api.client.get("/events/not-a-uuid")
    assert response.status_code == 400 and "UUID" in response.json()["message"]


async def test_a_large_venue_is_created_and_listed(api: Api) -> None:
    owner = await api.user()
    layout = {
        "sections": [
            {"name": "Arena", "rows": [{"label": f"R{i}", "seats": 100} for i in range(50)]}
        ]
    }
    event = await api.event(owner, layout=layout)
    assert event["counts"]["total"] == 5000
    assert "seats" not in event  # over 1,000 seats: read them from the event's page
    seats = await api.seats(event["id"])
    assert len({s["label"] for s in seats.values()}) == 5000
    listed = (await api.client.get("/events")).json()["events"]
    assert next(e for e in listed if e["id"] == event["id"])["counts"]["total"] == 5000


AWKWARD_LABELS = ['Q"1', "Q\\2", "Ü3", "Q 4", "Q'5", "Q6", "Q7", "Q8"]


@contextlib.asynccontextmanager
async def _idle_sweeper_api(settings: Settings) -> AsyncIterator[Api]:
    # The sweeper must not free the expired hold below between the reads compared.
    idle_sweeper = replace(settings, expiry_interval=3600)
    async with AsyncTestClient(
        app=create_app(idle_sweeper), base_url="http://testserver.local"
    ) as client:
        yield Api(client)


async def _every_kind_of_seat(api: Api) -> tuple[dict[str, Any], dict[str, Any], str]:
    """An event whose seats are held (by either user), booked, held past their end and
    unswept, or free, with labels that need escaping and positions not round in REAL."""
    owner, other = await api.user(), await api.user()
    event = await api.event(owner, seats=AWKWARD_LABELS)
    eid, ids = event["id"], {s["label"]: s["id"] for s in event["seats"]}
    path = f"/events/{eid}"
    for who, label in ((owner, 'Q"1'), (owner, "Ü3"), (other, "Q6"), (other, "Q7")):
        held = await api.client.post(
            f"{path}/holds", json={"seatIds": [ids[label]]}, headers=who["headers"]
        )
        assert held.status_code == 201, held.text
    booked = await api.client.post(
        f"{path}/bookings", json={"seatIds": [ids["Q 4"]]}, headers=other["headers"]
    )
    assert booked.status_code == 201, booked.text
    # A hold past its end that the sweeper has not reached: shown available.
    past = int(time.time() * 1000) - 60_000
    await api.db(Seat.update({Seat.held_until_ms: past}).where(Seat.id == ids["Q7"]))
    await api.db(Seat.update({Seat.x: 0.1, Seat.y: 2.7}).where(Seat.id == ids["Q8"]))
    return owner, other, eid


async def test_event_detail_shows_each_seat_as_each_caller_sees_it(settings: Settings) -> None:
    """GET /events/{id} in both modes, against what the scenario set up (written out
    here, not computed by the app): statuses, `mine`, counts, labels and positions."""
    async with _idle_sweeper_api(settings) as api:
        owner, other, eid = await _every_kind_of_seat(api)
        for who, mine in ((None, set()), (owner, {'Q"1', "Ü3"}), (other, {"Q 4", "Q6"})):
            got = await api.client.get(f"/events/{eid}", headers=who["headers"] if who else {})
            assert got.status_code == 200, got.text
            body = got.json()
            seats = {s["label"]: s for s in body["seats"]}
            assert sorted(seats) == sorted(AWKWARD_LABELS)
            assert {label for label, s in seats.items() if s.get("mine")} == mine
            assert {label: s["status"] for label, s in seats.items()} == {
                'Q"1': "held",
                "Q\\2": "available",
                "Ü3": "held",
                "Q 4": "booked",
                "Q'5": "available",
                "Q6": "held",
                "Q7": "available",  # its hold has ended, unswept
                "Q8": "available",
            }
            assert all(bool(s.get("heldUntil")) == (s["status"] == "held") for s in seats.values())
            assert (seats["Q8"]["x"], seats["Q8"]["y"]) == pytest.approx((0.1, 2.7))
            assert body["counts"] == {"total": 8, "available": 4, "held": 3, "booked": 1}


async def test_event_json_written_by_the_storage_equals_the_schema_path(
    settings: Settings,
) -> None:
    """GET /events/{id} has the storage write the seats' JSON items and counts (on
    PostgreSQL the database itself) and splices them into the encoded event; it must
    equal, value for value, `event_out` (the whole event from the rows, counts counted
    from the seats) encoded by msgspec, for anonymous callers and each seat's owner.
    tests/storage/test_seat_projection.py checks the SQL seat by seat against the
    projection on both engines."""
    async with _idle_sweeper_api(settings) as api:
        owner, other, eid = await _every_kind_of_seat(api)
        events = api.client.app.state.events

        async def via_schema(user_id: str | None) -> Any:
            row, seats, now = await events.detail(eid)
            return json.loads(msgspec.json.encode(event_out(row, seats, now, user_id)))

        for who in (None, owner, other):
            got = await api.client.get(f"/events/{eid}", headers=who["headers"] if who else {})
            assert got.status_code == 200, got.text
            assert got.headers["content-type"].startswith("application/json")
            assert got.json() == await api.run(via_schema, who["id"] if who else None)


async def test_starts_at_must_be_within_ten_years_of_today(api: Api) -> None:
    """Year 0001 would pin an event to the top of the public list (issue 11, item 13)."""
    owner = await api.user()
    for when in ("0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"):
        response = await api.client.post(
            "/events",
            json={"name": "Early", "seats": ["A1"], "startsAt": when},
            headers=owner["headers"],
        )
        assert response.status_code == 400, response.text
        assert "startsAt" in response.json()["message"]
    event = await api.event(owner, startsAt="2030-01-02T19:30:00Z")
    patched = await api.client.patch(
        f"/events/{event['id']}",
        json={"startsAt": "0001-01-01T00:00:00Z"},
        headers=owner["headers"],
    )
    assert patched.status_code == 400, patched.text
    shown = (await api.client.get(f"/events/{event['id']}")).json()
    assert shown["startsAt"] == "2030-01-02T19:30:00.000Z"  # unchanged


async def test_the_public_list_has_one_order_on_both_engines(api: Api) -> None:
    """Soonest first, undated last (SQLite sorted NULL first, PostgreSQL last)."""
    owner = await api.user()
    undated = await api.event(owner, name="Undated")
    later = await api.event(owner, name="Later", startsAt="2031-06-01T19:00:00Z")
    sooner = await api.event(owner, name="Sooner", startsAt="2030-06-01T19:00:00Z")
    mine = {undated["id"], later["id"], sooner["id"]}
    listed = [
        e["id"] for e in (await api.client.get("/events")).json()["events"] if e["id"] in mine
    ]
    assert listed == [sooner["id"], later["id"], undated["id"]]
