"""Sign-in / sign-up throttling on a Litestar store shared by all workers.

Fixed windows. The store is Redis in services mode (every worker and instance counts
together) and in-memory in embedded mode. Counting is atomic: each attempt is one
increment that returns the new count (a Lua script on Redis; under a lock in the one
embedded process), so concurrent attempts cannot slip past the limit between a read
and a write, as they did when the count was read and written back in two steps.

If Redis cannot be reached, throttling fails open: the request goes on, a warning is
logged and `boxoffice_throttle_unavailable_total` counts it. Refusing every sign-in
while Redis restarts would turn a cache outage into a full one; the argon2 semaphore
still bounds what a flood can cost.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable

from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.errors import Throttled
from backend.redisclient import failure, redis_client

log = logging.getLogger("boxoffice.throttle")

# INCR, and start the window on the first attempt (or if the key somehow has none).
_INCR = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class CountingMemoryStore(MemoryStore):
    """Litestar's MemoryStore with an atomic `incr` (the embedded mode's one process)."""

    def __init__(self) -> None:
        super().__init__()
        # MemoryStore's own lock is per call; a read-increment-write needs one around it.
        self._counting = asyncio.Lock()

    async def incr(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one; return (count in the window, seconds left in it)."""
        async with self._counting:
            raw = await self.get(key)
            left = await self.expires_in(key) if raw else None
            count = (int(raw) if raw else 0) + 1
            await self.set(key, str(count), expires_in=left or window_seconds)
        return count, left or window_seconds


class CountingRedisStore(RedisStore):
    """Litestar's RedisStore with an atomic `incr` (one Lua script)."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        super().__init__(redis, namespace=namespace, handle_client_shutdown=True)
        self._incr = redis.register_script(_INCR)

    @classmethod
    def from_url(cls, url: str, namespace: str) -> CountingRedisStore:
        """A client that retries a command once on a fresh connection: after Redis
        restarts, every pooled connection is dead, and the first command on each must
        not become the caller's error."""
        client = redis_client(url, connect_timeout=1, backoff_cap=0.2)
        return cls(client, namespace)

    async def incr(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one; return (count in the window, seconds left in it)."""
        count, ttl_ms = await self._incr(keys=[self._make_key(key)], args=[window_seconds * 1000])
        return int(count), max(1, -(-int(ttl_ms) // 1000))


CountingStore = CountingMemoryStore | CountingRedisStore


class Throttle:
    def __init__(
        self,
        store: CountingStore,
        limit: int,
        window_seconds: int,
        on_unavailable: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.limit = limit
        self.window = window_seconds
        self.on_unavailable = on_unavailable

    @staticmethod
    def _key(scope: str, subject: str) -> str:
        # Hash the subject so emails and addresses are not stored as keys in clear.
        return f"{scope}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"

    async def hit(self, scope: str, subject: str, limit: int | None = None) -> None:
        """Count one attempt; raise Throttled once the window's limit is spent."""
        try:
            count, left = await self.store.incr(self._key(scope, subject), self.window)
        except (RedisError, OSError) as exc:
            self._unavailable(scope, exc)
            return
        if count > (limit or self.limit):
            raise Throttled("too many attempts; try again later", retry_after=left)

    async def forget(self, scope: str, subject: str) -> None:
        """Reset a counter (a correct password clears its account's failures)."""
        try:
            await self.store.delete(self._key(scope, subject))
        except (RedisError, OSError) as exc:
            self._unavailable(scope, exc)

    def _unavailable(self, scope: str, exc: BaseException) -> None:
        log.warning("throttle store %s; %s not counted", failure(exc), scope)
        if self.on_unavailable is not None:
            self.on_unavailable()


__all__ = ["CountingMemoryStore", "CountingRedisStore", "CountingStore", "Throttle"]
