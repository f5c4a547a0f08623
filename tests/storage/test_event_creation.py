"""Creating events in steps (issue 11, item 6), on both engines: a draft no read shows,
seats written by the engine's bulk path, publishing, discarding, and the record of
creations the daily quota counts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from backend.storage import Storage
from backend.storage.database import PostgresDatabase
from backend.storage.tables import Seat
from tests.storage.conftest import explain_first, new_user, new_venue

HOUR = 3_600_000


def seat_values(labels: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "section": "Stalls",
            "row": label[0],
            "number": n + 1,
            "category": "std",
            "accessible": n % 2 == 0,
            "x": n + 0.25,
            "y": 1.7,
        }
        for n, label in enumerate(labels)
    ]


async def draft(storage: Storage, labels: list[str], **event: Any) -> tuple[str, str]:
    organiser = await new_user(storage)
    async with storage.transaction():
        event_id = await storage.events.insert_draft(
            {"name": "Draft night", "organiser": organiser, **event}
        )
    await storage.events.add_seats(event_id, seat_values(labels))
    return event_id, organiser


async def test_a_draft_is_no_event_to_any_read_until_published(storage: Storage) -> None:
    event_id, organiser = await draft(storage, ["A1", "A2", "A3"], waiting_room=True)
    seat = str((await storage.seats.of_event(event_id))[0]["id"])

    assert await storage.events.get(event_id) is None
    assert event_id not in {str(e["id"]) for e in await storage.events.all()}
    assert await storage.events.many([event_id]) == {}
    assert event_id not in await storage.events.with_waiting_room()
    found, seats, _ = await storage.seats.event_with_seats(event_id, [seat])
    assert found is None and seats == []

    await storage.events.publish(event_id, 3)
    event = await storage.events.get(event_id)
    assert event is not None and event["draft"] is False
    assert str(event["organiser"]) == organiser
    assert event_id in {str(e["id"]) for e in await storage.events.all()}
    assert event_id in await storage.events.with_waiting_room()
    found, seats, _ = await storage.seats.event_with_seats(event_id, [seat])
    assert found is not None and found["draft"] is False and len(seats) == 1


async def test_bulk_written_seats_read_back_as_piccolo_writes_them(storage: Storage) -> None:
    """`add_seats` goes around Piccolo's query builder (executemany on SQLite, COPY on
    PostgreSQL): its rows must read back exactly as Piccolo's own insert's do."""
    labels = ["A1", "A2", "B1", "Ü4", 'Q"5']
    bulk, _ = await draft(storage, labels)
    plain = (await new_venue(storage, labels=["Z9"])).id
    await Seat.delete().where(Seat.event == plain)
    await Seat.insert(
        *[
            Seat(id=uuid.uuid4(), event=plain, status="available", version=1, **values)
            for values in seat_values(labels)
        ]
    )

    def comparable(rows: Any) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in ("id", "event")} for r in rows]

    bulk_rows = await Seat.select().where(Seat.event == bulk).order_by(Seat.label)
    plain_rows = await Seat.select().where(Seat.event == plain).order_by(Seat.label)
    assert comparable(bulk_rows) == comparable(plain_rows)
    assert len(bulk_rows) == len(labels)
    assert all(isinstance(r["id"], uuid.UUID) for r in bulk_rows)
    assert bulk_rows[0]["accessible"] is True and bulk_rows[0]["holder"] is None
    assert (bulk_rows[0]["status"], bulk_rows[0]["version"]) == ("available", 1)


async def test_discarding_a_draft_deletes_it_chunk_by_chunk(storage: Storage) -> None:
    event_id, _ = await draft(storage, [f"A{n}" for n in range(1, 8)])
    await storage.events.discard_draft(event_id, chunk=3)
    assert await Seat.count().where(Seat.event == event_id) == 0
    await storage.events.publish(event_id, 7)  # nothing left to publish
    assert await storage.events.get(event_id) is None

    published = await new_venue(storage)
    await storage.events.discard_draft(published.id, chunk=3)  # not a draft: left alone
    assert await storage.events.get(published.id) is not None
    assert await storage.events.seat_count(published.id) == len(published.seats)


async def test_creations_are_recorded_per_organiser_and_forgotten_after_the_window(
    storage: Storage,
) -> None:
    ada, bob = await new_user(storage), await new_user(storage)
    now = await storage.now_ms()
    events = [str(uuid.uuid4()) for _ in range(4)]
    async with storage.transaction():
        await storage.events.record_creation(ada, events[0], 500, now - 30 * HOUR, now - 48 * HOUR)
        await storage.events.record_creation(ada, events[1], 20, now - 2 * HOUR, now - 48 * HOUR)
        await storage.events.record_creation(bob, events[2], 7, now - HOUR, now - 48 * HOUR)
    assert await storage.events.creations_since(ada, now - 24 * HOUR) == [(now - 2 * HOUR, 20)]
    assert await storage.events.creations_since(ada, now - 48 * HOUR) == [
        (now - 30 * HOUR, 500),
        (now - 2 * HOUR, 20),
    ]
    # Recording forgets the organiser's creations older than it is told, no one else's.
    async with storage.transaction():
        await storage.events.record_creation(ada, events[3], 3, now, now - 24 * HOUR)
    assert await storage.events.creations_since(ada, 0) == [(now - 2 * HOUR, 20), (now, 3)]
    assert await storage.events.creations_since(bob, 0) == [(now - HOUR, 7)]


# ------------------------------------------------------- the planner's statistics


async def seats_found_by_id(storage: Storage, event_id: str, seat_ids: list[str]) -> bool:
    """Whether the write batch's one read (`event_with_seats`) finds these seats by
    their id, rather than by walking every seat of the event."""
    plan = await explain_first(storage, storage.seats.event_with_seats(event_id, seat_ids))
    if plan.visited is not None:
        return plan.visited <= len(seat_ids)
    return any(" s USING " in step and "(id=?)" in step for step in plan.steps)


async def test_a_large_new_event_is_read_by_seat_id(fresh_storage: Storage) -> None:
    """A new event can be most of the seat table, and until its statistics are read
    again the planner takes it for a few rows: a fresh 20,000-seat event's every write
    batch walked all its seats to find the few it named (measured: PostgreSQL's time a
    booking fell by a third once it did not). Publishing a large event refreshes them on
    PostgreSQL; on SQLite the read keeps the event's column out of its index choice."""
    storage = fresh_storage
    event_id, _ = await draft(storage, [f"S{n}" for n in range(3_000)])
    await storage.events.publish(event_id, 3_000)
    rows = await storage.seats.of_event(event_id)
    named = [str(rows[n]["id"]) for n in (5, 1_500, 2_999)]

    assert await seats_found_by_id(storage, event_id, named)
    event, seats, _ = await storage.seats.event_with_seats(event_id, named)
    assert event is not None and sorted(str(s["id"]) for s in seats) == sorted(named)


async def test_statistics_are_refreshed_after_large_writes_only(fresh_storage: Storage) -> None:
    """PostgreSQL's, after a write of a tenth of the table or more (SQLite's never: its
    averages, taken before a sale, make the (event, holder) index look useless)."""
    database = fresh_storage.database
    floor = database.ANALYZE_AFTER_ROWS
    postgres = isinstance(database, PostgresDatabase)
    assert await database.refresh_statistics("bo_seat", floor - 1) is False
    await draft(fresh_storage, [f"S{n}" for n in range(3 * floor)])
    assert await database.refresh_statistics("bo_seat", 3 * floor) is postgres
    if postgres:  # a tenth of what is there, or nothing
        assert await database.refresh_statistics("bo_seat", floor) is True
        await draft(fresh_storage, [f"T{n}" for n in range(12 * floor)])
        assert await database.refresh_statistics("bo_seat", 12 * floor) is True
        assert await database.refresh_statistics("bo_seat", floor) is False


@pytest.mark.parametrize("fresh_settings", ["services"], indirect=True)
async def test_a_refresh_that_cannot_have_its_lock_gives_up(
    fresh_storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL's ANALYZE waits for a running VACUUM's lock: publishing an event must
    not. (SQLite refreshes nothing.)"""
    database = fresh_storage.database
    assert isinstance(database, PostgresDatabase)
    monkeypatch.setattr(database, "ANALYZE_WAIT_MS", 100)
    pool = database.engine.pool
    assert pool is not None
    async with pool.acquire() as other, other.transaction():
        await other.execute('LOCK TABLE "bo_seat" IN SHARE UPDATE EXCLUSIVE MODE')
        assert (
            await database.refresh_statistics("bo_seat", 5 * database.ANALYZE_AFTER_ROWS) is False
        )
    assert "statistics of bo_seat not refreshed" in caplog.text
    assert await database.refresh_statistics("bo_seat", 5 * database.ANALYZE_AFTER_ROWS) is True
