"""Row letters that stay on screen (issue 14, item 3), both modes.

Zoomed in on the middle of long rows, both ends of every row are off screen: each
row's letter is then pinned to the map's edge, so the rows on screen stay named.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_zoomed_into_long_rows_every_row_on_screen_keeps_its_letter(
    api: Any, new_context: Any, ui: Any, artifacts: Any
) -> None:
    event = api.small_event(api.new_user("org"), rows="ABCDEF", seats=60)
    page = new_context(viewport={"width": 1000, "height": 700}).new_page()
    ui.open_event(page, event["id"])
    fitted = page.evaluate("window.boxoffice.rowCaptions")
    assert not [c for c in fitted if c["pinned"]], fitted  # the whole map: letters at the ends

    for _ in range(6):
        page.get_by_test_id("zoom-in").click()
    # Bring the middle of row C into view: both ends of the rows are now off screen.
    assert page.evaluate("(id) => window.boxoffice.seatPoint(id)", api.seat_id(event, "C30"))
    captions = page.wait_for_function(
        "() => { const c = window.boxoffice.rowCaptions; return c.some((x) => x.pinned) && c; }"
    ).json_value()
    canvas = page.get_by_test_id("seatmap").bounding_box()
    named = {c["text"] for c in captions}
    assert "C" in named, captions
    for c in captions:
        assert 0 <= c["x"] <= canvas["width"], c
        assert c["pinned"], c  # no row end is on screen at this zoom
    page.screenshot(path=artifacts / "row-captions-pinned.png")


def test_a_phones_first_view_names_the_rows(
    api: Any, new_context: Any, ui: Any, artifacts: Any
) -> None:
    """On a phone a venue opens at 8 to 12 px a seat: the rows' letters show at their
    starts (every other row where they would touch), before any zooming."""
    event = api.small_event(api.new_user("org"), rows="ABCDEFGH", seats=32)
    phone = {"width": 390, "height": 844}
    page = new_context(viewport=phone, is_mobile=True, has_touch=True).new_page()
    ui.open_event(page, event["id"])
    pitch = page.evaluate("window.boxoffice.seatPitch")
    assert 8 <= pitch < 12, pitch  # the layout is chosen to open at this zoom on a phone
    captions = page.evaluate("window.boxoffice.rowCaptions")
    named = [c["text"] for c in captions]
    assert named and named[0] == "A" and len(named) >= 4, captions
    assert all(c["align"] == "right" or c["pinned"] for c in captions), captions
    page.screenshot(path=artifacts / "row-captions-phone.png")
