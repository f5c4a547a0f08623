"""Tickets and the door (issue 15, items 2 and 3).

Each active booking has a ticket code (`backend/tickets.py`: signed, checked without the
database). At the door, the event's organiser or one of its door staff (accounts the
organiser adds by email) scans a code:

* a code this deployment did not sign, or one for another event's seat: 404
  `ticket_not_found` (a forged code never reaches the database);
* the first scan of an active booking: 200 with the seat and its buyer;
* a second scan: 409 `already_checked_in` with when; a cancelled booking: 409 `cancelled`.

The check-in is one compare-and-set on the booking row (`DoorRepository.check_in`), so
two scans of one ticket at the same moment give exactly one 200, on either database and
across processes. A checked-in booking can no longer be cancelled (`BookingService`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from backend.booking.events import existing_event, organised_event
from backend.errors import (
    AccountNotFound,
    AlreadyCheckedIn,
    Forbidden,
    InvalidInput,
    NotFound,
    TicketCancelled,
    TicketNotFound,
)
from backend.seats import BookingStatus, SeatAction
from backend.storage import LogEntry, Storage
from backend.tickets import TicketSigner, grouped
from backend.timefmt import iso

log = logging.getLogger("boxoffice.door")


@dataclass(frozen=True)
class Admission:
    """A ticket scanned at the door: whose seat it is and how the door stands."""

    booking: dict[str, Any]  # booking id, seat, event, user, status, order, checked_in_at
    seat: dict[str, Any]
    event: dict[str, Any]
    holder_email: str
    order_reference: str | None
    checked_in: int
    booked: int


class DoorService:
    def __init__(self, storage: Storage, signer: TicketSigner) -> None:
        # Called after each check-in with (event id, checked in, booked, the accounts
        # at its door: organiser and staff): the live channel tells their sockets.
        self.checked_in: list[Callable[[str, int, int, list[str]], Awaitable[None]]] = []
        self.storage = storage
        self.signer = signer

    def ticket_code(self, booking_id: str) -> str:
        """The booking's ticket code, grouped for reading (`ABCD-EFGH-…`)."""
        return grouped(self.signer.code(booking_id))

    async def _organised(self, user_id: str, event_id: str) -> dict[str, Any]:
        return await organised_event(
            self.storage, user_id, event_id, "only the event's organiser manages its door staff"
        )

    async def _at_the_door(self, user_id: str, event_id: str) -> dict[str, Any]:
        event = await existing_event(self.storage, event_id)
        if str(event["organiser"]) != user_id and not await self.storage.door.is_staff(
            event_id, user_id
        ):
            raise Forbidden("only the event's organiser and door staff check tickets")
        return event

    # Door staff -------------------------------------------------------------------

    async def add_staff(
        self, user_id: str, event_id: str, email: str
    ) -> tuple[dict[str, Any], bool]:
        """Add the account with this email to the event's door staff; (the staff
        member, whether they were new)."""
        event = await self._organised(user_id, event_id)
        member = await self.storage.users.id_of(email.strip().lower())
        if member is None:
            raise AccountNotFound(f"no account with the email {email!r}")
        if member == str(event["organiser"]):
            raise InvalidInput("the organiser can check tickets already")
        created = await self.storage.door.add_staff(event_id, member)
        (row,) = [s for s in await self.storage.door.staff(event_id) if str(s["user_id"]) == member]
        return row, created

    async def staff(self, user_id: str, event_id: str) -> list[dict[str, Any]]:
        await self._organised(user_id, event_id)
        return await self.storage.door.staff(event_id)

    async def remove_staff(self, user_id: str, event_id: str, member: str) -> list[dict[str, Any]]:
        """Take an account off the event's door staff; the staff left."""
        await self._organised(user_id, event_id)
        if not await self.storage.door.remove_staff(event_id, member):
            raise NotFound("that account is not on this event's door staff")
        return await self.storage.door.staff(event_id)

    # Scanning ---------------------------------------------------------------------

    async def counts(self, user_id: str, event_id: str) -> tuple[int, int]:
        """(checked in, booked) for the organiser and door staff."""
        await self._at_the_door(user_id, event_id)
        return await self.storage.door.counts(event_id)

    async def check_in(self, user_id: str, event_id: str, code: str) -> Admission:
        event = await self._at_the_door(user_id, event_id)
        booking_id = self.signer.booking_of(code)
        if booking_id is None:
            raise TicketNotFound("not a ticket code")
        async with self.storage.transaction():
            row = await self.storage.door.check_in(booking_id, event_id, user_id)
            if row is not None:  # the status-change log (item 4), in this transaction
                order = row.get("order_id")
                await self.storage.seat_log.record(
                    [
                        LogEntry(
                            event_id,
                            str(row["seat"]),
                            SeatAction.CHECKED_IN,
                            user_id,
                            None if order is None else str(order),
                        )
                    ]
                )
        if row is None:
            row = await self.storage.door.ticket(booking_id)
            if row is None or str(row["event"]) != event_id:
                raise TicketNotFound("not a ticket for this event")
            admission = await self._admission(row, event)
            extra = _ticket_extra(admission)
            if row["status"] != BookingStatus.ACTIVE.value:
                raise TicketCancelled("this ticket's booking was cancelled", **extra)
            raise AlreadyCheckedIn(
                "this ticket has been checked in already",
                checkedInAt=iso(row["checked_in_at"]),
                **extra,
            )
        admission = await self._admission(row, event)
        await self._announce(event, admission)
        return admission

    async def _announce(self, event: dict[str, Any], admission: Admission) -> None:
        """Tell the organiser's and door staff's open pages the new count (check-ins
        change no seat, so no seat change carries them); log, never raise."""
        if not self.checked_in:
            return
        event_id = str(event["id"])
        try:
            door = [str(event["organiser"])]
            door += [str(s["user_id"]) for s in await self.storage.door.staff(event_id)]
            for listener in self.checked_in:
                await listener(event_id, admission.checked_in, admission.booked, door)
        except Exception as exc:
            log.warning("announcing a check-in at %s failed: %s", event_id, exc)

    async def _admission(self, row: dict[str, Any], event: dict[str, Any]) -> Admission:
        seat_id = str(row["seat"])
        seats = await self.storage.bookings.seats([seat_id])
        holder = await self.storage.users.get(str(row["user"]))
        order = None
        if row.get("order_id") is not None:
            order = await self.storage.orders.get(str(row["order_id"]))
        checked_in, booked = await self.storage.door.counts(str(event["id"]))
        return Admission(
            booking=row,
            seat=seats[seat_id],
            event=event,
            holder_email="" if holder is None else str(holder["email"]),
            order_reference=None if order is None else str(order["reference"]),
            checked_in=checked_in,
            booked=booked,
        )


def seat_in_words(seat: dict[str, Any], event: dict[str, Any]) -> str:
    """`Stalls, row C, seat 12 (Premium)`; the label when the seat has no row/number."""
    parts = [seat.get("section") or ""]
    if seat.get("row"):
        parts.append(f"row {seat['row']}")
    if seat.get("number"):
        parts.append(f"seat {seat['number']}")
    words = ", ".join(p for p in parts if p) or f"seat {seat['label']}"
    words = words[0].upper() + words[1:]
    for category in event.get("categories") or ():
        if category.get("id") == seat.get("category") and category.get("name"):
            return f"{words} ({category['name']})"
    return words


def _ticket_extra(admission: Admission) -> dict[str, Any]:
    """What a refused scan still tells the door: which seat, whose, how the door stands."""
    return {
        "seat": seat_in_words(admission.seat, admission.event),
        "seatLabel": admission.seat["label"],
        "holder": admission.holder_email,
        "checkedIn": admission.checked_in,
        "booked": admission.booked,
    }
