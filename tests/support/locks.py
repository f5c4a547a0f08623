"""Who holds a seat's lock, read from the lock store's own backend.

Test inspection only: the app never asks who holds a lock (it only takes and releases
its own), so `SeatLockStore` has no such method; this reads the in-process table or the
Redis key directly.
"""

from __future__ import annotations

import time

from backend.locks import MemorySeatLockStore, RedisSeatLockStore, SeatLockStore
from backend.locks.redis import lock_key


async def lock_owner(store: SeatLockStore, event_id: str, seat_id: str) -> str | None:
    """The token holding the seat's live lock, or None."""
    if isinstance(store, MemorySeatLockStore):
        return store._live_owner((event_id, seat_id), time.monotonic())
    if isinstance(store, RedisSeatLockStore):
        value = await store._client().get(lock_key(store._prefix, event_id, seat_id))
        return None if value is None else value.decode()
    raise TypeError(f"no way to read the locks of {type(store).__name__}")
