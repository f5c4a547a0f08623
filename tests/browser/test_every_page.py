"""What buyers notice on every page (issue 14, item 6), both run modes: axe-core finds
no violations on any page, at desktop and phone sizes; the header fits every width from
320 px; the legend's state swatches are neutral; event times say their time zone; events
without a date come last."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.sizes import SIZES

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/account/signin",
    "/account/signup",
    "/my/bookings",
    "/my/events",
    "/my/events/new",
    "/schema",
]


@pytest.fixture
def scene(api: Any) -> dict[str, Any]:
    """A buyer with a held seat and a booking on a dated event, so the pages have
    something to show."""
    organiser, buyer = api.new_user("org"), api.new_user("buyer")
    event = api.small_event(organiser, startsAt="2030-05-01T19:30:00Z", venue="Playhouse")
    booked, held = api.seat_id(event, "A2"), api.seat_id(event, "B4")
    assert api.hold(buyer, event["id"], [booked]).status_code == 201
    assert api.book(buyer, event["id"], [booked]).status_code == 201
    assert api.hold(buyer, event["id"], [held]).status_code == 201
    return {"event": event, "buyer": buyer}


def settle(page: Any, path: str) -> None:
    response = page.goto(path)
    page.wait_for_load_state("networkidle")
    if path.startswith("/e/") and response is not None and response.ok:
        page.wait_for_selector("[data-testid=ws-indicator][data-ws-state=live]")
    if path == "/schema":
        page.wait_for_selector(".swagger-ui .info")


@pytest.mark.one_per_mode("size")
@pytest.mark.parametrize("size", SIZES)
def test_axe_finds_nothing_on_any_page(
    scene: dict[str, Any], new_context: Any, console: Any, size: str
) -> None:
    console.allow(r"status of 404")  # the 404 page, on purpose
    page = new_context(scene["buyer"], **SIZES[size]).new_page()
    found = []
    for path in [*PAGES, f"/e/{scene['event']['id']}", f"/e/{uuid.uuid4()}"]:
        settle(page, path)
        results = Axe().run(page)
        if results.violations_count:
            found.append(f"{path}:\n{results.generate_report()}")
    assert not found, "\n".join(found)


@pytest.mark.one_per_mode("signed_in")
@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
def test_the_header_fits_from_320_px(
    scene: dict[str, Any], new_context: Any, signed_in: bool
) -> None:
    user = scene["buyer"] if signed_in else None
    page = new_context(user, viewport={"width": 390, "height": 700}).new_page()
    for path in [*PAGES[:-1], f"/e/{scene['event']['id']}"]:
        settle(page, path)
        # Each page loaded once, then narrowed: the header is laid out by CSS alone
        # (media queries), so resizing shows what loading at that width would.
        for width in (390, 360, 320):
            page.set_viewport_size({"width": width, "height": 700})
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (width, path)
            overflow = page.evaluate(
                """(width) => [...document.querySelectorAll('.site-header a, .site-header button')]
                    .filter((el) => el.getClientRects().length)
                    .map((el) => [el.textContent.trim(), el.getBoundingClientRect()])
                    .filter(([, r]) => r.left < 0 || r.right > width || r.height > 48)
                    .map(([t]) => t)""",
                width,
            )
            assert overflow == [], (width, path, overflow)


def test_the_legend_states_are_neutral_not_a_category_colour(
    scene: dict[str, Any], new_context: Any, ui: Any
) -> None:
    page = new_context().new_page()
    ui.open_event(page, scene["event"]["id"])
    # The centre pixel of the "Available" state swatch: grey, not the Premium pink that
    # is the first category's colour (categories have their own swatches).
    rgb = page.evaluate(
        """() => {
            const c = document.querySelector('[data-legend=status] li canvas');
            const d = c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data;
            return [d[0], d[1], d[2]];
        }"""
    )
    assert max(rgb) - min(rgb) < 24, f"state swatch is coloured: {rgb}"
    expect(page.locator("[data-legend=categories]")).to_contain_text("Premium")


def test_times_say_their_zone_and_undated_events_come_last(
    api: Any, scene: dict[str, Any], new_context: Any, ui: Any
) -> None:
    organiser = api.new_user("org")
    undated = api.small_event(organiser, name=f"Undated {uuid.uuid4().hex[:6]}")
    page = new_context(locale="en-GB", timezone_id="Europe/London").new_page()
    page.goto("/")
    cards = page.get_by_test_id("event-card")
    expect(cards.last).to_contain_text(undated["name"])
    expect(cards.last).to_contain_text("Date to be announced")
    dated = cards.filter(has_text=scene["event"]["name"])
    expect(dated).to_contain_text("1 May 2030, 20:30 BST")
    ui.open_event(page, scene["event"]["id"])
    expect(page.get_by_test_id("event-meta")).to_contain_text("1 May 2030, 20:30 BST")
