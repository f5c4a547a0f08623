"""One read for many waiters: concurrent loads of the same key share one in-flight call.

A cache in front of the database misses for every request that arrives before the first
read has come back. On a hot seat that was every request at once (200 for one seat: 200
identical reads, queued for the pool, a fifth of the workers' CPU in the hot-seat
profile); the seats' events are now read many seats at a time (`Coalesced`, in
booking/service.py), and this serves the waiting room's settings (booking/onsale.py).
Hand-written because neither Litestar's stores nor the standard library coalesce
concurrent calls; it is the pattern the live hub's catch-up reads also use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """`await flight.run(key, load)`: the result of `load()`, called once for every caller
    that asks while it runs. Its exception reaches every caller too, and nothing is kept
    after it ends (callers cache what they want to keep).

    The shared call runs as a task in the first caller's context (its context variables:
    request id, Piccolo's current transaction): use it for reads outside a transaction,
    whose result does not depend on who asked."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[T]] = {}

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(load())
            self._running[key] = running
            running.add_done_callback(lambda done: self._ended(key, done))
        # Shielded: a waiter that is cancelled (its client went away) must not cancel the
        # others' read, nor leave a pooled connection mid-query.
        return await asyncio.shield(running)

    def _ended(self, key: str, done: asyncio.Future[T]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone

    def __len__(self) -> int:
        return len(self._running)
