"""Events: create with their seats, read, list with counts, change, delete."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column
from piccolo.query.functions.aggregate import Count

from backend.seats import BookingStatus, SeatStatus
from backend.storage.database import Database
from backend.storage.tables import Booking, Event, Seat

INSERT_CHUNK = 1000
# The columns `update` may change (the caller's names are the table's).
EDITABLE = (
    "name",
    "venue",
    "starts_at",
    "hold_seconds",
    "max_seats_per_user",
    "on_sale_at",
    "waiting_room",
    "max_shoppers",
    "shopper_seconds",
)


class EventRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def create(self, event: Mapping[str, Any], seats: Sequence[Mapping[str, Any]]) -> str:
        """Insert the event and its seats (each seat: label, section, row, number,
        category, accessible, x, y) in one transaction; return the event's id."""
        event_id = uuid.uuid4()
        rows = [
            Seat(
                id=uuid.uuid4(),
                event=event_id,
                status=SeatStatus.AVAILABLE.value,
                version=1,
                **seat,
            )
            for seat in seats
        ]
        async with self.db.transaction(), self.db.constraints("the organiser's account"):
            await Event.insert(Event(id=event_id, **event))
            for start in range(0, len(rows), INSERT_CHUNK):
                await Seat.insert(*rows[start : start + INSERT_CHUNK])
        return str(event_id)

    async def get(self, event_id: str) -> dict[str, Any] | None:
        """The event row (categories decoded), or None."""
        return await Event.select().where(Event.id == event_id).output(load_json=True).first()

    async def all(self) -> list[dict[str, Any]]:
        """Every event, soonest first, those without a date last, then by creation and
        id: the same order on both engines (SQLite sorts NULL first, PostgreSQL last, so
        the order is made here rather than by ORDER BY)."""
        rows = await Event.select().output(load_json=True)
        return sorted(rows, key=_list_order)

    async def many(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Those events, by id."""
        if not event_ids:
            return {}
        rows = await Event.select().where(Event.id.is_in(list(event_ids))).output(load_json=True)
        return {str(e["id"]): e for e in rows}

    async def counts(self, event_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
        """Seats per event by stored status (an expired hold not yet swept counts as
        held here, as in the list view it always has), and `total`."""
        query = Seat.select(Seat.event, Seat.status, Count()).group_by(Seat.event, Seat.status)
        if event_ids is not None:
            query = query.where(Seat.event.is_in(event_ids))
        result: dict[str, dict[str, int]] = defaultdict(
            lambda: {"total": 0, **{s.value: 0 for s in SeatStatus}}
        )
        for row in await query:
            entry = result[str(row["event"])]
            entry[row["status"]] += int(row["count"])
            entry["total"] += int(row["count"])
        return result

    async def with_waiting_room(self) -> list[str]:
        """The ids of the events whose waiting room is on."""
        rows = await Event.select(Event.id).where(Event.waiting_room == True)  # noqa: E712
        return [str(row["id"]) for row in rows]

    async def seat_count(self, event_id: str) -> int:
        return int(await Seat.count().where(Seat.event == event_id))

    async def update(self, event_id: str, values: Mapping[str, Any]) -> None:
        """Change the named columns (see `EDITABLE`)."""
        unknown = set(values) - set(EDITABLE)
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if values:
            columns: dict[Column | str, Any] = {
                Event._meta.get_column_by_name(k): v for k, v in values.items()
            }
            async with self.db.transaction():
                await Event.update(columns).where(Event.id == event_id)

    async def activity(self, event_id: str, now_ms: int) -> tuple[int, int, int | None]:
        """What stops a deletion: (active bookings, seats held live at `now_ms`, when the
        last of those holds ends)."""
        active = await Booking.count().where(
            (Booking.event == event_id) & (Booking.status == BookingStatus.ACTIVE)
        )
        held = await Seat.select(Seat.held_until_ms).where(
            (Seat.event == event_id)
            & (Seat.status == SeatStatus.HELD)
            & (Seat.held_until_ms > now_ms)
        )
        ends = [int(row["held_until_ms"]) for row in held]
        return int(active), len(ends), max(ends) if ends else None

    async def remove(self, event_id: str) -> None:
        """Delete the event, its seats and its cancelled bookings (inside the caller's
        transaction: see `Storage.delete_event_if_idle`)."""
        await Booking.delete().where(Booking.event == event_id)
        await Event.delete().where(Event.id == event_id)

    async def demo_exists(self) -> bool:
        return bool(await Event.exists().where(Event.is_demo == True))  # noqa: E712 (Piccolo)


def _list_order(event: dict[str, Any]) -> tuple[bool, datetime, datetime, str]:
    def utc(value: Any) -> datetime:
        moment: datetime = value or datetime.min
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    return (
        event["starts_at"] is None,
        utc(event["starts_at"]),
        utc(event["created_at"]),
        str(event["id"]),
    )
