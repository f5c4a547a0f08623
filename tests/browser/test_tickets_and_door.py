"""Tickets and the door in the browser (issue 15, items 2 and 3), both run modes.

The order page shows each ticket's QR code, and the QR codes, as the browser drew them,
decode (zxing-cpp, on a screenshot) to the ticket codes the API gives. At the door page
a valid code is a green "Welcome in" with the seat, the same code again a red "Already
checked in", a code that is not a ticket red too; the count follows scans made at
another door. Someone who is not door staff is told so. axe finds nothing on either.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import zxingcpp
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def bearer(user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


@pytest.fixture
def sold(api: Any) -> dict[str, Any]:
    """An event with two of its seats booked in one order, and the order's tickets."""
    organiser, buyer = api.new_user("org"), api.new_user("buyer")
    event = api.small_event(organiser, startsAt="2030-05-01T19:30:00Z", venue="Playhouse")
    seats = [api.seat_id(event, "A2"), api.seat_id(event, "B4")]
    booked = api.book(buyer, event["id"], seats)
    assert booked.status_code == 201, booked.text
    order_id = booked.json()["order"]["id"]
    order = api.client.get(f"/orders/{order_id}", headers=bearer(buyer)).json()["order"]
    codes = {b["seat"]["label"]: b["ticket"]["code"] for b in order["bookings"]}
    return {"event": event, "organiser": organiser, "buyer": buyer, "order": order, "codes": codes}


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def axe_clean(page: Any) -> None:
    results = Axe().run(page)
    assert not results.violations_count, results.generate_report()


def test_the_order_page_shows_qr_codes_that_decode_to_the_ticket_codes(
    sold: dict[str, Any], new_context: Any, artifacts: Any
) -> None:
    page = new_context(sold["buyer"]).new_page()
    page.goto(f"/my/orders/{sold['order']['id']}")
    tickets = page.locator("[data-testid=ticket][data-state=valid]")
    expect(tickets).to_have_count(2)
    expect(page.get_by_test_id("order-reference")).to_have_text(sold["order"]["reference"])
    expect(page.get_by_test_id("order-total")).to_contain_text("65")  # £40 + £25
    seen: dict[str, str] = {}
    for i in range(2):
        ticket = tickets.nth(i)
        qr = ticket.get_by_test_id("ticket-qr")
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle()
        )
        (decoded,) = decode(qr.screenshot())
        seen[ticket.get_by_test_id("ticket-seat").inner_text()] = decoded
        expect(ticket.get_by_test_id("ticket-code")).to_have_text(
            "-".join(decoded[j : j + 4] for j in range(0, len(decoded), 4))
        )
    assert seen == {
        "Stalls, row A, seat 2 (Premium)": sold["codes"]["A2"].replace("-", ""),
        "Stalls, row B, seat 4 (Standard)": sold["codes"]["B4"].replace("-", ""),
    }
    axe_clean(page)
    page.screenshot(path=artifacts / "order-tickets.png", full_page=True)

    # My bookings links each booking to its ticket.
    page.goto("/my/bookings")
    link = page.get_by_test_id("ticket-link").first
    expect(link).to_have_attribute(
        "href", f"/my/orders/{sold['order']['id']}#b-{sold['order']['bookings'][0]['id']}"
    )


def test_someone_elses_order_page_shows_no_tickets(
    sold: dict[str, Any], api: Any, new_context: Any, console: Any
) -> None:
    console.allow(r"status of 404")  # the API's answer for someone else's order
    page = new_context(api.new_user("other")).new_page()
    page.goto(f"/my/orders/{sold['order']['id']}")
    expect(page.get_by_test_id("order-status")).to_have_text(
        "We couldn\u2019t find this order in your account."
    )
    expect(page.get_by_test_id("ticket")).to_have_count(0)


def test_the_door_admits_a_ticket_once_and_says_so(
    sold: dict[str, Any], api: Any, new_context: Any, console: Any, artifacts: Any
) -> None:
    console.allow(r"status of (409|404)")  # the refused scans, on purpose
    event, organiser = sold["event"], sold["organiser"]
    page = new_context(organiser).new_page()
    page.goto(f"/e/{event['id']}/door")
    count = page.get_by_test_id("door-count")
    expect(count).to_have_text("Checked in: 0 of 2")
    expect(page.get_by_test_id("door-event")).to_contain_text(event["name"])
    axe_clean(page)

    code = page.get_by_test_id("ticket-code")
    answer = page.get_by_test_id("door-answer")
    # As a person types it: lower case, spaces for dashes.
    code.fill(sold["codes"]["A2"].lower().replace("-", " "))
    code.press("Enter")
    expect(answer).to_have_attribute("data-verdict", "ok")
    expect(page.get_by_test_id("door-verdict")).to_have_text("Welcome in")
    expect(page.get_by_test_id("door-seat")).to_have_text("Stalls, row A, seat 2 (Premium)")
    expect(page.get_by_test_id("door-detail")).to_contain_text(sold["buyer"].email)
    expect(count).to_have_text("Checked in: 1 of 2")
    expect(code).to_be_focused()  # ready for the next one
    axe_clean(page)
    page.screenshot(path=artifacts / "door-welcome.png")

    code.fill(sold["codes"]["A2"])
    page.get_by_test_id("check-in").click()
    expect(page.get_by_test_id("door-verdict")).to_have_text("Already checked in")
    expect(answer).to_have_attribute("data-verdict", "no")
    expect(page.get_by_test_id("door-detail")).to_contain_text("This ticket was used at")
    page.screenshot(path=artifacts / "door-already-used.png")

    code.fill("NOT-A-REAL-CODE")
    code.press("Enter")
    expect(page.get_by_test_id("door-verdict")).to_have_text("Not a ticket for this event")
    expect(answer).to_have_attribute("data-verdict", "no")

    # Another door checks the second ticket in: this one's count follows at once, told
    # over the event's socket (the page reads the count itself only while that socket is
    # not live).
    expect(count).to_have_attribute("data-live", "true")
    other_door = httpx.post(
        f"{api.base_url}/events/{event['id']}/checkins",
        json={"code": sold["codes"]["B4"]},
        headers=bearer(organiser),
    )
    assert other_door.status_code == 200, other_door.text
    expect(count).to_have_text("Checked in: 2 of 2")


def test_door_staff_scan_and_everyone_else_is_told_they_cannot(
    sold: dict[str, Any], api: Any, new_context: Any, console: Any
) -> None:
    console.allow(r"status of 403")  # the API's answer before they are door staff
    event, organiser = sold["event"], sold["organiser"]
    staff = api.new_user("staff")
    page = new_context(staff).new_page()
    page.goto(f"/e/{event['id']}/door")
    expect(page.get_by_test_id("door-status")).to_have_text(
        "Only this event\u2019s organiser and its door staff can check tickets here."
    )
    expect(page.get_by_test_id("door-form")).to_be_hidden()
    axe_clean(page)

    added = api.client.post(
        f"/events/{event['id']}/staff", json={"email": staff.email}, headers=bearer(organiser)
    )
    assert added.status_code == 201, added.text
    page.reload()
    page.get_by_test_id("ticket-code").fill(sold["codes"]["B4"])
    page.get_by_test_id("ticket-code").press("Enter")
    expect(page.get_by_test_id("door-verdict")).to_have_text("Welcome in")
    expect(page.get_by_test_id("door-seat")).to_have_text("Stalls, row B, seat 4 (Standard)")
