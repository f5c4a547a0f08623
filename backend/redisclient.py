"""The one way Boxoffice makes a Redis client (seat locks, waiting rooms, throttle)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Connections per client (per process and use). Past it a command waits up to
# POOL_WAIT_SECONDS for one: redis-py's default pool raises at once past 100, which a
# burst of 400 joins turned into 503s (`make bench onsale`).
MAX_CONNECTIONS = 200
POOL_WAIT_SECONDS = 5.0


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
    )
    # from_pool: the client owns the pool, so `aclose()` closes its connections too.
    return Redis.from_pool(pool)
