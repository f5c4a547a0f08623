"""The booking rules' pure parts, shared by the one-request path (`service.py`) and the
group commit (`batch.py`): what a request is refused for, and what it is answered with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from backend.booking.records import BookingRecord
from backend.errors import (
    BoxofficeError,
    EventCancelled,
    NotFound,
    SeatLimitExceeded,
    SeatsBooked,
    SeatsLocked,
)
from backend.seats import SeatStatus, effective_status, is_mine
from backend.timefmt import iso, iso_from_ms

# One buyer's holds on an event are one cart with one end: at most this many times the
# event's hold time after the cart's first hold was taken ("More time" stops there).
HOLD_CAP_FACTOR = 2


def all_found(
    event_id: str, seat_ids: Sequence[str], rows: Iterable[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The rows by seat id; 404 naming every requested seat that is not in the event."""
    found = {str(row["id"]): row for row in rows}
    missing = [seat_id for seat_id in seat_ids if seat_id not in found]
    if missing:
        raise NotFound(f"no seat {', '.join(missing)} in event {event_id}", seatIds=missing)
    return found


def refusal(rows: Iterable[dict[str, Any]], user_id: str, now: int) -> BoxofficeError | None:
    """What these seat states refuse a request by `user_id`: booked (409) before held
    live by someone else (423), or nothing."""
    rows = list(rows)
    booked = [str(r["id"]) for r in rows if r["status"] == SeatStatus.BOOKED]
    if booked:
        return SeatsBooked("Seat already booked", seatIds=booked)
    held = [
        {"id": str(r["id"]), "heldUntil": iso_from_ms(r["held_until_ms"])}
        for r in rows
        if effective_status(r["status"], r["held_until_ms"], now) == SeatStatus.HELD
        and not is_mine(SeatStatus.HELD, r["holder"], user_id)
    ]
    if held:
        return SeatsLocked("Seat is held by someone else", seats=held)
    return None


def to_lock(
    rows: dict[str, dict[str, Any]], seat_ids: Sequence[str], user_id: str, now: int
) -> list[str]:
    """The seats of a request whose locks it takes: all but those the read (`rows`, at
    `now`) shows `user_id` holding live.

    Nobody else can take a seat from its live holder (every other request is refused it
    by the transaction's compare-and-set), so its lock could only turn the holder away:
    another process's best-available probe, picking from a read older than the hold,
    may lock the seat for a moment before its own transaction finds it held. The holder's
    writes are still ordered by the transaction's row locks and compare-and-set (if the
    hold lapses meanwhile, the seat is free and contested like any other)."""
    return [
        s
        for s in seat_ids
        if not (
            effective_status(rows[s]["status"], rows[s]["held_until_ms"], now) == SeatStatus.HELD
            and is_mine(SeatStatus.HELD, rows[s]["holder"], user_id)
        )
    ]


def cart_end(now: int, hold_ms: int, first_held_ms: int | None) -> int:
    """When a buyer's holds on an event end after a hold at `now`: the event's hold time
    from now, but never more than `HOLD_CAP_FACTOR` hold times after the cart's first
    hold (`first_held_ms`, the earliest `held_since_ms` of their live holds; None when
    they hold nothing yet). Every hold of the cart, old and new, gets this one end."""
    first = now if first_held_ms is None else min(first_held_ms, now)
    return min(now + hold_ms, first + HOLD_CAP_FACTOR * hold_ms)


def cancelled_event(when: str | None) -> EventCancelled:
    """The refusal of a hold, booking or queue join on an event its organiser cancelled
    (`when`: unknown to a batch that lost the race to the cancellation)."""
    return EventCancelled(
        "this event has been cancelled by its organiser",
        **({"cancelledAt": when} if when else {}),
    )


def check_open(event: dict[str, Any]) -> None:
    """Refuse a hold or booking on a cancelled event (as read before the transaction;
    the transaction reads it again after taking the seats, see `EventService.cancel`)."""
    if event.get("cancelled_at") is not None:
        raise cancelled_event(iso(event["cancelled_at"]))


def check_request_size(event: dict[str, Any], seat_ids: Sequence[str]) -> None:
    limit = int(event["max_seats_per_user"])
    if len(seat_ids) > limit:
        raise SeatLimitExceeded(
            f"at most {limit} seats per person for this event; asked for {len(seat_ids)}",
            limit=limit,
        )


def booking_record(
    row: dict[str, Any],
    user_id: str,
    seat: dict[str, Any],
    event: dict[str, Any],
    order: dict[str, Any] | None = None,
) -> BookingRecord:
    order_id = row.get("order_id")
    return BookingRecord(
        id=str(row["id"]),
        status=row["status"],
        created_at=row["created_at"],
        cancelled_at=row.get("cancelled_at"),
        user_id=user_id,
        seat=seat,
        event=event,
        price=int(row.get("price") or 0),
        order_id=None if order_id is None else str(order_id),
        order=order,
        checked_in_at=row.get("checked_in_at"),
    )


def seat_price(event: dict[str, Any], seat: dict[str, Any]) -> int:
    """The seat's price now (its category's, in minor units; 0 without one): what a
    booking made now copies."""
    for category in event.get("categories") or ():
        if category.get("id") == seat.get("category"):
            return int(category.get("price") or 0)
    return 0
