"""The app's long-lived parts, built from settings and started and stopped in one place.

`Services(settings)` builds every backend and domain service; nothing connects in the
constructor (the shape of Litestar's channels plugin). `on_startup` starts the parts in
order; `on_shutdown` stops the ones that started, in reverse, each step bounded: a
backend that does not answer must not hold the process (or a test run) hostage at exit.

The throttle store is not among the parts: the app registers it in Litestar's stores,
and Litestar closes the stores it holds itself, before its shutdown hooks run (uvicorn
has stopped serving requests by then, so no sign-in is using it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from backend.accounts import AccountService
from backend.booking.admission import Admitter, TickReport
from backend.booking.door import DoorService
from backend.booking.events import Cancellation, EventService
from backend.booking.expiry import HoldSweeper, SeatLogPruner
from backend.booking.idempotency import Idempotency
from backend.booking.looplag import LoopLag
from backend.booking.onsale import SaleConfigs
from backend.booking.queue import WaitingRooms
from backend.booking.quota import CreationQuota
from backend.booking.records import SeatChange
from backend.booking.reports import ReportService
from backend.booking.service import BookingService
from backend.live.channel import MemorySeatChannel, RedisSeatChannel, SeatChannel
from backend.live.hub import LiveHub
from backend.live.metered import MeteredChannel, MeteredPublisher
from backend.live.queuefeed import QueueFeed
from backend.locks import MemorySeatLockStore, RedisSeatLockStore, SeatLockStore
from backend.observability.metrics import Metrics
from backend.observability.shutdown import Shutdown
from backend.observability.stalls import LoopWatchdog
from backend.settings import Mode, Settings
from backend.storage import make_storage
from backend.tickets import TicketSigner
from backend.timefmt import iso
from backend.waitingroom import MemoryWaitingRoomStore, RedisWaitingRoomStore, WaitingRoomStore
from backend.web.throttle import CountingMemoryStore, CountingRedisStore, CountingStore

log = logging.getLogger("boxoffice")

# How long each shutdown step may take before it is abandoned (read at shutdown).
SHUTDOWN_STEP_SECONDS = 5.0
SWEEPER_STOP_SECONDS = 10.0  # a sweep under way is let finish: see booking/expiry.py
RECENT_CHANGES_SECONDS = 30  # what a starting process asks watchers to resync
DATABASE_STOP_SECONDS = 15.0  # the pool's own close waits up to 10 s for connections


class Part(Protocol):
    """Something started before the app serves and stopped after it."""

    async def on_startup(self) -> None:
        """Connect or start; called once."""

    async def on_shutdown(self) -> None:
        """Disconnect or stop."""


def _backends(settings: Settings) -> tuple[SeatLockStore, SeatChannel, CountingStore]:
    """The lock store, seat channel and throttle store of the configured run mode."""
    if settings.mode is Mode.SERVICES:
        assert settings.redis_url is not None
        return (
            RedisSeatLockStore(settings.redis_url, settings.redis_prefix),
            RedisSeatChannel(settings.redis_url, settings.redis_prefix),
            CountingRedisStore.from_url(
                settings.redis_url, namespace=f"{settings.redis_prefix}-throttle"
            ),
        )
    return MemorySeatLockStore(), MemorySeatChannel(), CountingMemoryStore()


def _waiting_room_store(settings: Settings) -> WaitingRoomStore:
    """Redis in services mode (every process shares each room), memory embedded."""
    if settings.mode is Mode.SERVICES:
        assert settings.redis_url is not None
        return RedisWaitingRoomStore(settings.redis_url, settings.redis_prefix)
    return MemoryWaitingRoomStore()


async def _bounded(name: str, step: Awaitable[None], seconds: float) -> None:
    """Run one shutdown step; log (never raise) if it fails or overruns."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.warning("shutdown: %s did not stop within %.0f s; abandoned", name, seconds)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("shutdown: %s failed: %r", name, task.exception())


class Services:
    """Every backend and service of one app, and their start-up and shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.storage = make_storage(settings)

        self.locks, raw_channel, self.throttle_store = _backends(settings)
        self.metrics = Metrics()
        self.loop_lag = LoopLag(observe=self.metrics.event_loop_lag.observe)
        self.loop_watchdog = LoopWatchdog(settings.loop_stall_log_ms)
        self.shutdown = Shutdown()
        self.channel = MeteredChannel(raw_channel, self.metrics)
        self.hub = LiveHub(
            self.channel,
            batch_ms=settings.live_batch_ms,
            backlog=settings.ws_backlog,
            sends_per_second=settings.live_sends_per_second,
            commit_stamps=settings.live_commit_stamps,
            yield_ms=settings.live_yield_ms,
            sale_sends_per_second=settings.live_sale_sends_per_second,
        )
        self.metrics.watch_hub(self.hub)
        self.accounts = AccountService(self.storage, hash_concurrency=settings.argon2_concurrency)
        self.sale_configs = SaleConfigs(self.storage)
        self.rooms = WaitingRooms(
            _waiting_room_store(settings),
            self.sale_configs,
            snapshots=self.storage.room_snapshots,
        )
        self.events = EventService(
            self.storage,
            self.sale_configs,
            CreationQuota(settings.events_per_user_per_day, settings.seats_per_user_per_day),
        )
        self.events.deleted.append(self.hub.publish_deleted)
        self.events.cancelled.append(self._announce_cancelled)
        self.booking = BookingService(
            self.storage,
            self.locks,
            MeteredPublisher(self.hub, self.metrics),
            lock_ttl_ms=settings.lock_ttl_ms,
            unsafe_disable_guard=settings.unsafe_disable_guard,
            batching=settings.write_batching,
            gate=self.rooms,
        )
        self.door = DoorService(self.storage, TicketSigner(settings.jwt_secret))
        self.door.checked_in.append(self.hub.publish_door)
        self.reports = ReportService(self.storage, self.rooms, settings.seat_log_days)
        self.log_pruner = SeatLogPruner(self.reports)
        if self.booking.batcher is not None:
            self.metrics.watch_batches(self.booking.batcher.stats)
            # Bookings before fan-out: the hub holds shoppers' batches while they are
            # written (LIVE_SALE_SENDS_PER_SECOND, LIVE_YIELD_MS; with WRITE_BATCHING=0
            # there is no batch to wait for, and nothing waits).
            self.hub.writing = self.booking.batcher.writing
        if settings.unsafe_disable_guard:
            log.critical(
                "BOXOFFICE_UNSAFE_DISABLE_GUARD is on: seats CAN be sold twice (test only)"
            )
        self.idempotency = Idempotency(self.storage, lease_ms=settings.idempotency_lease_ms)
        self.sweeper = HoldSweeper(self.booking, settings.expiry_interval)
        self.admitter = Admitter(
            self.rooms,
            self.booking,
            self.booking.latency,
            loop_lag=self.loop_lag,
            interval=settings.waiting_room_interval_ms / 1000,
            grace_ms=settings.waiting_room_grace_seconds * 1000,
            slow_ms=settings.waiting_room_slow_ms,
        )
        self.admitter.listeners.append(self._count_admissions)
        self.queue_feed = QueueFeed(self.hub, self.rooms, loop_lag=self.loop_lag)
        self.admitter.listeners.append(self.queue_feed.announce)
        self._started: list[tuple[str, Part, float]] = []

    async def _announce_cancelled(self, cancellation: Cancellation) -> None:
        freed = [SeatChange.from_row(row) for row in cancellation.freed]
        await self.hub.publish_cancelled(
            cancellation.event_id, iso(cancellation.cancelled_at) or "", cancellation.reason, freed
        )

    async def _count_admissions(self, report: TickReport) -> None:
        for kind, by_event in (
            ("admitted", report.admitted),
            ("expired", report.expired),
            ("abandoned", report.abandoned),
        ):
            count = sum(len(users) for users in by_event.values())
            if count:
                self.metrics.waiting_room.labels(kind).inc(count)

    def parts(self) -> list[tuple[str, Part, float]]:
        """What starts, in start-up order, with how long each may take to stop."""
        return [
            ("event-loop lag probe", self.loop_lag, SHUTDOWN_STEP_SECONDS),
            ("event-loop watchdog", self.loop_watchdog, SHUTDOWN_STEP_SECONDS),
            ("database pool", self.storage, DATABASE_STOP_SECONDS),
            ("lock store", self.locks, SHUTDOWN_STEP_SECONDS),
            ("waiting rooms", self.rooms, SHUTDOWN_STEP_SECONDS),
            ("live channel", self.channel, SHUTDOWN_STEP_SECONDS),
            ("live hub", self.hub, SHUTDOWN_STEP_SECONDS),
            ("hold sweeper", self.sweeper, SWEEPER_STOP_SECONDS),
            ("seat log pruner", self.log_pruner, SWEEPER_STOP_SECONDS),
            # Stops between ticks; a tick's hold releases are let finish, as a sweep's.
            ("waiting-room admitter", self.admitter, SWEEPER_STOP_SECONDS),
            ("live queue feed", self.queue_feed, SWEEPER_STOP_SECONDS),
            # SIGTERM: close websockets with 1001 first, then the server's own handler.
            ("signal handlers", self.shutdown, SHUTDOWN_STEP_SECONDS),
        ]

    def state(self) -> dict[str, Any]:
        """The parts handlers and tests read from `app.state`, by their names there."""
        return {
            "settings": self.settings,
            "storage": self.storage,
            "engine": self.storage.engine,
            "locks": self.locks,
            "channel": self.channel,
            "hub": self.hub,
            "accounts": self.accounts,
            "events": self.events,
            "booking": self.booking,
            "door": self.door,
            "reports": self.reports,
            "rooms": self.rooms,
            "admitter": self.admitter,
            "queue_feed": self.queue_feed,
            "loop_lag": self.loop_lag,
            "idempotency": self.idempotency,
            "metrics": self.metrics,
            "services": self,
        }

    async def on_startup(self) -> None:
        """Start every part in order; a part that fails stops start-up there."""
        for name, part, seconds in self.parts():
            await part.on_startup()
            self._started.append((name, part, seconds))
        await self.announce_recent_changes()

    async def announce_recent_changes(self) -> list[str]:
        """A process killed between a commit and its publish (kill -9, a crash, the
        machine lost) leaves that change unannounced, and watchers on other processes
        would keep the old state. A starting process cannot know what a dead one was
        doing, so it asks every process to resync the events changed in the last
        RECENT_CHANGES_SECONDS (restarts come back within that; the chaos tests'
        app-kill9 found this). Best effort: start-up goes on if it fails."""
        try:
            since = await self.storage.now_ms() - RECENT_CHANGES_SECONDS * 1000
            events = await self.storage.seats.changed_since(since)
        except Exception as exc:
            log.warning("could not read recently changed events to resync: %s", exc)
            return []
        if events:
            log.info("asking watchers of %d recently changed events to resync", len(events))
            self.hub.announce_resync(events)
        return events

    async def on_shutdown(self) -> None:
        """Stop the parts that started, in reverse order, each step bounded."""
        while self._started:
            name, part, seconds = self._started.pop()
            await _bounded(name, part.on_shutdown(), seconds)
