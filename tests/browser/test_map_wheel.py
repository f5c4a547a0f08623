"""The mouse wheel and the seat map (issue 14, item 6), both modes, on a desktop.

The wheel zooms the map only while the buyer is working it (pressed on it since last
pressing elsewhere) or with Ctrl held; otherwise the page scrolls past it and a hint
says how to zoom. A map that grabs the wheel traps whoever scrolls down the page.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def pitch(page: Any) -> float:
    value: float = page.evaluate("window.boxoffice.seatPitch")
    return value


def test_the_wheel_scrolls_the_page_unless_the_map_is_in_use_or_ctrl_is_held(
    api: Any, new_context: Any, ui: Any
) -> None:
    event = api.small_event(api.new_user("org"), rows="ABCDEFGH", seats=12)
    page = new_context(viewport={"width": 1280, "height": 600}).new_page()
    ui.open_event(page, event["id"])
    box = page.get_by_test_id("seatmap").bounding_box()
    corner = (box["x"] + 8, box["y"] + 8)  # inside the map, on no seat
    fitted = pitch(page)
    hint = page.get_by_test_id("map-wheel-hint")

    page.mouse.move(*corner)
    page.mouse.wheel(0, 200)
    expect(hint).to_be_visible()
    page.wait_for_function("() => window.scrollY > 0")  # the page scrolled past the map
    assert pitch(page) == fitted

    page.keyboard.down("Control")
    page.mouse.wheel(0, -30)  # (ctrl+wheel is a trackpad's pinch: brisk)
    page.keyboard.up("Control")
    page.wait_for_function(f"() => window.boxoffice.seatPitch > {fitted}")

    zoomed = pitch(page)
    box = page.get_by_test_id("seatmap").bounding_box()
    page.mouse.click(box["x"] + 8, box["y"] + 8)  # working the map now
    page.mouse.wheel(0, -100)
    page.wait_for_function(f"() => window.boxoffice.seatPitch > {zoomed}")

    page.get_by_test_id("event-name").click()  # pressed elsewhere: the page's again
    zoomed = pitch(page)
    scrolled = page.evaluate("window.scrollY")
    box = page.get_by_test_id("seatmap").bounding_box()
    page.mouse.move(box["x"] + 8, box["y"] + 8)
    page.mouse.wheel(0, 150)
    page.wait_for_function(f"() => window.scrollY !== {scrolled}")
    assert pitch(page) == zoomed
    assert page.evaluate("window.boxoffice.myHeldSeatIds") == []  # no click held a seat
