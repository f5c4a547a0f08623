"""The one way Boxoffice makes a Redis client (seat locks, waiting rooms, throttle)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import get_lib_version

# Connections per client (per process and use). Past it a command waits up to
# POOL_WAIT_SECONDS for one: redis-py's default pool raises at once past 100, which a
# burst of 400 joins turned into 503s (`make bench onsale`).
MAX_CONNECTIONS = 200
POOL_WAIT_SECONDS = 5.0
# What each new connection tells the server about its client (CLIENT SETINFO), built
# once: given no version, redis-py reads its package metadata from disk for every new
# connection (0.3 ms on a quiet host, and stalls of the loop of 100 ms and more while a
# pool grew under an on-sale's join storm, seen with LOOP_STALL_LOG_MS). Every client
# Boxoffice makes passes it.
DRIVER_INFO = DriverInfo(name="redis-py", lib_version=get_lib_version())  # type: ignore[no-untyped-call]


def pool_exhausted(exc: BaseException) -> bool:
    """Did a command fail because every pooled connection stayed busy for
    POOL_WAIT_SECONDS? Then this process is overloaded (its loop too slow to read the
    replies), not Redis down: the logs say which (redis-py raises the same error type
    for both)."""
    return isinstance(exc, RedisConnectionError) and isinstance(exc.__cause__, TimeoutError)


def failure(exc: BaseException) -> str:
    """A Redis call's failure as the logs name it: busy (`pool_exhausted`) or down."""
    if pool_exhausted(exc):
        return (
            f"busy: no free connection in this process for {POOL_WAIT_SECONDS:g} s "
            "(the process is overloaded; Redis may be fine)"
        )
    return f"unavailable: {type(exc).__name__}: {exc}"


def redis_client(url: str, *, connect_timeout: float = 2, backoff_cap: float = 0.1) -> Redis:
    """A client that retries a command on a fresh connection: after a Redis restart every
    pooled connection is dead, and the first command on each must not become the
    caller's error (or, for the seat locks, a request that skips its lock). Its pool
    blocks (bounded) rather than fail when every connection is busy."""
    retry = Retry(ExponentialBackoff(cap=backoff_cap, base=0.01), 2)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        socket_timeout=2,
        socket_connect_timeout=connect_timeout,
        health_check_interval=10,
        retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        driver_info=DRIVER_INFO,
    )
    # from_pool: the client owns the pool, so `aclose()` closes its connections too.
    return Redis.from_pool(pool)
