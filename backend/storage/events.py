"""Events: create (a draft, its seats in chunks, published), read, list with counts,
change, delete; and the record of creations that the daily quota counts."""

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
from backend.storage.tables import Booking, Event, EventCreation, Order, Seat

# `add_seats`'s columns, in the order of its rows' values.
SEAT_INSERT_COLUMNS = (
    "id",
    "event",
    "label",
    "section",
    "row",
    "number",
    "category",
    "accessible",
    "x",
    "y",
    "status",
    "version",
)
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

    # ------------------------------------------------------------- creating
    # A large event is written in many short transactions (issue 11, item 6), so its
    # event row goes first as a draft that no read shows, and the last step publishes
    # it: nobody sees an event half made, and a failure leaves at most a hidden draft.

    async def insert_draft(self, event: Mapping[str, Any]) -> str:
        """Insert the event row as a draft (no read shows it yet); its id. Inside the
        caller's transaction."""
        event_id = uuid.uuid4()
        async with self.db.constraints("the organiser's account"):
            await Event.insert(Event(id=event_id, **event, draft=True))
        return str(event_id)

    async def add_seats(self, event_id: str, seats: Sequence[Mapping[str, Any]]) -> None:
        """Insert seats of a draft (each: label, section, row, number, category,
        accessible, x, y), available at version 1, in one transaction of their own."""
        event = uuid.UUID(event_id)
        available = SeatStatus.AVAILABLE.value
        rows = [
            (
                uuid.uuid4(),
                event,
                s["label"],
                s["section"],
                s["row"],
                s["number"],
                s["category"],
                s["accessible"],
                s["x"],
                s["y"],
                available,
                1,
            )
            for s in seats
        ]
        async with self.db.transaction():
            await self.db.insert_rows(Seat._meta.tablename, SEAT_INSERT_COLUMNS, rows)

    async def publish(self, event_id: str, seats: int) -> None:
        """Make a draft of `seats` seats an event every read shows: the seat table's
        statistics refreshed first if the new seats may mislead the planner (its first
        sale is planned for what is really there)."""
        await self.db.refresh_statistics(Seat._meta.tablename, seats)
        async with self.db.transaction():
            await Event.update({Event.draft: False}).where(Event.id == event_id)

    async def discard_draft(self, event_id: str, chunk: int) -> None:
        """Delete a draft and its seats, `chunk` seats a transaction (a published event
        is left alone)."""
        while True:
            async with self.db.transaction():
                draft = await Event.exists().where(
                    (Event.id == event_id) & (Event.draft == True)  # noqa: E712
                )
                if not draft:
                    return
                rows = await Seat.select(Seat.id).where(Seat.event == event_id).limit(chunk)
                if not rows:
                    await Event.delete().where(Event.id == event_id)
                    return
                await Seat.delete().where(Seat.id.is_in([r["id"] for r in rows]))

    async def record_creation(
        self, organiser_id: str, event_id: str, seats: int, at_ms: int, forget_before_ms: int
    ) -> None:
        """Note that the organiser created an event of `seats` seats at `at_ms` (what the
        daily quota counts), and forget their notes from before `forget_before_ms`.
        Inside the caller's transaction."""
        await EventCreation.delete().where(
            (EventCreation.organiser == organiser_id)
            & (EventCreation.created_at_ms < forget_before_ms)
        )
        await EventCreation.insert(
            EventCreation(
                organiser=organiser_id, event=uuid.UUID(event_id), seats=seats, created_at_ms=at_ms
            )
        )

    async def creations_since(self, organiser_id: str, since_ms: int) -> list[tuple[int, int]]:
        """The organiser's creations since `since_ms`, oldest first: (at_ms, seats)."""
        rows = (
            await EventCreation.select(EventCreation.created_at_ms, EventCreation.seats)
            .where(
                (EventCreation.organiser == organiser_id)
                & (EventCreation.created_at_ms >= since_ms)
            )
            .order_by(EventCreation.created_at_ms)
        )
        return [(int(r["created_at_ms"]), int(r["seats"])) for r in rows]

    # -------------------------------------------------------------- reading
    # Every read below shows published events only.

    async def get(self, event_id: str) -> dict[str, Any] | None:
        """The event row (categories decoded), or None."""
        return (
            await Event.select()
            .where((Event.id == event_id) & (Event.draft == False))  # noqa: E712
            .output(load_json=True)
            .first()
        )

    async def all(self) -> list[dict[str, Any]]:
        """Every event, soonest first, those without a date last, then by creation and
        id: the same order on both engines (SQLite sorts NULL first, PostgreSQL last, so
        the order is made here rather than by ORDER BY)."""
        rows = await Event.select().where(Event.draft == False).output(load_json=True)  # noqa: E712
        return sorted(rows, key=_list_order)

    async def many(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Those events, by id."""
        if not event_ids:
            return {}
        rows = (
            await Event.select()
            .where(Event.id.is_in(list(event_ids)) & (Event.draft == False))  # noqa: E712
            .output(load_json=True)
        )
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
        """The ids of the events whose waiting room is on (not cancelled)."""
        rows = await Event.select(Event.id).where(
            (Event.waiting_room == True)  # noqa: E712
            & (Event.draft == False)  # noqa: E712
            & Event.cancelled_at.is_null()  # a cancelled event admits nobody
        )
        return [str(row["id"]) for row in rows]

    async def seat_count(self, event_id: str) -> int:
        return int(await Seat.count().where(Seat.event == event_id))

    async def update(self, event_id: str, values: Mapping[str, Any]) -> bool:
        """Change the named columns (see `EDITABLE`) of an event not cancelled; False if
        it was cancelled (or is gone) and nothing changed."""
        unknown = set(values) - set(EDITABLE)
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        columns: dict[Column | str, Any] = {
            Event._meta.get_column_by_name(k): v for k, v in values.items()
        }
        if not columns:  # nothing to change: say whether there is an open event to change
            return bool(
                await Event.exists().where((Event.id == event_id) & Event.cancelled_at.is_null())
            )
        async with self.db.transaction():
            changed = (
                await Event.update(columns)
                .where((Event.id == event_id) & Event.cancelled_at.is_null())
                .returning(Event.id)
            )
        return bool(changed)

    async def mark_cancelled(
        self, event_id: str, reason: str | None
    ) -> tuple[datetime, str | None] | None:
        """Mark the event cancelled (once: a second call keeps the first time and
        reason). Returns when it was cancelled and why; None if there is no such event."""
        await Event.update(
            {Event.cancelled_at: datetime.now(UTC), Event.cancel_reason: reason}
        ).where((Event.id == event_id) & Event.cancelled_at.is_null())
        row = (
            await Event.select(Event.cancelled_at, Event.cancel_reason)
            .where(Event.id == event_id)
            .first()
        )
        return None if row is None else (row["cancelled_at"], row["cancel_reason"])

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
        """Delete the event, its seats, its cancelled bookings and their orders (inside
        the caller's transaction: see `Storage.delete_event_if_idle`)."""
        await Booking.delete().where(Booking.event == event_id)
        await Order.delete().where(Order.event == event_id)
        await Event.delete().where(Event.id == event_id)

    async def demo_names(self) -> set[str]:
        """The names of the demo events there are (a demo whose creation failed midway
        is a draft: it does not count)."""
        rows = await Event.select(Event.name).where(
            (Event.is_demo == True) & (Event.draft == False)  # noqa: E712 (Piccolo)
        )
        return {str(r["name"]) for r in rows}


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
