"""The hold sweeper: sweeps at once and then every interval, survives a failing sweep,
and stops between sweeps, never inside one."""

from __future__ import annotations

import asyncio
import logging

import pytest

from backend.booking.expiry import HoldSweeper


class Booking:
    """A booking service whose sweeps are counted and can be held up or made to fail."""

    def __init__(self) -> None:
        self.sweeps = 0
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.failures = 0
        self.cancelled = False
        self.swept: dict[int, asyncio.Event] = {}

    def after(self, sweeps: int) -> asyncio.Event:
        return self.swept.setdefault(sweeps, asyncio.Event())

    async def release_expired_holds(self) -> int:
        self.started.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.sweeps += 1
        self.after(self.sweeps).set()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database restarting")
        return 0


async def test_it_stops_between_sweeps_never_inside_one() -> None:
    booking = Booking()
    booking.gate = asyncio.Event()
    sweeper = HoldSweeper(booking, interval=3600)
    await sweeper.on_startup()
    await booking.started.wait()
    stopping = asyncio.create_task(sweeper.on_shutdown())
    await asyncio.sleep(0)  # one turn of the loop: `stopping` now waits on the sweep
    assert not stopping.done(), "shutdown must wait for the sweep under way"
    booking.gate.set()
    await asyncio.wait_for(stopping, 5)
    assert booking.sweeps == 1 and not booking.cancelled


async def test_a_failing_sweep_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    booking = Booking()
    booking.failures = 1
    # The interval is the behaviour here; a short one keeps the test quick.
    sweeper = HoldSweeper(booking, interval=0.01)
    with caplog.at_level(logging.WARNING, logger="boxoffice"):
        await sweeper.on_startup()
        await asyncio.wait_for(booking.after(2).wait(), 5)
        await asyncio.wait_for(sweeper.on_shutdown(), 5)
    assert "expiring holds failed (will retry): database restarting" in caplog.messages


async def test_stopping_ends_the_wait_between_sweeps() -> None:
    booking = Booking()
    sweeper = HoldSweeper(booking, interval=3600)
    await sweeper.on_startup()
    await booking.after(1).wait()
    await asyncio.wait_for(sweeper.on_shutdown(), 5)  # not an hour
    await sweeper.on_shutdown()  # and a second stop is harmless
    assert booking.sweeps == 1
