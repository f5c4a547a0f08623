"""Events, users and Idempotency-Key rows, on both engines."""

from __future__ import annotations

import pytest

from backend.seats import IdempotencyState
from backend.storage import DuplicateKey, Storage
from tests.storage.conftest import new_user, new_venue


async def test_events_create_read_count_update_delete(storage: Storage) -> None:
    venue = await new_venue(storage, ["B1", "B2", "B3"])
    event = await storage.events.get(venue.id)
    assert event is not None and event["name"] == "Storage night"
    assert await storage.events.seat_count(venue.id) == 3
    assert venue.id in await storage.events.many([venue.id])
    assert venue.id in {str(e["id"]) for e in await storage.events.all()}
    await storage.events.update(venue.id, {"name": "Renamed", "hold_seconds": 30})
    event = await storage.events.get(venue.id)
    assert event is not None and (event["name"], event["hold_seconds"]) == ("Renamed", 30)
    with pytest.raises(ValueError, match="not editable"):
        await storage.events.update(venue.id, {"organiser": venue.organiser})

    now = await storage.now_ms()
    async with storage.transaction():
        await storage.seats.hold_free(venue.id, [venue.seats["B1"]], venue.organiser, now, now + 1)
        await storage.seats.book(venue.id, [venue.seats["B2"]], venue.organiser, now)
        await storage.bookings.insert(venue.id, [venue.seats["B2"]], venue.organiser)
    counts = (await storage.events.counts([venue.id]))[venue.id]
    assert counts == {"total": 3, "available": 1, "held": 1, "booked": 1}

    assert await storage.delete_event_if_idle(venue.id) == (1, 0, None)
    assert await storage.events.get(venue.id) is not None
    [booking] = await storage.bookings.of_user(venue.organiser)
    async with storage.transaction():
        await storage.bookings.cancel(str(booking["id"]), venue.organiser)
    assert await storage.delete_event_if_idle(venue.id) == (0, 0, None)
    assert await storage.events.get(venue.id) is None


async def test_users_unique_email_and_no_hash_outside_credentials(storage: Storage) -> None:
    user = await storage.users.create("unique-storage@example.com", "hash!")
    assert set(user) == {"id", "email", "created_at"}
    with pytest.raises(DuplicateKey):
        await storage.users.create("unique-storage@example.com", "other")
    assert await storage.users.email_taken("unique-storage@example.com")
    got = await storage.users.get(str(user["id"]))
    assert got is not None and "password_hash" not in got
    creds = await storage.users.credentials("unique-storage@example.com")
    assert creds is not None and creds["password_hash"] == "hash!"
    assert await storage.users.id_of("nobody@example.com") is None


async def test_idempotency_claims_are_compare_and_set(storage: Storage) -> None:
    user = await new_user(storage)
    keys = storage.idempotency
    assert await keys.claim(user, "k1", "digest", "token-a", 10)
    assert not await keys.claim(user, "k1", "digest", "token-b", 10)  # one claim per key
    row = await keys.find(user, "k1")
    assert row is not None and row["state"] == IdempotencyState.IN_FLIGHT
    assert not await keys.answer(user, "k1", "token-b", 201, "{}")  # not the owner
    assert await keys.take_over(row["id"], "token-a", "token-b", 20)
    assert not await keys.take_over(row["id"], "token-a", "token-c", 30)  # fenced out
    assert not await keys.answer(user, "k1", "token-a", 201, "{}")
    assert await keys.answer(user, "k1", "token-b", 201, '{"ok":1}')
    row = await keys.find(user, "k1")
    assert row is not None and (row["state"], row["response_body"]) == ("done", '{"ok":1}')
    await keys.forget(user, "k1", "token-b")  # answered keys are kept
    assert await keys.find(user, "k1") is not None
    assert await keys.claim(user, "k2", "digest", "token-z", 10)
    await keys.forget(user, "k2", "token-z")
    assert await keys.find(user, "k2") is None


async def test_the_per_user_count_has_its_index(storage: Storage) -> None:
    """(event, holder): without it the per-user limit's count scans every booked seat."""
    if storage.engine.engine_type == "postgres":
        rows = await storage.database.fetch(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'bo_seat_event_holder'"
        )
        assert [r["indexdef"] for r in rows] == [
            "CREATE INDEX bo_seat_event_holder ON public.bo_seat USING btree (event, holder)"
        ]
    else:
        rows = await storage.database.fetch("PRAGMA index_info('bo_seat_event_holder')")
        assert [r["name"] for r in rows] == ["event", "holder"]
