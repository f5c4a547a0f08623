"""Group commit: one event's holds and bookings, written together.

Every write alone pays a seat-lock call, a transaction (its round trips and its commit)
and a publish. On a busy night most of one event's requests arrive while its previous
write is still in the database, so they wait here and go as one batch:

1. one read of the event and every seat the batch names; requests it already refuses
   (404, too many seats, booked, held by someone else) are answered at once, as alone;
2. one seat-lock call, each request's seats all or none, in arrival order;
3. one transaction: the accounts and the seats locked (in id order, so batches of two app
   processes queue instead of deadlocking), the clock and each buyer's seat count read,
   every request decided in arrival order by the same rules as alone (`rules.py`), then
   one compare-and-set write of every seat's new state (on its version), one insert of
   every booking (the unique index is still the guard) and each request's idempotency
   record;
4. the locks released and every change published in one call.

No timer: a request that finds no batch of its event in flight starts one at once, so a
quiet system answers as fast as before. Requests whose seats overlap an earlier one's in
the same batch (and that its read does not already refuse) wait for the next batch, so
each gets exactly the answer it would get after the earlier one. If anything unexpected
fails in a batch (the database, a constraint, a hook), its undecided requests are run
again one at a time by the one-request path: a failing request never fails its
neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from backend.booking.records import BookingRecord, HoldResult, SeatChange
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
    NotAuthenticated,
    NotFound,
    SeatLimitExceeded,
    SeatsLocked,
)
from backend.redisclient import failure
from backend.seats import SeatAction, SeatStatus, effective_status
from backend.storage import LogEntry, NewBooking
from backend.timefmt import iso

if TYPE_CHECKING:
    from backend.booking.service import BookingService, CommitHook

log = logging.getLogger("boxoffice.booking.batch")

AVAILABLE, HELD, BOOKED = SeatStatus.AVAILABLE, SeatStatus.HELD, SeatStatus.BOOKED

# At most this many requests in one batch (the rest wait for the next): bounds one
# transaction's row locks, one script's keys and one statement's arrays.
MAX_BATCH = 256


@dataclass(eq=False)
class _Request:
    kind: Literal["hold", "book", "release"]
    user_id: str
    seat_ids: list[str]
    on_commit: CommitHook | None
    future: asyncio.Future[Any]
    everything: bool = False  # a release of all the user's holds on the event
    # Filled while the batch is decided:
    states: list[dict[str, Any]] = field(default_factory=list)
    unchanged: dict[str, dict[str, Any]] = field(default_factory=dict)
    until: int = 0  # a hold's cart end
    locks: list[str] = field(default_factory=list)  # the seats whose locks it takes

    def answer(self, result: Any) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def refuse(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class _RunAlone(Exception):
    """The batch could not be decided or written as a whole: run its requests alone."""


@dataclass
class BatchStats:
    """Counts for /metrics and the benchmarks: mean batch size = requests / batches."""

    batches: int = 0
    requests: int = 0
    largest: int = 0
    run_alone: int = 0


class WriteBatcher:
    """Per event: at most one batch in flight; what arrives meanwhile is the next one."""

    def __init__(self, service: BookingService) -> None:
        self.service = service
        self.stats = BatchStats()
        self._waiting: dict[str, list[_Request]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        # The seats the event's batch in flight writes (locked, or its buyers' own
        # holds), each with the kind of request writing it: a request for one of them is
        # answered 423 at once, as the lock would answer it alone, instead of waiting
        # for the batch to end (a hot seat's stampede). A booking waits for a hold's
        # batch instead: the hold may be a best-available probe of a seat this buyer
        # holds, picked from a stale read (`rules.to_lock`), which its transaction will
        # refuse.
        self._claimed: dict[str, dict[str, str]] = {}

    def writing(self) -> bool:
        """Whether any event's batch is in flight in this process (the live hub's cue to
        hold its shoppers' batches: bookings before fan-out)."""
        return bool(self._running)

    async def hold(self, user_id: str, event_id: str, seat_ids: Sequence[str]) -> HoldResult:
        result: HoldResult = await self._submit("hold", user_id, event_id, seat_ids, None)
        return result

    async def book(
        self,
        user_id: str,
        event_id: str,
        seat_ids: Sequence[str],
        on_commit: CommitHook | None,
    ) -> list[BookingRecord]:
        result: list[BookingRecord] = await self._submit(
            "book", user_id, event_id, seat_ids, on_commit
        )
        return result

    async def release(
        self, user_id: str, event_id: str, seat_ids: Sequence[str] | None
    ) -> list[str]:
        result: list[str] = await self._submit(
            "release", user_id, event_id, seat_ids or [], None, everything=seat_ids is None
        )
        return result

    async def _submit(
        self,
        kind: Literal["hold", "book", "release"],
        user_id: str,
        event_id: str,
        seat_ids: Sequence[str],
        on_commit: CommitHook | None,
        everything: bool = False,
    ) -> Any:
        busy = self._claimed.get(event_id) if kind != "release" else None
        if busy:
            # A booking waits behind a hold's claim (see `_claimed`); a hold meets any.
            taken = [s for s in seat_ids if s in busy and (kind == "hold" or busy[s] == "book")]
            if taken:
                raise SeatsLocked(
                    "Seat is being booked, try again.",
                    seats=[{"id": s, "heldUntil": None} for s in taken],
                )
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(event_id, []).append(
            _Request(kind, user_id, list(seat_ids), on_commit, future, everything)
        )
        if event_id not in self._running:
            self._running[event_id] = asyncio.create_task(self._drain(event_id))
        # A caller that goes away (client disconnect) leaves its request to the batch:
        # once decided, it is written with its neighbours, as a request alone would be
        # once its transaction has begun.
        return await future

    async def _drain(self, event_id: str) -> None:
        """Run this event's batches until nobody waits. No await between the last check
        and leaving `_running`, so a request never waits without a batch to come."""
        try:
            while waiting := self._waiting.pop(event_id, None):
                batch = [r for r in waiting if not r.future.done()][:MAX_BATCH]
                later = [r for r in waiting if not r.future.done()][MAX_BATCH:]
                if later:
                    self._waiting[event_id] = later + self._waiting.get(event_id, [])
                if not batch:
                    continue
                deferred = await self._run(event_id, batch)
                if deferred:
                    self._waiting[event_id] = deferred + self._waiting.get(event_id, [])
        finally:
            del self._running[event_id]
            for request in self._waiting.pop(event_id, []):  # only on cancellation
                request.refuse(asyncio.CancelledError())

    async def _run(self, event_id: str, requests: list[_Request]) -> list[_Request]:
        """One batch; returns the requests that overlap an earlier one (the next batch's)."""
        batch = requests
        deferred: list[_Request] = []
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        try:
            deferred = await self._write(event_id, batch)
        except BaseException as exc:
            undecided = [r for r in batch if not r.future.done()]
            if isinstance(exc, asyncio.CancelledError) or not isinstance(exc, Exception):
                for request in undecided:
                    request.refuse(asyncio.CancelledError())
                raise
            if undecided:
                self.stats.run_alone += len(undecided)
                log.warning(
                    "write batch of %d failed (%s); running %d requests alone",
                    len(batch),
                    exc,
                    len(undecided),
                )
                await asyncio.gather(*(self._alone(event_id, r) for r in undecided))
        return deferred

    async def _alone(self, event_id: str, request: _Request) -> None:
        service = self.service
        try:
            if request.kind == "hold":
                request.answer(
                    await service.hold_alone(request.user_id, event_id, request.seat_ids)
                )
            elif request.kind == "release":
                request.answer(
                    await service.release_alone(
                        request.user_id, event_id, None if request.everything else request.seat_ids
                    )
                )
            else:
                request.answer(
                    await service.book_alone(
                        request.user_id, event_id, request.seat_ids, request.on_commit
                    )
                )
        except Exception as exc:
            request.refuse(exc)

    async def _write(self, event_id: str, batch: list[_Request]) -> list[_Request]:
        """Answer the batch; return the requests left for the next one (those whose
        seats overlap an earlier request's that the read did not already refuse)."""
        service = self.service
        seats_repo = service.seats
        union = list(dict.fromkeys(s for r in batch for s in r.seat_ids))

        # 1. One read: what it already refuses is answered as alone.
        event, rows, read_at = await seats_repo.event_with_seats(event_id, union)
        if event is None:
            for request in batch:
                request.refuse(NotFound(f"no event with id {event_id}"))
            return []
        full = {str(row["id"]): row for row in rows}
        live, deferred = self._order(event_id, event, batch, full, read_at)
        if not live:
            return deferred
        releases = [r for r in live if r.kind == "release"]
        live = [r for r in live if r.kind != "release"]

        # 2. One lock call, all or none per request, in arrival order; no lock on a
        # seat the read shows its buyer holding (`rules.to_lock`).
        for request in live:
            request.locks = to_lock(full, request.seat_ids, request.user_id, read_at)
        token = secrets.token_hex(16) if any(r.locks for r in live) else ""
        lockless = False  # the lock store failed: no locks, so no claims either
        try:
            taken = (
                await service.locks.acquire_each(
                    event_id, [r.locks for r in live], token, service.lock_ttl_ms
                )
                if token
                else [[] for _ in live]
            )
        except Exception as exc:  # the lock is an accelerator; the database still guards
            log.warning("seat lock store %s; continuing without locks", failure(exc))
            taken, token, lockless = [[] for _ in live], "", True
        locked: list[_Request] = list(releases)  # a release takes no seat locks (as alone)
        for request, busy in zip(live, taken, strict=True):
            if busy:
                request.refuse(
                    SeatsLocked(
                        "Seat is being booked, try again.",
                        seats=[{"id": s, "heldUntil": None} for s in busy],
                    )
                )
            else:
                locked.append(request)
        if not locked:
            return deferred
        locked_seats = [s for r in locked for s in r.locks]
        if not lockless:  # every seat the batch writes, its buyers' own included
            self._claimed[event_id] = {
                s: r.kind for r in locked if r.kind != "release" for s in r.seat_ids
            }
        try:
            changed, results = await self._transaction(event_id, event, full, locked)
        except BaseException:
            self._claimed.pop(event_id, None)
            await self._unlock(event_id, locked_seats, token)
            raise
        self._claimed.pop(event_id, None)

        # 4. One publish, the locks given back meanwhile (two Redis calls, neither
        # waiting for the other); then every answer.
        if changed:
            await asyncio.gather(
                self._unlock(event_id, locked_seats, token),
                service.publisher.publish(event_id, [SeatChange.from_row(r) for r in changed]),
            )
        else:
            await self._unlock(event_id, locked_seats, token)
        for request, result in results:
            if isinstance(result, BaseException):
                request.refuse(result)
            else:
                request.answer(result)
        return deferred

    async def _unlock(self, event_id: str, seat_ids: list[str], token: str) -> None:
        """Give back the batch's seat locks (none taken: no token); never raises."""
        if token:
            try:
                await self.service.locks.release(event_id, seat_ids, token)
            except Exception as exc:  # they expire by themselves
                log.warning("seat lock release failed (locks will expire): %s", exc)

    def _order(
        self,
        event_id: str,
        event: dict[str, Any],
        batch: list[_Request],
        full: dict[str, dict[str, Any]],
        read_at: int,
    ) -> tuple[list[_Request], list[_Request]]:
        """The batch's requests in arrival order: those answered by the read (refused,
        as alone), those for this batch, and those left for the next one.

        Holds and bookings free no seat, so the read's refusals stay right whatever
        came before them in the batch (a hot seat's stampede is answered by one read,
        not one batch each). A request that shares a seat with an earlier one goes in
        the next batch, to be read again after it. A release may free seats and lower
        its user's count, so a request touching what an earlier release may free, or by
        a user who released earlier, or a release by a user with an earlier request,
        goes in the next batch unread. A hold re-holds its user's whole cart, so a
        user's request after their hold, or a hold after their request, goes in the
        next batch (read, since a hold frees nothing)."""
        guarded = self.service.guarded
        live: list[_Request] = []
        deferred: list[_Request] = []
        touched: set[str] = set()  # seats of earlier requests still to be written
        freeable: set[str] = set()  # seats an earlier release may free
        users: set[str] = set()  # users with an earlier request still to be written
        releasing: set[str] = set()  # users with an earlier release
        holding: set[str] = set()  # users with an earlier hold (it re-holds their cart)
        for request in batch:
            user = request.user_id
            if request.everything:  # the user's live holds among the seats read
                seats = {
                    s for s, r in full.items() if r["status"] == HELD and str(r["holder"]) == user
                }
            else:
                seats = set(request.seat_ids)
            unread = (
                bool(seats & freeable)
                or user in releasing
                or (request.kind == "release" and user in users)
            )
            if not unread:
                try:
                    if request.kind == "release":
                        if not request.everything:
                            all_found(event_id, request.seat_ids, full.values())
                    else:
                        check_open(event)
                        check_request_size(event, request.seat_ids)
                        found = all_found(event_id, request.seat_ids, full.values())
                        early = refusal((found[s] for s in request.seat_ids), user, read_at)
                        if guarded and early is not None:
                            raise early
                except Exception as exc:
                    request.refuse(exc)  # it changes nothing: it blocks nobody
                    continue
            # A hold re-holds every seat of its user's cart, named or not: after it, or
            # before it, the same user's next request waits for the next batch.
            cart = user in holding or (request.kind == "hold" and user in users)
            (deferred if unread or cart or seats & touched else live).append(request)
            touched |= seats
            users.add(user)
            if request.kind == "hold":
                holding.add(user)
            if request.kind == "release":
                freeable |= seats
                releasing.add(user)
        return live, deferred

    async def _transaction(
        self,
        event_id: str,
        event: dict[str, Any],
        full: dict[str, dict[str, Any]],
        batch: list[_Request],
    ) -> tuple[list[dict[str, Any]], list[tuple[_Request, Any]]]:
        """3. Decide every request against the locked rows and write the outcome.
        Returns the changed rows and each request's answer (a result or an error), to be
        given only once the transaction has committed."""
        service = self.service
        seats_repo = service.seats
        writes = [r for r in batch if r.kind != "release"]
        users = sorted({r.user_id for r in writes})
        named = {s for r in writes for s in r.seat_ids}
        limit = int(event["max_seats_per_user"])
        hold_ms = int(event["hold_seconds"]) * 1000
        results: list[tuple[_Request, Any]] = []
        async with service.storage.transaction():
            present = await seats_repo.lock_users(users) if users else set()
            # The holders' carts, locked with the named seats in one id-ordered read.
            # Their accounts are locked now, so a cart can only shrink (a release, the
            # sweeper) before its rows are: what is no longer theirs is filtered out.
            holders = sorted({r.user_id for r in writes if r.kind == "hold"})
            rows = {
                str(r["id"]): r
                for r in (
                    await seats_repo.for_update(event_id, sorted(named), holders) if named else []
                )
            }
            if not named.issubset(rows):
                raise _RunAlone("seats vanished under the batch (event deleted?)")
            now, counts, cancelled = (
                await seats_repo.clock_and_counts(event_id, users) if users else (0, {}, False)
            )
            accepted: list[_Request] = []
            for request in writes:
                if cancelled:  # its organiser cancelled it before these seats were ours
                    results.append((request, cancelled_event(iso(event.get("cancelled_at")))))
                    continue
                if request.user_id not in present:
                    results.append((request, NotAuthenticated("this account no longer exists")))
                    continue
                error = _decide(request, rows, counts, now, limit, hold_ms, service.guarded)
                if error is not None:
                    results.append((request, error))
                else:
                    accepted.append(request)
            # One order per booking request (issue 15, item 1), its bookings at the
            # seats' prices now, all in this transaction; the orders first, so the log
            # lines that name them go with the compare-and-set in one statement.
            books = [r for r in accepted if r.kind == "book"]
            prices = {s: seat_price(event, full[s]) for r in books for s in r.seat_ids}
            orders = (
                await service.storage.orders.create(
                    event_id,
                    event["currency"],
                    [(r.user_id, sum(prices[s] for s in r.seat_ids)) for r in books],
                )
                if books
                else []
            )
            order_of = {id(r): o for r, o in zip(books, orders, strict=True)}
            log_at = now or None
            # The status-change log (issue 15, item 4), in this transaction.
            entries = [
                LogEntry(event_id, state["id"], action, r.user_id, order, log_at)
                for r in accepted
                for state, action, order in _logged(r, rows, now, order_of.get(id(r)))
            ]
            states = [state for r in accepted for state in r.states]
            changed = await seats_repo.apply(event_id, states, entries) if states else []
            if len(changed) != len(states):
                raise _RunAlone("a seat's version moved under its row lock")
            after = {str(r["id"]): r for r in changed}
            new = [
                NewBooking(s, r.user_id, str(order_of[id(r)]["id"]), prices[s])
                for r in books
                for s in r.seat_ids
            ]
            booked = await service.storage.bookings.insert_many(event_id, new) if new else []
            by_user_seat = {(str(b["user"]), str(b["seat"])): b for b in booked}
            for request in accepted:
                if request.kind == "hold":
                    ordered = [
                        {**full[s], **(after.get(s) or request.unchanged[s])}
                        for s in request.seat_ids
                    ]
                    results.append((request, HoldResult(event_id, ordered, request.until)))
                else:
                    records = [
                        booking_record(
                            by_user_seat[(request.user_id, s)],
                            request.user_id,
                            full[s],
                            event,
                            order_of[id(request)],
                        )
                        for s in request.seat_ids
                    ]
                    if request.on_commit is not None:
                        await request.on_commit(records)
                    results.append((request, records))
            # Releases last: none shares a seat or a user with a write of this batch.
            released: list[LogEntry] = []
            for request in batch:
                if request.kind == "release":
                    freed = await seats_repo.release(
                        event_id, request.user_id, None if request.everything else request.seat_ids
                    )
                    changed += freed
                    released += [
                        # The batch's clock if it read one; else the log reads it.
                        LogEntry(
                            event_id,
                            str(f["id"]),
                            SeatAction.RELEASED,
                            request.user_id,
                            None,
                            now or None,
                        )
                        for f in freed
                    ]
                    results.append((request, [str(r["id"]) for r in freed]))
            await service.storage.seat_log.record(released)
        return changed, results


def _logged(
    request: _Request,
    before: dict[str, dict[str, Any]],
    now: int,
    order: dict[str, Any] | None,
) -> list[tuple[dict[str, Any], SeatAction, str | None]]:
    """Each seat state an accepted request wrote, with its log action: booked (with the
    order), or held, or extended when its holder already held it (the cart re-held)."""
    if request.kind == "book":
        order_id = None if order is None else str(order["id"])
        return [(state, SeatAction.BOOKED, order_id) for state in request.states]
    found: list[tuple[dict[str, Any], SeatAction, str | None]] = []
    for state in request.states:
        prior = before[state["id"]]
        own = (
            prior["status"] == HELD
            and str(prior["holder"]) == request.user_id
            and int(prior["held_until_ms"] or 0) > now
        )
        found.append((state, SeatAction.EXTENDED if own else SeatAction.HELD, None))
    return found


def _decide(
    request: _Request,
    rows: dict[str, dict[str, Any]],
    counts: dict[str, int],
    now: int,
    limit: int,
    hold_ms: int,
    guarded: bool,
) -> BaseException | None:
    """The request's answer by the rules of `BookingService` alone, against the locked
    rows: an error, or None with its new seat states in `request.states`."""
    user = request.user_id
    seats = [rows[s] for s in request.seat_ids]

    def own_live(row: dict[str, Any]) -> bool:
        return (
            row["status"] == HELD
            and str(row["holder"]) == user
            and int(row["held_until_ms"] or 0) > now
        )

    def free(row: dict[str, Any]) -> bool:
        return effective_status(row["status"], row["held_until_ms"], now) == AVAILABLE

    if request.kind == "hold":
        others = [r for r in seats if not own_live(r)]
        if guarded:
            refused = [r for r in others if not free(r)]
            if refused:
                return refusal(refused, user, now) or _try_again(refused)
        added = len(others)
    else:
        if guarded:
            refused = [
                r
                for r in seats
                if not (free(r) or (r["status"] == HELD and str(r["holder"]) == user))
            ]
            if refused:
                return refusal(refused, user, now) or _try_again(refused)
        added = sum(1 for r in seats if not own_live(r))
    if counts.get(user, 0) + added > limit:
        return SeatLimitExceeded(
            f"at most {limit} seats per person for this event (held and booked together)",
            limit=limit,
        )
    counts[user] = counts.get(user, 0) + added
    if request.kind == "book":
        request.states = [_state(r, BOOKED, user, None, None) for r in seats]
        return None
    # The cart (`BookingService.hold_alone`): the user's live holds among the locked rows
    # (every one of them: the batch locked their cart) all end at one time.
    cart = [r for r in rows.values() if own_live(r)]
    until = cart_end(now, hold_ms, min((int(r["held_since_ms"]) for r in cart), default=None))
    request.until = until
    for row in seats:
        if not own_live(row):
            request.states.append(_state(row, HELD, user, now, until))
    named = set(request.seat_ids)
    for row in cart:
        if int(row["held_until_ms"]) != until:
            request.states.append(_state(row, HELD, user, int(row["held_since_ms"]), until))
        elif str(row["id"]) in named:  # already ending then: unchanged, as read
            request.unchanged[str(row["id"])] = row
    return None


def _state(
    row: dict[str, Any], status: str, holder: str, since: int | None, until: int | None
) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "status": str(status),
        "holder": holder,
        "held_since_ms": since,
        "held_until_ms": until,
        "version": int(row["version"]),
    }


def _try_again(rows: list[dict[str, Any]]) -> SeatsLocked:
    return SeatsLocked(
        "Seat is being booked, try again.",
        seats=[{"id": str(r["id"]), "heldUntil": None} for r in rows],
    )
