"""Big venues as venues in the browser (issue 14, item 4), both modes: a venue placed
around its stage opens zoomed out to its sections as shapes with their free seats
(live), a click on a section zooms to it instead of holding a speck, closer in a
minimap moves the map, and best available takes a section and wheelchair access and
zooms to what it picked.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

RADIUS = 80  # the front rows' arc: a venue ~180 seat pitches across
ROWS = 6
SIDES = {"North": 180, "East": -90, "South": 0, "West": 90}  # each turned to face the stage


def in_the_round() -> dict[str, Any]:
    sections = []
    for name, turn in SIDES.items():
        rows = [
            {
                "label": chr(ord("A") + r),
                "seats": int((RADIUS + r) * math.pi / 2 * 0.9),
                # Wheelchair spaces at both ends of the back row of the South stand.
                "accessible": [1, 2] if name == "South" and r == ROWS - 1 else [],
            }
            for r in range(ROWS)
        ]
        sections.append(
            {
                "name": name,
                "category": "floor" if name in ("North", "South") else "side",
                "x": -RADIUS * math.sin(math.radians(turn)),
                "y": RADIUS * math.cos(math.radians(turn)),
                "rotation": turn,
                "curve": RADIUS,
                "rows": rows,
            }
        )
    return {
        "categories": [
            {"id": "floor", "name": "Ends", "colour": "#b91c1c", "price": 6000},
            {"id": "side", "name": "Sides", "colour": "#1d4ed8", "price": 3000},
        ],
        "stage": {"x": -20, "y": -12, "width": 40, "height": 24},
        "sections": sections,
    }


def test_sections_as_shapes_a_click_zooms_and_best_available_filters(
    api: Any, new_context: Any, ui: Any, artifacts: Path
) -> None:
    organiser, buyer, rival = api.new_user("org"), api.new_user("buyer"), api.new_user("rival")
    event = api.create_event(organiser, name="In the round", layout=in_the_round())
    seats = {s["id"]: s for s in event["seats"]}
    assert event["stage"] is not None and len(seats) > 2000

    page = new_context(buyer, viewport={"width": 1440, "height": 900}).new_page()
    ui.open_event(page, event["id"])
    for _ in range(3):  # fitted, a venue this big is already shapes; else zoom out
        if page.evaluate("() => window.boxoffice.overview"):
            break
        page.get_by_test_id("zoom-out").click()
    assert page.evaluate("() => window.boxoffice.overview")
    shapes = {s["name"]: s for s in page.evaluate("() => window.boxoffice.sections()")}
    assert set(shapes) == set(SIDES) and all(s["free"] == s["total"] for s in shapes.values())
    page.screenshot(path=str(artifacts / "venue-overview.png"))

    # Someone books in the East stand: its free count follows, live.
    east = [sid for sid, s in seats.items() if s["section"] == "East"][:3]
    assert api.book(rival, event["id"], east).status_code == 201
    page.wait_for_function(
        "(total) => window.boxoffice.sections().find((s) => s.name === 'East').free === total - 3",
        arg=shapes["East"]["total"],
    )

    # A click on the North stand zooms to it; nothing is held.
    north = shapes["North"]
    point = page.evaluate(
        "([x, y]) => window.boxoffice.worldPoint(x, y)", [north["cx"], north["cy"]]
    )
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function("() => !window.boxoffice.overview")
    expect(page.get_by_test_id("announcer")).to_contain_text("Section North")
    assert page.evaluate(
        "([x, y]) => window.boxoffice.worldPoint(x, y)", [north["cx"], north["cy"]]
    )
    assert page.get_by_test_id("tray-item").count() == 0
    page.screenshot(path=str(artifacts / "venue-section.png"))

    # Closer in, the minimap shows the whole venue; a click on it moves the map there.
    minimap = page.get_by_test_id("minimap")
    page.get_by_test_id("zoom-in").click()
    page.get_by_test_id("zoom-in").click()
    expect(minimap).to_be_visible()
    before = page.evaluate("() => window.boxoffice.centre")
    box = minimap.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.95)  # South
    after = page.evaluate("() => window.boxoffice.centre")
    assert after["y"] - before["y"] > RADIUS, (before, after)
    page.screenshot(path=str(artifacts / "venue-minimap.png"))

    # Best available, wheelchair-accessible seats in the South stand: it holds them and
    # zooms to them.
    page.get_by_test_id("zoom-fit").click()
    page.wait_for_function("() => window.boxoffice.overview")
    expect(minimap).to_be_hidden()  # fitted: the map is the whole venue
    page.get_by_test_id("best-section").select_option("South")
    page.get_by_test_id("best-accessible").check()
    page.get_by_test_id("best-count").fill("2")
    page.get_by_test_id("best-submit").click()
    expect(page.get_by_test_id("tray-item")).to_have_count(2)
    mine = page.evaluate(
        """(ids) => ids.filter((id) => window.boxoffice.seatState(id).mine)""",
        list(seats),
    )
    assert len(mine) == 2
    assert all(seats[m]["section"] == "South" and seats[m]["accessible"] for m in mine)
    assert page.evaluate("() => window.boxoffice.scale") >= 16
    for m in mine:  # on screen
        assert page.evaluate(
            "([x, y]) => window.boxoffice.worldPoint(x, y)", [seats[m]["x"], seats[m]["y"]]
        )
    page.screenshot(path=str(artifacts / "venue-best-available.png"))
    results = Axe().run(page)
    assert not results.violations_count, results.generate_report()
