"""Screenshots of the pages at desktop and phone widths, saved under tests/artifacts/.

They are for people to look at (every seat state, legend, tray); the assertions
only check that the page laid out without horizontal overflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


def _scene(api: Any) -> tuple[dict[str, Any], Any]:
    """An event with every seat state: free, held and booked by others and by me."""
    organiser, me, other = api.new_user("org"), api.new_user("me"), api.new_user("other")
    layout = {
        "categories": [
            {"id": "premium", "name": "Premium", "colour": "#db2777", "price": 6500},
            {"id": "standard", "name": "Standard", "colour": "#2563eb", "price": 4000},
            {"id": "value", "name": "Value", "colour": "#059669", "price": 2200},
        ],
        "sections": [
            {
                "name": "Stalls",
                "category": "standard",
                "rows": [
                    {"label": "A", "seats": 14, "category": "premium"},
                    {"label": "B", "seats": 16, "category": "premium"},
                    {"label": "C", "seats": 18},
                    {"label": "D", "seats": 18},
                    {"label": "E", "seats": 20, "accessible": [1, 2, 19, 20]},
                ],
            },
            {
                "name": "Circle",
                "category": "value",
                "rows": [{"label": r, "seats": 22} for r in "ABC"],
            },
        ],
    }
    event = api.create_event(
        organiser,
        name="The Tempest",
        venue="Playhouse",
        startsAt="2030-05-01T19:30:00Z",
        layout=layout,
    )
    ids = lambda *labels: [api.seat_id(event, label) for label in labels]  # noqa: E731
    assert (
        api.hold(other, event["id"], ids("Stalls-C8", "Stalls-C9", "Circle-B4")).status_code == 201
    )
    assert api.hold(other, event["id"], ids("Stalls-A6", "Stalls-A7")).status_code == 201
    assert api.book(other, event["id"], ids("Stalls-A6", "Stalls-A7")).status_code == 201
    assert (
        api.hold(other, event["id"], ids("Stalls-B8", "Stalls-B9", "Stalls-B10")).status_code == 201
    )
    assert (
        api.book(other, event["id"], ids("Stalls-B8", "Stalls-B9", "Stalls-B10")).status_code == 201
    )
    assert api.hold(me, event["id"], ids("Stalls-D12", "Stalls-D13")).status_code == 201
    assert api.book(me, event["id"], ids("Stalls-D12", "Stalls-D13")).status_code == 201
    assert api.hold(me, event["id"], ids("Stalls-E10", "Stalls-E11")).status_code == 201
    return event, me


@pytest.mark.one_per_mode("size")  # desktop on one mode, phone on the other
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_seat_map_screenshots(
    api: Any, new_context: Any, ui: Any, artifacts: Path, size: str
) -> None:
    event, me = _scene(api)
    page = new_context(me, **SIZES[size]).new_page()
    ui.open_event(page, event["id"])
    page.wait_for_timeout(300)  # one more frame for the canvas

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["viewport"]["width"], "page overflows sideways"

    viewport = artifacts / f"seatmap-{size}.png"
    page.screenshot(path=str(viewport))
    page.screenshot(path=str(artifacts / f"seatmap-{size}-full.png"), full_page=True)
    assert viewport.stat().st_size > 10_000

    # The other pages, for a look.
    for path, name in [
        ("/", "events"),
        ("/my/bookings", "bookings"),
        ("/my/events/new", "create-event"),
        ("/account/signin", "signin"),
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(200)
        assert (
            page.evaluate("document.documentElement.scrollWidth")
            <= SIZES[size]["viewport"]["width"]
        ), path
        page.screenshot(path=str(artifacts / f"{name}-{size}.png"), full_page=True)
