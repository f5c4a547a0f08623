"""SingleFlight: concurrent loads of one key share one call (backend/booking/singleflight.py)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

import pytest

from backend.booking.singleflight import SingleFlight


async def until(condition: Callable[[], bool], turns: int = 1000) -> None:
    """Yield to the loop until `condition()` holds: state, not time; a condition still
    false after `turns` turns of the loop fails the test."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


class Gated:
    """A load that counts its calls and ends when its gate opens: with the call's number,
    or with LookupError when `fail`."""

    def __init__(self, fail: bool = False) -> None:
        self.gate = asyncio.Event()
        self.calls = 0
        self.fail = fail

    async def __call__(self) -> int:
        self.calls += 1
        mine = self.calls
        await self.gate.wait()
        if self.fail:
            raise LookupError("gone")
        return mine


async def test_concurrent_callers_share_one_call_and_a_later_caller_loads_again() -> None:
    flight: SingleFlight[int] = SingleFlight()
    load = Gated()
    waiters = [asyncio.ensure_future(flight.run("k", load)) for _ in range(10)]
    other = asyncio.ensure_future(flight.run("other", load))
    await until(lambda: load.calls >= 2)  # the loads started; every waiter asked before them
    assert load.calls == 2 and len(flight) == 2
    load.gate.set()
    assert await asyncio.gather(*waiters) == [1] * 10
    assert await other == 2
    assert len(flight) == 0  # nothing kept: callers cache what they keep
    assert await flight.run("k", load) == 3


async def test_an_error_reaches_every_waiter_and_is_not_kept() -> None:
    flight: SingleFlight[int] = SingleFlight()
    failing = Gated(fail=True)
    waiters = [asyncio.ensure_future(flight.run("k", failing)) for _ in range(5)]
    await until(lambda: failing.calls >= 1)
    failing.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(r) for r in results] == [LookupError] * 5
    assert failing.calls == 1

    ok = Gated()
    ok.gate.set()
    assert await flight.run("k", ok) == 1


async def test_a_cancelled_waiter_leaves_the_call_running_for_the_others() -> None:
    flight: SingleFlight[int] = SingleFlight()
    load = Gated()
    leaving = asyncio.ensure_future(flight.run("k", load))
    staying = asyncio.ensure_future(flight.run("k", load))
    await until(lambda: load.calls >= 1)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    load.gate.set()
    assert await staying == 1 and load.calls == 1


async def test_the_call_ends_and_its_error_is_retrieved_when_every_waiter_left() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gate = asyncio.Event()
    ended = asyncio.Event()

    async def failing() -> int:
        try:
            await gate.wait()
            raise LookupError("nobody is waiting")
        finally:
            ended.set()

    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    try:
        waiter = asyncio.ensure_future(flight.run("k", failing))
        await until(lambda: len(flight) == 1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.set()
        await ended.wait()
        await until(lambda: len(flight) == 0)
        gc.collect()  # an unretrieved task exception is reported when the task is freed
    finally:
        loop.set_exception_handler(None)
    assert unretrieved == []
