"""Hold expiry: a sweeper that frees every hold past its end, every `interval` seconds.

Every process sweeps; the database's conditional update gives each expiry to one, so
each is announced once however many processes run.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from typing import Protocol

log = logging.getLogger("boxoffice")


class ExpiresHolds(Protocol):
    async def release_expired_holds(self) -> int:
        """Free every hold past its end (database clock); return how many."""


class Periodic(abc.ABC):
    """Runs `round()` every `interval` seconds between `on_startup` and `on_shutdown`
    (the first round at once); a failed round is logged and the next one runs.

    It stops between rounds, never inside one: cancelling a task while it opens a Piccolo
    transaction would leak the pooled connection, still inside BEGIN.
    """

    name = "periodic"
    failure = "a periodic round failed"  # logged with "(will retry)" and the error

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def round(self) -> None:
        """One round of the work (each subclass's own)."""

    async def on_startup(self) -> None:
        """Start the rounds."""
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def on_shutdown(self) -> None:
        """Stop once the round under way, if any, has finished."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.round()
            except Exception as exc:
                log.warning("%s (will retry): %s", self.failure, exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)


class HoldSweeper(Periodic):
    """Frees every hold past its end, every `interval` seconds."""

    name = "hold-sweeper"
    failure = "expiring holds failed"

    def __init__(self, booking: ExpiresHolds, interval: float) -> None:
        super().__init__(interval)
        self.booking = booking

    async def round(self) -> None:
        await self.booking.release_expired_holds()


class PrunesSeatLog(Protocol):
    async def prune_seat_log(self) -> int:
        """Drop the status-change log's lines past their retention; how many."""
        ...


class SeatLogPruner(Periodic):
    """Drops the seats' status-change log past its retention (SEAT_LOG_DAYS), hourly."""

    name = "seat-log-pruner"
    failure = "pruning the seat log failed"

    def __init__(self, reports: PrunesSeatLog, interval: float = 3600.0) -> None:
        super().__init__(interval)
        self.reports = reports

    async def round(self) -> None:
        await self.reports.prune_seat_log()
