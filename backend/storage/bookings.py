"""Bookings: one row per booked seat; the unique `active_seat` index is the guard."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from backend.seats import BookingStatus
from backend.storage.database import Database, PostgresDatabase
from backend.storage.seats import SEAT_FULL
from backend.storage.tables import Booking, Seat

ACTIVE, CANCELLED = BookingStatus.ACTIVE, BookingStatus.CANCELLED


_INSERT_MANY = """
INSERT INTO "bo_booking" ("id", "seat", "event", "user", "status", "active_seat", "created_at")
SELECT b.id, b.seat, $3, b.holder, $5, b.seat, now()
FROM unnest($1::uuid[], $2::uuid[], $4::uuid[]) AS b(id, seat, holder)
RETURNING "id", "seat", "user", "status", "created_at"
"""


class BookingRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def insert(
        self, event_id: str, seat_ids: Sequence[str], user_id: str, guard: bool = True
    ) -> list[dict[str, Any]]:
        """One active booking row per seat; `DuplicateKey` if one of them already has
        one (the unique `active_seat` index: the database, not the lock, refuses it).

        `guard=False` (the chaos tests' negative control only) leaves `active_seat` NULL,
        which the unique index never compares, so a second active booking goes in.
        """
        return await self._insert(event_id, [(seat_id, user_id) for seat_id in seat_ids], guard)

    async def insert_many(
        self, event_id: str, seats_and_users: Sequence[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """`insert` for a whole batch (backend/booking/batch.py): one active booking row
        per (seat, user), in one statement; `DuplicateKey` as `insert`. Rows come back
        with their `user` so the batch can hand each request its own."""
        if isinstance(self.db, PostgresDatabase):
            # One statement over arrays: building Piccolo rows was 8% of a batched
            # booking's app CPU (profile, issue 13).
            seats = [uuid.UUID(seat) for seat, _ in seats_and_users]
            users = [uuid.UUID(user) for _, user in seats_and_users]
            async with self.db.constraints("an active booking of this seat exists"):
                records = await self.db.records(
                    _INSERT_MANY,
                    [uuid.uuid4() for _ in seats],
                    seats,
                    uuid.UUID(event_id),
                    users,
                    ACTIVE.value,
                )
            return [dict(r) for r in records]
        return await self._insert(event_id, seats_and_users, guard=True)

    async def _insert(
        self, event_id: str, seats_and_users: Sequence[tuple[str, str]], guard: bool
    ) -> list[dict[str, Any]]:
        rows = [
            Booking(
                id=uuid.uuid4(),
                seat=seat_id,
                event=event_id,
                user=user_id,
                status=ACTIVE.value,
                active_seat=seat_id if guard else None,
            )
            for seat_id, user_id in seats_and_users
        ]
        async with self.db.constraints("an active booking of this seat exists"):
            return await Booking.insert(*rows).returning(
                Booking.id, Booking.seat, Booking.user, Booking.status, Booking.created_at
            )

    async def get(self, booking_id: str) -> dict[str, Any] | None:
        return await Booking.select().where(Booking.id == booking_id).first()

    async def cancel(self, booking_id: str, user_id: str) -> dict[str, Any] | None:
        """Cancel an active booking of the user; NULLing `active_seat` lets the seat be
        booked again. None if there was no such active booking."""
        rows = await (
            Booking.update(
                {
                    Booking.status: CANCELLED.value,
                    Booking.active_seat: None,
                    Booking.cancelled_at: datetime.now(UTC),
                }
            )
            .where(
                (Booking.id == booking_id) & (Booking.user == user_id) & (Booking.status == ACTIVE)
            )
            .returning(Booking.id, Booking.seat, Booking.event)
        )
        return rows[0] if rows else None

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
