"""Every query the booking rules run, written with Piccolo's query builder.

Writes are compare-and-set: each UPDATE names the state it expects in its WHERE and
RETURNs what it changed, so two writers can never both win a seat, whatever the locks
did. Every change bumps `version`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import And, Or, Where
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.engine.base import Engine

from backend.storage.db import is_postgres
from backend.storage.tables import ACTIVE, AVAILABLE, BOOKED, CANCELLED, HELD, Booking, Event, Seat, User

SEAT_STATE: tuple[Column, ...] = (
    Seat.id,
    Seat.status,
    Seat.holder,
    Seat.held_until_ms,
    Seat.version,
)
SEAT_FULL: tuple[Column, ...] = (
    Seat.id,
    Seat.label,
    Seat.section,
    Seat.row,
    Seat.number,
    Seat.category,
    Seat.accessible,
    Seat.x,
    Seat.y,
    *SEAT_STATE[1:],
)


def _free_now(now_ms: int) -> Or:
    # A seat is free when nobody holds it live and nobody has booked it (pretix's rule):
    # an expired hold that the sweeper has not reached yet counts as free.
    return (Seat.status == AVAILABLE) | ((Seat.status == HELD) & (Seat.held_until_ms <= now_ms))


async def lock_user(engine: Engine[Any], user_id: str) -> None:
    """Serialise one user's holds and bookings so the per-user seat limit cannot be raced.

    SQLite needs nothing: its writers are already serialised.
    """
    if is_postgres(engine):
        await User.select(User.id).where(User.id == user_id).lock_rows()


async def get_event(event_id: str) -> dict[str, Any] | None:
    return await Event.select().where(Event.id == event_id).output(load_json=True).first()


async def seats_by_id(event_id: str, seat_ids: Sequence[str]) -> list[dict[str, Any]]:
    return await Seat.select(*SEAT_FULL).where(
        (Seat.event == event_id) & Seat.id.is_in(list(seat_ids))
    )


async def event_seats(event_id: str) -> list[dict[str, Any]]:
    return await Seat.select(*SEAT_FULL).where(Seat.event == event_id).order_by(Seat.y, Seat.x)


async def event_seat_states(event_id: str) -> list[dict[str, Any]]:
    return await Seat.select(*SEAT_STATE).where(Seat.event == event_id)


async def free_seats(event_id: str, now_ms: int, category: str | None) -> list[dict[str, Any]]:
    where: Where | And | Or = (Seat.event == event_id) & _free_now(now_ms)
    if category is not None:
        where = where & (Seat.category == category)
    return await Seat.select(
        Seat.id, Seat.section, Seat.row, Seat.number, Seat.x, Seat.y
    ).where(where)


async def hold_free(
    event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int, until_ms: int
) -> list[dict[str, Any]]:
    """Take free seats (or ones whose hold has expired) as holds for `user_id`."""
    return await (
        Seat.update(
            {
                Seat.status: HELD,
                Seat.holder: user_id,
                Seat.held_since_ms: now_ms,
                Seat.held_until_ms: until_ms,
                Seat.version: Seat.version + 1,
            }
        )
        .where((Seat.event == event_id) & Seat.id.is_in(list(seat_ids)) & _free_now(now_ms))
        .returning(*SEAT_STATE)
    )


async def extend_own_holds(
    event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int, until_ms: int, cap_ms: int
) -> list[dict[str, Any]]:
    """Re-holding your own live hold extends it to `until_ms`, but never past its cap."""
    own = (
        (Seat.event == event_id)
        & Seat.id.is_in(list(seat_ids))
        & (Seat.status == HELD)
        & (Seat.holder == user_id)
        & (Seat.held_until_ms > now_ms)
    )
    extended = await (
        Seat.update({Seat.held_until_ms: until_ms, Seat.version: Seat.version + 1})
        .where(own & (Seat.held_since_ms >= until_ms - cap_ms))
        .returning(*SEAT_STATE)
    )
    capped = await (
        Seat.update({Seat.held_until_ms: Seat.held_since_ms + cap_ms, Seat.version: Seat.version + 1})
        .where(
            own
            & (Seat.held_since_ms < until_ms - cap_ms)
            & (Seat.held_until_ms < Seat.held_since_ms + cap_ms)
        )
        .returning(*SEAT_STATE)
    )
    return [*extended, *capped]


async def own_live_holds(event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int) -> list[dict[str, Any]]:
    return await Seat.select(*SEAT_STATE).where(
        (Seat.event == event_id)
        & Seat.id.is_in(list(seat_ids))
        & (Seat.status == HELD)
        & (Seat.holder == user_id)
        & (Seat.held_until_ms > now_ms)
    )


async def book_seats(
    event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int
) -> list[dict[str, Any]]:
    """Mark seats booked: the caller's own holds, or free seats."""
    mine = (Seat.status == HELD) & (Seat.holder == user_id)
    return await (
        Seat.update(
            {
                Seat.status: BOOKED,
                Seat.holder: user_id,
                Seat.held_since_ms: None,
                Seat.held_until_ms: None,
                Seat.version: Seat.version + 1,
            }
        )
        .where(
            (Seat.event == event_id) & Seat.id.is_in(list(seat_ids)) & (mine | _free_now(now_ms))
        )
        .returning(*SEAT_STATE)
    )


async def count_user_seats(event_id: str, user_id: str, now_ms: int) -> int:
    live_hold = (Seat.status == HELD) & (Seat.held_until_ms > now_ms)
    return await Seat.count().where(
        (Seat.event == event_id) & (Seat.holder == user_id) & ((Seat.status == BOOKED) | live_hold)
    )


async def insert_bookings(event_id: str, seat_ids: Sequence[str], user_id: str) -> list[dict[str, Any]]:
    """One booking row per seat. The unique `active_seat` column refuses a second one."""
    rows = [
        Booking(
            id=uuid.uuid4(),
            seat=seat_id,
            event=event_id,
            user=user_id,
            status=ACTIVE,
            active_seat=seat_id,
        )
        for seat_id in seat_ids
    ]
    return await Booking.insert(*rows).returning(
        Booking.id, Booking.seat, Booking.status, Booking.created_at
    )


async def release_holds(
    event_id: str, user_id: str, seat_ids: Sequence[str] | None
) -> list[dict[str, Any]]:
    where = (Seat.event == event_id) & (Seat.status == HELD) & (Seat.holder == user_id)
    if seat_ids is not None:
        where = where & Seat.id.is_in(list(seat_ids))
    return await (
        Seat.update(_freed()).where(where).returning(*SEAT_STATE, Seat.event)
    )


async def expire_holds(now_ms: int, limit_event: str | None = None) -> list[dict[str, Any]]:
    """Free every hold past its end. The conditional update claims each expiry once, so
    exactly one app process announces it."""
    where = (Seat.status == HELD) & (Seat.held_until_ms <= now_ms)
    if limit_event is not None:
        where = where & (Seat.event == limit_event)
    return await Seat.update(_freed()).where(where).returning(*SEAT_STATE, Seat.event)


def _freed() -> dict[Column, Any]:
    return {
        Seat.status: AVAILABLE,
        Seat.holder: None,
        Seat.held_since_ms: None,
        Seat.held_until_ms: None,
        Seat.version: Seat.version + 1,
    }


async def get_booking(booking_id: str) -> dict[str, Any] | None:
    return await Booking.select().where(Booking.id == booking_id).first()


async def cancel_booking(booking_id: str, user_id: str) -> dict[str, Any] | None:
    """Cancel an active booking; NULLing `active_seat` lets the seat be booked again."""
    rows = await (
        Booking.update(
            {
                Booking.status: CANCELLED,
                Booking.active_seat: None,
                Booking.cancelled_at: TimestamptzNow().python(),
            }
        )
        .where((Booking.id == booking_id) & (Booking.user == user_id) & (Booking.status == ACTIVE))
        .returning(Booking.id, Booking.seat, Booking.event)
    )
    return _first(rows)


def _first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


async def free_booked_seat(seat_id: str, user_id: str) -> list[dict[str, Any]]:
    return await (
        Seat.update(_freed())
        .where((Seat.id == seat_id) & (Seat.status == BOOKED) & (Seat.holder == user_id))
        .returning(*SEAT_STATE, Seat.event)
    )


async def event_of_seat(seat_id: str) -> str:
    from backend.errors import NotFound

    row = await Seat.select(Seat.event).where(Seat.id == seat_id).first()
    if row is None:
        raise NotFound(f"no seat with id {seat_id}")
    return str(row["event"])


async def user_bookings(user_id: str) -> list[dict[str, Any]]:
    return await Booking.select().where(Booking.user == user_id).order_by(
        Booking.created_at, ascending=False
    )


async def seats_and_events(
    seat_ids: Sequence[str], event_ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    seats = await Seat.select(*SEAT_FULL).where(Seat.id.is_in(list(seat_ids))) if seat_ids else []
    events = (
        await Event.select().where(Event.id.is_in(list(event_ids))).output(load_json=True)
        if event_ids
        else []
    )
    return {str(s["id"]): s for s in seats}, {str(e["id"]): e for e in events}
