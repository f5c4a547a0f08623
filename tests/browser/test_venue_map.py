"""Big venues as venues in the browser (issue 14, item 4), both modes, on the demo's own
arena (19,032 seats in the round, made through the API from the layout `make run` uses):
it opens zoomed out to its sections as shapes with their free seats (live), a click on
a section zooms to it instead of holding a speck, closer in a minimap moves the map, and
best available takes a section and wheelchair access and zooms to what it picked. At
desktop size on one mode and phone size on the other (`one_per_mode`;
BOXOFFICE_FULL_MATRIX=1 runs all four).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from backend.demo import arena_spec
from tests.browser.sizes import SIZES

pytestmark = pytest.mark.browser


def arena() -> dict[str, Any]:
    """The demo arena's layout, as the layout form of `POST /events` says it."""
    sections, categories, stage = arena_spec()
    return {
        "categories": [c.as_dict() for c in categories],
        "stage": stage.as_dict(),
        "sections": [
            {
                "name": s.name,
                "x": s.x,
                "y": s.y,
                "rotation": s.rotation,
                "curve": s.curve,
                "rows": [
                    {k: v for k, v in asdict(r).items() if v is not None and v != ()}
                    for r in s.rows
                ],
            }
            for s in sections
        ],
    }


@pytest.mark.one_per_mode("size")
@pytest.mark.parametrize("size", SIZES)
def test_the_arena_as_shapes_a_click_zooms_a_minimap_and_best_available(
    api: Any, new_context: Any, ui: Any, artifacts: Path, size: str, console: Any
) -> None:
    console.allow(r"status of 409")  # best available finding nothing, on purpose
    organiser, buyer, rival = api.new_user("org"), api.new_user("buyer"), api.new_user("rival")
    event = api.create_event(organiser, name="Arena in the round", layout=arena())
    seats = {s["id"]: s for s in event["seats"]}
    assert event["stage"] is not None and len(seats) == 19_032

    page = new_context(buyer, **SIZES[size]).new_page()
    ui.open_event(page, event["id"])
    assert page.evaluate("() => window.boxoffice.overview")  # fitted, it is its sections
    shapes = {s["name"]: s for s in page.evaluate("() => window.boxoffice.sections()")}
    assert len(shapes) == 28 and all(s["free"] == s["total"] for s in shapes.values())
    page.screenshot(path=str(artifacts / f"arena-overview-{size}.png"))

    # Someone books in section 110: its free count follows, live.
    taken = [sid for sid, s in seats.items() if s["section"] == "110"][:3]
    assert api.book(rival, event["id"], taken).status_code == 201
    page.wait_for_function(
        "(total) => window.boxoffice.sections().find((s) => s.name === '110').free === total - 3",
        arg=shapes["110"]["total"],
    )

    # A click (a tap on the phone) on section 209 zooms to it; nothing is held.
    top = shapes["209"]
    point = page.evaluate("([x, y]) => window.boxoffice.worldPoint(x, y)", [top["cx"], top["cy"]])
    if size == "phone":
        page.touchscreen.tap(point["x"], point["y"])
    else:
        page.mouse.click(point["x"], point["y"])
    page.wait_for_function("() => !window.boxoffice.overview")
    expect(page.get_by_test_id("announcer")).to_contain_text("Section 209")
    assert page.evaluate("([x, y]) => window.boxoffice.worldPoint(x, y)", [top["cx"], top["cy"]])
    assert page.get_by_test_id("tray-item").count() == 0
    page.screenshot(path=str(artifacts / f"arena-section-{size}.png"))

    # Closer in, the minimap shows the whole arena; a click on it moves the map there.
    minimap = page.get_by_test_id("minimap")
    for _ in range(4):
        if minimap.is_visible():
            break
        page.get_by_test_id("zoom-in").click()
    expect(minimap).to_be_visible()
    before = page.evaluate("() => window.boxoffice.centre")
    box = minimap.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.9)  # 201
    after = page.evaluate("() => window.boxoffice.centre")
    assert after["y"] - before["y"] > 100, (before, after)  # from the top stands to the bottom
    page.screenshot(path=str(artifacts / f"arena-minimap-{size}.png"))

    # The keyboard's seat button, focused while zoomed out, shows its seat's section
    # (a seat is not drawn among the shapes).
    page.get_by_test_id("zoom-fit").click()
    page.wait_for_function("() => window.boxoffice.overview")
    page.get_by_test_id("seat-cursor").focus()
    page.wait_for_function("() => !window.boxoffice.overview")

    # Best available, wheelchair spaces in section 101: it holds them and zooms to them.
    page.get_by_test_id("zoom-fit").click()
    page.wait_for_function("() => window.boxoffice.overview")
    expect(minimap).to_be_hidden()  # fitted: the map is the whole arena
    page.get_by_test_id("best-section").select_option("101")
    page.get_by_test_id("best-accessible").check()
    page.get_by_test_id("best-count").fill("2")
    page.get_by_test_id("best-submit").click()
    expect(page.get_by_test_id("tray-item")).to_have_count(2)
    mine = page.evaluate(
        "(ids) => ids.filter((id) => window.boxoffice.seatState(id).mine)", list(seats)
    )
    assert len(mine) == 2
    assert all(seats[m]["section"] == "101" and seats[m]["accessible"] for m in mine)
    assert page.evaluate("() => window.boxoffice.scale") >= 16
    for m in mine:  # on screen
        assert page.evaluate(
            "([x, y]) => window.boxoffice.worldPoint(x, y)", [seats[m]["x"], seats[m]["y"]]
        )
    # Zoomed in that far, the curved rows on screen are named: at their ends, or pinned
    # on their first seat on screen when both ends are off it.
    captions = page.evaluate("window.boxoffice.rowCaptions")
    assert {"20", "19"} <= {c["text"] for c in captions}, captions
    page.screenshot(path=str(artifacts / f"arena-best-available-{size}.png"))

    # A price range, either way. Up to £35.00 in section 201 passes over its nearer,
    # dearer rows for its rear; £89.00 and more there finds nothing (it has no such seat).
    page.get_by_test_id("best-accessible").uncheck()
    options = page.get_by_test_id("best-price").locator("option").all_inner_texts()
    assert options == [
        "Any price",
        "Up to £35.00",
        "Up to £55.00",
        "£55.00 and more",
        "£89.00 and more",
    ], options
    page.get_by_test_id("best-section").select_option("201")
    page.get_by_test_id("best-price").select_option(label="Up to £35.00")
    page.get_by_test_id("best-count").fill("1")
    page.get_by_test_id("best-submit").click()
    expect(page.get_by_test_id("tray-item")).to_have_count(3)
    mine = page.evaluate(
        "(ids) => ids.filter((id) => window.boxoffice.seatState(id).mine)", list(seats)
    )
    rear = [m for m in mine if seats[m]["section"] == "201"]
    assert len(rear) == 1 and seats[rear[0]]["category"] == "rear", rear
    page.get_by_test_id("best-price").select_option(label="£89.00 and more")
    page.get_by_test_id("best-submit").click()
    expect(page.get_by_test_id("message")).to_contain_text("aren\u2019t that many seats together")
    expect(page.get_by_test_id("tray-item")).to_have_count(3)
    results = Axe().run(page)
    assert not results.violations_count, results.generate_report()
