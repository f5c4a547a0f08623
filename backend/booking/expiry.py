"""Hold expiry: a sweeper that frees every hold past its end, every `interval` seconds.

Every process sweeps; the database's conditional update gives each expiry to one, so
each is announced once however many processes run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

log = logging.getLogger("boxoffice")


class ExpiresHolds(Protocol):
    async def release_expired_holds(self) -> int:
        """Free every hold past its end (database clock); return how many."""


class HoldSweeper:
    """Sweeps between `on_startup` and `on_shutdown`.

    It stops between sweeps, never inside one: cancelling a task while it opens a Piccolo
    transaction would leak the pooled connection, still inside BEGIN.
    """

    def __init__(self, booking: ExpiresHolds, interval: float) -> None:
        self.booking = booking
        self.interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def on_startup(self) -> None:
        """Start sweeping (the first sweep runs at once)."""
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._sweep(), name="hold-sweeper")

    async def on_shutdown(self) -> None:
        """Stop once the sweep under way, if any, has finished."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        await task

    async def _sweep(self) -> None:
        while not self._stop.is_set():
            try:
                await self.booking.release_expired_holds()
            except Exception as exc:
                log.warning("expiring holds failed (will retry): %s", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
