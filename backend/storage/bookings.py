"""Bookings: one row per booked seat; the unique `active_seat` index is the guard."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from backend.seats import BookingStatus
from backend.storage.database import Database, PostgresDatabase
from backend.storage.seats import SEAT_FULL
from backend.storage.tables import Booking, Seat

ACTIVE, CANCELLED = BookingStatus.ACTIVE, BookingStatus.CANCELLED


_INSERT_MANY = """
INSERT INTO "bo_booking"
    ("id", "seat", "event", "user", "status", "active_seat", "created_at", "order_id", "price")
SELECT b.id, b.seat, $3, b.holder, $5, b.seat, now(), b.order_id, b.price
FROM unnest($1::uuid[], $2::uuid[], $4::uuid[], $6::uuid[], $7::int[])
    AS b(id, seat, holder, order_id, price)
RETURNING "id", "seat", "user", "status", "created_at", "order_id", "price"
"""


_LOCK_EVENT_BOOKINGS = (
    'SELECT "id" FROM "bo_booking" WHERE "event" = $1 AND "status" = $2 ORDER BY "id" FOR UPDATE'
)


class NewBooking(NamedTuple):
    """A booking to insert: its seat, its buyer, its order and its price."""

    seat: str
    user: str
    order_id: str | None = None
    price: int = 0


class BookingRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def insert(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        user_id: str,
        guard: bool = True,
        order_id: str | None = None,
        prices: dict[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """One active booking row per seat (of `order_id`, at `prices`); `DuplicateKey`
        if one of them already has one (the unique `active_seat` index: the database,
        not the lock, refuses it).

        `guard=False` (the chaos tests' negative control only) leaves `active_seat` NULL,
        which the unique index never compares, so a second active booking goes in.
        """
        prices = prices or {}
        rows = [NewBooking(s, user_id, order_id, prices.get(s, 0)) for s in seat_ids]
        return await self._insert(event_id, rows, guard)

    async def insert_many(
        self, event_id: str, bookings: Sequence[NewBooking]
    ) -> list[dict[str, Any]]:
        """`insert` for a whole batch (backend/booking/batch.py): one active booking row
        each, in one statement; `DuplicateKey` as `insert`. Rows come back with their
        `user` so the batch can hand each request its own."""
        if isinstance(self.db, PostgresDatabase):
            # One statement over arrays: building Piccolo rows was 8% of a batched
            # booking's app CPU (profile, issue 13).
            async with self.db.constraints("an active booking of this seat exists"):
                records = await self.db.records(
                    _INSERT_MANY,
                    [uuid.uuid4() for _ in bookings],
                    [uuid.UUID(b.seat) for b in bookings],
                    uuid.UUID(event_id),
                    [uuid.UUID(b.user) for b in bookings],
                    ACTIVE.value,
                    [None if b.order_id is None else uuid.UUID(b.order_id) for b in bookings],
                    [b.price for b in bookings],
                )
            return [dict(r) for r in records]
        return await self._insert(event_id, bookings, guard=True)

    async def _insert(
        self, event_id: str, bookings: Sequence[NewBooking], guard: bool
    ) -> list[dict[str, Any]]:
        rows = [
            Booking(
                id=uuid.uuid4(),
                seat=b.seat,
                event=event_id,
                user=b.user,
                status=ACTIVE.value,
                active_seat=b.seat if guard else None,
                order_id=b.order_id,
                price=b.price,
            )
            for b in bookings
        ]
        async with self.db.constraints("an active booking of this seat exists"):
            return await Booking.insert(*rows).returning(
                Booking.id,
                Booking.seat,
                Booking.user,
                Booking.status,
                Booking.created_at,
                Booking.order_id,
                Booking.price,
            )

    async def get(self, booking_id: str) -> dict[str, Any] | None:
        return await Booking.select().where(Booking.id == booking_id).first()

    async def cancel(self, booking_id: str, user_id: str) -> dict[str, Any] | None:
        """Cancel an active booking of the user that has not been checked in; NULLing
        `active_seat` lets the seat be booked again. None if there was no such booking."""
        rows = await (
            Booking.update(
                {
                    Booking.status: CANCELLED.value,
                    Booking.active_seat: None,
                    Booking.cancelled_at: datetime.now(UTC),
                }
            )
            .where(
                (Booking.id == booking_id)
                & (Booking.user == user_id)
                & (Booking.status == ACTIVE)
                & Booking.checked_in_at.is_null()
            )
            .returning(Booking.id, Booking.seat, Booking.event, Booking.order_id, Booking.price)
        )
        return rows[0] if rows else None

    async def lock_event(self, event_id: str) -> None:
        """Lock the event's active bookings until the transaction ends, in id order,
        before its seats (the order a buyer's own cancel takes them: booking, then seat),
        so cancelling the event and cancelling a booking queue instead of deadlocking.
        SQLite's writer slot already serialises them."""
        if isinstance(self.db, PostgresDatabase):
            await self.db.records(_LOCK_EVENT_BOOKINGS, uuid.UUID(event_id), ACTIVE.value)

    async def cancel_event(self, event_id: str) -> list[dict[str, Any]]:
        """Cancel every active booking of the event, checked in or not (its organiser
        cancelled it; inside that transaction). Returns the cancelled rows."""
        return await (
            Booking.update(
                {
                    Booking.status: CANCELLED.value,
                    Booking.active_seat: None,
                    Booking.cancelled_at: datetime.now(UTC),
                }
            )
            .where((Booking.event == event_id) & (Booking.status == ACTIVE))
            .returning(Booking.id, Booking.seat, Booking.user, Booking.order_id, Booking.price)
        )

    async def of_user(self, user_id: str) -> list[dict[str, Any]]:
        """The user's bookings, active and cancelled, newest first."""
        return (
            await Booking.select()
            .where(Booking.user == user_id)
            .order_by(Booking.created_at, ascending=False)
        )

    async def seats(self, seat_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Those seats (every column a client sees), by id, whatever their event."""
        if not seat_ids:
            return {}
        rows = await Seat.select(*SEAT_FULL).where(Seat.id.is_in(list(seat_ids)))
        return {str(s["id"]): s for s in rows}
