"""The event loop's watchdog (backend/observability/stalls.py): a callback that keeps
the loop from running past the threshold is logged with the loop's stack, once per
stall; a loop that keeps running logs nothing. Unit level: this test's own loop."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from backend.observability.stalls import LoopWatchdog
from tests.support.waiting import eventually

# Wide enough that a test process merely waiting for a busy host's CPU (the suite runs
# beside browsers) is not taken for a stall.
THRESHOLD_MS = 300


def hog_the_loop(seconds: float) -> None:
    """What a stall is: synchronous work on the loop's thread (here, a blocking sleep)."""
    time.sleep(seconds)


async def test_a_stall_is_logged_once_with_the_code_that_caused_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watchdog = LoopWatchdog(THRESHOLD_MS)
    await watchdog.on_startup()
    try:
        with caplog.at_level(logging.WARNING, logger="boxoffice.stalls"):
            await asyncio.sleep(0)
            hog_the_loop(4 * THRESHOLD_MS / 1000)  # one stall, many of the thread's checks
            await eventually(lambda: watchdog.stalls, what="the stall logged")
            await asyncio.sleep(0)
        [record] = [r for r in caplog.records if r.name == "boxoffice.stalls"]
        message = record.getMessage()
        assert message.startswith("event loop stalled ")
        assert "hog_the_loop" in message.split("|", 1)[0]  # the innermost frame first
        assert "test_stalls.py" in message
        assert watchdog.stalls == 1
    finally:
        await watchdog.on_shutdown()


async def test_a_loop_that_keeps_running_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    watchdog = LoopWatchdog(THRESHOLD_MS)
    await watchdog.on_startup()
    try:
        with caplog.at_level(logging.WARNING, logger="boxoffice.stalls"):
            for _ in range(20):  # 0.6 s of short turns: never a stall
                hog_the_loop(THRESHOLD_MS / 1000 / 10)
                await asyncio.sleep(0.001)
        assert watchdog.stalls == 0
        assert not [r for r in caplog.records if r.name == "boxoffice.stalls"]
    finally:
        await watchdog.on_shutdown()


async def test_zero_is_off() -> None:
    watchdog = LoopWatchdog(0)
    await watchdog.on_startup()
    assert watchdog._thread is None and watchdog._task is None
    await watchdog.on_shutdown()
