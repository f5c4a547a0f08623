"""Admission: every `interval`, each busy room reaps, then admits (issue 12, item 4).

For each event whose room has people in it, in order:

0. `safeguard`: a copy of the room's places goes to the database every few seconds,
   and comes back if the store lost them (see `WaitingRooms.safeguard`);
1. `expire_shoppers`: shoppers whose window ran out lose their slot, and their holds on
   the event are released (announced live like any release);
2. `abandon(grace)`: waiters and shoppers not seen for `grace` (no open socket, no poll,
   no hold or booking) lose their place or slot; shoppers' holds are released too;
3. `admit`: waiters in queue order fill the free slots: the room's shopping window (at
   most `maxShoppers`, below) minus those shopping.

Every app process runs it; each step is one atomic store transition (a Lua script on
Redis), so admission never exceeds `maxShoppers` and each expiry is reaped by exactly
one process, which releases that shopper's holds.

The rate this gives is Little's law at work: with N shopping at once and shoppers who
take W seconds to buy, about N / W are admitted a second. The organiser picks
`maxShoppers` for what the booking path can serve; the shopping window guards it when
that guess is wrong, and at the opening, when every slot is free at once.

The window (how many may shop at once, per room and process, at most `maxShoppers`)
follows the booking path's latency as TCP's congestion window follows loss, decided once
a second on that second's figures. It starts small, at a twentieth of `maxShoppers` (at
least 10); while the path's p99 is under `slow_ms / 2` and the window is in use (three
quarters of it shopping: an idle window proves nothing) it doubles (slow start) until
the path is first slow, and from then on grows by a twentieth of `maxShoppers` (additive
increase); while the p99 is over `slow_ms` it shrinks by a quarter (multiplicative
decrease), never below a twentieth of `maxShoppers`: the sale never stops, and a slow
path still sees shoppers, whose requests tell it when it is quick again. The path's p99
is what a buyer waits: the p99 of this process's holds and bookings of the last second
(none counts as 0) plus the p99 of its event loop's lag over the same second
(`looplag.py`), the wait before a request's handler even starts. Each tick admits
waiters in order while fewer than the window shop.

Why a window of shoppers and not a pace of admissions a tick (the version before): the
load on the booking path is the shoppers' requests, so it follows how many shop, not how
fast they came in. The pace grew by its step every tick (8 ticks a second over two
processes) and judged the last 3 s of samples, so it overshot and filled the room at
once, then halved down to one a tick and stayed there while the stale samples aged out
(`make bench onsale`: 2-5 shopping with 9,400 waiting for seconds, then a flood).
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
WINDOW_START = 0.05  # of maxShoppers: the window at a room's first tick …
WINDOW_START_MIN = 10  # … but at least this many (or maxShoppers, if fewer)
WINDOW_STEP = 0.05  # of maxShoppers: the growth a second while quick, after the first slow
WINDOW_FLOOR = 0.05  # of maxShoppers: the smallest window (at least one shopper)
WINDOW_DECREASE = 0.75  # the window's factor a second while the path is slow
WINDOW_IN_USE = 0.75  # of the window shopping: only a window in use may grow
DECIDE_MS = 1_000  # the window changes at most this often, on this long's figures


@dataclass
class Window:
    """How many may shop at once in a room, as this process sees its booking path, and
    when that was last decided."""

    limit: int
    decided_at_ms: int
    # Until the path is first slow the window doubles while quick (TCP's slow start: a
    # small start, found out fast), then grows by a step.
    probing: bool = True


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
    window: dict[str, int] = field(default_factory=dict)  # how many might shop at once


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
        self._windows: dict[str, Window] = {}
        # Called with each tick's report (who was admitted, expired, abandoned): the
        # hook for the live channel's `queue` messages (issue 12, item 5).
        self.listeners: list[Callable[[TickReport], Awaitable[None]]] = []

    def path_p99_ms(self) -> float:
        """What a buyer's hold or booking waited at p99 over the last second: the
        booking path's own time plus the event loop's lag before it starts (0 when
        idle)."""
        within = DECIDE_MS / 1000
        lag = self.loop_lag.p99_ms(within) if self.loop_lag is not None else 0.0
        return (self.latency.p99_ms(within) or 0.0) + lag

    def slow(self, p99: float | None = None) -> bool:
        """Is the booking path's recent p99 (or the `p99` given) over the bound?"""
        return (self.path_p99_ms() if p99 is None else p99) > self.slow_ms

    def quick(self, p99: float | None = None) -> bool:
        """Is it well under the bound (or idle), so the window may grow?"""
        return (self.path_p99_ms() if p99 is None else p99) <= self.slow_ms / 2

    def window(self, event_id: str, max_shoppers: int, shopping: int, now_ms: int) -> int:
        """How many may shop in the room at once now: see the module docstring."""
        window = self._windows.get(event_id)
        if window is None:
            start = max(WINDOW_START_MIN, math.ceil(max_shoppers * WINDOW_START))
            window = self._windows[event_id] = Window(start, now_ms)
        elif now_ms - window.decided_at_ms >= DECIDE_MS:
            window.decided_at_ms = now_ms
            p99 = self.path_p99_ms()  # read once: each reading sorts the last second
            if self.slow(p99):
                floor = max(1, math.ceil(max_shoppers * WINDOW_FLOOR))
                window.limit = max(floor, int(window.limit * WINDOW_DECREASE))
                window.probing = False
            elif self.quick(p99) and shopping >= window.limit * WINDOW_IN_USE:
                step = max(1, math.ceil(max_shoppers * WINDOW_STEP))
                window.limit = window.limit * 2 if window.probing else window.limit + step
        window.limit = min(window.limit, max_shoppers)  # maxShoppers may have been lowered
        return window.limit

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
            self._windows.pop(event_id, None)
            return
        before = await store.summary(event_id)
        await self.rooms.safeguard(event_id, before, now)
        expired = await store.expire_shoppers(event_id, now)
        abandoned = await store.abandon(event_id, now, self.grace_ms)
        for user_id in [*expired, *abandoned.shoppers]:
            await self._release(user_id, event_id)
        if expired:
            report.expired[event_id] = expired
        if abandoned.shoppers or abandoned.waiters:
            report.abandoned[event_id] = [*abandoned.shoppers, *abandoned.waiters]
        if config.on_sale(now):
            window = self.window(event_id, config.max_shoppers, before.shopping, now)
            report.window[event_id] = window
            admitted = await store.admit(event_id, now, window, config.shopper_ms, window)
            if admitted:
                report.admitted[event_id] = [a.user_id for a in admitted]
        summary = await store.summary(event_id)
        self.rooms.observe(event_id, summary, now)
        if summary.waiting == 0 and summary.shopping == 0:
            self.rooms.active.discard(event_id)  # idle: a join brings it back
            self._windows.pop(event_id, None)

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
