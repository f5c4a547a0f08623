"""The one way Boxoffice makes a Redis client (seat locks, waiting rooms, throttle)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def redis_client(url: str, *, connect_timeout: float = 2, backoff_cap: float = 0.1) -> Redis:
    """A client that retries a command on a fresh connection: after a Redis restart every
    pooled connection is dead, and the first command on each must not become the
    caller's error (or, for the seat locks, a request that skips its lock)."""
    return Redis.from_url(
        url,
        socket_timeout=2,
        socket_connect_timeout=connect_timeout,
        health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=backoff_cap, base=0.01), 2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
