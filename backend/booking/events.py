"""Events and their seats: create from either seat form, list with live counts, change
and delete (organiser only)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from backend.booking.layout import Category, Layout
from backend.booking.records import AVAILABLE, BOOKED, HELD
from backend.errors import EventHasBookings, Forbidden, InvalidInput, NotFound
from backend.storage import queries
from backend.storage.db import now_ms, write_transaction
from backend.storage.tables import ACTIVE, Booking, Event, Seat

INSERT_CHUNK = 1000
MAX_HOLD_SECONDS = 7200
DEFAULT_HOLD_SECONDS = 600
DEFAULT_MAX_SEATS = 10


def effective_status(row: Mapping[str, Any], now: int) -> str:
    """A hold past its end is shown free even before the sweeper has reached it."""
    if row["status"] == HELD and (row["held_until_ms"] or 0) <= now:
        return AVAILABLE
    return str(row["status"])


class EventService:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    async def create(
        self,
        organiser_id: str,
        name: str,
        layout: Layout,
        *,
        venue: str | None = None,
        starts_at: datetime | None = None,
        hold_seconds: int | None = None,
        max_seats_per_user: int | None = None,
        currency: str = "GBP",
        is_demo: bool = False,
    ) -> str:
        hold = DEFAULT_HOLD_SECONDS if hold_seconds is None else hold_seconds
        _check_hold_seconds(hold)
        total = len(layout.seats)
        limit = min(DEFAULT_MAX_SEATS, total) if max_seats_per_user is None else max_seats_per_user
        _check_max_seats(limit, total)
        event_id = uuid.uuid4()
        seats = [
            Seat(
                id=uuid.uuid4(),
                event=event_id,
                label=s.label,
                section=s.section,
                row=s.row,
                number=s.number,
                category=s.category,
                accessible=s.accessible,
                x=s.x,
                y=s.y,
                status=AVAILABLE,
                version=1,
            )
            for s in layout.seats
        ]
        async with write_transaction(self.engine):
            await Event.insert(
                Event(
                    id=event_id,
                    name=name,
                    venue=venue,
                    starts_at=starts_at,
                    organiser=organiser_id,
                    hold_seconds=hold,
                    max_seats_per_user=limit,
                    currency=currency,
                    categories=[c.as_dict() for c in layout.categories],
                    width=layout.width,
                    height=layout.height,
                    is_demo=is_demo,
                )
            )
            for start in range(0, len(seats), INSERT_CHUNK):
                await Seat.insert(*seats[start : start + INSERT_CHUNK])
        return str(event_id)

    async def counts(self, event_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
        query = Seat.select(Seat.event, Seat.status, Count()).group_by(Seat.event, Seat.status)
        if event_ids is not None:
            query = query.where(Seat.event.is_in(event_ids))
        result: dict[str, dict[str, int]] = defaultdict(
            lambda: {"total": 0, AVAILABLE: 0, HELD: 0, BOOKED: 0}
        )
        for row in await query:
            entry = result[str(row["event"])]
            entry[row["status"]] += int(row["count"])
            entry["total"] += int(row["count"])
        return result

    async def list_all(self) -> list[tuple[dict[str, Any], dict[str, int]]]:
        events = (
            await Event.select().order_by(Event.starts_at, Event.created_at).output(load_json=True)
        )
        counts = await self.counts()
        return [(e, counts[str(e["id"])]) for e in events]

    async def find(self, event_id: str) -> dict[str, Any] | None:
        return await queries.get_event(event_id)

    async def get(self, event_id: str) -> dict[str, Any]:
        event = await queries.get_event(event_id)
        if event is None:
            raise NotFound(f"no event with id {event_id}")
        return event

    async def detail(
        self, event_id: str
    ) -> tuple[dict[str, Any], Sequence[Mapping[str, Any]], int]:
        """The event, every seat with its state, and the database clock it was read at."""
        event = await self.get(event_id)
        seats = await queries.event_seats(event_id)
        return event, seats, await now_ms(self.engine)

    async def detail_json(
        self, event_id: str, user_id: str | None
    ) -> tuple[dict[str, Any], dict[str, int], str] | None:
        """`detail` as the database's own JSON (PostgreSQL only, else None): the event,
        its seat counts and its seats as JSON array items, `mine` for `user_id`."""
        event = await self.get(event_id)
        built = await queries.event_seats_json(event_id, user_id)
        if built is None:
            return None
        counts, seats = built
        return event, counts, seats

    async def states(self, event_id: str) -> tuple[Sequence[Mapping[str, Any]], int]:
        """Every seat's live state (id, status, holder, heldUntil, version)."""
        seats = await queries.event_seat_states(event_id)
        return seats, await now_ms(self.engine)

    async def _own(self, user_id: str, event_id: str) -> dict[str, Any]:
        event = await self.get(event_id)
        if str(event["organiser"]) != user_id:
            raise Forbidden("only the event's organiser can change it")
        return event

    async def update(self, user_id: str, event_id: str, changes: dict[str, Any]) -> None:
        event = await self._own(user_id, event_id)
        values: dict[Any, Any] = {}
        if "name" in changes:
            values[Event.name] = changes["name"]
        if "venue" in changes:
            values[Event.venue] = changes["venue"]
        if "starts_at" in changes:
            values[Event.starts_at] = changes["starts_at"]
        if "hold_seconds" in changes:
            _check_hold_seconds(changes["hold_seconds"])
            values[Event.hold_seconds] = changes["hold_seconds"]
        if "max_seats_per_user" in changes:
            total = await Seat.count().where(Seat.event == event["id"])
            _check_max_seats(changes["max_seats_per_user"], total)
            values[Event.max_seats_per_user] = changes["max_seats_per_user"]
        if values:
            async with write_transaction(self.engine):
                await Event.update(values).where(Event.id == event_id)

    async def delete(self, user_id: str, event_id: str) -> None:
        await self._own(user_id, event_id)
        async with write_transaction(self.engine):
            active = await Booking.count().where(
                (Booking.event == event_id) & (Booking.status == ACTIVE)
            )
            if active:
                raise EventHasBookings(
                    f"this event has {active} active booking(s); cancel them before deleting it"
                )
            await Booking.delete().where(Booking.event == event_id)
            await Event.delete().where(Event.id == event_id)


def _check_hold_seconds(value: int) -> None:
    if not 1 <= value <= MAX_HOLD_SECONDS:
        raise InvalidInput(f"holdSeconds must be between 1 and {MAX_HOLD_SECONDS}, got {value}")


def _check_max_seats(value: int, total: int) -> None:
    if not 1 <= value <= total:
        raise InvalidInput(
            f"maxSeatsPerUser must be between 1 and the event's seat count ({total}), got {value}"
        )


def categories_of(event: dict[str, Any]) -> list[Category]:
    return [Category(**c) for c in event["categories"] or []]
