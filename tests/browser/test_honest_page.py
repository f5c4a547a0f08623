"""A page that never lies (issue 14, item 5), both run modes, desktop and phone: a
connection that stops passing data without closing is caught by the client's deadline,
the page says "Reconnecting — the map may be out of date" at once, and the banner goes
when a fresh snapshot has made the map current; unknown pages and events get an HTML 404
page with a way back to the events."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.sizes import SIZES

pytestmark = pytest.mark.browser

SOCKET = re.compile(r"/ws/events/")
TEST_DEADLINE_MS = 3000  # the page's is 25 s; the test hook shortens it


class Link:
    """The page's websocket through Playwright's router: while `mute` is set, what the
    server sends is dropped. The socket stays open and the page's pings still reach
    the server; nothing comes back, as with a half-open connection."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.mute = False
        self.opened = 0
        self.dropped_snapshots = 0
        page.route_web_socket(SOCKET, self.route)

    def route(self, ws: Any) -> None:
        self.opened += 1
        server = ws.connect_to_server()

        def forward(message: str | bytes) -> None:
            if not self.mute:
                ws.send(message)
            elif isinstance(message, str) and message.startswith('{"type":"snapshot"'):
                self.dropped_snapshots += 1

        server.on_message(forward)

    def until(self, condition: Callable[[], bool], what: str, timeout_ms: float = 15_000) -> None:
        """Poll a condition on the router's side with a deadline (Playwright runs the
        router's callbacks while the test waits in a Playwright call)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.page.wait_for_timeout(50)


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def check_axe(page: Any) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.one_per_mode("size")
@pytest.mark.parametrize("size", SIZES)
def test_a_silent_connection_shows_the_banner_until_a_fresh_snapshot(
    api: Any, new_context: Any, ui: Any, artifacts: Path, size: str
) -> None:
    organiser, buyer, other = api.new_user("org"), api.new_user("buyer"), api.new_user("other")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "B3")
    page = new_context(buyer, **SIZES[size]).new_page()
    link = Link(page)
    ui.open_event(page, event["id"])
    banner, indicator = page.get_by_test_id("stale-banner"), page.get_by_test_id("ws-indicator")
    assert page.evaluate("window.boxoffice.liveDeadlineMs") == 25_000
    expect(banner).to_have_count(0)
    page.evaluate(f"window.boxoffice.liveDeadlineMs = {TEST_DEADLINE_MS}")

    # Silence, not a close: the socket stays open, and a change made now never arrives.
    link.mute = True
    assert api.hold(other, event["id"], [seat]).status_code == 201
    expect(banner).to_be_visible(timeout=30_000)
    expect(banner).to_have_text(re.compile(r"^Reconnecting — the map may be out of date\."))
    expect(indicator).to_have_attribute("data-ws-state", "reconnecting")
    # Announced politely: the banner lands in a status region that was already there.
    status = page.get_by_test_id("stale-status")
    expect(status).to_have_attribute("role", "status")
    assert status.evaluate("(s, b) => s.contains(b)", banner.element_handle())
    # In view, and over none of the map's controls.
    box = banner.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= SIZES[size]["viewport"]["height"]
    for control in ("zoom-in", "zoom-out", "zoom-fit", "seatmap"):
        assert not overlaps(box, page.get_by_test_id(control).bounding_box()), control
    assert ui.seat_state(page, seat)["status"] == "available"  # stale, and it says so
    page.screenshot(path=str(artifacts / f"stale-banner-{size}.png"))
    check_axe(page)

    # The silent socket is given up and redialled, and the redial is as silent: the
    # server answers it with a snapshot the page never gets, and the page stays stale ...
    dropped = link.dropped_snapshots
    link.until(lambda: link.dropped_snapshots > dropped, "a redial's snapshot to be dropped")
    expect(banner).to_be_visible()
    # ... until the connection passes data again: a fresh snapshot, the truth, no banner.
    # (The hold's change was sent while the link was mute: only a snapshot brings it. The
    # snapshot may come on a socket dialled just before unmuting, so count none.)
    link.mute = False
    expect(indicator).to_have_attribute("data-ws-state", "live", timeout=20_000)
    expect(banner).to_have_count(0)
    ui.wait_seat(page, seat, "held", mine=False)


@pytest.mark.parametrize("size", SIZES)
def test_unknown_pages_and_events_get_the_404_page(
    new_context: Any, console: Any, artifacts: Path, size: str
) -> None:
    # Chromium logs each 404 document as a failed resource: expected here.
    console.allow(r"status of 404")
    page = new_context(**SIZES[size]).new_page()
    for path, heading in [
        (f"/e/{uuid.uuid4()}", "Event not found"),
        ("/e/not-a-uuid", "Event not found"),
        ("/nope", "Page not found"),
        ("/my/nope", "Page not found"),
    ]:
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page).to_have_title(f"{heading} · Boxoffice")
        assert (
            page.evaluate("document.documentElement.scrollWidth")
            <= SIZES[size]["viewport"]["width"]
        )
    page.screenshot(path=str(artifacts / f"not-found-{size}.png"), full_page=True)
    check_axe(page)
    page.get_by_test_id("not-found-home").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
