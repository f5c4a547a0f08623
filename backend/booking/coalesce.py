"""Many reads of one group (one event's accounts, seats' events) as one call: what
arrives while a call is out goes in the next one.

During an on-sale the polling pages ask for their places hundreds of times a second and
every signed-in socket's greeting asks for its account's: one store call each was a
tenth of a worker's samples (py-spy, `make bench onsale`: redis-py's per-command cost,
not Redis's). The store reads any number of accounts in one call (`present`), so
concurrent reads of one event share it. No timer, as in the group commit
(`batch.py`): a read that finds no call of its event out goes at once, so a quiet
system answers as fast as before. Hand-written because neither Litestar nor redis-py
coalesces calls (redis-py's pipelines batch commands one caller gives, not many callers').
The seed's `POST /book` looks its seat's event up the same way (booking/service.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

Read = Callable[[str, list[str]], Awaitable[dict[str, T]]]


class Coalesced(Generic[T]):
    """`await reads.get(group, member)`: that member's entry of `read(group, members)`
    (an event and its accounts), called once for every member that asks while the
    previous call for the group is out. Its exception reaches each of them. A caller
    that goes away (cancelled) leaves the others' call alone."""

    def __init__(self, read: Read[T]) -> None:
        self._read = read
        self._waiting: dict[str, dict[str, list[asyncio.Future[T]]]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self.calls = 0  # calls made (for tests and benchmarks)

    async def get(self, event_id: str, user_id: str) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(event_id, {}).setdefault(user_id, []).append(future)
        if event_id not in self._running:
            self._running[event_id] = asyncio.ensure_future(self._drain(event_id))
        return await future

    async def _drain(self, event_id: str) -> None:
        """Call until nobody waits. No await between the last look and leaving
        `_running`, so a read never waits without a call to come."""
        try:
            while waiting := self._waiting.pop(event_id, None):
                wanted = [user for user, futures in waiting.items() if _live(futures)]
                if not wanted:
                    continue
                self.calls += 1
                try:
                    found = await self._read(event_id, wanted)
                except BaseException as exc:
                    stopped = not isinstance(exc, Exception)  # cancelled: shutting down
                    for futures in waiting.values():
                        for future in futures:
                            if future.done():
                                continue
                            if stopped:
                                future.cancel()
                            else:
                                future.set_exception(exc)
                    if stopped:
                        raise
                    continue
                for user, futures in waiting.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found[user])
        finally:
            del self._running[event_id]
            for futures in self._waiting.pop(event_id, {}).values():  # only if cancelled
                for future in futures:
                    future.cancel()


def _live(futures: list[asyncio.Future[T]]) -> bool:
    return any(not future.done() for future in futures)
