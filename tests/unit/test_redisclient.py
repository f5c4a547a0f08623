"""The one Redis client factory: a burst of concurrent commands past the pool's size waits
for a connection instead of failing (`make bench onsale` found joins, polls and holds
answered 503 with redis-py's default pool, which raises at once past 100 connections)."""

from __future__ import annotations

import asyncio

import pytest
import redis.utils
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.live.channel import RedisSeatChannel
from backend.redisclient import (
    DRIVER_INFO,
    MAX_CONNECTIONS,
    failure,
    pool_exhausted,
    redis_client,
)
from tests.support.services import REDIS_URL, require_services


async def test_a_burst_past_the_pool_size_waits_instead_of_failing() -> None:
    require_services()
    client = redis_client(REDIS_URL)
    try:
        # Each BLPOP holds its connection for a moment, so the burst really needs more
        # connections than the pool has at once.
        burst = MAX_CONNECTIONS + 100
        results = await asyncio.gather(
            *(client.blpop([f"botest:redisclient:{n}"], timeout=0.05) for n in range(burst)),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == [], errors[:3]
    finally:
        await client.aclose()


async def test_new_connections_do_not_read_the_package_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """redis-py describes itself to the server (CLIENT SETINFO) on every new connection,
    and without a version given it read its package metadata from disk for each one: a
    pool growing under an on-sale's join storm paid that hundreds of times, and the
    loop stalled for 100 ms in it (LOOP_STALL_LOG_MS). Every client here is built with
    the version read once; new connections still carry it."""
    reads: list[str] = []
    real = redis.utils.get_lib_version
    monkeypatch.setattr(redis.utils, "get_lib_version", lambda: reads.append("read") or real())
    clients = [redis_client(REDIS_URL), RedisSeatChannel(REDIS_URL)._subscriber()]
    channel = RedisSeatChannel(REDIS_URL)
    await channel.on_startup()
    clients.append(channel._client())
    try:
        for client in clients:
            connections = [client.connection_pool.make_connection() for _ in range(3)]
            assert all(c.driver_info is DRIVER_INFO for c in connections)
        assert reads == []
        assert DRIVER_INFO.lib_version == real()
    finally:
        await channel.on_shutdown()
        for client in clients:
            await client.aclose()


async def test_an_exhausted_pool_is_told_apart_from_redis_down() -> None:
    """redis-py raises ConnectionError both when no pooled connection frees up in time
    (this process is overloaded: the on-sale's join storm) and when Redis is down; the
    logs and the buyer's 503 tell them apart."""
    require_services()
    client = redis_client(REDIS_URL)
    pool = client.connection_pool
    pool.max_connections, pool.timeout = 1, 0.05
    down = redis_client("redis://127.0.0.1:1/0", connect_timeout=0.2)
    held = await pool.get_connection()
    try:
        with pytest.raises(RedisConnectionError) as busy:
            await client.ping()
        assert pool_exhausted(busy.value)
        assert failure(busy.value).startswith("busy: no free connection in this process")
        with pytest.raises(RedisConnectionError) as refused:
            await down.ping()
        assert not pool_exhausted(refused.value)
        assert failure(refused.value).startswith("unavailable: ")
    finally:
        await pool.release(held)
        await client.aclose()
        await down.aclose()
