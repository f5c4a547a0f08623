"""Keyboard only: Tab to the map, move between seats, hold with Enter / Space, book."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_keyboard_only_hold_and_book(api: Any, new_context: Any, ui: Any) -> None:
    organiser, carol = api.new_user("org"), api.new_user("carol")
    event = api.small_event(organiser)
    page = new_context(carol).new_page()
    ui.open_event(page, event["id"])

    ui.tab_to(page, "seat-cursor")
    cursor = page.get_by_test_id("seat-cursor")
    expect(cursor).to_be_focused()
    # The first free seat in reading order, named the way a screen reader says it.
    expect(cursor).to_have_attribute(
        "aria-label", re.compile(r"^Row A, seat 1, available, £40\.00")
    )
    # Focus is visible: the browser's ring on the cursor button.
    assert cursor.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"

    page.keyboard.press("ArrowRight")
    expect(cursor).to_have_attribute("aria-label", re.compile(r"^Row A, seat 2, available"))
    page.keyboard.press("ArrowDown")
    expect(cursor).to_have_attribute(
        "aria-label", re.compile(r"^Row B, seat 2, available, £25\.00")
    )
    expect(page.get_by_test_id("announcer")).to_contain_text("Row B, seat 2")

    b2, b3 = api.seat_id(event, "B2"), api.seat_id(event, "B3")
    page.keyboard.press("Enter")
    ui.wait_seat(page, b2, "held", mine=True)
    expect(cursor).to_have_attribute("aria-label", re.compile(r"^Row B, seat 2, held by you"))
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    ui.wait_seat(page, b3, "held", mine=True)
    expect(page.get_by_test_id("tray-item")).to_have_count(2)
    expect(page.get_by_test_id("tray-total")).to_have_text("£50.00")

    # Space on a seat I hold releases it; Space again takes it back.
    page.keyboard.press(" ")
    ui.wait_seat(page, b3, "available")
    page.keyboard.press(" ")
    ui.wait_seat(page, b3, "held", mine=True)

    ui.tab_to(page, "book-button")
    page.keyboard.press("Enter")
    ui.wait_seat(page, b2, "booked", mine=True)
    ui.wait_seat(page, b3, "booked", mine=True)
    expect(page.get_by_test_id("message")).to_contain_text("Booked 2 seats")
