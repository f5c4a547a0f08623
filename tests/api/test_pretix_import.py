"""Venues drawn in pretix's seating-plan editor open in Boxoffice (issue 15, item 7).

`POST /events {"name", "seatingPlan", "prices"}` takes a plan written to pretix's
published schema (src/pretix/static/seating/seating-plan.schema.json: zones with a
position, rows with a position, seats with a position relative to their row, categories
by name). Every seat's label, section, row, number, category and position is checked;
positions come out in seat pitches from the plan's top-left seat, as the map draws them.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import Api

PITCH = 30  # pixels between neighbouring seats in this plan


def seat(guid: str, number: str, x: float, category: str) -> dict[str, Any]:
    return {
        "seat_guid": guid,
        "seat_number": number,
        "position": {"x": x, "y": 0},
        "category": category,
        "uuid": f"uuid-{guid}",
        "radius": 10,
        "start_direction": None,
    }


def row(number: str, y: float, seats: list[dict[str, Any]], x: float = 0) -> dict[str, Any]:
    return {
        "row_number": number,
        "row_label": "Row %s",
        "seat_label": "Seat %s",
        "row_number_position": "start",
        "position": {"x": x, "y": y},
        "seats": seats,
        "uuid": f"row-{number}-{y}",
    }


PREMIUM = [seat("g-a-1", "1", 0, "Premium stalls"), seat("g-a-2", "2", PITCH, "Premium stalls")]
STALLS = [seat(f"g-b-{n}", str(n), (n - 1) * PITCH, "Stalls") for n in (1, 2, 3)]
BALCONY = [seat("b-1-1", "1", 0, "Balcony"), seat("b-1-2", "2a", PITCH, "Balcony")]
STAGE = {
    "shape": "rectangle",
    "position": {"x": 0, "y": -80},
    "rectangle": {"width": 90, "height": 40},
    "color": "#cccccc",
    "border_color": "#000000",
    "rotation": 0,
    "uuid": "stage",
}
PLAN: dict[str, Any] = {
    "name": "Playhouse",
    "size": {"width": 600, "height": 700},
    "categories": [
        {"name": "Stalls", "color": "#3366cc"},
        {"name": "Premium stalls", "color": "not a colour"},
        {"name": "Balcony"},
    ],
    "zones": [
        {
            "name": "Ground floor",
            "zone_id": "ground",
            "uuid": "zone-ground",
            "position": {"x": 100, "y": 200},
            "rows": [
                row("A", 0, PREMIUM),
                row("B", 40, STALLS, x=-15),
            ],
            "areas": [
                STAGE,
                {"shape": "text", "text": {"text": "STAGE", "position": {"x": 0, "y": 0}}},
            ],
        },
        {
            "name": "Balcony",
            "position": {"x": 70, "y": 400},
            "rows": [
                # A row numbered with a digit: its seats' labels take a hyphen.
                row("1", 0, BALCONY),
            ],
        },
    ],
}
PRICES = {"Stalls": 2500, "Premium stalls": 4500, "Balcony": 1500}


async def create(api: Api, owner: dict[str, Any], **body: Any) -> Any:
    body.setdefault("name", "Imported")
    return await api.client.post("/events", json=body, headers=owner["headers"])


async def test_a_pretix_plan_opens_with_every_seat_where_pretix_puts_it(api: Api) -> None:
    owner = await api.user()
    created = await create(api, owner, seatingPlan=PLAN, prices=PRICES)
    assert created.status_code == 201, created.text
    event = (await api.client.get(f"/events/{created.json()['id']}")).json()

    categories = {c["name"]: c for c in event["categories"]}
    assert {n: (c["price"], c["colour"]) for n, c in categories.items()} == {
        "Stalls": (2500, "#3366cc"),
        "Premium stalls": (4500, categories["Premium stalls"]["colour"]),
        "Balcony": (1500, categories["Balcony"]["colour"]),
    }
    assert categories["Premium stalls"]["colour"].startswith("#")  # ours, not "not a colour"
    name_of = {c["id"]: n for n, c in categories.items()}

    got = {
        s["label"]: (s["section"], s["row"], s["number"], name_of[s["category"]], s["x"], s["y"])
        for s in event["seats"]
    }

    # Absolute pixels: zone + row + seat. The top-left seat (Ground floor row B seat 1,
    # x 100 - 15 = 85; Balcony row 1 seat 1 is at x 70) sets 0, 0; one pitch is 30 px.
    def x(px: float) -> float:
        return round((px - 70) / PITCH, 3)

    def y(px: float) -> float:
        return round((px - 200) / PITCH, 3)

    assert got == {
        "Ground floor-A1": ("Ground floor", "A", 1, "Premium stalls", x(100), y(200)),
        "Ground floor-A2": ("Ground floor", "A", 2, "Premium stalls", x(130), y(200)),
        "Ground floor-B1": ("Ground floor", "B", 1, "Stalls", x(85), y(240)),
        "Ground floor-B2": ("Ground floor", "B", 2, "Stalls", x(115), y(240)),
        "Ground floor-B3": ("Ground floor", "B", 3, "Stalls", x(145), y(240)),
        "Balcony-1-1": ("Balcony", "1", 1, "Balcony", x(70), y(400)),
        "Balcony-1-2a": ("Balcony", "1", 2, "Balcony", x(100), y(400)),
    }
    assert event["width"] == max(v[4] for v in got.values()) + 1
    assert event["height"] == max(v[5] for v in got.values()) + 1

    # And it sells like any other event: a booking costs the imported price.
    seat_id = next(s["id"] for s in event["seats"] if s["label"] == "Ground floor-A1")
    booked = await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": [seat_id]}, headers=owner["headers"]
    )
    assert booked.status_code == 201 and booked.json()["order"]["total"] == 4500


async def test_a_one_zone_plan_keeps_short_labels_and_prices_default_to_free(api: Api) -> None:
    plan = copy.deepcopy(PLAN)
    plan["zones"] = plan["zones"][:1]
    created = await create(api, await api.user(), seatingPlan=plan)
    assert created.status_code == 201, created.text
    body = created.json()
    assert sorted(s["label"] for s in body["seats"]) == ["A1", "A2", "B1", "B2", "B3"]
    assert {c["price"] for c in body["categories"]} == {0}


async def test_a_bad_plan_is_a_clear_400_and_makes_no_event(api: Api) -> None:
    owner = await api.user()
    before = len((await api.client.get("/events")).json()["events"])

    def broken(change: Any) -> dict[str, Any]:
        plan = copy.deepcopy(PLAN)
        change(plan)
        return plan

    def first_seat(p: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = p["zones"][0]["rows"][0]["seats"][0]
        return found

    layout = {"sections": [{"name": "S", "rows": [{"label": "A", "seats": 1}]}]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"seatingPlan": broken(lambda p: first_seat(p).update(category="Nope"))}, "category"),
        ({"seatingPlan": PLAN, "prices": {"Gallery": 100}}, "prices"),
        ({"seatingPlan": PLAN, "prices": {"Stalls": -1}}, "prices"),
        ({"seatingPlan": broken(lambda p: p["zones"][1]["rows"][0]["seats"][1].update(
            seat_number="1"))}, "twice"),
        ({"seatingPlan": broken(lambda p: p["zones"][0].pop("position"))}, "position"),
        ({"seatingPlan": broken(lambda p: first_seat(p)["position"].update(x="10"))}, "x"),
        ({"seatingPlan": broken(lambda p: p["categories"].append({"name": "Stalls"}))}, "unique"),
        ({"seatingPlan": broken(lambda p: p.update(zones=[]))}, "zones"),
        ({"seatingPlan": PLAN, "seats": ["A1"]}, "one of"),
        # One zone: its name is not in the labels, but it is every seat's section.
        ({"seatingPlan": broken(lambda p: p.update(zones=[{**p["zones"][0],
            "name": "Z" * 65}]))}, "zone names"),
        ({"layout": layout, "prices": {"S": 1}}, "prices"),
    ]  # fmt: skip
    for body, words in cases:
        response = await create(api, owner, **body)
        assert response.status_code == 400, (words, response.text)
        assert words in response.json()["message"], (words, response.json()["message"])
    assert len((await api.client.get("/events")).json()["events"]) == before
