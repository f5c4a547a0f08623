"""Redis seat locks: `SET key token NX PX` for every seat at once, in one Lua script.

Keys are `<prefix>:{<event-id>}:lock:<seat-id>`: the hash tag keeps one event's keys in
one Redis Cluster slot, which a multi-key script needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from backend.locks.base import LockStoreNotStarted, SeatLockStore
from backend.redisclient import redis_client

# All or nothing: report every key taken by another token first; only if none is, set
# them all. A key already holding our own token counts as ours, so a retry after a lost
# reply is harmless.
ACQUIRE_LUA = """
local taken = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner and owner ~= ARGV[1] then
    taken[#taken + 1] = i
  end
end
if #taken > 0 then
  return taken
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return taken
"""

# A write batch's locks: ARGV[3..] are the sizes of consecutive groups of KEYS; each group
# is taken all or none, in order, under the one token; the reply lists, per group, the
# (1-based, within the group) keys another token holds. Empty list: that group is ours.
ACQUIRE_EACH_LUA = """
local token, ttl = ARGV[1], ARGV[2]
local replies = {}
local first = 1
for g = 3, #ARGV do
  local size = tonumber(ARGV[g])
  local taken = {}
  for i = first, first + size - 1 do
    local owner = redis.call('GET', KEYS[i])
    if owner and owner ~= token then
      taken[#taken + 1] = i - first + 1
    end
  end
  if #taken == 0 then
    for i = first, first + size - 1 do
      redis.call('SET', KEYS[i], token, 'PX', ttl)
    end
  end
  replies[#replies + 1] = taken
  first = first + size
end
return replies
"""

# Compare-and-delete: a release that comes after the TTL must not delete the lock the
# next owner has taken since.
RELEASE_LUA = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


def lock_key(prefix: str, event_id: str, seat_id: str) -> str:
    return f"{prefix}:{{{event_id}}}:lock:{seat_id}"


class RedisSeatLockStore(SeatLockStore):
    def __init__(self, url: str, prefix: str = "bo") -> None:
        self._url = url
        self._prefix = prefix
        self._redis: Redis | None = None
        self._acquire: Any = None
        self._acquire_each: Any = None
        self._release: Any = None

    async def on_startup(self) -> None:
        """Create the client and register the scripts (loaded lazily by EVALSHA)."""
        self._redis = redis_client(self._url)
        self._acquire = self._redis.register_script(ACQUIRE_LUA)
        self._acquire_each = self._redis.register_script(ACQUIRE_EACH_LUA)
        self._release = self._redis.register_script(RELEASE_LUA)

    async def on_shutdown(self) -> None:
        """Close the client's connections."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def _client(self) -> Redis:
        if self._redis is None:
            raise LockStoreNotStarted("RedisSeatLockStore used before on_startup()")
        return self._redis

    def _keys(self, event_id: str, seat_ids: Sequence[str]) -> list[str]:
        return [lock_key(self._prefix, event_id, seat_id) for seat_id in seat_ids]

    async def acquire(
        self, event_id: str, seat_ids: Sequence[str], token: str, ttl_ms: int
    ) -> list[str]:
        """Lock all seats for `token`, or none; return the seat ids that were already locked."""
        self._client()
        taken = await self._acquire(keys=self._keys(event_id, seat_ids), args=[token, ttl_ms])
        return [seat_ids[int(i) - 1] for i in taken]

    async def acquire_each(
        self, event_id: str, groups: Sequence[Sequence[str]], token: str, ttl_ms: int
    ) -> list[list[str]]:
        """Every group in one script call (see `SeatLockStore.acquire_each`)."""
        self._client()
        keys = [key for group in groups for key in self._keys(event_id, group)]
        replies = await self._acquire_each(
            keys=keys, args=[token, ttl_ms, *(len(group) for group in groups)]
        )
        return [
            [group[int(i) - 1] for i in taken] for group, taken in zip(groups, replies, strict=True)
        ]

    async def release(self, event_id: str, seat_ids: Sequence[str], token: str) -> int:
        """Delete the locks `token` still owns; return how many were deleted."""
        self._client()
        return int(await self._release(keys=self._keys(event_id, seat_ids), args=[token]))

    async def ping(self) -> None:
        """Raise if Redis does not answer."""
        await self._client().ping()
