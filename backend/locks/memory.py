"""In-process seat locks: the embedded mode's store and the reference implementation."""

from __future__ import annotations

import time
from collections.abc import Sequence

from backend.locks.base import LockStoreNotStarted, SeatLockStore


class MemorySeatLockStore(SeatLockStore):
    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[str, float]] | None = None

    async def on_startup(self) -> None:
        """Start with no locks."""
        self._locks = {}

    async def on_shutdown(self) -> None:
        """Forget every lock."""
        self._locks = None

    def _table(self) -> dict[tuple[str, str], tuple[str, float]]:
        if self._locks is None:
            raise LockStoreNotStarted("MemorySeatLockStore used before on_startup()")
        return self._locks

    def _live_owner(self, key: tuple[str, str], now: float) -> str | None:
        table = self._table()
        entry = table.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del table[key]
            return None
        return entry[0]

    async def acquire(
        self, event_id: str, seat_ids: Sequence[str], token: str, ttl_ms: int
    ) -> list[str]:
        """Lock all seats for `token`, or none; return the seat ids that were already locked."""
        # No await between check and set: the event loop makes this atomic, like the Lua.
        now = time.monotonic()
        keys = [(event_id, seat_id) for seat_id in seat_ids]
        taken = [key[1] for key in keys if self._live_owner(key, now) not in (None, token)]
        if taken:
            return taken
        expires = now + ttl_ms / 1000
        table = self._table()
        for key in keys:
            table[key] = (token, expires)
        return []

    async def release(self, event_id: str, seat_ids: Sequence[str], token: str) -> int:
        """Delete the locks `token` still owns; return how many were deleted."""
        now = time.monotonic()
        table = self._table()
        released = 0
        for seat_id in seat_ids:
            key = (event_id, seat_id)
            if self._live_owner(key, now) == token:
                del table[key]
                released += 1
        return released

    async def ping(self) -> None:
        """Always answers once started."""
        self._table()
