"""One suite for every seat-lock store (in-process and Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.locks import MemorySeatLockStore, RedisSeatLockStore, SeatLockStore
from backend.locks.base import LockStoreNotStarted
from tests.support.databases import flush_redis_prefix
from tests.support.locks import lock_owner
from tests.support.services import REDIS_URL, require_services, unique_name


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SeatLockStore]:
    if request.param == "memory":
        lock_store: SeatLockStore = MemorySeatLockStore()
        prefix = None
    else:
        require_services()
        prefix = unique_name("botestlock")
        lock_store = RedisSeatLockStore(REDIS_URL, prefix)
    await lock_store.on_startup()
    try:
        yield lock_store
    finally:
        await lock_store.on_shutdown()
        if prefix:
            await flush_redis_prefix(prefix)


async def test_takes_all_seats_or_none(store: SeatLockStore) -> None:
    assert await store.acquire("ev", ["s1", "s2"], "t1", 5000) == []
    # s2 is taken, so s3 must not be locked either.
    assert await store.acquire("ev", ["s3", "s2"], "t2", 5000) == ["s2"]
    assert await lock_owner(store, "ev", "s3") is None
    assert await lock_owner(store, "ev", "s1") == "t1"


async def test_locks_are_per_event(store: SeatLockStore) -> None:
    assert await store.acquire("ev1", ["s1"], "t1", 5000) == []
    assert await store.acquire("ev2", ["s1"], "t2", 5000) == []


async def test_release_only_deletes_own_locks(store: SeatLockStore) -> None:
    await store.acquire("ev", ["s1", "s2"], "t1", 5000)
    assert await store.release("ev", ["s1", "s2"], "someone-else") == 0
    assert await lock_owner(store, "ev", "s1") == "t1"
    assert await store.release("ev", ["s1", "s2"], "t1") == 2
    assert await store.acquire("ev", ["s1"], "t2", 5000) == []


async def test_expired_lock_frees_the_seat_and_late_release_spares_next_owner(
    store: SeatLockStore,
) -> None:
    await store.acquire("ev", ["s1"], "slow", 50)
    # Time is the behaviour: the lock must lapse by its TTL alone, with nobody releasing
    # it. 120 ms is more than twice the 50 ms TTL (Redis expires keys to the millisecond).
    await asyncio.sleep(0.12)
    assert await store.acquire("ev", ["s1"], "next", 5000) == []
    # The slow owner finally releases: compare-and-delete leaves the next owner's lock.
    assert await store.release("ev", ["s1"], "slow") == 0
    assert await lock_owner(store, "ev", "s1") == "next"


async def test_concurrent_acquirers_get_exactly_one_winner(store: SeatLockStore) -> None:
    results = await asyncio.gather(
        *(store.acquire("ev", ["hot", f"own{i}"], f"t{i}", 5000) for i in range(50))
    )
    winners = [r for r in results if r == []]
    assert len(winners) == 1
    assert all(r == ["hot"] for r in results if r)


async def test_ping_answers(store: SeatLockStore) -> None:
    await store.ping()


async def test_use_before_startup_is_a_clear_error() -> None:
    with pytest.raises(LockStoreNotStarted):
        await MemorySeatLockStore().acquire("ev", ["s"], "t", 10)
    with pytest.raises(LockStoreNotStarted):
        await RedisSeatLockStore("redis://127.0.0.1:1").acquire("ev", ["s"], "t", 10)


async def test_redis_keys_carry_the_event_hash_tag() -> None:
    from backend.locks.redis import lock_key

    assert lock_key("bo", "e1", "s1") == "bo:{e1}:lock:s1"


async def test_acquiring_again_with_the_same_token_is_harmless(store: SeatLockStore) -> None:
    # A retry after a lost reply must not turn our own lock into a conflict.
    assert await store.acquire("ev", ["s1"], "t1", 5000) == []
    assert await store.acquire("ev", ["s1", "s2"], "t1", 5000) == []
    assert await store.acquire("ev", ["s2"], "t2", 5000) == ["s2"]
