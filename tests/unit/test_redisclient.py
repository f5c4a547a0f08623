"""The one Redis client factory: a burst of concurrent commands past the pool's size waits
for a connection instead of failing (`make bench onsale` found joins, polls and holds
answered 503 with redis-py's default pool, which raises at once past 100 connections)."""

from __future__ import annotations

import asyncio

import pytest
import redis.utils

from backend.live.channel import RedisSeatChannel
from backend.redisclient import DRIVER_INFO, MAX_CONNECTIONS, redis_client
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
