"""Waiting for something to happen: poll with a deadline, never sleep and hope.

    await eventually(lambda: not hub.watchers, what="the hub to forget the event")
    user = await eventually(fetch_user, what="the user row", ignoring=(KeyError,))

A test that sleeps "long enough" is slow when the thing is quick and flaky when the
machine is busy; polling returns as soon as the thing holds and, when it never does,
fails with a message that says what it was waiting for.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.01


async def eventually(
    predicate: Callable[[], T | Awaitable[T]],
    *,
    what: str,
    timeout: float = 5.0,
    interval: float = POLL_SECONDS,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """Call `predicate` (a function, or an async one) until it returns something truthy;
    return that value.

    An exception of a type in `ignoring` counts as "not yet". After `timeout` seconds,
    AssertionError naming `what` and the last value (or exception) seen; a predicate
    that hangs past the deadline is cut off and reported the same way.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        limit = asyncio.timeout(max(deadline - time.monotonic(), 0.001))
        try:
            async with limit:
                value = predicate()
                if inspect.isawaitable(value):
                    value = await value
            if value:
                return value  # type: ignore[return-value]
            last = value
        except Exception as exc:
            if isinstance(exc, TimeoutError) and limit.expired():
                last = "the check itself was still running at the deadline"
            elif isinstance(exc, ignoring):
                last = exc
            else:
                raise
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what} (last seen: {last!r})"
            )
        await asyncio.sleep(interval)
