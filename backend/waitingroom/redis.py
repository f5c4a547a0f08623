"""Redis waiting rooms: sorted sets, and one Lua script per transition.

Keys, all under one hash tag per event so a room sits in one Redis Cluster slot (which
a multi-key script needs):

    <prefix>:{<event-id>}:wr:meta   hash: born, opens_at, opened_at, arrivals,
                                    admitted_total, first_admitted_at, last_admitted_at
    <prefix>:{<event-id>}:wr:queue  zset: waiter -> pre-queue ticket, or TICKET_SPAN + arrival
    <prefix>:{<event-id>}:wr:shop   zset: shopper -> admitted until (ms)
    <prefix>:{<event-id>}:wr:seen   zset: waiter or shopper -> last seen (ms)
    <prefix>:{<event-id>}:wr:gone   hash: account -> left | expired

Every script gets the same five keys and opens the room itself when its sale time has
come, so the opening is atomic with whatever call first sees it, in any app process.
Pre-queue tickets come from Python's `secrets` (a script's `math.random` is seeded the
same on every run). Numbers go back to Redis formatted with `%.0f`: Lua's default
`%.14g` would round a 16-digit score.

A connection error retries the call once on a fresh connection. `join`, `status`,
`touch`, `leave` and `finish` are safe to repeat; if the reply to `admit` or
`expire_shoppers` is lost, the transition has still happened in Redis: the admitted
read it from `status`, and an expired shopper's holds lapse by their own time.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import msgspec
from redis.asyncio import Redis

from backend.redisclient import redis_client
from backend.waitingroom.base import (
    TICKET_BITS,
    TICKET_SPAN,
    Abandoned,
    Admission,
    QueueState,
    QueueStatus,
    RoomDump,
    RoomSummary,
    WaitingRoomNotStarted,
    WaitingRoomStore,
)

KEY_PARTS = ("meta", "queue", "shop", "seen", "gone")

# Shared by every script: the keys by name, the opening and one account's status. The
# room opens at the first call at or after `opens_at`; `opened_at` then never changes.
PRELUDE = f"""
local META, QUEUE, SHOP, SEEN, GONE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local TICKET_SPAN = {TICKET_SPAN}

local function room_open(now)
  if redis.call('HEXISTS', META, 'opened_at') == 1 then
    return true
  end
  local opens = redis.call('HGET', META, 'opens_at')
  if opens and now >= tonumber(opens) then
    redis.call('HSET', META, 'opened_at', opens)
    return true
  end
  return false
end

-- {{state, ahead or -1, admitted until or -1}}
local function status(user, now)
  local open = room_open(now)
  local until_ms = redis.call('ZSCORE', SHOP, user)
  if until_ms then
    until_ms = tonumber(until_ms)
    if until_ms > now then
      return {{'admitted', -1, until_ms}}
    end
    return {{'expired', -1, until_ms}}
  end
  if redis.call('ZSCORE', QUEUE, user) then
    if not open then
      return {{'waiting', -1, -1}}
    end
    return {{'waiting', redis.call('ZRANK', QUEUE, user), -1}}
  end
  return {{redis.call('HGET', GONE, user) or 'none', -1, -1}}
end

local function see(user, now)
  local seen = redis.call('ZSCORE', SEEN, user)
  -- Never backwards: heartbeats from app processes with slightly different clocks.
  if not seen or tonumber(seen) < now then
    redis.call('ZADD', SEEN, string.format('%.0f', now), user)
  end
end
"""

# ARGV: now, sale time ('' = on sale now), pre-queue ticket, user, born. An account
# already waiting or shopping keeps its place; anyone else gets a ticket (room closed)
# or the next arrival number (room open). The first join of this Redis state names it.
JOIN_LUA = (
    PRELUDE
    + """
local now, user = tonumber(ARGV[1]), ARGV[4]
redis.call('HSETNX', META, 'born', ARGV[5])
if redis.call('HEXISTS', META, 'opened_at') == 0 then
  local opens = ARGV[2]
  if opens == '' then
    opens = ARGV[1]
  end
  redis.call('HSET', META, 'opens_at', opens)
end
local open = room_open(now)
if not redis.call('ZSCORE', QUEUE, user) and not redis.call('ZSCORE', SHOP, user) then
  if open then
    local arrival = redis.call('HINCRBY', META, 'arrivals', 1)
    redis.call('ZADD', QUEUE, string.format('%.0f', TICKET_SPAN + arrival), user)
  else
    redis.call('ZADD', QUEUE, ARGV[3], user)
  end
  redis.call('HDEL', GONE, user)
end
see(user, now)
return status(user, now)
"""
)

# ARGV: now, user.
STATUS_LUA = (
    PRELUDE
    + """
return status(ARGV[2], tonumber(ARGV[1]))
"""
)

# ARGV: user, 'any' (leave: a waiter or a shopper) or 'shopper' (finish).
LEAVE_LUA = (
    PRELUDE
    + """
local user = ARGV[1]
local removed = redis.call('ZREM', SHOP, user)
if removed == 0 and ARGV[2] == 'any' then
  removed = redis.call('ZREM', QUEUE, user)
end
if removed == 0 then
  return 0
end
redis.call('ZREM', SEEN, user)
redis.call('HSET', GONE, user, 'left')
return 1
"""
)

# ARGV: now, max shoppers, shopper ms, limit. Counting the shoppers and taking the head
# of the queue in one script is what keeps concurrent admitters under the bound.
ADMIT_LUA = (
    PRELUDE
    + """
local now = tonumber(ARGV[1])
if not room_open(now) then
  return {}
end
local count = math.min(tonumber(ARGV[2]) - redis.call('ZCARD', SHOP), tonumber(ARGV[4]))
if count <= 0 then
  return {}
end
local users = redis.call('ZRANGE', QUEUE, 0, count - 1)
if #users == 0 then
  return {}
end
redis.call('ZREMRANGEBYRANK', QUEUE, 0, #users - 1)
-- Never before the room's last admission: another process's tick, begun later, may
-- have admitted the people ahead already (WaitingRoomStore.admit).
local at = math.max(now, tonumber(redis.call('HGET', META, 'last_admitted_at') or now))
local until_ms = at + tonumber(ARGV[3])
local score = string.format('%.0f', until_ms)
for _, user in ipairs(users) do
  redis.call('ZADD', SHOP, score, user)
  see(user, at) -- a new shopper gets the whole grace to show up
end
redis.call('HINCRBY', META, 'admitted_total', #users)
redis.call('HSETNX', META, 'first_admitted_at', string.format('%.0f', at))
redis.call('HSET', META, 'last_admitted_at', string.format('%.0f', at))
table.insert(users, 1, until_ms)
return users
"""
)

# ARGV: now. Windows ending at or before now.
EXPIRE_LUA = (
    PRELUDE
    + """
local users = redis.call('ZRANGEBYSCORE', SHOP, '-inf', ARGV[1])
for _, user in ipairs(users) do
  redis.call('ZREM', SHOP, user)
  redis.call('ZREM', SEEN, user)
  redis.call('HSET', GONE, user, 'expired')
end
return users
"""
)

# ARGV: now, user. Only an account with a live place is recorded.
TOUCH_LUA = (
    PRELUDE
    + """
local user = ARGV[2]
if not redis.call('ZSCORE', QUEUE, user) and not redis.call('ZSCORE', SHOP, user) then
  return 0
end
see(user, tonumber(ARGV[1]))
return 1
"""
)

# ARGV: now, user... Touch each account with a live place, then answer every status,
# flattened: state, ahead, until per account.
PRESENT_LUA = (
    PRELUDE
    + """
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local user = ARGV[i]
  if redis.call('ZSCORE', QUEUE, user) or redis.call('ZSCORE', SHOP, user) then
    see(user, now)
  end
  local s = status(user, now)
  out[#out + 1] = s[1]
  out[#out + 1] = s[2]
  out[#out + 1] = s[3]
end
return out
"""
)

# Accounts per PRESENT_LUA call: a script blocks Redis while it runs, so a room of
# 10,000 watchers is answered in several short calls rather than one long one.
PRESENT_CHUNK = 500

# ARGV: cutoff (now - grace). Last seen strictly before it: gone longer than the grace.
ABANDON_LUA = (
    PRELUDE
    + """
local stale = redis.call('ZRANGEBYSCORE', SEEN, '-inf', '(' .. ARGV[1])
local shoppers, waiters = {}, {}
for _, user in ipairs(stale) do
  redis.call('ZREM', SEEN, user)
  local freed = false
  if redis.call('ZREM', SHOP, user) == 1 then
    shoppers[#shoppers + 1] = user
    freed = true
  elseif redis.call('ZREM', QUEUE, user) == 1 then
    waiters[#waiters + 1] = user
    freed = true
  end
  if freed then
    redis.call('HSET', GONE, user, 'left')
  end
end
return {shoppers, waiters}
"""
)

# Read only, in one script so the counters agree with each other.
SUMMARY_LUA = (
    PRELUDE
    + """
local meta = redis.call('HMGET', META, 'admitted_total', 'opens_at', 'opened_at',
  'first_admitted_at', 'last_admitted_at', 'born')
return {redis.call('ZCARD', QUEUE), redis.call('ZCARD', SHOP),
  meta[1], meta[2], meta[3], meta[4], meta[5], meta[6]}
"""
)

# Read only: the whole room, for a snapshot. Nil if nobody joined this state of Redis.
DUMP_LUA = (
    PRELUDE
    + """
local meta = redis.call('HMGET', META, 'born', 'opens_at', 'opened_at', 'arrivals',
  'admitted_total', 'first_admitted_at', 'last_admitted_at')
if not meta[1] then
  return nil
end
return {meta, redis.call('ZRANGE', QUEUE, 0, -1, 'WITHSCORES'),
  redis.call('ZRANGE', SHOP, 0, -1, 'WITHSCORES')}
"""
)

# ARGV: now, born, opens_at ('' = none), opened_at (''), arrivals, admitted_total,
# first_admitted_at (''), last_admitted_at (''), number of waiters, then each waiter
# and score, then each shopper and end of window. See WaitingRoomStore.restore.
RESTORE_LUA = (
    PRELUDE
    + """
if redis.call('HGET', META, 'born') == ARGV[2] then
  return 0
end
local now = ARGV[1]
local dumped_arrivals = tonumber(ARGV[5])
local late = redis.call('ZRANGEBYSCORE', QUEUE, TICKET_SPAN, '+inf', 'WITHSCORES')
for i = 1, #late, 2 do
  redis.call('ZADD', QUEUE, string.format('%.0f', tonumber(late[i + 1]) + dumped_arrivals),
    late[i])
end
redis.call('HINCRBY', META, 'arrivals', dumped_arrivals)
local waiters = tonumber(ARGV[9])
local first_shopper = 10 + 2 * waiters
for i = 10, first_shopper - 1, 2 do
  local user = ARGV[i]
  if not redis.call('ZSCORE', SHOP, user) then
    redis.call('ZADD', QUEUE, ARGV[i + 1], user)
    redis.call('HDEL', GONE, user)
    redis.call('ZADD', SEEN, now, user)
  end
end
for i = first_shopper, #ARGV, 2 do
  local user = ARGV[i]
  redis.call('ZREM', QUEUE, user)
  redis.call('ZADD', SHOP, ARGV[i + 1], user)
  redis.call('HDEL', GONE, user)
  redis.call('ZADD', SEEN, now, user)
end
if ARGV[3] ~= '' then
  redis.call('HSET', META, 'opens_at', ARGV[3])
end
if ARGV[4] ~= '' then
  redis.call('HSET', META, 'opened_at', ARGV[4])
end
redis.call('HINCRBY', META, 'admitted_total', tonumber(ARGV[6]))
local first = redis.call('HGET', META, 'first_admitted_at')
if ARGV[7] ~= '' and (not first or tonumber(ARGV[7]) < tonumber(first)) then
  redis.call('HSET', META, 'first_admitted_at', ARGV[7])
end
local last = redis.call('HGET', META, 'last_admitted_at')
if ARGV[8] ~= '' and (not last or tonumber(ARGV[8]) > tonumber(last)) then
  redis.call('HSET', META, 'last_admitted_at', ARGV[8])
end
redis.call('HSET', META, 'born', ARGV[2])
return 1
"""
)


# A task's claim (`claim`): the time it is claimed until, by the callers' clock; the key
# itself expires well after that, so a room nobody visits any more leaves nothing.
CLAIM_LUA = """
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < due then
  return 0
end
redis.call('SET', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), 'PX', ARGV[3])
return 1
"""
CLAIM_KEEP_MS = 600_000  # how long a claim's key outlives its interval


def room_keys(prefix: str, event_id: str) -> list[str]:
    """The room's five keys, in the order every script expects them."""
    return [f"{prefix}:{{{event_id}}}:wr:{part}" for part in KEY_PARTS]


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _pairs(flat: list[Any]) -> list[tuple[str, int]]:
    """ZRANGE … WITHSCORES as (member, integer score) pairs."""
    return [(flat[i].decode(), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]


_IDS = re.compile(rb"[\w-]*")  # account ids JSON needs no escape for (UUIDs): joined
_INTEGERS = re.compile(rb"[0-9,]*")  # scores Redis wrote as plain integers: joined by ","


def _json_int(value: Any) -> bytes:
    return b"null" if value is None else b"%d" % int(value)


def _places_json(flat: list[Any]) -> bytes:
    """ZRANGE … WITHSCORES as the JSON `[[member, score], …]` that `_pairs` and
    `RoomDump.as_json` make, as bytes. Plain ids and integer scores (always, in this
    app) are copied as they came, about 2 ms for 10,000 places; anything else goes
    through msgspec."""
    members, scores = flat[0::2], flat[1::2]
    if not members:
        return b"[]"
    if _IDS.fullmatch(b"".join(members)) and _INTEGERS.fullmatch(b",".join(scores)):
        pieces = [m + b'",' + s for m, s in zip(members, scores, strict=True)]
        return b'[["' + b'],["'.join(pieces) + b"]]"
    return msgspec.json.encode(
        [[m.decode(), int(float(s))] for m, s in zip(members, scores, strict=True)]
    )


def _status(reply: list[Any]) -> QueueStatus:
    state = QueueState(reply[0].decode())
    ahead, until_ms = int(reply[1]), int(reply[2])
    return QueueStatus(
        state,
        position=ahead + 1 if ahead >= 0 else None,
        ahead=ahead if ahead >= 0 else None,
        admitted_until_ms=until_ms if until_ms >= 0 else None,
    )


class RedisWaitingRoomStore(WaitingRoomStore):
    def __init__(self, url: str, prefix: str = "bo") -> None:
        self._url = url
        self._prefix = prefix
        self._redis: Redis | None = None
        self._scripts: dict[str, Any] = {}

    async def on_startup(self) -> None:
        """Create the client and register the scripts (loaded lazily by EVALSHA)."""
        self._redis = redis_client(self._url)
        scripts = {
            "join": JOIN_LUA,
            "status": STATUS_LUA,
            "leave": LEAVE_LUA,
            "admit": ADMIT_LUA,
            "expire": EXPIRE_LUA,
            "touch": TOUCH_LUA,
            "abandon": ABANDON_LUA,
            "present": PRESENT_LUA,
            "summary": SUMMARY_LUA,
            "dump": DUMP_LUA,
            "restore": RESTORE_LUA,
            "claim": CLAIM_LUA,
        }
        self._scripts = {name: self._redis.register_script(lua) for name, lua in scripts.items()}

    async def on_shutdown(self) -> None:
        """Close the client's connections."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def _client(self) -> Redis:
        if self._redis is None:
            raise WaitingRoomNotStarted("RedisWaitingRoomStore used before on_startup()")
        return self._redis

    async def _run(self, script: str, event_id: str, *args: str | int) -> Any:
        self._client()
        return await self._scripts[script](keys=room_keys(self._prefix, event_id), args=args)

    async def join(
        self, event_id: str, user_id: str, now_ms: int, on_sale_at_ms: int | None
    ) -> QueueStatus:
        """Give the account a place (or return the one it has); see the module docstring."""
        sale = "" if on_sale_at_ms is None else on_sale_at_ms
        ticket = secrets.randbits(TICKET_BITS)
        born = secrets.randbits(TICKET_BITS)
        return _status(await self._run("join", event_id, now_ms, sale, ticket, user_id, born))

    async def status(self, event_id: str, user_id: str, now_ms: int) -> QueueStatus:
        """The account's place, without changing it (the call may open the room)."""
        return _status(await self._run("status", event_id, now_ms, user_id))

    async def leave(self, event_id: str, user_id: str) -> bool:
        """Drop a waiter or free a shopper's slot (state `left`); False if neither."""
        return bool(await self._run("leave", event_id, user_id, "any"))

    async def finish(self, event_id: str, user_id: str) -> bool:
        """Free a shopper's slot when they are done (state `left`); False if not shopping."""
        return bool(await self._run("leave", event_id, user_id, "shopper"))

    async def admit(
        self, event_id: str, now_ms: int, max_shoppers: int, shopper_ms: int, limit: int
    ) -> list[Admission]:
        """Admit up to `limit` waiters in order while fewer than `max_shoppers` shop."""
        reply = await self._run("admit", event_id, now_ms, max_shoppers, shopper_ms, limit)
        if not reply:
            return []
        until_ms = int(reply[0])
        return [Admission(user.decode(), until_ms) for user in reply[1:]]

    async def expire_shoppers(self, event_id: str, now_ms: int) -> list[str]:
        """Free the slots whose window has ended (state `expired`); return those users."""
        return [user.decode() for user in await self._run("expire", event_id, now_ms)]

    async def touch(self, event_id: str, user_id: str, now_ms: int) -> bool:
        """Record that the account is present; False if it has no live place."""
        return bool(await self._run("touch", event_id, now_ms, user_id))

    async def present(self, event_id: str, user_ids: list[str], now_ms: int) -> list[QueueStatus]:
        """`touch` each account and read its status, in the given order."""
        statuses: list[QueueStatus] = []
        for start in range(0, len(user_ids), PRESENT_CHUNK):
            chunk = user_ids[start : start + PRESENT_CHUNK]
            reply = await self._run("present", event_id, now_ms, *chunk)
            statuses.extend(_status(reply[i : i + 3]) for i in range(0, len(reply), 3))
        return statuses

    async def abandon(self, event_id: str, now_ms: int, grace_ms: int) -> Abandoned:
        """Drop waiters and free shoppers not seen for longer than `grace_ms` (state `left`)."""
        shoppers, waiters = await self._run("abandon", event_id, now_ms - grace_ms)
        return Abandoned(
            shoppers=[user.decode() for user in shoppers],
            waiters=[user.decode() for user in waiters],
        )

    async def summary(self, event_id: str) -> RoomSummary:
        """The room's counters (read only: it does not open the room)."""
        reply = await self._run("summary", event_id)
        waiting, shopping, total, opens, opened, first, last, born = reply
        return RoomSummary(
            waiting=int(waiting),
            shopping=int(shopping),
            admitted_total=int(total or 0),
            opens_at_ms=_optional_int(opens),
            opened_at_ms=_optional_int(opened),
            first_admitted_at_ms=_optional_int(first),
            last_admitted_at_ms=_optional_int(last),
            born=_optional_int(born),
        )

    async def dump(self, event_id: str) -> RoomDump | None:
        """A copy of the room (None if nobody has joined it in this state of Redis)."""
        reply = await self._run("dump", event_id)
        if reply is None:
            return None
        meta, queue, shop = reply
        born, opens, opened, arrivals, total, first, last = meta
        return RoomDump(
            born=int(born),
            opens_at_ms=_optional_int(opens),
            opened_at_ms=_optional_int(opened),
            arrivals=int(arrivals or 0),
            admitted_total=int(total or 0),
            first_admitted_at_ms=_optional_int(first),
            last_admitted_at_ms=_optional_int(last),
            queue=_pairs(queue),
            shop=_pairs(shop),
        )

    async def dump_json(self, event_id: str) -> tuple[int, str] | None:
        """The copy's text, written straight from the script's reply: a room of 10,000
        places read as `RoomDump` made ~40,000 objects, half of them tracked by the
        garbage collector, and the collections they set off stopped the loop for
        100-200 ms during a sale. Here each place is formatted as bytes (not tracked)."""
        reply = await self._run("dump", event_id)
        if reply is None:
            return None
        meta, queue, shop = reply
        born, opens, opened, arrivals, total, first, last = meta
        text = b"".join(
            [
                b'{"born":%d,"opensAt":%s,"openedAt":%s,"arrivals":%d,"admittedTotal":%d,'
                % (
                    int(born),
                    _json_int(opens),
                    _json_int(opened),
                    int(arrivals or 0),
                    int(total or 0),
                ),
                b'"firstAdmittedAt":%s,"lastAdmittedAt":%s,"queue":'
                % (_json_int(first), _json_int(last)),
                _places_json(queue),
                b',"shop":',
                _places_json(shop),
                b"}",
            ]
        )
        return int(born), text.decode()

    async def restore(self, event_id: str, dump: RoomDump, now_ms: int) -> bool:
        """Bring a dump's places back after Redis lost them (see the base class)."""

        def text(value: int | None) -> str:
            return "" if value is None else f"{value}"

        args: list[str | int] = [
            now_ms,
            dump.born,
            text(dump.opens_at_ms),
            text(dump.opened_at_ms),
            dump.arrivals,
            dump.admitted_total,
            text(dump.first_admitted_at_ms),
            text(dump.last_admitted_at_ms),
            len(dump.queue),
        ]
        for user_id, score in [*dump.queue, *dump.shop]:
            args += [user_id, score]
        return bool(await self._run("restore", event_id, *args))

    async def claim(self, event_id: str, task: str, now_ms: int, every_ms: int) -> bool:
        """One script: the claim's time read and moved on only if it has passed."""
        self._client()
        key = f"{self._prefix}:{{{event_id}}}:wr:claim:{task}"
        taken = await self._scripts["claim"](
            keys=[key], args=[now_ms, every_ms, every_ms + CLAIM_KEEP_MS]
        )
        return bool(taken)

    async def clear(self, event_id: str) -> None:
        """Forget the room entirely (its event is over or deleted)."""
        await self._client().delete(*room_keys(self._prefix, event_id))

    async def ping(self) -> None:
        """Raise if Redis does not answer."""
        await self._client().ping()
