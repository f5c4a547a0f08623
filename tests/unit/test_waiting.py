"""tests.support.waiting.eventually: returns as soon as the thing holds, fails naming it."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.waiting import eventually


async def test_returns_the_first_truthy_value_without_waiting_out_the_timeout() -> None:
    calls = iter([0, None, "", {"id": 7}])
    started = time.monotonic()
    assert await eventually(lambda: next(calls), what="a row", timeout=10) == {"id": 7}
    assert time.monotonic() - started < 1


async def test_an_async_predicate_is_awaited() -> None:
    seen: list[int] = []

    async def grows() -> bool:
        seen.append(1)
        return len(seen) >= 3

    assert await eventually(grows, what="three calls") is True


async def test_times_out_naming_what_it_waited_for_and_the_last_value() -> None:
    status = {"s1": "held"}
    with pytest.raises(AssertionError, match=r"waiting for s1 to be free \(last seen: False\)"):
        await eventually(lambda: status["s1"] == "free", what="s1 to be free", timeout=0.05)


async def test_listed_exceptions_mean_not_yet_and_others_propagate() -> None:
    attempts = iter([ConnectionError("down"), ConnectionError("down"), "up"])

    def ping() -> str:
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    assert await eventually(ping, what="the server", ignoring=(ConnectionError,)) == "up"
    with pytest.raises(KeyError):
        await eventually(lambda: {}["missing"], what="a key", ignoring=(ConnectionError,))

    def down() -> bool:
        raise ConnectionError("still down")

    with pytest.raises(AssertionError, match=r"the server \(last seen: ConnectionError"):
        await eventually(down, what="the server", timeout=0.05, ignoring=(ConnectionError,))


async def test_a_check_that_hangs_is_cut_off_at_the_deadline() -> None:
    async def hangs() -> bool:
        await asyncio.sleep(60)
        return True

    started = time.monotonic()
    with pytest.raises(AssertionError, match="still running at the deadline"):
        await eventually(hangs, what="a hanging check", timeout=0.1)
    assert time.monotonic() - started < 1


async def test_a_timeout_error_raised_by_the_check_is_not_mistaken_for_the_deadline() -> None:
    def fails() -> bool:
        raise TimeoutError("the check's own timeout")

    with pytest.raises(TimeoutError, match="the check's own timeout"):
        await eventually(fails, what="a failing check", timeout=5)
