"""How a seat looks to user U at time T: the one definition.

Every reader of seat state goes through this module: `GET /events/{id}` (`seat_out`),
the websocket snapshot, the live hub's per-user changes, the chaos history checker. The
storage's fast paths (PostgreSQL writing the seats' JSON, the compact seat map) build
the same answer in SQL from the same constants, and a test checks them value for value
against `seat_view` (tests/storage/test_projection.py).

The rule (pretix's): a seat is free when nobody holds it live and nobody has booked it.
A hold past its end is shown free even before the expiry sweeper has reached its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple


class SeatStatus(StrEnum):
    """A seat row's `status` column, and what clients are shown."""

    AVAILABLE = "available"
    HELD = "held"
    BOOKED = "booked"


class BookingStatus(StrEnum):
    """A booking row's `status` column."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


class IdempotencyState(StrEnum):
    """An Idempotency-Key row's `state`: claimed by a running request, or answered."""

    IN_FLIGHT = "in_flight"
    DONE = "done"


def effective_status(status: str, held_until_ms: int | None, now_ms: int) -> SeatStatus:
    """The status a seat shows at `now_ms` (database clock): an expired hold is free."""
    if status == SeatStatus.HELD and (held_until_ms or 0) <= now_ms:
        return SeatStatus.AVAILABLE
    return SeatStatus(status)


def is_mine(status: str, holder: object, user_id: str | None) -> bool:
    """Whether `user_id` holds or booked a seat showing `status` (never a free one)."""
    return (
        user_id is not None
        and status != SeatStatus.AVAILABLE
        and holder is not None
        and str(holder) == user_id
    )


class SeatView(NamedTuple):
    """A seat as one user sees it at one time."""

    status: SeatStatus
    held_until_ms: int | None  # only while the hold is live
    mine: bool


def seat_view(row: Mapping[str, Any], now_ms: int, user_id: str | None) -> SeatView:
    """How the seat in `row` (`status`, `holder`, `held_until_ms`) looks to `user_id`."""
    status = effective_status(row["status"], row["held_until_ms"], now_ms)
    return SeatView(
        status=status,
        held_until_ms=int(row["held_until_ms"]) if status == SeatStatus.HELD else None,
        mine=is_mine(status, row["holder"], user_id),
    )


def live_seat(
    seat_id: str, version: int, status: str, held_until: str | None, mine: bool
) -> dict[str, Any]:
    """A seat in the live protocol's shape (DESIGN §4): `heldUntil` and `mine` only when
    they say something, as in `GET /events/{id}`."""
    seat: dict[str, Any] = {"id": seat_id, "status": status, "version": version}
    if held_until is not None:
        seat["heldUntil"] = held_until
    if mine:
        seat["mine"] = True
    return seat
