"""The waiting room as buyers and organisers see it (issue 12): join, status, leave, the
gate on holds and bookings, and the ETA.

The places are the waiting-room store's (`backend/waitingroom/`, memory or Redis); this
module adds the event's configuration (`onsale.py`), the clock and the estimate of how
long a waiter will wait. The admission itself runs in the background (`admission.py`).

Clock: the store takes the time from its caller; this is the process's wall clock in
milliseconds. Processes must keep their clocks in step (NTP): the room opens at the
earliest clock that reaches `onSaleAt`, and a shopper's window is measured by whichever
process looks at it.

ETA: `ahead` divided by the room's admission rate, measured by the admitter over the
last minute (`RateMeter`). The store's own `admission_rate()` (all admissions between
the first and the last) is only the fallback until a minute-long measure exists: the
burst that fills every slot at the opening would make it far too optimistic.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.booking.coalesce import Coalesced
from backend.booking.onsale import SaleConfig, SaleConfigs
from backend.booking.rules import cancelled_event
from backend.errors import (
    Forbidden,
    NotAdmitted,
    NotOnSale,
    NoWaitingRoom,
    Unavailable,
)
from backend.redisclient import failure, pool_exhausted
from backend.storage.rooms import RoomSnapshotRepository
from backend.timefmt import iso_from_ms
from backend.waitingroom import (
    QueueState,
    QueueStatus,
    RoomDump,
    RoomSummary,
    WaitingRoomStore,
)

log = logging.getLogger("boxoffice.waitingroom")

RATE_WINDOW_MS = 60_000  # the admission rate is measured over this long
RATE_MIN_SPAN_MS = 5_000  # and only once this much has been seen
RATE_SAMPLE_MS = 1_000  # one sample a second is plenty
SNAPSHOT_MS = 5_000  # a busy room's places are copied to the database this often
SNAPSHOT_UNCHANGED_MS = 60_000  # and a room whose counters have not moved, this often
_UNKNOWN = -1  # no snapshot's `born` read yet (a `born` is never negative)


def wall_ms() -> int:
    """The process's wall clock in epoch milliseconds (see the module docstring)."""
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class QueueView:
    """One account's place as the API (and the live `queue` message) shows it."""

    state: QueueState
    position: int | None = None
    ahead: int | None = None
    eta_seconds: int | None = None
    admitted_until_ms: int | None = None

    def as_json(self) -> dict[str, Any]:
        """camelCase, `admittedUntil` only for a shopper (live or expired)."""
        body: dict[str, Any] = {
            "state": self.state.value,
            "position": self.position,
            "ahead": self.ahead,
            "etaSeconds": self.eta_seconds,
        }
        if self.admitted_until_ms is not None:
            body["admittedUntil"] = iso_from_ms(self.admitted_until_ms)
        return body


@dataclass(frozen=True, slots=True)
class RoomView:
    """The room as every watcher of its event sees it (the live `room` message)."""

    waiting: int
    shopping: int
    max_shoppers: int
    admissions_per_minute: float | None
    on_sale_at_ms: int | None
    open: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "waiting": self.waiting,
            "shopping": self.shopping,
            "maxShoppers": self.max_shoppers,
            "admissionsPerMinute": self.admissions_per_minute,
            "onSaleAt": iso_from_ms(self.on_sale_at_ms),
            "open": self.open,
        }


@dataclass(frozen=True, slots=True)
class RoomReport:
    """The room for its organiser: configuration, counters, admissions per minute."""

    enabled: bool
    max_shoppers: int
    shopper_seconds: int
    waiting: int
    shopping: int
    admitted_total: int
    admissions_per_minute: float | None
    opens_at_ms: int | None
    opened_at_ms: int | None


class RateMeter:
    """Admissions per second over the last `RATE_WINDOW_MS`, from the room's running
    total sampled by the admitter. The first sample is taken once someone has been
    admitted, so the opening's burst is the baseline, not part of the rate."""

    def __init__(self) -> None:
        self._samples: deque[tuple[int, int]] = deque()  # (now_ms, admitted_total)

    def observe(self, now_ms: int, admitted_total: int) -> None:
        if admitted_total <= 0:
            return
        if self._samples and now_ms - self._samples[-1][0] < RATE_SAMPLE_MS:
            return
        self._samples.append((now_ms, admitted_total))
        while len(self._samples) > 2 and now_ms - self._samples[1][0] >= RATE_WINDOW_MS:
            self._samples.popleft()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        if t1 - t0 < RATE_MIN_SPAN_MS:
            return None
        return (n1 - n0) * 1000 / (t1 - t0)


class WaitingRooms:
    """Every event's room in this process: the API's calls and the booking path's gate."""

    def __init__(
        self,
        store: WaitingRoomStore,
        configs: SaleConfigs,
        clock: Callable[[], int] = wall_ms,
        snapshots: RoomSnapshotRepository | None = None,
    ) -> None:
        self.store = store
        self.configs = configs
        self.clock = clock
        self.snapshots = snapshots
        self._saved_born: dict[str, int | None] = {}  # the database's copy, by event
        self._saved: dict[str, tuple[int, RoomSummary]] = {}  # when, and of what
        self.restores: Counter[str] = Counter()  # restores by event
        # Events whose room has people in it, as far as this process knows: the
        # admitter ticks these (and adds the database's rooms every few seconds).
        self.active: set[str] = set()
        self._meters: dict[str, RateMeter] = {}
        # One account's reads (polls, sockets' greetings), many accounts to a call.
        self.reads: Coalesced[QueueView] = Coalesced(self.present)

    async def on_startup(self) -> None:
        """Start the store."""
        await self.store.on_startup()

    async def on_shutdown(self) -> None:
        """Stop the store."""
        await self.store.on_shutdown()

    # ------------------------------------------------------------ the gate

    async def check(self, user_id: str, event_id: str) -> None:
        """May the caller hold or book seats of this event now? NotFound, NotOnSale or
        NotAdmitted if not.

        The organiser always may: comps, production holds and test purchases happen
        before the on-sale and beside the queue, and the organiser can change both
        settings anyway."""
        config = await self.configs.get(event_id)
        if config.open_to_all:
            return
        _check_not_cancelled(config)
        if user_id == config.organiser_id:
            return
        now = self.clock()
        if not config.on_sale(now):
            raise NotOnSale(
                "this event is not on sale yet",
                onSaleAt=iso_from_ms(config.on_sale_at_ms),
            )
        if not config.room:
            return
        try:
            # A request from the account is presence (a shopper's above all), read with
            # its place in one call: one round trip per hold or booking.
            [status] = await self.store.present(event_id, [user_id], now)
        except Exception as exc:
            raise _unavailable(exc) from None
        if status.state is QueueState.ADMITTED:
            return
        raise NotAdmitted(
            "join this event's waiting room first; you may hold and book once admitted",
            queue=self._view(event_id, status).as_json(),
        )

    async def done_shopping(self, user_id: str, event_id: str) -> None:
        """Free the caller's slot after they booked or released everything. Never fails
        the request that called it: a slot not freed here runs out with its window."""
        try:
            config = await self.configs.get(event_id)
            if config.room:
                await self.store.finish(event_id, user_id)
        except Exception as exc:
            log.warning("waiting room: could not free %s's slot on %s: %s", user_id, event_id, exc)

    # ------------------------------------------------------------- buyers

    async def join(self, user_id: str, event_id: str) -> QueueView:
        """Take a place in the event's room, or read the one the account has."""
        config = await self._room(event_id)
        _check_not_cancelled(config)
        try:
            status = await self.store.join(event_id, user_id, self.clock(), config.on_sale_at_ms)
        except Exception as exc:
            raise _unavailable(exc) from None
        self.active.add(event_id)
        return self._view(event_id, status)

    async def status(self, user_id: str, event_id: str) -> QueueView:
        """The account's place; asking counts as being present (polling clients)."""
        await self._room(event_id)
        return await self.touch_and_read(user_id, event_id)

    async def touch_and_read(self, user_id: str, event_id: str) -> QueueView:
        """Record that the account is present and read its place: the hook for the live
        channel's heartbeat (a socket that is open counts as being there). Concurrent
        reads of one event go to the store together (`coalesce.py`)."""
        return await self.reads.get(event_id, user_id)

    async def present(self, event_id: str, user_ids: list[str]) -> dict[str, QueueView]:
        """Record that these accounts are present (each has a signed-in socket open on the
        event) and read their places, in one step: the live channel's heartbeat."""
        now = self.clock()
        try:
            statuses = await self.store.present(event_id, user_ids, now)
        except Exception as exc:
            raise _unavailable(exc) from None
        if any(s.state in (QueueState.WAITING, QueueState.ADMITTED) for s in statuses):
            self.active.add(event_id)
        return {u: self._view(event_id, s) for u, s in zip(user_ids, statuses, strict=True)}

    async def room_view(self, event_id: str) -> RoomView | None:
        """The room's length and shoppers for its watchers; None without a room."""
        config = await self.configs.get(event_id)
        if not config.room:
            return None
        try:
            summary = await self.store.summary(event_id)
        except Exception as exc:
            raise _unavailable(exc) from None
        rate = self.rate(event_id, summary)
        return RoomView(
            waiting=summary.waiting,
            shopping=summary.shopping,
            max_shoppers=config.max_shoppers,
            admissions_per_minute=None if rate is None else round(rate * 60, 1),
            on_sale_at_ms=config.on_sale_at_ms,
            open=config.on_sale(self.clock()),
        )

    async def leave(self, user_id: str, event_id: str) -> QueueView:
        """Leave the room (a waiter's place, or a shopper's slot); their holds stay until
        they release them or the holds run out."""
        await self._room(event_id)
        try:
            await self.store.leave(event_id, user_id)
            status = await self.store.status(event_id, user_id, self.clock())
        except Exception as exc:
            raise _unavailable(exc) from None
        return self._view(event_id, status)

    # --------------------------------------------------------- organisers

    async def report(self, user_id: str, event_id: str) -> RoomReport:
        """The room's counters, for the event's organiser only."""
        config = await self.configs.get(event_id)
        if config.organiser_id != user_id:
            raise Forbidden("only the event's organiser can see its waiting room")
        try:
            summary = await self.store.summary(event_id)
        except Exception as exc:
            raise _unavailable(exc) from None
        rate = self.rate(event_id, summary)
        return RoomReport(
            enabled=config.room,
            max_shoppers=config.max_shoppers,
            shopper_seconds=config.shopper_seconds,
            waiting=summary.waiting,
            shopping=summary.shopping,
            admitted_total=summary.admitted_total,
            admissions_per_minute=None if rate is None else round(rate * 60, 2),
            opens_at_ms=summary.opens_at_ms,
            opened_at_ms=summary.opened_at_ms,
        )

    # ------------------------------------------------------ the safeguard

    async def safeguard(self, event_id: str, summary: RoomSummary, now_ms: int) -> RoomSummary:
        """Keep a copy of the room's places in the database, and put it back if the
        store has lost them; the room's summary afterwards. The admitter calls it for
        every room it visits.

        A copy is written every SNAPSHOT_MS while the room's counters move (a minute
        apart while they stand still: a join and a leave in one interval leave them
        equal), by one app process of all those sharing the room (`store.claim`). The
        store names each state of a room (`born`): a summary whose `born` is not the
        copy's means the store lost the room since (Redis restarted without
        persistence, or the embedded process restarted) and the copy is restored,
        merged with whatever happened since (see `WaitingRoomStore.restore`). What
        changed after the last copy is lost: joins and leaves of the last few seconds
        (those joiners join again, at the back)."""
        if self.snapshots is None:
            return summary
        saved = self._saved_born.get(event_id, _UNKNOWN)
        if saved != summary.born:
            saved = self._saved_born[event_id] = await self.snapshots.born(event_id)
            if saved is not None and saved != summary.born:
                return await self._restore(event_id, now_ms) or summary
        if summary.born is None:
            return summary
        last = self._saved.get(event_id)
        if last is not None and (
            now_ms - last[0] < SNAPSHOT_MS
            or (last[1] == summary and now_ms - last[0] < SNAPSHOT_UNCHANGED_MS)
        ):
            return summary
        if not await self.store.claim(event_id, "copy", now_ms, SNAPSHOT_MS):
            # Another process copies the room this interval: a copy reads every place
            # (10,000 of them stop the loop ~100 ms), so one process pays for it.
            self._saved[event_id] = (now_ms, summary)
            return summary
        dumped = await self.store.dump_json(event_id)
        if dumped is None or dumped[0] != summary.born:
            return summary  # the store changed under us: the next visit looks again
        born, text = dumped
        await self.snapshots.save(event_id, born, now_ms, text)
        self._saved_born[event_id] = born
        self._saved[event_id] = (now_ms, summary)
        return summary

    async def _restore(self, event_id: str, now_ms: int) -> RoomSummary | None:
        assert self.snapshots is not None
        found = await self.snapshots.get(event_id)
        if found is None:
            return None
        dump = RoomDump.from_json(found[1])
        if await self.store.restore(event_id, dump, now_ms):
            self.restores[event_id] += 1
            log.warning(
                "waiting room of %s: the store had lost it; restored %d places and %d "
                "shoppers from the copy taken at %s",
                event_id,
                len(dump.queue),
                len(dump.shop),
                iso_from_ms(found[0]),
            )
        return await self.store.summary(event_id)

    # ---------------------------------------------------------- the rate

    def observe(self, event_id: str, summary: RoomSummary, now_ms: int) -> None:
        """The admitter's sample of the room's admissions so far."""
        self._meters.setdefault(event_id, RateMeter()).observe(now_ms, summary.admitted_total)

    def forget(self, event_id: str) -> None:
        """This process stops following the room (empty, disabled or deleted)."""
        self.active.discard(event_id)
        self._meters.pop(event_id, None)
        self._saved_born.pop(event_id, None)
        self._saved.pop(event_id, None)

    def rate(self, event_id: str, summary: RoomSummary | None = None) -> float | None:
        """Admissions per second: measured over the last minute, else the store's."""
        meter = self._meters.get(event_id)
        measured = meter.rate() if meter is not None else None
        if measured is None and summary is not None:
            return summary.admission_rate()
        return measured

    def _view(self, event_id: str, status: QueueStatus) -> QueueView:
        eta = None
        if status.ahead is not None:
            rate = self.rate(event_id)
            if status.ahead == 0:
                eta = 0
            elif rate:
                eta = math.ceil(status.ahead / rate)
        return QueueView(
            state=status.state,
            position=status.position,
            ahead=status.ahead,
            eta_seconds=eta,
            admitted_until_ms=status.admitted_until_ms,
        )

    async def _room(self, event_id: str) -> SaleConfig:
        config = await self.configs.get(event_id)
        if not config.room:
            raise NoWaitingRoom("this event has no waiting room: hold and book directly")
        return config


def _check_not_cancelled(config: SaleConfig) -> None:
    if config.cancelled_at_ms is not None:
        raise cancelled_event(iso_from_ms(config.cancelled_at_ms))


def _unavailable(exc: Exception) -> Unavailable:
    log.warning("waiting-room store %s", failure(exc))
    if pool_exhausted(exc):  # this process is overloaded: the buyer's retry may land elsewhere
        return Unavailable("the waiting room is busy; try again in a moment")
    return Unavailable("the waiting room is unavailable; try again")
