"""Admission: every `interval`, each busy room reaps, then admits (issue 12, item 4).

For each event whose room has people in it, in order:

0. `safeguard`: a copy of the room's places goes to the database every few seconds,
   and comes back if the store lost them (see `WaitingRooms.safeguard`);
1. `expire_shoppers`: shoppers whose window ran out lose their slot, and their holds on
   the event are released (announced live like any release);
2. `abandon(grace)`: waiters and shoppers not seen for `grace` (no open socket, no poll,
   no hold or booking) lose their place or slot; shoppers' holds are released too;
3. `admit`: waiters in queue order fill the free slots (`maxShoppers` minus those
   shopping), at most the room's pace a tick (below).

Every app process runs it; each step is one atomic store transition (a Lua script on
Redis), so admission never exceeds `maxShoppers` and each expiry is reaped by exactly
one process, which releases that shopper's holds.

The rate this gives is Little's law at work: with `maxShoppers` slots and shoppers who
take T seconds to buy, about maxShoppers / T are admitted a second. The organiser picks
`maxShoppers` for what the booking path can serve; the pace guards it when that guess
is wrong, and at the opening, when every slot is free at once.

The pace (admissions a tick, per room and process) follows the booking path's recent
latency, as TCP's window follows loss (additive increase, multiplicative decrease): it
starts at a tenth of `maxShoppers`, grows by a twentieth each tick while the path's p99
is under `slow_ms / 2`, and halves, at most once a second, while it is over `slow_ms`.
The path's p99 is what a buyer waits: the p99 of this process's last holds and bookings
(a 3 s window; none counts as 0) plus the p99 of its event loop's lag over the same
window (`looplag.py`), the wait before a request's handler even starts, which at an
opening is most of it. It never drops to
zero: the first version stopped admitting while slow, so no new request came to bring
the p99 down, and the room sat empty for seconds at a time with thousands waiting
(`make bench onsale`, bench/README.md). The opening's burst becomes a ramp.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from backend.booking.expiry import Periodic
from backend.booking.latency import LatencyWindow
from backend.booking.looplag import LoopLag
from backend.booking.queue import WaitingRooms
from backend.errors import NotFound

log = logging.getLogger("boxoffice.waitingroom")

ROOMS_REFRESH_SECONDS = 5.0  # how often the database's list of rooms is read
PACE_START = 0.1  # of maxShoppers, admitted in a room's first tick
PACE_STEP = 0.05  # of maxShoppers, added to the pace each tick while the path is quick
PACE_DECREASE_MS = 1_000  # the pace halves at most this often


@dataclass
class Pace:
    """A room's admissions a tick in this process, and when it last halved."""

    limit: int
    halved_at_ms: int | None = None


class ReleasesHolds(Protocol):
    async def release_holds(
        self,
        user_id: str,
        event_id: str,
        seat_ids: list[str] | None,
        *,
        done_shopping: bool = True,
    ) -> list[str]:
        """Release the user's holds on the event."""


@dataclass
class TickReport:
    """What one tick did, by event: for tests and logs."""

    admitted: dict[str, list[str]] = field(default_factory=dict)
    expired: dict[str, list[str]] = field(default_factory=dict)
    abandoned: dict[str, list[str]] = field(default_factory=dict)
    slow: bool = False
    pace: dict[str, int] = field(default_factory=dict)  # the admissions a tick allowed


class Admitter(Periodic):
    """Ticks between `on_startup` and `on_shutdown` (stopping between ticks, never inside
    one: see `Periodic`); `tick(now_ms)` is one round."""

    name = "waiting-room-admitter"
    failure = "waiting rooms: tick failed"

    def __init__(
        self,
        rooms: WaitingRooms,
        booking: ReleasesHolds,
        latency: LatencyWindow,
        *,
        loop_lag: LoopLag | None = None,
        interval: float,
        grace_ms: int,
        slow_ms: int,
    ) -> None:
        super().__init__(interval)
        self.rooms = rooms
        self.booking = booking
        self.latency = latency
        self.loop_lag = loop_lag
        self.grace_ms = grace_ms
        self.slow_ms = slow_ms
        self._refreshed_at = -ROOMS_REFRESH_SECONDS
        self._paces: dict[str, Pace] = {}
        # Called with each tick's report (who was admitted, expired, abandoned): the
        # hook for the live channel's `queue` messages (issue 12, item 5).
        self.listeners: list[Callable[[TickReport], Awaitable[None]]] = []

    def path_p99_ms(self) -> float:
        """What a buyer's hold or booking waits at p99, recently: the booking path's own
        time plus the event loop's lag before it starts (0 when idle)."""
        lag = self.loop_lag.p99_ms() if self.loop_lag is not None else 0.0
        return (self.latency.p99_ms() or 0.0) + lag

    def slow(self) -> bool:
        """Is the booking path's recent p99 over the bound?"""
        return self.path_p99_ms() > self.slow_ms

    def quick(self) -> bool:
        """Is it well under the bound (or idle), so admission may speed up?"""
        return self.path_p99_ms() <= self.slow_ms / 2

    def pace(self, event_id: str, max_shoppers: int, now_ms: int, slow: bool) -> int:
        """This tick's admissions for the room: see the module docstring."""
        pace = self._paces.get(event_id)
        if pace is None:
            pace = self._paces[event_id] = Pace(max(1, math.ceil(max_shoppers * PACE_START)))
            return pace.limit
        if slow:
            if pace.halved_at_ms is None or now_ms - pace.halved_at_ms >= PACE_DECREASE_MS:
                pace.limit = max(1, pace.limit // 2)
                pace.halved_at_ms = now_ms
        elif self.quick():
            step = max(1, math.ceil(max_shoppers * PACE_STEP))
            pace.limit = min(max_shoppers, pace.limit + step)
        pace.limit = min(pace.limit, max_shoppers)  # maxShoppers may have been lowered
        return pace.limit

    async def tick(self, now_ms: int | None = None) -> TickReport:
        """One round over the busy rooms at `now_ms` (default: the rooms' clock)."""
        now = self.rooms.clock() if now_ms is None else now_ms
        await self._refresh()
        report = TickReport(slow=self.slow())
        for event_id in sorted(self.rooms.active):
            try:
                await self._tick_room(event_id, now, report)
            except Exception as exc:
                log.warning("waiting room of %s: tick failed (will retry): %s", event_id, exc)
        for listener in self.listeners:
            try:
                await listener(report)
            except Exception as exc:
                log.warning("waiting rooms: a tick listener failed: %s", exc)
        return report

    async def _refresh(self) -> None:
        """Follow every room the database has on, not only those joined through this
        process: a restarted process, or one that took no join, still admits."""
        if time.monotonic() - self._refreshed_at < ROOMS_REFRESH_SECONDS:
            return
        self._refreshed_at = time.monotonic()
        try:
            self.rooms.active.update(await self.rooms.configs.with_rooms())
        except Exception as exc:
            log.warning("waiting rooms: could not list the rooms (will retry): %s", exc)

    async def _tick_room(self, event_id: str, now: int, report: TickReport) -> None:
        store = self.rooms.store
        try:
            config = await self.rooms.configs.get(event_id)
        except NotFound:
            self.rooms.forget(event_id)
            await store.clear(event_id)  # the event is gone, and its room with it
            return
        if not config.room:
            self.rooms.forget(event_id)  # its places stay, should the room come back on
            self._paces.pop(event_id, None)
            return
        await self.rooms.safeguard(event_id, await store.summary(event_id), now)
        expired = await store.expire_shoppers(event_id, now)
        abandoned = await store.abandon(event_id, now, self.grace_ms)
        for user_id in [*expired, *abandoned.shoppers]:
            await self._release(user_id, event_id)
        if expired:
            report.expired[event_id] = expired
        if abandoned.shoppers or abandoned.waiters:
            report.abandoned[event_id] = [*abandoned.shoppers, *abandoned.waiters]
        if config.on_sale(now):
            pace = self.pace(event_id, config.max_shoppers, now, report.slow)
            report.pace[event_id] = pace
            admitted = await store.admit(
                event_id, now, config.max_shoppers, config.shopper_ms, pace
            )
            if admitted:
                report.admitted[event_id] = [a.user_id for a in admitted]
        summary = await store.summary(event_id)
        self.rooms.observe(event_id, summary, now)
        if summary.waiting == 0 and summary.shopping == 0:
            self.rooms.active.discard(event_id)  # idle: a join brings it back
            self._paces.pop(event_id, None)

    async def _release(self, user_id: str, event_id: str) -> None:
        """Release a reaped shopper's holds. The store already freed the slot, so this
        must not free it again (they may have joined again meanwhile)."""
        try:
            await self.booking.release_holds(user_id, event_id, None, done_shopping=False)
        except Exception as exc:  # their holds still run out by themselves
            log.warning(
                "waiting room: releasing %s's holds on %s failed: %s", user_id, event_id, exc
            )

    async def round(self) -> None:
        await self.tick()
