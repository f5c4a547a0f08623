"""The waiting room in the browser (issue 12, item 7): a countdown before the sale, joining
the queue, the place in it live, admission turning the panel into the seat map, and the
same place in every tab; both run modes.

Admission is made to happen, never waited for by the clock: the room lets one shopper in
(`maxShoppers: 1`), another account holds that slot, and the test frees it (that account
leaves or books through the API); the app's admitter then lets the next one in within a
tick (`WAITING_ROOM_INTERVAL_MS`, 250 ms) and the socket tells the page at once.

Every test makes its own event, so one set of accounts serves them all: places are per
event, and making accounts for each test would run into the sign-in throttle (the
browser tests share one server and one client address).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ROOM = {"enabled": True, "maxShoppers": 1, "shopperSeconds": 120}
LIVE_MS = 5000  # queue messages: admission at once, positions at most every second or two


QUEUE_MESSAGE = re.compile(r'\{"type":"(queue|room)"')


@pytest.fixture(scope="module")
def people(api: Any) -> Iterator[SimpleNamespace]:
    """The organiser, two buyers, and a shopper who takes the one slot."""
    yield SimpleNamespace(
        organiser=api.new_user("org"),
        alice=api.new_user("alice"),
        bob=api.new_user("bob"),
        shopper=api.new_user("shopper"),
    )


def iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def auth(user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


def queue(api: Any, user: Any, event_id: str, method: str = "GET") -> dict[str, Any]:
    r = api.client.request(method, f"/events/{event_id}/queue", headers=auth(user))
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_state(api: Any, user: Any, event_id: str, state: str, timeout: float = 10) -> None:
    """Poll the account's place until it is in `state` (the admitter ticks every 250 ms)."""
    deadline = time.monotonic() + timeout
    while (got := queue(api, user, event_id))["state"] != state:
        assert time.monotonic() < deadline, f"still {got} after {timeout} s, not {state}"
        time.sleep(0.05)


def occupy_the_slot(api: Any, people: Any, **extra: Any) -> tuple[dict[str, Any], Any]:
    """An event whose one shopping slot another account has taken."""
    event = api.small_event(people.organiser, waitingRoom=ROOM, **extra)
    shopper = people.shopper
    queue(api, shopper, event["id"], "POST")
    wait_state(api, shopper, event["id"], "admitted")
    return event, shopper


def wait_phase(page: Any, phase: str, timeout: float = LIVE_MS) -> None:
    page.wait_for_function(
        "(p) => window.boxoffice.gate && window.boxoffice.gate.phase === p",
        arg=phase,
        timeout=timeout,
        polling=50,
    )


def gate(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("() => window.boxoffice.gate"))


def check_axe(page: Any, selector: str) -> None:
    results = Axe().run(page, context=selector)
    assert results.violations_count == 0, results.generate_report()


def test_countdown_and_joining_before_the_sale(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    organiser, alice = people.organiser, people.alice
    event = api.small_event(organiser, onSaleAt=iso_in(3600), waitingRoom=ROOM)
    seat = api.seat_id(event, "B3")
    page = new_context(alice).new_page()
    ui.open_event(page, event["id"])

    panel = page.get_by_test_id("queue-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("queue-heading")).to_have_text("Not on sale yet")
    expect(page.get_by_test_id("sale-countdown")).to_have_text(
        re.compile(r"^(59:[0-5]\d|1:00:00)$")
    )
    expect(page.get_by_test_id("sale-countdown")).to_have_attribute("role", "timer")
    expect(page.get_by_test_id("tray")).to_be_hidden()
    # The room's counters from the socket: nobody yet.
    expect(page.get_by_test_id("queue-demand")).to_have_text(
        re.compile(r"^0 in the queue · 0 shopping$")
    )

    # The map is there to look at: a click explains, and asks the server nothing.
    ui.click_seat(page, seat)
    expect(page.get_by_test_id("message")).to_contain_text("not on sale yet")
    assert ui.seat_state(page, seat)["status"] == "available"
    check_axe(page, "[data-testid=queue-panel]")

    page.get_by_test_id("queue-join").click()
    expect(page.get_by_test_id("queue-heading")).to_have_text("You are in the queue")
    expect(page.get_by_test_id("queue-text")).to_contain_text("random order")
    # The pre-queue's order is secret until the opening: no place, no progress.
    expect(page.get_by_test_id("queue-stats")).to_be_hidden()
    expect(page.get_by_test_id("queue-progress")).to_be_hidden()
    expect(page.get_by_test_id("queue-leave")).to_be_focused()
    expect(page.get_by_test_id("sale-countdown")).to_be_visible()
    expect(page.get_by_test_id("announcer")).to_contain_text("You are in the queue")
    expect(page.get_by_test_id("queue-demand")).to_have_text(re.compile(r"^1 in the queue"))
    place = queue(api, alice, event["id"])
    assert (place["state"], place["position"], place["ahead"]) == ("waiting", None, None)
    assert gate(page)["phase"] == "prequeue"
    check_axe(page, "[data-testid=queue-panel]")

    page.get_by_test_id("queue-leave").click()
    expect(page.get_by_test_id("queue-heading")).to_have_text("You left the queue")
    expect(page.get_by_test_id("queue-join")).to_have_text("Join the queue again")
    expect(page.get_by_test_id("queue-join")).to_be_focused()
    assert queue(api, alice, event["id"])["state"] == "left"


def test_the_opening_reveals_the_place_drawn_for_the_pre_queue(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    """A page that joined before the sale turns, at `onSaleAt` and without a reload, into
    the place the draw gave it (or the seat map, if it drew the one slot), announced, the
    same as the API's; the countdown goes."""
    organiser, alice, bob, shopper = people.organiser, people.alice, people.bob, people.shopper
    event = api.small_event(organiser, onSaleAt=iso_in(8), waitingRoom=ROOM)
    eid = event["id"]
    for early in (bob, shopper):
        queue(api, early, eid, "POST")
    page = new_context(alice).new_page()
    ui.open_event(page, eid)
    page.get_by_test_id("queue-join").click()
    expect(page.get_by_test_id("queue-heading")).to_have_text("You are in the queue")
    assert gate(page)["phase"] == "prequeue"
    expect(page.get_by_test_id("queue-position")).to_be_hidden()

    # The opening: the three are drawn, the first of the draw is let in.
    page.wait_for_function(
        "() => window.boxoffice.gate && window.boxoffice.gate.phase !== 'prequeue'",
        timeout=20_000,
        polling=50,
    )
    deadline = time.monotonic() + 10
    while sum(queue(api, who, eid)["state"] == "admitted" for who in (alice, bob, shopper)) < 1:
        assert time.monotonic() < deadline, "nobody let in after the opening"
        time.sleep(0.05)
    place = queue(api, alice, eid)
    expect(page.get_by_test_id("sale-countdown")).to_be_hidden()
    if place["state"] == "admitted":
        wait_phase(page, "shopping")
        expect(page.get_by_test_id("shopper-bar")).to_be_visible()
        expect(page.get_by_test_id("message")).to_contain_text("your turn!")
    else:
        position = place["position"]
        assert place["state"] == "waiting" and position in (1, 2), place
        expect(page.get_by_test_id("queue-position")).to_have_text(str(position), timeout=LIVE_MS)
        expect(page.get_by_test_id("queue-ahead")).to_have_text(str(position - 1))
        expect(page.get_by_test_id("announcer")).to_contain_text(
            "Nobody is ahead of you" if position == 1 else "You are number 2 in the queue"
        )
        assert gate(page)["mapUsable"] is False
        check_axe(page, "[data-testid=queue-panel]")


def test_without_a_room_the_map_opens_at_the_sale_time(
    api: Any, people: Any, new_context: Any, ui: Any, console: Any
) -> None:
    """No queue: a countdown, then the map by itself; a sale moved later meanwhile is
    learnt from the server's 403 and worded for the buyer."""
    console.allow(r"status of 403")  # Chromium logs the refused request itself
    organiser, alice = people.organiser, people.alice
    event = api.small_event(organiser, onSaleAt=iso_in(6))
    seat, later_seat = api.seat_id(event, "C4"), api.seat_id(event, "C5")
    page = new_context(alice).new_page()
    ui.open_event(page, event["id"])

    expect(page.get_by_test_id("queue-heading")).to_have_text("Not on sale yet")
    expect(page.get_by_test_id("sale-countdown")).to_have_text(re.compile(r"^0:0[0-6]$"))
    expect(page.get_by_test_id("queue-join")).to_be_hidden()  # nothing to join
    assert gate(page)["mapUsable"] is False

    wait_phase(page, "open", timeout=10_000)
    expect(page.get_by_test_id("queue-panel")).to_be_hidden()
    expect(page.get_by_test_id("tray")).to_be_visible()
    expect(page.get_by_test_id("message")).to_contain_text("on sale now")
    ui.click_seat(page, seat)
    ui.wait_seat(page, seat, "held", mine=True)

    # The organiser moves the sale an hour later; the page has no way to hear it but
    # the server's refusal.
    r = api.client.patch(
        f"/events/{event['id']}", json={"onSaleAt": iso_in(3600)}, headers=auth(organiser)
    )
    assert r.status_code == 200, r.text
    # Every app process reads an event's sale settings at most a second old: until then
    # one of the two (services mode) may still sell. That second is the behaviour here.
    page.wait_for_timeout(1200)
    ui.click_seat(page, later_seat)
    expect(page.get_by_test_id("message")).to_contain_text(
        re.compile(r"Tickets are not on sale yet: the sale starts on .+\. You can choose seats")
    )
    wait_phase(page, "countdown")
    expect(page.get_by_test_id("queue-panel")).to_be_visible()
    expect(page.get_by_test_id("sale-countdown")).to_have_text(
        re.compile(r"^(59:[0-5]\d|1:00:00)$")
    )
    assert ui.seat_state(page, later_seat)["status"] == "available"


def test_join_wait_admitted_hold_book(api: Any, people: Any, new_context: Any, ui: Any) -> None:
    bob, alice = people.bob, people.alice
    event, shopper = occupy_the_slot(api, people)
    eid = event["id"]
    assert queue(api, bob, eid, "POST")["position"] == 1  # bob waits ahead of alice
    seat = api.seat_id(event, "D4")

    page = new_context(alice).new_page()
    ui.open_event(page, eid)
    expect(page.get_by_test_id("queue-heading")).to_have_text("Waiting room")
    page.get_by_test_id("queue-join").click()

    # Second in the queue, one ahead; the bar starts empty.
    expect(page.get_by_test_id("queue-position")).to_have_text("2")
    expect(page.get_by_test_id("queue-ahead")).to_have_text("1")
    expect(page.get_by_test_id("queue-eta")).not_to_be_empty()
    bar = page.get_by_test_id("queue-progress")
    expect(bar).to_be_visible()
    assert bar.evaluate("(b) => [b.value, b.max]") == [0, 2]
    expect(page.get_by_test_id("announcer")).to_contain_text("You are number 2 in the queue")
    expect(page.get_by_test_id("queue-demand")).to_contain_text("2 in the queue · 1 shopping")
    check_axe(page, "[data-testid=queue-panel]")

    # The shopper leaves: bob is let in, alice moves to the front, live.
    queue(api, shopper, eid, "DELETE")
    expect(page.get_by_test_id("queue-position")).to_have_text("1", timeout=LIVE_MS)
    expect(page.get_by_test_id("queue-ahead")).to_have_text("0")
    expect(page.get_by_test_id("announcer")).to_contain_text("Nobody is ahead of you")
    assert bar.evaluate("(b) => [b.value, b.max]") == [1, 2]
    assert gate(page)["mapUsable"] is False

    # Bob books: his slot frees, and alice's page turns into the seat map.
    wait_state(api, bob, eid, "admitted")
    bob_seat = api.seat_id(event, "A1")
    assert api.hold(bob, eid, [bob_seat]).status_code == 201
    assert api.book(bob, eid, [bob_seat]).status_code == 201
    wait_phase(page, "shopping")
    expect(page.get_by_test_id("queue-panel")).to_be_hidden()
    expect(page.get_by_test_id("shopper-bar")).to_be_visible()
    expect(page.get_by_test_id("shopper-countdown")).to_have_text(re.compile(r"^(1:[0-5]\d|2:00)$"))
    expect(page.get_by_test_id("message")).to_contain_text("your turn! You have 2 minutes")
    expect(page.get_by_test_id("tray")).to_be_visible()
    check_axe(page, "[data-testid=shopper-bar]")

    ui.click_seat(page, seat)
    ui.wait_seat(page, seat, "held", mine=True)
    page.get_by_test_id("book-button").click()
    ui.wait_seat(page, seat, "booked", mine=True)
    # Booking ends the turn: the slot is the next buyer's, and the page says so.
    wait_phase(page, "join")
    expect(page.get_by_test_id("queue-heading")).to_have_text("Your turn is over")
    expect(page.get_by_test_id("message")).to_contain_text("Booked 1 seat: D4")
    assert queue(api, alice, eid)["state"] == "left"


def test_two_tabs_show_the_same_place(api: Any, people: Any, new_context: Any, ui: Any) -> None:
    alice, bob = people.alice, people.bob
    event, _shopper = occupy_the_slot(api, people)
    eid = event["id"]
    context = new_context(alice)
    tab1, tab2 = context.new_page(), context.new_page()
    ui.open_event(tab1, eid)
    ui.open_event(tab2, eid)
    expect(tab2.get_by_test_id("queue-join")).to_be_visible()

    tab1.get_by_test_id("queue-join").click()
    expect(tab1.get_by_test_id("queue-position")).to_have_text("1")
    # The other tab hears it from the server, without a click.
    expect(tab2.get_by_test_id("queue-position")).to_have_text("1", timeout=LIVE_MS)
    expect(tab2.get_by_test_id("queue-join")).to_be_hidden()
    expect(tab2.get_by_test_id("queue-leave")).to_be_visible()

    # Someone joins behind; a reload (joining again, in effect) keeps the same place.
    assert queue(api, bob, eid, "POST")["position"] == 2
    tab2.reload()
    ui.open_event(tab2, eid)
    expect(tab2.get_by_test_id("queue-position")).to_have_text("1")
    expect(tab2.get_by_test_id("queue-demand")).to_contain_text("2 in the queue")
    assert gate(tab1)["position"] == gate(tab2)["position"] == 1
    assert queue(api, alice, eid)["position"] == 1

    # Leaving in one tab is seen in the other.
    tab2.get_by_test_id("queue-leave").click()
    expect(tab2.get_by_test_id("queue-heading")).to_have_text("You left the queue")
    expect(tab1.get_by_test_id("queue-heading")).to_have_text("You left the queue", timeout=LIVE_MS)
    assert queue(api, bob, eid)["position"] == 1


def test_the_organiser_sees_the_map_with_a_note(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    organiser = people.organiser
    event = api.small_event(organiser, onSaleAt=iso_in(3600), waitingRoom=ROOM)
    seat = api.seat_id(event, "A5")
    page = new_context(organiser).new_page()
    ui.open_event(page, event["id"])

    note = page.get_by_test_id("organiser-note")
    expect(note).to_contain_text("You organise this event, so you can hold and book seats now.")
    expect(note).to_contain_text("up to 1 shopping at a time")
    expect(note).to_contain_text("0 in the queue · 0 shopping")
    expect(page.get_by_test_id("queue-panel")).to_be_hidden()
    ui.click_seat(page, seat)  # exempt from both gates
    ui.wait_seat(page, seat, "held", mine=True)


def test_signed_out_visitors_are_asked_to_sign_in(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    organiser = people.organiser
    event = api.small_event(organiser, waitingRoom=ROOM)
    page = new_context().new_page()
    ui.open_event(page, event["id"])
    link = page.get_by_test_id("queue-signin")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"/account/signin?next=%2Fe%2F{event['id']}")
    expect(page.get_by_test_id("queue-join")).to_be_hidden()
    check_axe(page, "[data-testid=queue-panel]")


def test_without_queue_messages_the_page_polls(
    api: Any, people: Any, new_context: Any, ui: Any
) -> None:
    """A socket that brings no queue messages (an older server, a proxy that drops
    them): the page reads its place over REST every few seconds instead, which also
    keeps the place, and is let in all the same."""
    alice = people.alice
    event, shopper = occupy_the_slot(api, people)
    eid = event["id"]
    page = new_context(alice).new_page()
    polls: list[str] = []

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if not (isinstance(message, str) and QUEUE_MESSAGE.match(message)):
                ws.send(message)

        server.on_message(to_page)
        ws.on_message(lambda m: server.send(m))

    page.route_web_socket(re.compile(r"/ws/events/"), relay)
    page.on(
        "request",
        lambda r: polls.append(r.url) if r.method == "GET" and r.url.endswith("/queue") else None,
    )
    ui.open_event(page, eid)
    page.get_by_test_id("queue-join").click()
    expect(page.get_by_test_id("queue-position")).to_have_text("1")
    assert gate(page)["liveQueue"] is False

    queue(api, shopper, eid, "DELETE")
    wait_phase(page, "shopping", timeout=10_000)  # the next poll: 3 to 5 s
    expect(page.get_by_test_id("shopper-bar")).to_be_visible()
    assert polls, "the page never polled"


def test_a_join_the_server_could_not_answer_is_sent_again(
    api: Any, people: Any, new_context: Any, ui: Any, console: Any
) -> None:
    """On an on-sale's join storm a join may be answered 503 (the worker too busy to get
    a Redis connection within 5 s). Joining is idempotent, so the page says the box office
    is busy and joins again by itself after the Retry-After: the buyer presses nothing.
    The test answers the first join as the busy server did; the second reaches the server."""
    console.allow(r"status of 503")  # the refused join, on purpose
    bob = people.bob
    event = api.small_event(people.organiser, onSaleAt=iso_in(3600), waitingRoom=ROOM)
    page = new_context(bob).new_page()
    joins: list[str] = []

    def refuse_first(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        joins.append(route.request.url)
        if len(joins) == 1:
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body='{"success":false,"code":"unavailable","message":"temporarily unavailable"}',
            )
        else:
            route.continue_()

    page.route(re.compile(r"/events/[^/]+/queue$"), refuse_first)
    ui.open_event(page, event["id"])
    page.get_by_test_id("queue-join").click()
    expect(page.get_by_test_id("message")).to_contain_text("Trying again for you")
    expect(page.get_by_test_id("queue-heading")).to_have_text("You are in the queue")
    assert len(joins) == 2
    assert queue(api, bob, event["id"])["state"] == "waiting"
