"""One honest cart timer (issue 14, item 1), on both modes: at desktop size on one and phone
size on the other (`one_per_mode`; BOXOFFICE_FULL_MATRIX=1 runs all four).

A buyer's holds on an event share one end: a timer that is always on screen, a warning
with "More time" before the end (said in the polite live region), and at the end a
dialog that says the seats were released and holds those still free again. More time
pressed in the last moment waits for its answer (up to two seconds) before the dialog:
the seats held again get no "released" dialog (or it closes), the seats lost do.

The event's hold time is 9 s (the warning comes at half of it, 4.5 s before the end), so
the whole story takes about 16 s; every wait is on the page's state.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.sizes import SIZES

pytestmark = pytest.mark.browser

HOLD_SECONDS = 9
# The text of a cart timer that is on screen (inside the viewport), or null.
TIMER_ON_SCREEN = """() => {
    for (const el of document.querySelectorAll("[data-cart-timer]")) {
        const r = el.getBoundingClientRect();
        if (r.width && r.height && r.top >= 0 && r.bottom <= innerHeight) return el.textContent;
    }
    return null;
}"""


def seconds(text: str) -> int:
    match = re.fullmatch(r"(\d+):(\d\d)", text)
    assert match, text
    return int(match[1]) * 60 + int(match[2])


def wait_timer(page: Any, low: int, high: int) -> None:
    """Until the on-screen cart timer reads between low and high seconds."""
    page.wait_for_function(
        f"""() => {{
            const text = ({TIMER_ON_SCREEN})();
            const m = text && /^(\\d+):(\\d\\d)$/.exec(text);
            return m && {low} <= m[1] * 60 + +m[2] && m[1] * 60 + +m[2] <= {high};
        }}""",
        polling=100,
        timeout=20_000,
    )


def held_until(page: Any, seat_id: str) -> str:
    return str(page.evaluate("(id) => window.boxoffice.seatState(id).heldUntil", seat_id))


@pytest.fixture(scope="module")
def people(api: Any) -> Iterator[SimpleNamespace]:
    """Shared by this module's tests (each uses its own event, so its own carts): making
    accounts for each test would run into the sign-in throttle."""
    yield SimpleNamespace(
        organiser=api.new_user("org"), buyer=api.new_user("buyer"), rival=api.new_user("rival")
    )


def check_axe(page: Any, selector: str) -> None:
    results = Axe().run(page, context=selector)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.one_per_mode("size")
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_one_timer_a_warning_with_more_time_and_a_dialog_at_the_end(
    api: Any, people: Any, new_context: Any, ui: Any, artifacts: Path, size: str
) -> None:
    organiser, buyer, rival = people.organiser, people.buyer, people.rival
    event = api.small_event(organiser, holdSeconds=HOLD_SECONDS)
    a1, a2 = api.seat_id(event, "A1"), api.seat_id(event, "A2")
    page = new_context(buyer, **SIZES[size]).new_page()
    ui.open_event(page, event["id"])

    # Two seats held at different times share one end and one timer.
    assert api.hold(buyer, event["id"], [a1]).status_code == 201
    ui.wait_seat(page, a1, "held", mine=True)
    wait_timer(page, 0, HOLD_SECONDS - 2)  # time has passed on A1's hold
    assert api.hold(buyer, event["id"], [a2]).status_code == 201
    page.wait_for_function(
        """([a, b]) => {
            const [x, y] = [a, b].map((id) => window.boxoffice.seatState(id));
            return x.mine && y.mine && y.heldUntil && x.heldUntil === y.heldUntil;
        }""",
        arg=[a1, a2],
    )
    wait_timer(page, HOLD_SECONDS - 3, HOLD_SECONDS)  # back to the whole hold time
    assert page.evaluate(TIMER_ON_SCREEN) is not None
    expect(page.get_by_test_id("tray-item")).to_have_count(2)
    expect(page.locator("[data-countdown]")).to_have_count(0)  # no timer per seat
    page.screenshot(path=str(artifacts / f"cart-timer-{size}.png"))

    # The warning, said once politely, with More time.
    warning = page.get_by_test_id("cart-warning")
    expect(warning).to_be_visible(timeout=15_000)
    expect(warning).to_be_in_viewport()
    expect(page.get_by_test_id("cart-warning-text")).to_contain_text("released in")
    expect(page.get_by_test_id("announcer")).to_contain_text("Choose More time")
    page.screenshot(path=str(artifacts / f"cart-warning-{size}.png"))
    check_axe(page, "[data-testid=cart-warning]")
    before = held_until(page, a1)
    page.get_by_test_id("more-time").click()
    expect(warning).to_be_hidden()
    expect(page.get_by_test_id("message")).to_contain_text("More time")
    assert held_until(page, a1) > before
    assert held_until(page, a1) == held_until(page, a2)
    wait_timer(page, HOLD_SECONDS - 3, HOLD_SECONDS)

    # The end: a dialog, announced, with focus inside it; A2 is taken meanwhile.
    dialog = page.get_by_test_id("cart-expired")
    expect(dialog).to_be_visible(timeout=20_000)
    expect(dialog).to_have_attribute("role", "alertdialog")
    expect(page.get_by_test_id("cart-expired-text")).to_have_text(
        "Your hold on A1 and A2 ran out, so they were released for others to buy."
    )
    expect(page.get_by_test_id("announcer")).to_contain_text("Your seats were released")
    assert page.evaluate("() => !!document.activeElement.closest('[data-testid=cart-expired]')")
    assert api.hold(rival, event["id"], [a2]).status_code == 201
    ui.wait_seat(page, a2, "held", mine=False)
    page.screenshot(path=str(artifacts / f"cart-expired-{size}.png"))
    check_axe(page, "[data-testid=cart-expired]")

    page.get_by_test_id("hold-again").click()
    ui.wait_seat(page, a1, "held", mine=True)
    expect(page.get_by_test_id("cart-expired-result")).to_have_text(
        "A1 is held for you again. A2 has been taken by someone else."
    )
    expect(page.get_by_test_id("hold-again")).to_be_hidden()
    page.screenshot(path=str(artifacts / f"cart-held-again-{size}.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("tray-item")).to_have_count(1)
    wait_timer(page, HOLD_SECONDS - 3, HOLD_SECONDS)


def test_hold_again_with_every_seat_free_closes_the_dialog(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    organiser, buyer = people.organiser, people.buyer
    event = api.small_event(organiser, holdSeconds=3)
    b1, b2 = api.seat_id(event, "B1"), api.seat_id(event, "B2")
    page = new_context(buyer, viewport={"width": 1440, "height": 900}).new_page()
    ui.open_event(page, event["id"])
    page.get_by_test_id("best-count").focus()  # where focus goes back after the dialog
    assert api.hold(buyer, event["id"], [b1, b2]).status_code == 201
    dialog = page.get_by_test_id("cart-expired")
    expect(dialog).to_be_visible(timeout=15_000)
    page.get_by_test_id("hold-again").click()
    expect(dialog).to_be_hidden()
    ui.wait_seat(page, b1, "held", mine=True)
    ui.wait_seat(page, b2, "held", mine=True)
    expect(page.get_by_test_id("message")).to_contain_text("B1 and B2 are held for you again.")
    expect(page.get_by_test_id("best-count")).to_be_focused()


def more_time_held_back(
    api: Any, people: Any, new_context: Any, ui: Any, *, past_the_end: bool = True
) -> Any:
    """A page whose buyer held C1 (6 s holds: the warning shows 5 s before the end) and
    pressed More time, with its request held back until the page saw C1 released. Returns
    the page, the seat, its end before, and the held-back request."""
    organiser, buyer = people.organiser, people.buyer
    event = api.small_event(organiser, holdSeconds=6)
    c1 = api.seat_id(event, "C1")
    page = new_context(buyer, viewport={"width": 1440, "height": 900}).new_page()
    ui.open_event(page, event["id"])
    assert api.hold(buyer, event["id"], [c1]).status_code == 201
    ui.wait_seat(page, c1, "held", mine=True)
    waiting: list[Any] = []

    def hold_back(route: Any) -> None:
        if route.request.method == "POST":
            waiting.append(route)  # More time's hold
        else:
            route.continue_()

    page.route(re.compile(r"/events/[^/]+/holds$"), hold_back)
    expect(page.get_by_test_id("cart-warning")).to_be_visible(timeout=10_000)
    before = held_until(page, c1)
    page.get_by_test_id("more-time").click()
    if past_the_end:
        ui.wait_seat(page, c1, "available", timeout=15_000)
    for _ in range(500):  # until the route has it: each round trip lets Playwright call it
        if waiting:
            break
        page.evaluate("0")
    assert len(waiting) == 1, "More time sent one hold request"
    return SimpleNamespace(page=page, event=event, seat=c1, before=before, request=waiting[0])


def test_more_time_answered_after_the_end_holds_again_without_the_expiry_dialog(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    """More time pressed in the last moment: the holds run out while its request is on the
    way, the server holds the seats again (they were free), and the page says "More time"
    with the new timer, not "your seats were released" over seats the tray shows held."""
    late = more_time_held_back(api, people, new_context, ui)
    page, c1 = late.page, late.seat
    late.request.continue_()

    ui.wait_seat(page, c1, "held", mine=True)
    assert held_until(page, c1) > late.before
    expect(page.get_by_test_id("message")).to_contain_text("More time: your seats are held for")
    expect(page.get_by_test_id("cart-expired")).to_be_hidden()
    expect(page.get_by_test_id("tray-item")).to_have_count(1)
    wait_timer(page, 1, 6)


def test_more_time_answered_long_after_the_end_closes_the_expiry_dialog(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    """The answer is slow: the dialog does not wait for it for ever (it says the hold ran
    out after ANSWER_WAIT_MS), and closes when the answer holds the seats again."""
    late = more_time_held_back(api, people, new_context, ui)
    page, c1 = late.page, late.seat
    dialog = page.get_by_test_id("cart-expired")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("cart-expired-text")).to_have_text(
        "Your hold on C1 ran out, so it was released for others to buy."
    )
    late.request.continue_()

    ui.wait_seat(page, c1, "held", mine=True)
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("message")).to_contain_text("More time: your seats are held for")
    expect(page.get_by_test_id("tray-item")).to_have_count(1)


def test_more_time_refused_after_the_end_shows_the_expiry_dialog(
    api: Any, people: Any, new_context: Any, ui: Any, console: Any
) -> None:
    """The same, but someone else held the seat before More time reached the server: the
    refusal is said, and the dialog that waited for the answer says the hold ran out."""
    console.allow(r"status of 423")  # the refused More time
    late = more_time_held_back(api, people, new_context, ui)
    page = late.page
    assert api.hold(people.rival, late.event["id"], [late.seat]).status_code == 201
    ui.wait_seat(page, late.seat, "held", mine=False)
    late.request.continue_()

    expect(page.get_by_test_id("cart-expired")).to_be_visible()
    expect(page.get_by_test_id("cart-expired-text")).to_have_text(
        "Your hold on C1 ran out, so it was released for others to buy."
    )
    expect(page.get_by_test_id("announcer")).to_contain_text("Your seats were released")
    expect(page.get_by_test_id("message")).to_contain_text("Someone else got there first")
    expect(page.get_by_test_id("tray-item")).to_have_count(0)


def test_releasing_waits_while_more_time_is_on_its_way(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    """More time holds every seat it named: a release sent before its answer would be
    undone by it, the seat back in the tray. So the tray's release buttons are off until
    the answer, and on again after it."""
    late = more_time_held_back(api, people, new_context, ui, past_the_end=False)
    page = late.page
    releases = page.locator("[data-testid=tray-release], [data-testid=release-all]")
    expect(releases).to_have_count(2)
    for i in range(2):
        expect(releases.nth(i)).to_be_disabled()
    late.request.continue_()
    expect(page.get_by_test_id("message")).to_contain_text("More time: your seats are held for")
    for i in range(2):
        expect(releases.nth(i)).to_be_enabled()
    page.get_by_test_id("tray-release").click()
    ui.wait_seat(page, late.seat, "available")
    expect(page.get_by_test_id("tray-item")).to_have_count(0)
