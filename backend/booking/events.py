"""Events and their seats: create from either seat form (in chunks, behind a draft, within
the organiser's quota), list with live counts, change and delete (organiser only)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from backend.booking.layout import Layout, PlacedSeat
from backend.booking.onsale import (
    RoomConfig,
    SaleConfigs,
    check_on_sale_at,
    check_room_values,
)
from backend.booking.quota import WINDOW_MS, CreationQuota
from backend.errors import (
    EventCancelled,
    EventHasBookings,
    EventHasHolds,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
)
from backend.seats import SeatAction
from backend.storage import LogEntry, MissingReference, Storage, is_deadlock
from backend.timefmt import iso, iso_from_ms

log = logging.getLogger("boxoffice.events")
T = TypeVar("T")

# Seats written per transaction when an event is created. Each chunk holds SQLite's one
# writer for ~10-40 ms (2,000 rows and their five indexes) and the event loop for a few
# ms (its rows' values); a 100,000-seat event is 50 of them. Before (one transaction,
# Piccolo's query builder): a hold on another event waited 36 s, /health 7 s.
SEATS_PER_TRANSACTION = 2_000
MAX_HOLD_SECONDS = 7200
STARTS_AT_YEARS = 10
DEFAULT_HOLD_SECONDS = 600
DEFAULT_MAX_SEATS = 10
MAX_CANCEL_REASON = 500  # the column's length
CANCEL_ATTEMPTS = 3


async def existing_event(storage: Storage, event_id: str) -> dict[str, Any]:
    """The event's row; NotFound when there is none."""
    event = await storage.events.get(event_id)
    if event is None:
        raise NotFound(f"no event with id {event_id}")
    return event


async def organised_event(
    storage: Storage, user_id: str, event_id: str, refusal: str
) -> dict[str, Any]:
    """The event's row if `user_id` organises it: NotFound when there is none,
    Forbidden(`refusal`) for anyone else. Every organiser-only action starts here."""
    event = await existing_event(storage, event_id)
    if str(event["organiser"]) != user_id:
        raise Forbidden(refusal)
    return event


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What cancelling an event did: when it was cancelled, how many bookings were
    cancelled and holds released by this call (none when it was already cancelled),
    and the seats it freed (their new states, for the live channel)."""

    event_id: str
    cancelled_at: datetime
    reason: str | None
    bookings: int
    holds: int
    freed: list[dict[str, Any]]


class EventService:
    def __init__(
        self,
        storage: Storage,
        sale_configs: SaleConfigs | None = None,
        quota: CreationQuota | None = None,
    ) -> None:
        self.storage = storage
        # The booking path's cached copies of events' on-sale settings (forgotten here
        # when this process changes them; other processes' copies last a second).
        self.sale_configs = sale_configs
        # Called with the id of each event this process deletes (the live channel's
        # announcement to its watchers).
        self.deleted: list[Callable[[str], Awaitable[None]]] = []
        # Called with each cancellation this process makes (the live channel publishes
        # its freed seats and tells the watchers).
        self.cancelled: list[Callable[[Cancellation], Awaitable[None]]] = []
        # None: no quota (the demo event, the command line).
        self.quota = quota
        self._discarding: set[asyncio.Future[None]] = set()

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
        on_sale_at: datetime | None = None,
        waiting_room: RoomConfig | None = None,
    ) -> str:
        hold = DEFAULT_HOLD_SECONDS if hold_seconds is None else hold_seconds
        _check_hold_seconds(hold)
        _check_starts_at(starts_at)
        check_on_sale_at(on_sale_at)
        room = waiting_room or RoomConfig()
        room.check()
        total = len(layout.seats)
        limit = min(DEFAULT_MAX_SEATS, total) if max_seats_per_user is None else max_seats_per_user
        _check_max_seats(limit, total)
        event = {
            "name": name,
            "venue": venue,
            "starts_at": starts_at,
            "organiser": organiser_id,
            "hold_seconds": hold,
            "max_seats_per_user": limit,
            "currency": currency,
            "categories": [c.as_dict() for c in layout.categories],
            "width": layout.width,
            "height": layout.height,
            "stage": None if layout.stage is None else layout.stage.as_dict(),
            "is_demo": is_demo,
            "on_sale_at": on_sale_at,
            **room.columns(),
        }
        event_id = await self._start(organiser_id, event, total, exempt=is_demo)
        try:
            # One short transaction per chunk: on SQLite each takes the one writer slot,
            # and whoever queued for it meanwhile (a hold on another event) goes next.
            for start in range(0, total, SEATS_PER_TRANSACTION):
                chunk = layout.seats[start : start + SEATS_PER_TRANSACTION]
                await self.storage.events.add_seats(event_id, [_seat_columns(s) for s in chunk])
            await self.storage.events.publish(event_id, total)
        except BaseException:
            await self._discard(event_id)
            raise
        return event_id

    async def _start(
        self, organiser_id: str, event: dict[str, Any], seats: int, *, exempt: bool
    ) -> str:
        """Check the organiser's quota and insert the event as a draft, in one
        transaction under the organiser's lock (two creations cannot both take the last
        of a quota); the creation is recorded for the quota."""
        async with self.storage.transaction():
            now = await self.storage.seats.lock_user_now(organiser_id)
            if now is None:
                raise NotAuthenticated("this account no longer exists")
            since = now - WINDOW_MS
            if self.quota is not None and not exempt:
                self.quota.check(
                    await self.storage.events.creations_since(organiser_id, since), seats, now
                )
            try:
                event_id = await self.storage.events.insert_draft(event)
            except MissingReference:
                raise NotAuthenticated("this account no longer exists") from None
            await self.storage.events.record_creation(
                organiser_id, event_id, seats, now, forget_before_ms=since
            )
        return event_id

    async def _discard(self, event_id: str) -> None:
        """Delete a draft whose creation failed (the database, a cancelled request). The
        deletion runs as a task of its own, so a second cancellation cannot stop it
        half way; if it fails, the draft stays hidden."""
        task = asyncio.ensure_future(
            self.storage.events.discard_draft(event_id, SEATS_PER_TRANSACTION)
        )
        self._discarding.add(task)
        task.add_done_callback(self._discarded)
        with contextlib.suppress(Exception):  # logged by `_discarded`
            await asyncio.shield(task)

    def _discarded(self, task: asyncio.Future[None]) -> None:
        self._discarding.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a failed event creation left a hidden draft: %s", task.exception())

    async def counts(self, event_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
        return await self.storage.events.counts(event_ids)

    async def list_all(self) -> list[tuple[dict[str, Any], dict[str, int]]]:
        events = await self.storage.events.all()
        counts = await self.counts()
        return [(e, counts[str(e["id"])]) for e in events]

    async def find(self, event_id: str) -> dict[str, Any] | None:
        return await self.storage.events.get(event_id)

    async def exists(self, event_id: str) -> bool:
        """Whether the event exists, from this process's copy of its sale settings (at
        most a second old, one read shared by concurrent asks; forgotten at once when
        this process changes, cancels or deletes it). An on-sale's thousands of sockets
        each read the event from the database to learn just this: 13-15 % of each
        worker's CPU while they connected (py-spy, `make bench onsale`)."""
        if self.sale_configs is None:
            return await self.find(event_id) is not None
        try:
            await self.sale_configs.get(event_id)
        except NotFound:
            return False
        return True

    async def get(self, event_id: str) -> dict[str, Any]:
        return await existing_event(self.storage, event_id)

    async def summary(self, event_id: str) -> tuple[dict[str, Any], dict[str, int]]:
        """The event and its seat counts by status (no seats)."""
        event = await self.get(event_id)
        return event, (await self.counts([event_id]))[event_id]

    async def detail(
        self, event_id: str
    ) -> tuple[dict[str, Any], Sequence[Mapping[str, Any]], int]:
        """The event, every seat with its state, and the database clock it was read at."""
        event = await self.get(event_id)
        seats = await self.storage.seats.of_event(event_id)
        return event, seats, await self.storage.now_ms()

    async def detail_json(
        self, event_id: str, user_id: str | None
    ) -> tuple[dict[str, Any], dict[str, int], str]:
        """`detail` as JSON: the event, its seat counts and its seats as JSON array items
        (`mine` for `user_id`), written by the storage (on PostgreSQL, by the database)."""
        event = await self.get(event_id)
        counts, seats, _ = await self.storage.seats.event_json(event_id, user_id)
        return event, counts, seats

    async def states(self, event_id: str) -> tuple[Sequence[Mapping[str, Any]], int]:
        """Every seat's live state (id, status, holder, held_until_ms, version)."""
        seats = await self.storage.seats.states(event_id)
        return seats, await self.storage.now_ms()

    async def seat_map(self, event_id: str) -> dict[str, Any]:
        """Every seat's state compactly, in map order (the compact websocket snapshot)."""
        return await self.storage.seats.seat_map(event_id)

    async def _own(self, user_id: str, event_id: str) -> dict[str, Any]:
        return await organised_event(
            self.storage, user_id, event_id, "only the event's organiser can change it"
        )

    async def update(self, user_id: str, event_id: str, changes: dict[str, Any]) -> None:
        event = await self._own(user_id, event_id)
        if event.get("cancelled_at") is not None:
            raise EventCancelled(
                "this event has been cancelled; it can no longer be changed",
                cancelledAt=iso(event["cancelled_at"]),
            )
        if "hold_seconds" in changes:
            _check_hold_seconds(changes["hold_seconds"])
        if "max_seats_per_user" in changes:
            total = await self.storage.events.seat_count(str(event["id"]))
            _check_max_seats(changes["max_seats_per_user"], total)
        if "on_sale_at" in changes:
            check_on_sale_at(changes["on_sale_at"])
        if "starts_at" in changes:
            _check_starts_at(changes["starts_at"])
        check_room_values(changes.get("max_shoppers"), changes.get("shopper_seconds"))
        if not await self.storage.events.update(event_id, changes):
            raise EventCancelled("this event has been cancelled; it can no longer be changed")
        if self.sale_configs is not None:
            self.sale_configs.forget(event_id)

    async def cancel(self, user_id: str, event_id: str, reason: str | None) -> Cancellation:
        """Cancel the organiser's event, in one transaction: it is marked cancelled (once:
        cancelling again changes nothing and answers the same), every active booking is
        cancelled (checked in or not), every hold released, its orders' totals become
        nothing, and each freed seat gets its log line (cancelled or released, by the
        organiser). Then every watcher is told (`cancelled` listeners: the live channel).

        No hold or booking can slip past it: the event's active bookings and then its
        seats are locked before it is marked, and every hold and booking reads the mark
        again after taking its seats (`BookingService._still_open`, the batch's
        `clock_and_counts`), so one that took them first has committed before this sweeps,
        and one that comes after finds the event cancelled and rolls back."""
        await self._own(user_id, event_id)
        if reason is not None and len(reason) > MAX_CANCEL_REASON:
            raise InvalidInput(f"reason must be at most {MAX_CANCEL_REASON} characters")
        for attempt in range(CANCEL_ATTEMPTS):
            try:
                outcome = await self._cancel(user_id, event_id, reason)
                break
            except Exception as exc:
                # Holds and the sweeper lock a few seats in their own order; the cancel
                # locks them all in id order, and PostgreSQL may abort one of the two.
                if not is_deadlock(exc) or attempt == CANCEL_ATTEMPTS - 1:
                    raise
                log.info("cancelling %s met a deadlock; trying again", event_id)
        await self._changed(event_id, "cancellation", self.cancelled, outcome)
        return outcome

    async def _cancel(self, user_id: str, event_id: str, reason: str | None) -> Cancellation:
        """`cancel`'s transaction."""
        storage = self.storage
        async with storage.transaction():
            await storage.bookings.lock_event(event_id)
            await storage.seats.lock_event(event_id)
            marked = await storage.events.mark_cancelled(event_id, reason)
            if marked is None:
                raise NotFound(f"no event with id {event_id}")
            cancelled_at, reason = marked
            now = await storage.now_ms()
            bookings = await storage.bookings.cancel_event(event_id)
            freed = await storage.seats.free_event(event_id)
            await storage.orders.empty_event(event_id)
            order_of = {str(b["seat"]): b["order_id"] for b in bookings}
            await storage.seat_log.record(
                [
                    LogEntry(
                        event_id,
                        str(seat["id"]),
                        SeatAction.CANCELLED
                        if str(seat["id"]) in order_of
                        else SeatAction.RELEASED,
                        user_id,
                        None
                        if order_of.get(str(seat["id"])) is None
                        else str(order_of[str(seat["id"])]),
                        now,
                    )
                    for seat in freed
                ]
            )
        return Cancellation(
            event_id=event_id,
            cancelled_at=cancelled_at,
            reason=reason,
            bookings=len(bookings),
            holds=len(freed) - len(order_of),
            freed=freed,
        )

    async def delete(self, user_id: str, event_id: str) -> None:
        """Delete the organiser's event, unless buyers have bookings or live holds on it
        (409): a buyer mid-purchase keeps their seats until they book, release or run
        out of time, and a booking is cancelled first. Then everyone watching it is
        told (`deleted` listeners: the live channel closes their sockets)."""
        await self._own(user_id, event_id)
        active, held, last_end = await self.storage.delete_event_if_idle(event_id)
        if active:
            raise EventHasBookings(
                f"this event has {active} active booking(s); cancel them before deleting it"
            )
        if held:
            raise EventHasHolds(
                f"{held} seat{'s are' if held > 1 else ' is'} held by buyers until "
                f"{iso_from_ms(last_end)} at the latest; delete the event once they are "
                "booked, released or run out"
            )
        await self._changed(event_id, "deletion", self.deleted, event_id)

    async def _changed(
        self,
        event_id: str,
        what: str,
        listeners: Sequence[Callable[[T], Awaitable[None]]],
        news: T,
    ) -> None:
        """After this process deleted or cancelled the event: forget its cached sale
        settings, then tell each listener (the live channel) `news`; log, never raise."""
        if self.sale_configs is not None:
            self.sale_configs.forget(event_id)
        for listener in listeners:
            try:
                await listener(news)
            except Exception as exc:
                log.warning("announcing the %s of %s failed: %s", what, event_id, exc)


def _seat_columns(seat: PlacedSeat) -> dict[str, Any]:
    return {
        "label": seat.label,
        "section": seat.section,
        "row": seat.row,
        "number": seat.number,
        "category": seat.category,
        "accessible": seat.accessible,
        "x": seat.x,
        "y": seat.y,
    }


def _check_starts_at(value: datetime | None) -> None:
    """An event starts within STARTS_AT_YEARS of now, either way: year 0001 would pin an
    event to the top of the public list (issue 11, item 13), year 9999 is a typo."""
    if value is None:
        return
    if value.tzinfo is None:  # stored and shown as UTC (schemas.iso)
        value = value.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    span = timedelta(days=365 * STARTS_AT_YEARS)
    if not now - span <= value <= now + span:
        raise InvalidInput(f"startsAt must be within {STARTS_AT_YEARS} years of today")


def _check_hold_seconds(value: int) -> None:
    if not 1 <= value <= MAX_HOLD_SECONDS:
        raise InvalidInput(f"holdSeconds must be between 1 and {MAX_HOLD_SECONDS}, got {value}")


def _check_max_seats(value: int, total: int) -> None:
    if not 1 <= value <= total:
        raise InvalidInput(
            f"maxSeatsPerUser must be between 1 and the event's seat count ({total}), got {value}"
        )
