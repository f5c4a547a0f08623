"""Seat maps follow each other live: two people, one person in two tabs, conflicts."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# The design promises every open map converges within about a second.
LIVE_MS = 1000


def test_two_users_hold_book_cancel_live(api: Any, new_context: Any, ui: Any) -> None:
    organiser, alice, bob = api.new_user("org"), api.new_user("alice"), api.new_user("bob")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "B4")

    page_a = new_context(alice).new_page()
    page_b = new_context(bob).new_page()
    ui.open_event(page_a, event["id"])
    ui.open_event(page_b, event["id"])

    # A holds by clicking; B's map shows it held (not B's) within a second.
    ui.click_seat(page_a, seat)
    ui.wait_seat(page_a, seat, "held", mine=True)
    started = time.monotonic()
    ui.wait_seat(page_b, seat, "held", mine=False, timeout=LIVE_MS)
    print(f"\nhold seen by the other user after {1000 * (time.monotonic() - started):.0f} ms")

    # A's tray lists the seat, the cart timer and the total price.
    tray_item = page_a.get_by_test_id("tray-item")
    expect(tray_item).to_have_count(1)
    expect(tray_item).to_contain_text("B4")
    expect(page_a.get_by_test_id("tray-countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(page_a.get_by_test_id("tray-total")).to_have_text("£25.00")

    # B hovers the seat: it is locked, with the time left.
    point = page_b.evaluate("(id) => window.boxoffice.seatPoint(id)", seat)
    page_b.mouse.move(point["x"], point["y"])
    expect(page_b.get_by_test_id("seat-tooltip")).to_contain_text(
        re.compile(r"Held by someone else, free in \d+:\d\d")
    )

    # A books; B sees it booked.
    page_a.get_by_test_id("book-button").click()
    ui.wait_seat(page_a, seat, "booked", mine=True)
    started = time.monotonic()
    ui.wait_seat(page_b, seat, "booked", mine=False, timeout=LIVE_MS)
    print(f"booking seen after {1000 * (time.monotonic() - started):.0f} ms")
    expect(page_a.get_by_test_id("tray-item")).to_have_count(0)
    expect(page_a.get_by_test_id("tray-booked")).to_contain_text("booked 1 seat")

    # A cancels from "My bookings"; B sees the seat free again.
    page_a.goto("/my/bookings")
    row = page_a.locator(f"[data-testid=booking][data-seat-id='{seat}']")
    expect(row).to_contain_text("B4")
    row.get_by_test_id("cancel-booking").click()
    row.get_by_test_id("confirm-cancel").click()
    expect(row.get_by_test_id("booking-status")).to_have_text("Cancelled")
    started = time.monotonic()
    ui.wait_seat(page_b, seat, "available", mine=False, timeout=LIVE_MS)
    print(f"cancellation seen after {1000 * (time.monotonic() - started):.0f} ms")


def test_same_user_two_tabs_share_holds(api: Any, new_context: Any, ui: Any) -> None:
    organiser, alice = api.new_user("org"), api.new_user("alice")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "C3")

    context = new_context(alice)
    tab1, tab2 = context.new_page(), context.new_page()
    ui.open_event(tab1, event["id"])
    ui.open_event(tab2, event["id"])

    ui.click_seat(tab1, seat)
    ui.wait_seat(tab1, seat, "held", mine=True)
    ui.wait_seat(tab2, seat, "held", mine=True, timeout=LIVE_MS)
    expect(tab2.get_by_test_id("tray-item")).to_have_count(1)
    expect(tab2.get_by_test_id("tray-item")).to_contain_text("C3")

    # Release from the other tab's tray: both tabs show it free.
    tab2.get_by_test_id("tray-release").click()
    ui.wait_seat(tab2, seat, "available")
    ui.wait_seat(tab1, seat, "available", timeout=LIVE_MS)
    expect(tab1.get_by_test_id("tray-item")).to_have_count(0)


def test_signing_out_in_one_tab_signs_out_the_others(api: Any, new_context: Any, ui: Any) -> None:
    organiser, alice = api.new_user("org"), api.new_user("alice")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "A2")
    context = new_context(alice)
    tab1, tab2 = context.new_page(), context.new_page()
    ui.open_event(tab1, event["id"])
    ui.click_seat(tab1, seat)
    ui.wait_seat(tab1, seat, "held", mine=True)
    tab2.goto("/")
    tab2.get_by_test_id("nav-signout").click()
    # Tab 1 heard the storage event: signed-out tray, and the hold is no longer "mine".
    expect(tab1.get_by_test_id("tray-signedout")).to_be_visible()
    expect(tab1.get_by_test_id("nav-signin")).to_be_visible()
    ui.wait_seat(tab1, seat, "held", mine=False)


def test_someone_elses_hold_is_refused_and_the_map_stays_true(
    api: Any, new_context: Any, ui: Any
) -> None:
    organiser, alice, bob = api.new_user("org"), api.new_user("alice"), api.new_user("bob")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "D5")

    page_a = new_context(alice).new_page()
    page_b = new_context(bob).new_page()
    ui.open_event(page_a, event["id"])
    ui.open_event(page_b, event["id"])
    ui.click_seat(page_a, seat)
    ui.wait_seat(page_a, seat, "held", mine=True)
    ui.wait_seat(page_b, seat, "held", mine=False)
    before = ui.seat_state(page_b, seat)

    ui.click_seat(page_b, seat)
    message = page_b.get_by_test_id("message")
    expect(message).to_be_visible()
    expect(message).to_contain_text(re.compile(r"D5 is held by someone else"))
    expect(message).to_have_attribute("data-kind", "error")
    # Nothing changed, on either map or on the server.
    page_b.wait_for_timeout(300)
    assert ui.seat_state(page_b, seat) == before
    expect(page_b.get_by_test_id("tray-item")).to_have_count(0)
    ui.wait_seat(page_a, seat, "held", mine=True)
    held = api.client.get(f"/events/{event['id']}").json()
    assert next(s for s in held["seats"] if s["id"] == seat)["status"] == "held"


def test_conflict_from_the_server_when_my_map_is_behind(
    api: Any, new_context: Any, ui: Any, console: Any
) -> None:
    """B's socket drops A's change, so B's map still says free: the server's 423 wins."""
    console.allow(r"status of 423")  # Chromium logs the refused request itself
    organiser, alice, bob = api.new_user("org"), api.new_user("alice"), api.new_user("bob")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "B6")

    page_b = new_context(bob).new_page()
    frozen = {"on": False}

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()
        server.on_message(lambda m: None if frozen["on"] else ws.send(m))
        ws.on_message(lambda m: server.send(m))

    page_b.route_web_socket(re.compile(r"/ws/events/"), relay)
    ui.open_event(page_b, event["id"])

    frozen["on"] = True
    r = api.hold(alice, event["id"], [seat])
    assert r.status_code == 201, r.text
    page_b.wait_for_timeout(300)
    assert ui.seat_state(page_b, seat)["status"] == "available"  # B is behind

    ui.click_seat(page_b, seat)
    message = page_b.get_by_test_id("message")
    expect(message).to_contain_text("Someone else got there first")
    # The page resyncs from the server: the seat shows held by someone else.
    ui.wait_seat(page_b, seat, "held", mine=False)
    expect(page_b.get_by_test_id("tray-item")).to_have_count(0)


def test_hold_expiry_frees_the_seat_everywhere(api: Any, new_context: Any, ui: Any) -> None:
    organiser, alice, bob = api.new_user("org"), api.new_user("alice"), api.new_user("bob")
    event = api.small_event(organiser, holdSeconds=2)
    seat = api.seat_id(event, "A3")
    page_a = new_context(alice).new_page()
    page_b = new_context(bob).new_page()
    ui.open_event(page_a, event["id"])
    ui.open_event(page_b, event["id"])

    ui.click_seat(page_a, seat)
    ui.wait_seat(page_a, seat, "held", mine=True)
    ui.wait_seat(page_b, seat, "held", mine=False)
    expect(page_a.get_by_test_id("tray-item")).to_have_count(1)
    # Two seconds of hold, then the server's expiry reaches every map.
    ui.wait_seat(page_a, seat, "available", timeout=6000)
    ui.wait_seat(page_b, seat, "available", timeout=LIVE_MS)
    expect(page_a.get_by_test_id("tray-item")).to_have_count(0)


def test_best_available_holds_adjacent_seats(api: Any, new_context: Any, ui: Any) -> None:
    organiser, alice = api.new_user("org"), api.new_user("alice")
    event = api.small_event(organiser)
    page = new_context(alice).new_page()
    ui.open_event(page, event["id"])

    page.get_by_test_id("best-count").fill("3")
    page.get_by_test_id("best-category").select_option("standard")
    page.get_by_test_id("best-submit").click()
    expect(page.get_by_test_id("tray-item")).to_have_count(3)
    held = page.evaluate("window.boxoffice.myHeldSeatIds")
    seats = {s["id"]: s for s in event["seats"]}
    picked = sorted((seats[i]["row"], seats[i]["number"]) for i in held)
    assert len({row for row, _ in picked}) == 1, picked
    numbers = [n for _, n in picked]
    assert numbers == list(range(numbers[0], numbers[0] + 3)), picked
    assert all(seats[i]["category"] == "standard" for i in held)
    expect(page.get_by_test_id("tray-total")).to_have_text("£75.00")


def test_reconnect_resyncs_from_a_snapshot(api: Any, new_context: Any, ui: Any) -> None:
    """The socket drops and the server is unreachable for a while; changes made
    meanwhile appear once the page reconnects, from the server's snapshot."""
    organiser, alice, bob = api.new_user("org"), api.new_user("alice"), api.new_user("bob")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "C7")
    page = new_context(bob).new_page()
    outage = {"on": False}
    sockets: list[Any] = []

    def route(ws: Any) -> None:
        if outage["on"]:
            ws.close()  # like a server that is down: refuse, the page retries
            return
        server = ws.connect_to_server()
        sockets.append(ws)
        del server  # relay untouched

    page.route_web_socket(re.compile(r"/ws/events/"), route)
    ui.open_event(page, event["id"])
    indicator = page.get_by_test_id("ws-indicator")

    outage["on"] = True
    sockets[-1].close()
    expect(indicator).to_have_attribute("data-ws-state", "reconnecting")
    expect(indicator).to_contain_text("Reconnecting")
    assert api.hold(alice, event["id"], [seat]).status_code == 201
    page.wait_for_timeout(1500)  # a few refused retries
    assert ui.seat_state(page, seat)["status"] == "available"  # missed while away

    outage["on"] = False
    expect(indicator).to_have_attribute("data-ws-state", "live", timeout=15_000)
    ui.wait_seat(page, seat, "held", mine=False)


def test_booking_retry_reuses_the_idempotency_key(
    api: Any, new_context: Any, ui: Any, console: Any
) -> None:
    console.allow(r"net::ERR_FAILED")  # the request we cut on purpose
    organiser, alice = api.new_user("org"), api.new_user("alice")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "D2")
    page = new_context(alice).new_page()
    keys: list[str] = []

    def cut_first(route: Any) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.abort()  # the network fails: the page cannot know if it booked
        else:
            route.continue_()

    page.route(re.compile(r"/events/[^/]+/bookings$"), cut_first)
    ui.open_event(page, event["id"])
    ui.click_seat(page, seat)
    ui.wait_seat(page, seat, "held", mine=True)

    page.get_by_test_id("book-button").click()
    expect(page.get_by_test_id("message")).to_contain_text("Press Book again")
    assert ui.seat_state(page, seat)["status"] == "held"
    page.get_by_test_id("book-button").click()
    ui.wait_seat(page, seat, "booked", mine=True)
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1], keys
