"""Phones (issue 14, item 3), both modes, at 390x844 with touch.

A tap where seats are too small to aim at zooms in on the spot instead of holding the
neighbour; the next tap, on seats big enough, holds. While the tray's Book button is
off screen (the tray is below the map on a phone), a bar at the bottom shows the count,
the total and the cart timer, and books. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
TAP_MIN_PX = 24  # frontend/seatmap/input.js

# Is the element with this data-testid inside the viewport (and shown)?
ON_SCREEN = """(t) => {
    const el = document.querySelector(`[data-testid=${t}]`);
    if (!el || el.closest("[hidden]")) return false;
    const r = el.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.width > 0;
}"""


def tap(page: Any, sid: str) -> None:
    point = page.evaluate("(id) => window.boxoffice.seatPoint(id)", sid)
    assert point, f"seat {sid} is not on the map"
    page.touchscreen.tap(point["x"], point["y"])


def test_a_tap_on_seats_too_small_to_aim_at_zooms_and_the_next_tap_holds(
    api: Any, new_context: Any, ui: Any, artifacts: Path
) -> None:
    organiser, buyer = api.new_user("org"), api.new_user("phone")
    event = api.small_event(organiser, rows="ABCDEFGHJKLM", seats=30)
    page = new_context(buyer, **PHONE).new_page()
    ui.open_event(page, event["id"])
    seat = api.seat_id(event, "F15")
    pitch = page.evaluate("window.boxoffice.seatPitch")
    assert pitch < TAP_MIN_PX, f"the fitted map's seats are {pitch} px: nothing to zoom"

    tap(page, seat)
    page.wait_for_function(f"() => window.boxoffice.seatPitch >= {TAP_MIN_PX}")
    assert page.evaluate("(id) => window.boxoffice.seatState(id)", seat)["status"] == "available"
    expect(page.get_by_test_id("tray-item")).to_have_count(0)
    expect(page.get_by_test_id("announcer")).to_contain_text("Zoomed in")
    page.screenshot(path=str(artifacts / "phone-tap-zoomed.png"))

    tap(page, seat)
    ui.wait_seat(page, seat, "held", mine=True)
    expect(page.get_by_test_id("tray-item")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_phone_bar_shows_the_cart_and_books_while_the_trays_book_is_off_screen(
    api: Any, new_context: Any, ui: Any, artifacts: Path
) -> None:
    organiser, buyer = api.new_user("org"), api.new_user("phone")
    event = api.small_event(organiser, rows="ABCD", seats=8)
    page = new_context(buyer, **PHONE).new_page()
    ui.open_event(page, event["id"])
    seats = [api.seat_id(event, label) for label in ("C3", "C4")]
    bar = page.get_by_test_id("tray-peek")
    expect(bar).to_be_hidden()  # nothing held
    for sid in seats:
        ui.click_seat(page, sid)
        ui.wait_seat(page, sid, "held", mine=True)

    # The map fills the screen: the tray's Book is below it, the bar is up.
    page.evaluate("window.scrollTo(0, 0)")
    assert not page.evaluate(ON_SCREEN, "book-button")
    expect(bar).to_be_visible()
    expect(page.get_by_test_id("peek-text")).to_have_text("2 seats · £50.00")
    expect(page.get_by_test_id("peek-timer")).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(page.get_by_test_id("peek-book")).to_be_enabled()
    expect(page.get_by_test_id("peek-book")).to_have_attribute(
        "aria-label", "Book 2 seats for £50.00"
    )
    page.screenshot(path=str(artifacts / "phone-bar.png"))

    # With the tray's own Book on screen the bar steps aside.
    page.get_by_test_id("book-button").scroll_into_view_if_needed()
    expect(bar).to_be_hidden()
    page.evaluate("window.scrollTo(0, 0)")
    expect(bar).to_be_visible()

    page.get_by_test_id("peek-book").click()
    expect(page.get_by_test_id("message")).to_contain_text("Booked 2 seats")
    for sid in seats:
        ui.wait_seat(page, sid, "booked", mine=True)
    expect(bar).to_be_hidden()  # nothing held any more
    booked = api.client.get("/bookings", headers={"Authorization": f"Bearer {buyer.token}"})
    assert sorted(b["seat"]["id"] for b in booked.json()["bookings"]) == sorted(seats)


@pytest.mark.one_per_mode("viewport")
@pytest.mark.parametrize(
    "viewport",
    [{"width": 390, "height": 844}, {"width": 1440, "height": 900}],
    ids=["phone", "desktop"],
)
def test_messages_never_cover_the_map(api: Any, new_context: Any, ui: Any, viewport: Any) -> None:
    """A message (here: best available's) takes the zoom row's hint line, beside the zoom
    buttons: nothing of the map is under it, and the map did not move for it."""
    organiser, buyer = api.new_user("org"), api.new_user("buyer")
    event = api.small_event(organiser)
    page = new_context(buyer, viewport=viewport).new_page()
    ui.open_event(page, event["id"])
    seatmap = page.get_by_test_id("seatmap")
    before = seatmap.bounding_box()
    page.get_by_test_id("best-count").fill("2")
    page.get_by_test_id("best-submit").click()
    message = page.get_by_test_id("message")
    expect(message).to_contain_text("Held")
    box, map_box = message.bounding_box(), seatmap.bounding_box()
    assert box is not None and map_box is not None and before is not None
    assert box["y"] + box["height"] <= map_box["y"], (box, map_box)  # above it, not on it
    assert map_box["y"] == before["y"]  # and the map stayed where it was
