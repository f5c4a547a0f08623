"""What the booking rules hand back: plain data, no ORM objects, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from backend.seats import SeatStatus


@dataclass(frozen=True)
class SeatChange:
    """One seat's new state, as published to watchers. `holder` never leaves the server."""

    id: str
    status: str
    version: int
    held_until_ms: int | None = None
    holder: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SeatChange:
        # A committed change is read at its commit: its stored status is what it shows.
        status = SeatStatus(row["status"])
        return cls(
            id=str(row["id"]),
            status=status,
            version=int(row["version"]),
            held_until_ms=row.get("held_until_ms") if status == SeatStatus.HELD else None,
            holder=(
                str(row["holder"]) if row.get("holder") and status != SeatStatus.AVAILABLE else None
            ),
        )


@dataclass(frozen=True)
class HoldResult:
    event_id: str
    seats: list[dict[str, Any]]
    expires_at_ms: int


@dataclass(frozen=True)
class BookingRecord:
    id: str
    status: str
    created_at: Any
    cancelled_at: Any
    user_id: str
    seat: dict[str, Any]
    event: dict[str, Any]
    price: int = 0  # what was paid, in minor units (copied when booked)
    order_id: str | None = None
    order: dict[str, Any] | None = None  # the order's row, when the caller has it
    checked_in_at: Any = None  # when its ticket was scanned at the door


@dataclass(frozen=True)
class OrderRecord:
    """An order (issue 15, item 1) with its bookings, active and cancelled."""

    order: dict[str, Any]  # its row: id, reference, event, user, currency, total, created_at
    bookings: list[BookingRecord]


class ChangePublisher(Protocol):
    """Where committed seat changes go (the live channel); must never raise."""

    async def publish(self, event_id: str, changes: list[SeatChange]) -> None: ...
