"""The organiser's events page (issue 15, item 6, its first part), both run modes.

`/my/events` lists the events the signed-in user runs, and only those, with what each
has sold (from the report, read again when the event's websocket brings seat changes),
a bookings-per-minute chart, links to its seat map and door, the bookings as a CSV
file, and its door staff, added and removed by email.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_an_organiser_sees_their_events_sales_door_csv_and_staff(
    api: Any, new_context: Any
) -> None:
    organiser, buyer, other = api.new_user("org"), api.new_user("buyer"), api.new_user("other")
    event = api.small_event(organiser, startsAt="2030-05-01T19:30:00Z", venue="Playhouse")
    theirs = api.small_event(other)
    booked = api.book(buyer, event["id"], [api.seat_id(event, "A1"), api.seat_id(event, "B2")])
    assert booked.status_code == 201, booked.text

    page = new_context(organiser).new_page()
    page.goto("/my/events")
    cards = page.get_by_test_id("console-event")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card).to_have_attribute("data-event-id", event["id"])
    assert page.locator(f"[data-event-id='{theirs['id']}']").count() == 0
    expect(card.get_by_test_id("figure-booked")).to_have_text("2 of 32")
    expect(card.get_by_test_id("figure-revenue")).to_have_text("£65.00")  # £40 + £25
    expect(card.get_by_test_id("figure-checked-in")).to_have_text("0")
    expect(card.get_by_test_id("door-link")).to_have_attribute("href", f"/e/{event['id']}/door")
    expect(card.get_by_test_id("sales-chart")).to_contain_text("Bookings per minute: 2 in 1")
    results = Axe().run(page)
    assert not results.violations_count, results.generate_report()

    # Another buyer books: the figures follow over the event's websocket, no reload.
    more = api.book(buyer, event["id"], [api.seat_id(event, "C3")])
    assert more.status_code == 201, more.text
    expect(card.get_by_test_id("figure-booked")).to_have_text("3 of 32", timeout=10_000)
    expect(card.get_by_test_id("figure-revenue")).to_have_text("£90.00")
    expect(card.get_by_test_id("sales-chart")).to_contain_text("Bookings per minute: 3 in")
    # The log's latest lines, newest first: the booking just made on top.
    newest = card.get_by_test_id("activity-line").first
    expect(newest).to_have_attribute("data-action", "booked")
    expect(newest).to_contain_text(f"C3: booked ({buyer.email})")

    # The bookings as a file, as a spreadsheet opens it.
    with page.expect_download() as download:
        card.get_by_test_id("download-csv").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert sorted((r["seat"], r["price"], r["buyer_email"]) for r in rows) == [
        ("A1", "40.00", buyer.email),
        ("B2", "25.00", buyer.email),
        ("C3", "25.00", buyer.email),
    ]

    # Door staff, by email: added, listed, allowed at the door; removed again.
    card.get_by_test_id("staff-email").fill(other.email)
    card.get_by_test_id("staff-add").click()
    member = card.get_by_test_id("staff-member")
    expect(member).to_have_count(1)
    expect(member).to_contain_text(other.email)
    staff = api.client.get(
        f"/events/{event['id']}/checkins", headers={"Authorization": f"Bearer {other.token}"}
    )
    assert staff.status_code == 200, staff.text
    member.get_by_test_id("staff-remove").click()
    expect(card.get_by_test_id("staff-member")).to_have_count(0)
    gone = api.client.get(
        f"/events/{event['id']}/checkins", headers={"Authorization": f"Bearer {other.token}"}
    )
    assert gone.status_code == 403


def test_someone_who_runs_no_events_is_told_how_to_start(api: Any, new_context: Any) -> None:
    page = new_context(api.new_user("buyer")).new_page()
    page.goto("/my/events")
    expect(page.get_by_test_id("console-status")).to_contain_text("any events yet")
    expect(page.get_by_test_id("console-event")).to_have_count(0)


def test_an_organiser_changes_and_deletes_events_from_the_page(
    api: Any, new_context: Any, console: Any
) -> None:
    console.allow(r"status of 409")  # deleting the event with bookings, on purpose
    organiser, buyer = api.new_user("org"), api.new_user("buyer")
    sold = api.small_event(organiser, rows="AB", seats=4)
    empty = api.small_event(organiser, rows="A", seats=2)
    assert api.book(buyer, sold["id"], [api.seat_id(sold, "A1")]).status_code == 201

    page = new_context(organiser).new_page()
    page.goto("/my/events")
    card = page.locator(f"[data-event-id='{sold['id']}']")
    card.get_by_test_id("event-settings").locator("summary").click()
    card.get_by_test_id("edit-name").fill("Renamed night")
    card.get_by_test_id("edit-venue").fill("The Old Vic")
    card.get_by_test_id("edit-holdMinutes").fill("5")
    card.get_by_test_id("edit-maxSeatsPerUser").fill("4")
    card.get_by_test_id("edit-roomEnabled").check()
    card.get_by_test_id("edit-maxShoppers").fill("50")
    card.get_by_test_id("edit-startsAt").fill("2030-06-01T19:30")
    card.get_by_test_id("edit-onSaleAt").fill("2030-03-01T10:00")
    # What the page sends for those local times (the browser's zone decides).
    starts, on_sale = page.evaluate(
        "() => ['2030-06-01T19:30', '2030-03-01T10:00'].map((t) => new Date(t).toISOString())"
    )
    card.get_by_test_id("edit-save").click()
    expect(page.get_by_test_id("message")).to_have_text("Saved Renamed night.")
    card = page.locator(f"[data-event-id='{sold['id']}']")
    expect(card.locator("h2")).to_have_text("Renamed night")
    saved = api.client.get(f"/events/{sold['id']}").json()
    assert (saved["name"], saved["venue"], saved["holdSeconds"], saved["maxSeatsPerUser"]) == (
        "Renamed night",
        "The Old Vic",
        300,
        4,
    )
    assert saved["waitingRoom"]["enabled"] is True and saved["waitingRoom"]["maxShoppers"] == 50
    assert (saved["startsAt"], saved["onSaleAt"]) == (starts, on_sale)

    # An event with bookings stays, and says why; one without goes after a confirmation.
    card.get_by_test_id("event-settings").locator("summary").click()
    card.get_by_test_id("delete-event").click()
    card.get_by_test_id("confirm-delete").click()
    expect(page.get_by_test_id("message")).to_contain_text(
        "This event has bookings, so it can\u2019t be deleted. Cancel it instead"
    )
    assert api.client.get(f"/events/{sold['id']}").status_code == 200

    gone = page.locator(f"[data-event-id='{empty['id']}']")
    gone.get_by_test_id("event-settings").locator("summary").click()
    gone.get_by_test_id("delete-event").click()
    gone.get_by_test_id("confirm-delete").click()
    expect(page.locator(f"[data-event-id='{empty['id']}']")).to_have_count(0)
    assert api.client.get(f"/events/{empty['id']}").status_code == 404
    results = Axe().run(page)
    assert not results.violations_count, results.generate_report()


def test_one_events_page_is_its_organisers_and_shows_the_waiting_room(
    api: Any, new_context: Any
) -> None:
    organiser, stranger = api.new_user("org"), api.new_user("stranger")
    event = api.small_event(
        organiser, waitingRoom={"enabled": True, "maxShoppers": 25, "shopperSeconds": 300}
    )
    api.small_event(organiser)  # another of theirs: not on this event's page

    page = new_context(organiser).new_page()
    page.goto(f"/my/events/{event['id']}")
    cards = page.get_by_test_id("console-event")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-event-id", event["id"])
    expect(cards.first.get_by_test_id("figure-shopping")).to_have_text("0 of 25")
    expect(cards.first.get_by_test_id("figure-waiting")).to_have_text("0")

    other = new_context(stranger).new_page()
    other.goto(f"/my/events/{event['id']}")
    expect(other.get_by_test_id("console-status")).to_have_text(
        "Only this event\u2019s organiser can see its sales and settings."
    )
    expect(other.get_by_test_id("console-event")).to_have_count(0)
    assert other.goto("/my/events/new").ok  # the create page is still there


def test_an_organiser_cancels_an_event_and_its_buyers_see_it_at_once(
    api: Any, new_context: Any, ui: Any, console: Any
) -> None:
    """Cancelled from the console with a message: the buyer's open seat map says so at
    once (with the message) and greys out, the console shows it, the buyer's order says
    its tickets went with it, and the public list marks it."""
    console.allow(r"status of 409")  # the hold tried on the cancelled event, on purpose
    organiser, buyer = api.new_user("org"), api.new_user("buyer")
    event = api.small_event(organiser, rows="AB", seats=4)
    booked = api.book(buyer, event["id"], [api.seat_id(event, "A1"), api.seat_id(event, "A2")])
    assert booked.status_code == 201, booked.text
    order_id = booked.json()["order"]["id"]

    shopper = new_context(buyer).new_page()
    ui.open_event(shopper, event["id"])
    expect(shopper.get_by_test_id("cancelled-banner")).to_have_count(0)

    page = new_context(organiser).new_page()
    page.goto("/my/events")
    card = page.locator(f"[data-event-id='{event['id']}']")
    card.get_by_test_id("event-settings").locator("summary").click()
    card.get_by_test_id("cancel-event").click()
    expect(card.get_by_test_id("cancel-warning")).to_contain_text(
        "Its 2 booked seats are cancelled"
    )
    card.get_by_test_id("cancel-reason").fill("The lead is ill. Refunds follow.")
    card.get_by_test_id("confirm-cancel").click()
    expect(page.get_by_test_id("message")).to_contain_text("2 bookings cancelled")
    card = page.locator(f"[data-event-id='{event['id']}']")
    expect(card.get_by_test_id("console-cancelled")).to_contain_text("Cancelled on")
    expect(card.get_by_test_id("console-cancelled")).to_contain_text("The lead is ill.")

    # The buyer's open map, told over its socket: the banner with the message, greyed,
    # their seats free, and holding refused in words.
    banner = shopper.get_by_test_id("cancelled-banner")
    expect(banner).to_contain_text("This event has been cancelled.")
    expect(shopper.get_by_test_id("cancel-reason")).to_contain_text("The lead is ill.")
    expect(shopper.get_by_test_id("event-layout")).to_have_class(re.compile("is-cancelled"))
    ui.wait_seat(shopper, api.seat_id(event, "A1"), "available")
    shopper.get_by_test_id("best-count").fill("1")
    shopper.get_by_test_id("best-form").locator("button[type=submit]").click()
    expect(shopper.get_by_test_id("message")).to_contain_text("cancelled by its organiser")

    # A page opened afterwards knows it from the event; the order and the list say so.
    later = new_context(buyer).new_page()
    later.goto(f"/e/{event['id']}")
    expect(later.get_by_test_id("cancelled-banner")).to_contain_text("The lead is ill.")
    later.goto(f"/my/orders/{order_id}")
    expect(later.get_by_test_id("order-status")).to_contain_text(
        "The organiser cancelled this event"
    )
    later.goto("/")
    listed = later.locator(f"[data-event-id='{event['id']}']")
    expect(listed.get_by_test_id("event-cancelled")).to_contain_text("Cancelled")
    results = Axe().run(shopper)
    assert not results.violations_count, results.generate_report()
