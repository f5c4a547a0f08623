"""Events' on-sale configuration (issue 12), on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.storage import Storage
from tests.storage.conftest import new_venue


async def test_an_event_sells_at_once_without_a_room_by_default(storage: Storage) -> None:
    venue = await new_venue(storage)
    event = await storage.events.get(venue.id)
    assert event is not None
    assert event["on_sale_at"] is None and event["waiting_room"] is False
    assert (event["max_shoppers"], event["shopper_seconds"]) == (200, 600)
    assert venue.id not in await storage.events.with_waiting_room()


async def test_the_on_sale_time_and_room_round_trip(storage: Storage) -> None:
    on_sale = datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    venue = await new_venue(
        storage, on_sale_at=on_sale, waiting_room=True, max_shoppers=5, shopper_seconds=120
    )
    event = await storage.events.get(venue.id)
    assert event is not None
    assert event["on_sale_at"] == on_sale and event["waiting_room"] is True
    assert (event["max_shoppers"], event["shopper_seconds"]) == (5, 120)
    read, _, _ = await storage.seats.event_with_seats(venue.id, [])
    assert read is not None and read["waiting_room"] is True and read["max_shoppers"] == 5
    assert venue.id in await storage.events.with_waiting_room()

    later = on_sale + timedelta(hours=1)
    await storage.events.update(
        venue.id, {"on_sale_at": later, "waiting_room": False, "max_shoppers": 9}
    )
    event = await storage.events.get(venue.id)
    assert event is not None
    assert event["on_sale_at"] == later and event["waiting_room"] is False
    assert (event["max_shoppers"], event["shopper_seconds"]) == (9, 120)
    assert venue.id not in await storage.events.with_waiting_room()
    await storage.events.update(venue.id, {"on_sale_at": None})
    event = await storage.events.get(venue.id)
    assert event is not None and event["on_sale_at"] is None
