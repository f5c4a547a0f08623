"""An event deleted while buyers look at it (issue 11, item 7), both modes: every open map
is told at once, says so in words, stops reconnecting, and holds nothing more."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def test_a_deleted_event_closes_every_open_map(api: Any, new_context: Any, ui: Any) -> None:
    organiser, buyer = api.new_user("org"), api.new_user("buyer")
    event = api.small_event(organiser)
    seat = api.seat_id(event, "B2")
    pages = [new_context(buyer).new_page(), new_context().new_page()]  # signed in, anonymous
    for page in pages:
        ui.open_event(page, event["id"])

    deleted = api.client.delete(
        f"/events/{event['id']}", headers={"Authorization": f"Bearer {organiser.token}"}
    )
    assert deleted.status_code == 204, deleted.text
    for page in pages:
        page.wait_for_selector("[data-testid=ws-indicator][data-ws-state=gone]")
        expect(page.get_by_test_id("ws-indicator")).to_contain_text("Closed")
        expect(page.get_by_test_id("message")).to_contain_text("removed by its organiser")

    # A click on a seat says why, and asks the server for nothing.
    signed_in = pages[0]
    requests: list[str] = []
    signed_in.on("request", lambda r: requests.append(r.url))
    ui.click_seat(signed_in, seat)
    expect(signed_in.get_by_test_id("message")).to_contain_text("can no longer be held")
    assert not [url for url in requests if "/holds" in url]
    assert ui.seat_state(signed_in, seat)["status"] == "available"
