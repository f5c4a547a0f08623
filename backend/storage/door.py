"""The door (issue 15, item 3): check-ins and each event's door staff.

A check-in is a compare-and-set on the booking row (`checked_in_at` NULL → now, only
while the booking is active): two scans of one ticket at the same moment update it
once, and a cancel racing a scan is refused by the same row (the cancel's condition
asks for `checked_in_at` NULL too). Staff rows have an id derived from (event, user),
so adding someone twice is one row.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from backend.seats import BookingStatus
from backend.storage.database import Database
from backend.storage.tables import Booking, EventStaff

STAFF_NAMESPACE = uuid.UUID("6f1c4d3e-2b0a-4e7f-9c58-d1a2b3c4e5f6")
CHECKIN_COLUMNS = (
    Booking.id,
    Booking.seat,
    Booking.event,
    Booking.user,
    Booking.status,
    Booking.order_id,
    Booking.checked_in_at,
)


def staff_id(event_id: str, user_id: str) -> uuid.UUID:
    return uuid.uuid5(STAFF_NAMESPACE, f"{uuid.UUID(event_id)}/{uuid.UUID(user_id)}")


class DoorRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def check_in(self, booking_id: str, event_id: str, by: str) -> dict[str, Any] | None:
        """Check the booking in if it is this event's, active and not yet checked in;
        its row (`CHECKIN_COLUMNS`), or None when nothing changed."""
        rows: list[dict[str, Any]] = await (
            Booking.update({Booking.checked_in_at: datetime.now(UTC), Booking.checked_in_by: by})
            .where(
                (Booking.id == booking_id)
                & (Booking.event == event_id)
                & (Booking.status == BookingStatus.ACTIVE.value)
                & Booking.checked_in_at.is_null()
            )
            .returning(*CHECKIN_COLUMNS)
        )
        return rows[0] if rows else None

    async def ticket(self, booking_id: str) -> dict[str, Any] | None:
        """The booking behind a ticket (`CHECKIN_COLUMNS`), or None."""
        row: dict[str, Any] | None = (
            await Booking.select(*CHECKIN_COLUMNS).where(Booking.id == booking_id).first()
        )
        return row

    async def counts(self, event_id: str) -> tuple[int, int]:
        """(checked in, active bookings) of the event."""
        active = await Booking.count().where(
            (Booking.event == event_id) & (Booking.status == BookingStatus.ACTIVE.value)
        )
        checked_in = await Booking.count().where(
            (Booking.event == event_id)
            & (Booking.status == BookingStatus.ACTIVE.value)
            & Booking.checked_in_at.is_not_null()
        )
        return int(checked_in), int(active)

    async def add_staff(self, event_id: str, user_id: str) -> bool:
        """Add the user to the event's door staff; False if they already were."""
        inserted = await (
            EventStaff.insert(
                EventStaff(id=staff_id(event_id, user_id), event=event_id, user=user_id)
            )
            .on_conflict(target=EventStaff.id, action="DO NOTHING")
            .returning(EventStaff.id)
        )
        return bool(inserted)

    async def remove_staff(self, event_id: str, user_id: str) -> bool:
        removed = await (
            EventStaff.delete()
            .where(EventStaff.id == staff_id(event_id, user_id))
            .returning(EventStaff.id)
        )
        return bool(removed)

    async def is_staff(self, event_id: str, user_id: str) -> bool:
        return bool(await EventStaff.exists().where(EventStaff.id == staff_id(event_id, user_id)))

    async def staff(self, event_id: str) -> list[dict[str, Any]]:
        """The event's door staff, earliest added first: user id, email, added at."""
        rows = await (
            EventStaff.select(
                EventStaff.user.as_alias("user_id"),
                EventStaff.user.email.as_alias("email"),
                EventStaff.created_at,
            )
            .where(EventStaff.event == event_id)
            .order_by(EventStaff.created_at)
        )
        return [dict(r) for r in rows]
