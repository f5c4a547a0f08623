"""The one Redis client factory: a burst of concurrent commands past the pool's size waits
for a connection instead of failing (`make bench onsale` found joins, polls and holds
answered 503 with redis-py's default pool, which raises at once past 100 connections)."""

from __future__ import annotations

import asyncio

from backend.redisclient import MAX_CONNECTIONS, redis_client
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
