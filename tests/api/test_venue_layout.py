"""Venues as venues (issue 14, item 4), on both modes: sections placed where the layout
says, turned and curved around a stage; bad placements refused with a clear 400 that
creates nothing; best available filtered by section, wheelchair access and price, and
nearest the stage when the venue has one.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conftest import Api

CATEGORIES = [
    {"id": "gold", "name": "Gold", "colour": "#b91c1c", "price": 9000},
    {"id": "silver", "name": "Silver", "colour": "#1d4ed8", "price": 4000},
]


def placed(**extra: Any) -> dict[str, Any]:
    """A stage and two placed sections: Front below it facing up, Side to its right
    turned a quarter anticlockwise, facing the stage (its rows run up the map)."""
    return {
        "categories": CATEGORIES,
        "stage": {"x": -3, "y": -2, "width": 6, "height": 4},
        "sections": [
            {
                "name": "Front",
                "category": "gold",
                "x": 0,
                "y": 11,
                "rows": [{"label": "A", "seats": 3, "accessible": [1, 2]}],
            },
            {
                "name": "Side",
                "category": "silver",
                "x": 10,
                "y": 0,
                "rotation": -90,
                "rows": [{"label": "A", "seats": 3}, {"label": "B", "seats": 3}],
            },
        ],
        **extra,
    }


def where(event: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {s["label"]: (s["x"], s["y"]) for s in event["seats"]}


async def test_placed_and_turned_sections_land_where_the_layout_says(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner, layout=placed())
    # Shifted so the venue starts at (0, 0): the stage's corner (-3, -2) is the origin.
    assert where(event) == {
        "Front-A1": (2, 13),
        "Front-A2": (3, 13),
        "Front-A3": (4, 13),
        # Facing left, towards the stage: seat 1 on its left (down the map), the row
        # behind one pitch further right.
        "Side-A1": (13, 3),
        "Side-A2": (13, 2),
        "Side-A3": (13, 1),
        "Side-B1": (14, 3),
        "Side-B2": (14, 2),
        "Side-B3": (14, 1),
    }
    assert event["stage"] == {"x": 0, "y": 0, "width": 6, "height": 4}
    assert (event["width"], event["height"]) == (15, 14)
    read = (await api.client.get(f"/events/{event['id']}")).json()
    assert read["stage"] == event["stage"] and where(read) == where(event)
    # A stacked layout has no stage of its own (the map draws one above the seats).
    stacked = await api.event(owner)
    assert stacked["stage"] is None


async def test_a_curved_section_bends_its_rows_around_the_stage(api: Api) -> None:
    owner = await api.user()
    layout = {
        "stage": {"x": -2, "y": -9, "width": 4, "height": 2},
        "sections": [
            {"name": "Bowl", "x": 0, "y": 0, "curve": 10, "rows": [{"label": "A", "seats": 3}]},
            {"name": "Far", "x": 0, "y": 5, "rows": [{"label": "A", "seats": 1}]},
        ],
    }
    seats = where(await api.event(owner, layout=layout))
    # One pitch of arc between neighbours on a radius of 10: the ends come forward.
    (x1, y1), (x2, y2), (x3, y3) = seats["Bowl-A1"], seats["Bowl-A2"], seats["Bowl-A3"]
    end = 10 * (1 - math.cos(0.1))
    assert y1 == pytest.approx(y3) and y2 - y1 == pytest.approx(end, abs=0.002)
    assert x2 - x1 == pytest.approx(10 * math.sin(0.1), abs=0.002)
    assert x3 - x2 == pytest.approx(x2 - x1, abs=0.002)
    assert seats["Far-A1"][1] - y2 == pytest.approx(5, abs=0.002)


def unplace(*names: str) -> Any:
    """Take the position (and the turn) off these sections of a layout."""

    def change(layout: dict[str, Any]) -> None:
        for section in layout["sections"]:
            if section["name"] in names:
                for key in ("x", "y", "rotation"):
                    section.pop(key, None)

    return change


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (unplace("Side"), "either every section has a position"),
        (lambda lay: lay["sections"][1].update(x=1, y=10, rotation=0), "overlap"),  # its B row
        (lambda lay: lay["sections"][0].update(rotation=400), "rotation"),
        (lambda lay: lay["sections"][0].update(curve=1), "curve"),
        (lambda lay: lay["sections"][0].update(x=1e9), "sections[0].x"),
        (lambda lay: lay["stage"].update(width=0), "width"),
        (unplace("Front", "Side"), "a stage goes with placed sections"),
        (lambda lay: lay.pop("stage"), "placed sections need a stage"),
        (lambda lay: lay["sections"][0].pop("y"), "has one of x and y"),
        (
            lambda lay: (
                [s.pop(k) for s in lay["sections"] for k in ("x", "y")] and lay.pop("stage")
            ),
            "rotation and curve go with placed sections",
        ),
        (lambda lay: lay["stage"].update(y=9, height=6), "is on the stage"),
    ],
    ids=[
        "one-unplaced",
        "overlapping",
        "rotation",
        "tight-curve",
        "far-away",
        "flat-stage",
        "stage-alone",
        "no-stage",
        "x-without-y",
        "turned-but-stacked",
        "seat-on-stage",
    ],
)
async def test_bad_placements_are_a_clear_400_and_make_nothing(
    api: Api, change: Any, words: str
) -> None:
    owner = await api.user()
    before = len((await api.client.get("/events")).json()["events"])
    layout = placed()
    change(layout)
    refused = await api.client.post(
        "/events", json={"name": "Bad venue", "layout": layout}, headers=owner["headers"]
    )
    assert refused.status_code == 400, refused.text
    assert words in refused.json()["message"]
    assert len((await api.client.get("/events")).json()["events"]) == before


async def _best(api: Api, who: dict[str, Any], event: dict[str, Any], **body: Any) -> Any:
    return await api.client.post(f"/events/{event['id']}/holds", json=body, headers=who["headers"])


async def test_best_available_by_section_access_and_price_nearest_the_stage(api: Api) -> None:
    owner, buyer = await api.user(), await api.user()
    event = await api.event(owner, layout=placed(), maxSeatsPerUser=9)
    labels = {s["id"]: s["label"] for s in event["seats"]}

    def picked(response: Any) -> list[str]:
        assert response.status_code == 201, response.text
        return sorted(labels[s["id"]] for s in response.json()["seats"])

    # Nearest the stage (its centre 10 pitches from Side's front row, 11 from Front's):
    # Side's front row, from seat 1 (no lone seat beside a pair is possible in 3).
    assert picked(await _best(api, buyer, event, count=2)) == ["Side-A1", "Side-A2"]
    assert picked(await _best(api, buyer, event, count=2, section="Front")) == [
        "Front-A1",
        "Front-A2",
    ]
    release = await api.client.request(
        "DELETE", f"/events/{event['id']}/holds", headers=buyer["headers"]
    )
    assert release.status_code == 200
    assert picked(await _best(api, buyer, event, count=2, accessible=True)) == [
        "Front-A1",
        "Front-A2",
    ]
    # Silver costs 40.00: at most 50.00 picks it; at most 30.00 finds nothing, in words.
    assert picked(await _best(api, buyer, event, count=1, maxPrice=5000))[0].startswith("Side")
    # A category and a price that exclude each other: nothing, even though Gold is free.
    dear = await _best(api, buyer, event, count=1, category="gold", maxPrice=5000)
    assert dear.status_code == 409 and dear.json()["code"] == "no_adjacent_seats"
    # From 50.00 up: Gold (90.00) only, though Side's Silver is nearer the stage.
    assert picked(await _best(api, buyer, event, count=1, minPrice=5000))[0].startswith("Front")
    upside_down = await _best(api, buyer, event, count=1, minPrice=5000, maxPrice=4000)
    assert upside_down.status_code == 400 and "minPrice" in upside_down.json()["message"]
    none = await _best(api, buyer, event, count=1, maxPrice=3000)
    assert none.status_code == 409 and none.json()["code"] == "no_adjacent_seats"
    assert "at 3000 or less" in none.json()["message"]
    unknown = await _best(api, buyer, event, count=1, section="Balcony")
    assert unknown.status_code == 400 and "no section 'Balcony'" in unknown.json()["message"]
    nul = await _best(api, buyer, event, count=1, section="a\u0000b")
    assert nul.status_code == 400, nul.text  # a NUL reaches no database (a 500 on PostgreSQL)
    seat = event["seats"][0]["id"]
    mixed = await _best(api, buyer, event, seatIds=[seat], section="Front")
    assert mixed.status_code == 400 and "go with count" in mixed.json()["message"]
