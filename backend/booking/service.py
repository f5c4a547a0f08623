"""Holds, bookings, releases and expiry: the two layers of the seed, done right.

Every write follows the same shape:

1. take the seats' short locks, all or none (a stampede on one hot seat becomes one
   database write and many fast 423s);
2. one database transaction that changes seats by compare-and-set and inserts bookings
   under the unique index on active bookings (the guard: it holds even when a lock has
   expired, Redis has restarted or two processes race);
3. release the locks by compare-and-delete, then publish the committed changes.

If the lock store is down, writes go on without it: the database is the guard.

Before any of it, the sale gate (`onsale.py`, `queue.py`): an event not on sale yet, or
whose waiting room has not admitted the caller, is refused before the request enters a
batch; and every hold and booking's duration goes into `latency`, which the waiting
room's admission backs off on.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from backend.booking.batch import WriteBatcher
from backend.booking.best import BestFilter, FreeSeat, choose_adjacent
from backend.booking.coalesce import Coalesced
from backend.booking.latency import LatencyWindow
from backend.booking.onsale import SaleGate
from backend.booking.records import (
    BookingRecord,
    ChangePublisher,
    HoldResult,
    OrderRecord,
    SeatChange,
)
from backend.booking.rules import (
    all_found,
    booking_record,
    cancelled_event,
    cart_end,
    check_open,
    check_request_size,
    refusal,
    seat_price,
    to_lock,
)
from backend.errors import (
    CheckedIn,
    Forbidden,
    InvalidInput,
    NoAdjacentSeats,
    NotAuthenticated,
    NotFound,
    SeatLimitExceeded,
    SeatsBooked,
    SeatsLocked,
)
from backend.locks.base import SeatLockStore
from backend.redisclient import failure
from backend.seats import BookingStatus, SeatAction
from backend.storage import DuplicateKey, LogEntry, MissingReference, Storage
from backend.timefmt import iso

log = logging.getLogger("boxoffice.booking")

BEST_AVAILABLE_ATTEMPTS = 3
SEAT_EVENTS_REMEMBERED = 200_000  # seat id -> event id, for the seed's POST /book

# Called inside the booking transaction with its bookings; lets the web layer store an
# idempotent response atomically with them.
CommitHook = Callable[[list[BookingRecord]], Awaitable[None]]


def _rect(stage: dict[str, Any]) -> tuple[float, float, float, float]:
    return (
        float(stage["x"]),
        float(stage["y"]),
        float(stage["width"]),
        float(stage["height"]),
    )


def _within(category: str | None, within: BestFilter) -> str:
    """Best available's filters in words, for its refusal."""
    parts = []
    if category:
        parts.append(f"in category {category!r}")
    if within.section:
        parts.append(f"in section {within.section!r}")
    if within.accessible:
        parts.append("with wheelchair access")
    if within.min_price is not None:
        parts.append(f"at {within.min_price} or more")
    if within.max_price is not None:
        parts.append(f"at {within.max_price} or less")
    return (" " + ", ".join(parts)) if parts else ""


def logged(
    event_id: str,
    rows: Sequence[dict[str, Any]],
    action: SeatAction,
    actor: str | None,
    at_ms: int | None = None,
    order_id: Any = None,
) -> list[LogEntry]:
    """The status-change log's lines for these changed seat rows (issue 15, item 4)."""
    order = None if order_id is None else str(order_id)
    return [LogEntry(event_id, str(r["id"]), action, actor, order, at_ms) for r in rows]


class BookingService:
    def __init__(
        self,
        storage: Storage,
        locks: SeatLockStore,
        publisher: ChangePublisher,
        lock_ttl_ms: int = 5000,
        unsafe_disable_guard: bool = False,
        batching: bool = True,
        gate: SaleGate | None = None,
    ) -> None:
        self.storage = storage
        self.seats = storage.seats
        self.locks = locks
        self.publisher = publisher
        self.lock_ttl_ms = lock_ttl_ms
        # Only the chaos tests' negative control sets this (settings refuse it otherwise).
        self._guard = not unsafe_disable_guard
        # Group commit of one event's holds and bookings (batch.py); off for comparison
        # (WRITE_BATCHING=0) and for the negative control, which must write unguarded.
        self.batcher = WriteBatcher(self) if batching and self._guard else None
        self._seat_events: dict[str, str] = {}
        self._seat_lookups: Coalesced[str | None] = Coalesced(self._events_of)
        # onSaleAt and the waiting room (None: every event sells to everyone, as before).
        self.gate = gate
        self.latency = LatencyWindow()

    @property
    def guarded(self) -> bool:
        """False only in the chaos tests' negative control."""
        return self._guard

    # ------------------------------------------------------------------ locks

    @asynccontextmanager
    async def _locked(self, event_id: str, seat_ids: Sequence[str]) -> AsyncIterator[None]:
        if not seat_ids:  # every seat is the buyer's own live hold (`rules.to_lock`)
            yield
            return
        token = secrets.token_hex(16)
        try:
            taken = await self.locks.acquire(event_id, seat_ids, token, self.lock_ttl_ms)
        except Exception as exc:  # the lock is an accelerator; the database still guards
            log.warning("seat lock store %s; continuing without locks", failure(exc))
            taken, token = [], ""
        if taken:
            raise SeatsLocked(
                "Seat is being booked, try again.",
                seats=[{"id": seat_id, "heldUntil": None} for seat_id in taken],
            )
        try:
            yield
        finally:
            if token:
                try:
                    await self.locks.release(event_id, seat_ids, token)
                except Exception as exc:  # it expires by itself
                    log.warning("seat lock release failed (lock will expire): %s", exc)

    async def _publish(self, changes: list[dict[str, Any]], event_id: str | None = None) -> None:
        by_event: dict[str, list[SeatChange]] = defaultdict(list)
        for row in changes:
            key = event_id or str(row["event"])
            by_event[key].append(SeatChange.from_row(row))
        for key, items in by_event.items():
            await self.publisher.publish(key, items)

    # --------------------------------------------------------------- checking

    @asynccontextmanager
    async def _admitted(self, user_id: str, event_id: str) -> AsyncIterator[None]:
        """The sale gate (before the batcher: a refusal costs no batch), then the timing
        of what follows, refused or not, for the waiting room's back-off."""
        if self.gate is not None:
            await self.gate.check(user_id, event_id)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.latency.add(time.perf_counter() - started)

    async def _event(self, event_id: str) -> dict[str, Any]:
        event = await self.storage.events.get(event_id)
        if event is None:
            raise NotFound(f"no event with id {event_id}")
        return event

    async def _lock_user(self, user_id: str) -> int:
        """The user's row lock and the clock, inside the write transaction. A valid
        token whose account is gone is refused like no token (its writes would name a
        missing user)."""
        now = await self.seats.lock_user_now(user_id)
        if now is None:
            raise NotAuthenticated("this account no longer exists")
        return now

    async def event_of_seat(self, seat_id: str) -> str:
        """The id of the event a seat belongs to (the seed's `POST /book` names a seat).

        Remembered: a seat never moves to another event, and a seat whose event is gone
        is then answered by the booking's own read (404, the event no longer exists).
        The lookup was 17% of a `POST /book`'s app CPU (profile, issue 13)."""
        event_id = self._seat_events.get(seat_id)
        if event_id is None:
            # Lookups made while one is out go together in the next read: a hot seat's
            # requests (all before the first read is back) and the seed's load (each
            # request a seat not seen before) alike.
            event_id = await self._seat_lookups.get("", seat_id)
        if event_id is None:
            raise NotFound(f"no seat with id {seat_id}")
        return event_id

    async def _events_of(self, _: str, seat_ids: list[str]) -> dict[str, str | None]:
        """The events of `seat_ids` (None: no such seat), read for those not remembered."""
        found: dict[str, str | None] = {s: self._seat_events.get(s) for s in seat_ids}
        unknown = [s for s, event_id in found.items() if event_id is None]
        if unknown:
            read = await self.seats.events_of(unknown)
            if len(self._seat_events) + len(read) > SEAT_EVENTS_REMEMBERED:
                self._seat_events.clear()  # bounded; the next lookups refill it
            self._seat_events.update(read)
            found.update((s, read.get(s)) for s in unknown)
        return found

    async def _seats(self, event_id: str, seat_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return all_found(event_id, seat_ids, await self.seats.by_id(event_id, seat_ids))

    async def _event_and_seats(
        self, event_id: str, seat_ids: Sequence[str]
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], int]:
        """`_event`, the request size check and `_seats` (same errors, same order) from
        one read, which also brings the database clock."""
        event, rows, now = await self.seats.event_with_seats(event_id, seat_ids)
        if event is None:
            raise NotFound(f"no event with id {event_id}")
        check_open(event)
        check_request_size(event, seat_ids)
        return event, all_found(event_id, seat_ids, rows), now

    async def _still_open(self, event: dict[str, Any]) -> None:
        """Inside a write transaction, after its compare-and-set took the seats: refuse
        if the organiser cancelled the event meanwhile (`EventService.cancel` locks the
        seats, so by now it has committed or waits for this transaction)."""
        if await self.seats.cancelled(str(event["id"])):
            raise cancelled_event(iso(event.get("cancelled_at")))

    def _refuse_early(self, seats: dict[str, dict[str, Any]], user_id: str, now: int) -> None:
        """Refuse at once, with no lock and no transaction, when the read just made shows
        a seat booked (409) or held live by someone else (423): the same answer the
        compare-and-set would give, as of that read. In a flash sale most requests are
        these, and this is what keeps them cheap. Only refusals are decided here; every
        success still goes through the lock and the compare-and-set."""
        if not self._guard:
            return  # the negative control must reach the unguarded writes
        found = refusal(seats.values(), user_id, now)
        if found is not None:
            raise found

    def _to_lock(
        self, seats: dict[str, dict[str, Any]], seat_ids: Sequence[str], user_id: str, now: int
    ) -> Sequence[str]:
        """The seats whose locks a request takes (`rules.to_lock`): all of them for the
        negative control, whose unguarded writes only the locks keep apart."""
        return to_lock(seats, seat_ids, user_id, now) if self._guard else seat_ids

    async def _explain_refusal(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        user_id: str,
        now: int,
        taken: list[dict[str, Any]],
    ) -> Exception:
        """Why a compare-and-set took fewer seats than asked: booked (409) or held (423).

        Runs inside the transaction, so the seats this request just took (`taken`, about
        to be rolled back) are left out of the explanation.
        """
        ours = {str(r["id"]) for r in taken}
        refused = [s for s in seat_ids if s not in ours]
        found = refusal(await self.seats.by_id(event_id, refused), user_id, now)
        if found is not None:
            return found
        # The state moved between the update and this read (an expiry, a release):
        # the client can simply retry.
        return SeatsLocked(
            "Seat is being booked, try again.",
            seats=[{"id": s, "heldUntil": None} for s in refused],
        )

    async def _check_limit(self, event: dict[str, Any], user_id: str, now: int) -> None:
        limit = int(event["max_seats_per_user"])
        if await self.seats.count_for_user(str(event["id"]), user_id, now) > limit:
            raise SeatLimitExceeded(
                f"at most {limit} seats per person for this event (held and booked together)",
                limit=limit,
            )

    # ------------------------------------------------------------------ holds

    async def hold_seats(self, user_id: str, event_id: str, seat_ids: Sequence[str]) -> HoldResult:
        """Hold all the seats, or none; re-holding your own live holds extends them."""
        async with self._admitted(user_id, event_id):
            return await self._hold(user_id, event_id, seat_ids)

    async def _hold(self, user_id: str, event_id: str, seat_ids: Sequence[str]) -> HoldResult:
        if self.batcher is not None:
            return await self.batcher.hold(user_id, event_id, seat_ids)
        return await self.hold_alone(user_id, event_id, seat_ids)

    async def hold_alone(self, user_id: str, event_id: str, seat_ids: Sequence[str]) -> HoldResult:
        """`hold_seats` as its own lock call and transaction (no batch).

        The buyer's holds on the event are one cart with one end (`rules.cart_end`): the
        new seats are taken until it and every other live hold of theirs on the event,
        named or not, is re-held to it, so a party's seats never lapse one by one."""
        event, seats, read_at = await self._event_and_seats(event_id, seat_ids)
        self._refuse_early(seats, user_id, read_at)
        hold_ms = int(event["hold_seconds"]) * 1000
        lock = self._to_lock(seats, seat_ids, user_id, read_at)
        async with self._locked(event_id, lock), self.storage.transaction():
            now = await self._lock_user(user_id)
            until = cart_end(now, hold_ms, await self.seats.cart_start(event_id, user_id, now))
            mine = await self.seats.own_live_holds(event_id, seat_ids, user_id, now)
            mine_ids = {str(r["id"]) for r in mine}
            others = [s for s in seat_ids if s not in mine_ids]
            changed = (
                await self.seats.hold_free(event_id, others, user_id, now, until) if others else []
            )
            if len(changed) != len(others):
                raise await self._explain_refusal(event_id, others, user_id, now, changed)
            # The user's row lock keeps their cart from growing meanwhile; a release or
            # the sweeper may shrink it, and this update then skips what they took.
            extended = await self.seats.hold_cart_until(event_id, user_id, now, until)
            # After both updates: a request re-holding only its own seats took no seat
            # before this point.
            await self._still_open(event)
            await self._check_limit(event, user_id, now)
            await self.storage.seat_log.record(
                logged(event_id, changed, SeatAction.HELD, user_id, now)
                + logged(event_id, extended, SeatAction.EXTENDED, user_id, now)
            )
            changed += extended
        await self._publish(changed, event_id)
        # The seats' state now: what the UPDATEs returned, or (an own hold already
        # ending then, left unchanged) what was read under this transaction's user lock.
        by_id = {str(r["id"]): r for r in mine}
        by_id.update((str(r["id"]), r) for r in changed)
        ordered = [{**seats[s], **by_id[s]} for s in seat_ids]
        return HoldResult(event_id=event_id, seats=ordered, expires_at_ms=until)

    async def hold_best(
        self,
        user_id: str,
        event_id: str,
        count: int,
        category: str | None,
        within: BestFilter | None = None,
    ) -> HoldResult:
        """Pick the best `count` adjacent free seats in one row (of the category, and
        `within` a section, accessible, up to a price) and hold them atomically."""
        async with self._admitted(user_id, event_id):
            return await self._hold_best(user_id, event_id, count, category, within or BestFilter())

    async def _hold_best(
        self, user_id: str, event_id: str, count: int, category: str | None, within: BestFilter
    ) -> HoldResult:
        event = await self._event(event_id)
        check_open(event)
        limit = int(event["max_seats_per_user"])
        if count < 1:
            raise InvalidInput("count must be at least 1")
        if count > limit:  # the same answer as asking for that many seatIds (409)
            raise SeatLimitExceeded(
                f"at most {limit} seats per person for this event; asked for {count}",
                limit=limit,
            )
        categories = event["categories"] or []
        if category is not None and category not in {c["id"] for c in categories}:
            raise InvalidInput(f"event {event_id} has no category {category!r}")
        allowed = None if category is None else [category]
        if within.max_price is not None or within.min_price is not None:
            low = within.min_price or 0
            high = within.max_price if within.max_price is not None else float("inf")
            allowed = [
                c["id"]
                for c in categories
                if low <= int(c.get("price", 0)) <= high and c["id"] in (allowed or [c["id"]])
            ]
        if within.section is not None and not await self.seats.has_section(
            event_id, within.section
        ):
            raise InvalidInput(f"event {event_id} has no section {within.section!r}")
        stage = event.get("stage")
        centre = None if not stage else _rect(stage)
        excluded: set[str] = set()
        for attempt in range(BEST_AVAILABLE_ATTEMPTS):
            now = await self.storage.now_ms()
            rows = (
                await self.seats.free(
                    event_id, now, allowed, within.section, bool(within.accessible)
                )
                if allowed != []
                else []
            )
            free = [
                FreeSeat(str(r["id"]), r["section"], r["row"], r["number"], r["x"], r["y"])
                for r in rows
            ]
            choice = choose_adjacent(
                free, count, float(event["width"]) / 2, frozenset(excluded), centre
            )
            if choice is None:
                raise NoAdjacentSeats(
                    f"no {count} adjacent seats are free" + _within(category, within)
                )
            try:
                return await self._hold(user_id, event_id, choice)
            except (SeatsLocked, SeatsBooked) as exc:
                # Someone took part of our pick between choosing and holding: pick again.
                if attempt == BEST_AVAILABLE_ATTEMPTS - 1:
                    raise
                conflicting = exc.extra.get("seatIds") or [
                    s["id"] for s in exc.extra.get("seats", [])
                ]
                excluded.update(conflicting)
        raise AssertionError("unreachable")

    async def release_holds(
        self,
        user_id: str,
        event_id: str,
        seat_ids: Sequence[str] | None,
        *,
        done_shopping: bool = True,
    ) -> list[str]:
        """Release the caller's holds on an event (all, or the listed seats).

        Releasing all of them is giving up: a shopper's slot in the waiting room frees
        (unless `done_shopping` is False: the room already reaped them). Releasing listed
        seats never does, even the last one: that is how a seat map changes its pick."""
        if self.batcher is not None:
            released = await self.batcher.release(user_id, event_id, seat_ids)
        else:
            released = await self.release_alone(user_id, event_id, seat_ids)
        if seat_ids is None and done_shopping and self.gate is not None:
            await self.gate.done_shopping(user_id, event_id)
        return released

    async def release_alone(
        self, user_id: str, event_id: str, seat_ids: Sequence[str] | None
    ) -> list[str]:
        """`release_holds`' write as its own transaction (no batch)."""
        await self._event(event_id)
        if seat_ids is not None:
            await self._seats(event_id, seat_ids)
        async with self.storage.transaction():
            changed = await self.seats.release(event_id, user_id, seat_ids)
            await self.storage.seat_log.record(
                logged(event_id, changed, SeatAction.RELEASED, user_id)
            )
        await self._publish(changed)
        return [str(r["id"]) for r in changed]

    async def release_expired_holds(self) -> int:
        """Free every hold past its end (database clock) and announce each once."""
        async with self.storage.transaction():
            now = await self.storage.now_ms()
            changed = await self.seats.expire(now)
            await self.storage.seat_log.record(
                [
                    LogEntry(str(r["event"]), str(r["id"]), SeatAction.EXPIRED, None, None, now)
                    for r in changed
                ]
            )
        if changed:
            await self._publish(changed)
        return len(changed)

    # --------------------------------------------------------------- bookings

    async def book_seats(
        self,
        user_id: str,
        event_id: str,
        seat_ids: Sequence[str],
        on_commit: CommitHook | None = None,
    ) -> list[BookingRecord]:
        """Book seats the caller holds, or free seats, all or nothing. A shopper who
        books is done: their slot in the waiting room frees for the next in line."""
        async with self._admitted(user_id, event_id):
            if self.batcher is not None:
                records = await self.batcher.book(user_id, event_id, seat_ids, on_commit)
            else:
                records = await self.book_alone(user_id, event_id, seat_ids, on_commit)
        if self.gate is not None:
            await self.gate.done_shopping(user_id, event_id)
        return records

    async def book_alone(
        self,
        user_id: str,
        event_id: str,
        seat_ids: Sequence[str],
        on_commit: CommitHook | None = None,
    ) -> list[BookingRecord]:
        """`book_seats` as its own lock call and transaction (no batch)."""
        event, seats, read_at = await self._event_and_seats(event_id, seat_ids)
        self._refuse_early(seats, user_id, read_at)
        async with self._locked(event_id, self._to_lock(seats, seat_ids, user_id, read_at)):
            try:
                async with self.storage.transaction():
                    now = await self._lock_user(user_id)
                    changed = await self.seats.book(
                        event_id, seat_ids, user_id, now, guard=self._guard
                    )
                    if len(changed) != len(seat_ids):
                        raise await self._explain_refusal(event_id, seat_ids, user_id, now, changed)
                    await self._still_open(event)
                    await self._check_limit(event, user_id, now)
                    prices = {s: seat_price(event, seats[s]) for s in seat_ids}
                    (order,) = await self.storage.orders.create(
                        event_id, event["currency"], [(user_id, sum(prices.values()))]
                    )
                    await self.storage.seat_log.record(
                        logged(event_id, changed, SeatAction.BOOKED, user_id, now, order["id"])
                    )
                    rows = await self.storage.bookings.insert(
                        event_id,
                        seat_ids,
                        user_id,
                        guard=self._guard,
                        order_id=str(order["id"]),
                        prices=prices,
                    )
                    records = [
                        booking_record(row, user_id, seats[str(row["seat"])], event, order)
                        for row in rows
                    ]
                    if on_commit is not None:
                        await on_commit(records)
            except MissingReference:
                # A row the bookings name is gone: the account, or (deleted meanwhile)
                # the event with its seats.
                if await self.storage.users.get(user_id) is None:
                    raise NotAuthenticated("this account no longer exists") from None
                raise NotFound(f"event {event_id} no longer exists") from None
            except DuplicateKey as exc:
                # The guard did its job: another transaction booked one of these seats.
                log.info("unique index refused a second booking: %s", exc)
                raise SeatsBooked("Seat already booked", seatIds=list(seat_ids)) from None
        await self._publish(changed, event_id)
        return records

    async def cancel_booking(self, user_id: str, booking_id: str) -> BookingRecord:
        """Cancel the caller's booking; the seat is free again, live."""
        booking = await self.storage.bookings.get(booking_id)
        if booking is None:
            raise NotFound(f"no booking with id {booking_id}")
        if str(booking["user"]) != user_id:
            raise Forbidden("this booking is not yours")
        event = await self._event(str(booking["event"]))
        seat_id = str(booking["seat"])
        freed: list[dict[str, Any]] = []
        async with self.storage.transaction():
            cancelled = await self.storage.bookings.cancel(booking_id, user_id)
            if cancelled is not None:
                freed = await self.seats.free_booked(seat_id, user_id)
                await self.storage.seat_log.record(
                    logged(
                        str(cancelled["event"]),
                        freed,
                        SeatAction.CANCELLED,
                        user_id,
                        order_id=cancelled.get("order_id"),
                    )
                )
                if cancelled.get("order_id") is not None:
                    await self.storage.orders.take_off(
                        str(cancelled["order_id"]), int(cancelled.get("price") or 0)
                    )
        if freed:
            await self._publish(freed)
        current = await self.storage.bookings.get(booking_id)
        assert current is not None
        used = current.get("checked_in_at") is not None
        if cancelled is None and used and current["status"] == BookingStatus.ACTIVE.value:
            raise CheckedIn(
                "this booking's ticket has been used at the door",
                checkedInAt=iso(current["checked_in_at"]),
            )
        seat = (await self.seats.by_id(str(event["id"]), [seat_id]))[0]
        return booking_record(current, user_id, seat, event)

    async def list_orders(self, user_id: str) -> list[OrderRecord]:
        """The caller's orders, newest first, each with its bookings (issue 15, item 1)."""
        if await self.storage.users.get(user_id) is None:
            raise NotAuthenticated("this account no longer exists")
        orders = await self.storage.orders.of_user(user_id)
        return await self._with_bookings(user_id, orders)

    async def get_order(self, user_id: str, order_id: str) -> OrderRecord:
        """The caller's order; anyone else's is not found (its existence is not told)."""
        order = await self.storage.orders.get(order_id)
        if order is None or str(order["user"]) != user_id:
            raise NotFound(f"no order with id {order_id}")
        (record,) = await self._with_bookings(user_id, [order])
        return record

    async def _with_bookings(self, user_id: str, orders: list[dict[str, Any]]) -> list[OrderRecord]:
        rows = await self.storage.orders.bookings([str(o["id"]) for o in orders])
        seats = await self.storage.bookings.seats(sorted({str(r["seat"]) for r in rows}))
        events = await self.storage.events.many(sorted({str(o["event"]) for o in orders}))
        by_order: dict[str, list[BookingRecord]] = {str(o["id"]): [] for o in orders}
        for r in rows:
            event = events[str(r["event"])]
            by_order[str(r["order_id"])].append(
                booking_record(r, user_id, seats[str(r["seat"])], event)
            )
        return [OrderRecord(o, by_order[str(o["id"])]) for o in orders]

    async def list_bookings(self, user_id: str) -> list[BookingRecord]:
        """The caller's own bookings (active and cancelled), newest first."""
        if await self.storage.users.get(user_id) is None:
            raise NotAuthenticated("this account no longer exists")
        rows = await self.storage.bookings.of_user(user_id)
        seats = await self.storage.bookings.seats(sorted({str(r["seat"]) for r in rows}))
        events = await self.storage.events.many(sorted({str(r["event"]) for r in rows}))
        return [
            booking_record(r, user_id, seats[str(r["seat"])], events[str(r["event"])]) for r in rows
        ]
