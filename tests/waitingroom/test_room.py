"""One suite for every waiting-room store (in-process and Redis), rule by rule.

Time is passed in as `now_ms`, so nothing here sleeps: each test says what the clock
reads at every call. With Redis, `other` is a second store on its own connections (as a
second app process would be); in memory it is the same store.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.waitingroom import (
    Admission,
    MemoryWaitingRoomStore,
    QueueState,
    QueueStatus,
    RedisWaitingRoomStore,
    RoomDump,
    RoomSummary,
    WaitingRoomNotStarted,
    WaitingRoomStore,
)
from backend.waitingroom.redis import room_keys
from tests.support.databases import flush_redis_prefix
from tests.support.redis_server import private_redis
from tests.support.services import REDIS_URL, require_services, unique_name

T0 = 1_700_000_000_000  # the clock at the start of every test
SALE = T0 + 60_000  # the on-sale time of the tests that have one
EV = "ev1"


@dataclass
class Rooms:
    store: WaitingRoomStore
    other: WaitingRoomStore  # another app process's view of the same rooms


@pytest.fixture(params=["memory", "redis"])
async def rooms(request: pytest.FixtureRequest) -> AsyncIterator[Rooms]:
    if request.param == "memory":
        store: WaitingRoomStore = MemoryWaitingRoomStore()
        await store.on_startup()
        yield Rooms(store, store)
        await store.on_shutdown()
        return
    require_services()
    prefix = unique_name("botestwr")
    store, other = (
        RedisWaitingRoomStore(REDIS_URL, prefix),
        RedisWaitingRoomStore(REDIS_URL, prefix),
    )
    await store.on_startup()
    await other.on_startup()
    try:
        yield Rooms(store, other)
    finally:
        await store.on_shutdown()
        await other.on_shutdown()
        await flush_redis_prefix(prefix)


@pytest.fixture
def room(rooms: Rooms) -> WaitingRoomStore:
    return rooms.store


def users(count: int, tag: str = "u") -> list[str]:
    return [f"{tag}{i:04d}" for i in range(count)]


async def queue_order(store: WaitingRoomStore, user_ids: list[str], now_ms: int) -> list[str]:
    """The waiters among `user_ids` by their reported position, checking the positions."""
    statuses = {u: await store.status(EV, u, now_ms) for u in user_ids}
    waiting = {u: s for u, s in statuses.items() if s.state is QueueState.WAITING}
    for status in waiting.values():
        assert status.position is not None and status.ahead == status.position - 1
    order = sorted(waiting, key=lambda u: waiting[u].position or 0)
    assert [waiting[u].position for u in order] == list(range(1, len(order) + 1))
    return order


async def open_room_with(store: WaitingRoomStore, user_ids: list[str]) -> None:
    """A room on sale since T0, joined by `user_ids` in that order."""
    for i, user_id in enumerate(user_ids):
        await store.join(EV, user_id, T0 + i, None)


def spearman(order: list[str], reference: list[str]) -> float:
    rank = {user: i for i, user in enumerate(reference)}
    n = len(order)
    d2 = sum((i - rank[user]) ** 2 for i, user in enumerate(order))
    return 1 - 6 * d2 / (n * (n * n - 1))


# Rule 1: one place per account.


async def test_joining_again_returns_the_same_place(room: WaitingRoomStore) -> None:
    await open_room_with(room, ["a", "b", "c"])
    first = await room.join(EV, "b", T0 + 10, None)
    assert first == QueueStatus(QueueState.WAITING, position=2, ahead=1)
    assert await room.join(EV, "b", T0 + 20, None) == first
    assert await room.status(EV, "b", T0 + 30) == first
    assert (await room.summary(EV)).waiting == 3


async def test_concurrent_joins_by_one_account_give_one_place(rooms: Rooms) -> None:
    await open_room_with(rooms.store, ["first"])
    joins = [
        (rooms.store if i % 2 else rooms.other).join(EV, "u", T0 + 100, None) for i in range(50)
    ]
    results = await asyncio.gather(*joins)
    assert set(results) == {QueueStatus(QueueState.WAITING, position=2, ahead=1)}
    last = await rooms.store.join(EV, "last", T0 + 200, None)
    assert last.position == 3
    assert (await rooms.store.summary(EV)).waiting == 3


async def test_concurrent_pre_queue_joins_by_one_account_give_one_place(rooms: Rooms) -> None:
    joins = [(rooms.store if i % 2 else rooms.other).join(EV, "u", T0 + i, SALE) for i in range(50)]
    results = await asyncio.gather(*joins, rooms.store.join(EV, "v", T0, SALE))
    assert set(results) == {QueueStatus(QueueState.WAITING)}  # no position before the draw
    assert (await rooms.store.summary(EV)).waiting == 2
    assert sorted(await queue_order(rooms.store, ["u", "v"], SALE)) == ["u", "v"]


# Rule 2: the pre-queue is shuffled once; FIFO after the opening.


async def test_the_pre_queue_is_a_fresh_random_order_and_the_same_for_every_reader(
    rooms: Rooms,
) -> None:
    early = users(200)
    for i, user_id in enumerate(early):
        before = await rooms.store.join(EV, user_id, T0 + i, SALE)
        assert before == QueueStatus(QueueState.WAITING)
    assert await rooms.other.status(EV, early[0], SALE - 1) == QueueStatus(QueueState.WAITING)
    assert (await rooms.store.summary(EV)).opened_at_ms is None

    order = await queue_order(rooms.other, early, SALE)
    assert sorted(order) == early  # a permutation of the joiners...
    assert order != early  # ...that is not the join order (chance 1/200!)
    # ...nor anything like it: Spearman's rho of a uniform shuffle of 200 has a standard
    # deviation of 1/sqrt(199) = 0.071, so 0.35 is five of them.
    assert abs(spearman(order, early)) < 0.35
    assert await queue_order(rooms.store, early, SALE + 5) == order
    assert (await rooms.store.summary(EV)).opened_at_ms == SALE

    # The same joins into another event draw another order.
    for i, user_id in enumerate(early):
        await rooms.store.join("ev2", user_id, T0 + i, SALE)
    statuses = [await rooms.store.status("ev2", u, SALE) for u in early]
    assert sorted(early, key=lambda u: statuses[early.index(u)].position or 0) != order


async def test_the_draw_never_changes_for_people_already_placed(rooms: Rooms) -> None:
    early = users(30)
    for i, user_id in enumerate(early):
        await rooms.store.join(EV, user_id, T0 + i, SALE)
    order = await queue_order(rooms.store, early, SALE)
    late = users(10, "late")
    for i, user_id in enumerate(late):
        await rooms.other.join(EV, user_id, SALE + i, SALE)
    await rooms.store.admit(EV, SALE + 100, max_shoppers=4, shopper_ms=60_000, limit=4)
    await rooms.store.leave(EV, order[10])
    remaining = [u for u in order[4:] if u != order[10]]
    assert await queue_order(rooms.other, early + late, SALE + 200) == remaining + late


async def test_after_the_opening_it_is_first_come_first_served_exactly(
    room: WaitingRoomStore,
) -> None:
    early = users(5, "early")
    for user_id in early:
        await room.join(EV, user_id, T0, SALE)
    late = users(20, "late")
    # The order is arrival at the store, not the caller's clock: these clocks run back.
    for i, user_id in enumerate(late):
        status = await room.join(EV, user_id, SALE + 1000 - i, SALE)
        assert status == QueueStatus(QueueState.WAITING, position=6 + i, ahead=5 + i)
    order = await queue_order(room, early + late, SALE + 2000)
    assert sorted(order[:5]) == early
    assert order[5:] == late


async def test_a_joiner_at_the_sale_time_is_first_come_first_served(room: WaitingRoomStore) -> None:
    await room.join(EV, "early", T0, SALE)
    assert await room.join(EV, "on-time", SALE, SALE) == QueueStatus(
        QueueState.WAITING, position=2, ahead=1
    )


async def test_the_sale_time_may_move_until_the_room_opens(room: WaitingRoomStore) -> None:
    later = SALE + 10_000
    await room.join(EV, "a", T0, SALE)
    await room.join(EV, "b", T0 + 1, later)  # the organiser moved the sale
    assert (await room.status(EV, "a", SALE + 5000)).position is None
    assert await room.admit(EV, SALE + 5000, 10, 1000, 10) == []
    assert (await room.status(EV, "a", later)).position is not None
    # Once open, a room stays open even if the sale time moves again.
    await room.join(EV, "c", later + 1, later + 60_000)
    assert (await room.status(EV, "c", later + 2)).position == 3
    summary = await room.summary(EV)
    assert (summary.opens_at_ms, summary.opened_at_ms) == (later, later)


async def test_no_sale_time_opens_the_room_at_once(room: WaitingRoomStore) -> None:
    await room.join(EV, "a", T0, SALE)
    await room.join(EV, "b", T0 + 5, None)  # the sale time was removed: on sale now
    assert sorted(await queue_order(room, ["a", "b"], T0 + 6)) == ["a", "b"]
    assert (await room.summary(EV)).opened_at_ms == T0 + 5


# Rule 3: status and leave.


async def test_status_of_a_stranger_is_none(room: WaitingRoomStore) -> None:
    await open_room_with(room, ["a"])
    assert await room.status(EV, "nobody", T0) == QueueStatus(QueueState.NONE)


async def test_leaving_moves_everyone_behind_up(room: WaitingRoomStore) -> None:
    await open_room_with(room, ["a", "b", "c", "d"])
    assert await room.leave(EV, "b") is True
    assert await room.status(EV, "b", T0 + 10) == QueueStatus(QueueState.LEFT)
    assert await room.leave(EV, "b") is False
    assert await queue_order(room, ["a", "b", "c", "d"], T0 + 10) == ["a", "c", "d"]
    assert await room.leave(EV, "nobody") is False
    assert (await room.summary(EV)).waiting == 3


async def test_coming_back_after_leaving_goes_to_the_back(room: WaitingRoomStore) -> None:
    await open_room_with(room, ["a", "b", "c"])
    await room.leave(EV, "a")
    assert await room.join(EV, "a", T0 + 10, None) == QueueStatus(
        QueueState.WAITING, position=3, ahead=2
    )


async def test_a_shopper_who_leaves_frees_the_slot(room: WaitingRoomStore) -> None:
    await open_room_with(room, ["a", "b"])
    [first] = await room.admit(EV, T0 + 10, max_shoppers=1, shopper_ms=60_000, limit=5)
    assert first.user_id == "a"
    assert await room.leave(EV, "a") is True
    assert await room.status(EV, "a", T0 + 11) == QueueStatus(QueueState.LEFT)
    assert await room.admit(EV, T0 + 12, 1, 60_000, 5) == [Admission("b", T0 + 60_012)]


# Rule 4: admission, expiry, finishing.


async def test_nothing_is_admitted_before_the_sale(room: WaitingRoomStore) -> None:
    await room.join(EV, "a", T0, SALE)
    assert await room.admit(EV, SALE - 1, 10, 1000, 10) == []
    assert await room.status(EV, "a", SALE - 1) == QueueStatus(QueueState.WAITING)
    assert await room.admit(EV, SALE, 10, 1000, 10) == [Admission("a", SALE + 1000)]


async def test_admission_follows_the_queue_and_stops_at_max_shoppers(
    room: WaitingRoomStore,
) -> None:
    everyone = users(10)
    await open_room_with(room, everyone)
    admitted = await room.admit(EV, T0 + 100, max_shoppers=3, shopper_ms=5000, limit=10)
    assert admitted == [Admission(u, T0 + 5100) for u in everyone[:3]]
    assert await room.admit(EV, T0 + 101, 3, 5000, 10) == []
    assert await room.status(EV, everyone[0], T0 + 200) == QueueStatus(
        QueueState.ADMITTED, admitted_until_ms=T0 + 5100
    )
    assert await room.join(EV, everyone[0], T0 + 200, None) == QueueStatus(
        QueueState.ADMITTED, admitted_until_ms=T0 + 5100
    )
    assert await queue_order(room, everyone, T0 + 200) == everyone[3:]
    summary = await room.summary(EV)
    assert (summary.waiting, summary.shopping, summary.admitted_total) == (7, 3, 3)


async def test_admission_takes_at_most_limit_per_call(room: WaitingRoomStore) -> None:
    everyone = users(10)
    await open_room_with(room, everyone)
    first = await room.admit(EV, T0 + 100, max_shoppers=10, shopper_ms=5000, limit=4)
    second = await room.admit(EV, T0 + 200, max_shoppers=10, shopper_ms=5000, limit=4)
    assert [a.user_id for a in first + second] == everyone[:8]
    assert {a.admitted_until_ms for a in second} == {T0 + 5200}
    summary = await room.summary(EV)
    assert (summary.admitted_total, summary.first_admitted_at_ms) == (8, T0 + 100)
    assert summary.last_admitted_at_ms == T0 + 200
    assert summary.admission_rate() == 8 * 1000 / 100


async def test_admission_times_never_go_backwards_across_admitters(room: WaitingRoomStore) -> None:
    """Each app process's admitter reads its clock when its tick begins, then reaps and
    abandons before it admits; a tick that began earlier can admit later. Whoever is
    admitted later in queue order is never given an earlier admission time (the queue's
    order is its admission times' order: `make bench onsale` counted one step back)."""
    everyone = users(4)
    await open_room_with(room, everyone)
    first = await room.admit(EV, T0 + 200, max_shoppers=10, shopper_ms=5000, limit=2)
    late = await room.admit(EV, T0 + 150, max_shoppers=10, shopper_ms=5000, limit=2)
    assert [a.user_id for a in first + late] == everyone
    assert {a.admitted_until_ms for a in late} == {T0 + 5200}  # not T0 + 5150
    assert (await room.summary(EV)).last_admitted_at_ms == T0 + 200
    assert await room.status(EV, everyone[3], T0 + 300) == QueueStatus(
        QueueState.ADMITTED, admitted_until_ms=T0 + 5200
    )


async def test_concurrent_admitters_never_exceed_max_shoppers(rooms: Rooms) -> None:
    everyone = users(100)
    await open_room_with(rooms.store, everyone)

    async def wave(now_ms: int) -> list[Admission]:
        calls = [
            (rooms.store if i % 2 else rooms.other).admit(EV, now_ms, 7, 60_000, 3)
            for i in range(40)
        ]
        return list(itertools.chain.from_iterable(await asyncio.gather(*calls)))

    first = await wave(T0 + 1000)
    assert [a.user_id for a in sorted(first, key=lambda a: a.user_id)] == everyone[:7]
    assert (await rooms.other.summary(EV)).shopping == 7
    for user_id in everyone[:2]:
        assert await rooms.store.finish(EV, user_id) is True
    second = await wave(T0 + 2000)
    assert sorted(a.user_id for a in second) == everyone[7:9]
    summary = await rooms.store.summary(EV)
    assert (summary.shopping, summary.admitted_total, summary.waiting) == (7, 9, 91)


async def test_an_ended_window_reads_expired_and_reaping_frees_the_slot(
    room: WaitingRoomStore,
) -> None:
    await open_room_with(room, ["a", "b", "c", "d"])
    await room.admit(EV, T0 + 10, max_shoppers=2, shopper_ms=1000, limit=10)
    until = T0 + 1010
    assert (await room.status(EV, "a", until - 1)).state is QueueState.ADMITTED
    assert await room.status(EV, "a", until) == QueueStatus(
        QueueState.EXPIRED, admitted_until_ms=until
    )
    # Not reaped yet: the slot is still taken, so nobody else gets in...
    assert await room.admit(EV, until, 2, 1000, 10) == []
    assert await room.expire_shoppers(EV, until - 1) == []
    # ...until the reaper reports both (so their holds can be released) and frees them.
    assert await room.expire_shoppers(EV, until) == ["a", "b"]
    assert await room.expire_shoppers(EV, until) == []
    assert await room.status(EV, "a", until + 1) == QueueStatus(QueueState.EXPIRED)
    assert [a.user_id for a in await room.admit(EV, until + 1, 2, 1000, 10)] == ["c", "d"]
    assert (await room.summary(EV)).shopping == 2


async def test_coming_back_after_expiry_goes_to_the_back(room: WaitingRoomStore) -> None:
    await open_room_with(room, ["a", "b"])
    await room.admit(EV, T0 + 10, 1, 1000, 1)
    await room.expire_shoppers(EV, T0 + 2000)
    assert await room.join(EV, "a", T0 + 2001, None) == QueueStatus(
        QueueState.WAITING, position=2, ahead=1
    )


async def test_finishing_frees_a_slot_and_lets_the_next_one_in(room: WaitingRoomStore) -> None:
    await open_room_with(room, ["a", "b", "c"])
    assert [a.user_id for a in await room.admit(EV, T0 + 10, 1, 60_000, 5)] == ["a"]
    assert await room.admit(EV, T0 + 11, 1, 60_000, 5) == []
    assert await room.finish(EV, "b") is False  # a waiter has no slot to free
    assert await room.finish(EV, "a") is True
    assert await room.finish(EV, "a") is False
    assert await room.status(EV, "a", T0 + 12) == QueueStatus(QueueState.LEFT)
    assert await room.admit(EV, T0 + 13, 1, 60_000, 5) == [Admission("b", T0 + 60_013)]
    assert await queue_order(room, ["a", "b", "c"], T0 + 14) == ["c"]


# Rule 5: abandonment.


async def test_abandon_drops_those_not_seen_for_longer_than_the_grace(
    room: WaitingRoomStore,
) -> None:
    await open_room_with(room, ["a", "b", "c", "d"])  # seen at T0 .. T0 + 3
    await room.admit(EV, T0 + 10, max_shoppers=2, shopper_ms=60_000, limit=2)  # a, b
    assert await room.touch(EV, "a", T0 + 5000) is True
    assert await room.touch(EV, "d", T0 + 5000) is True
    # Cut-off T0 + 11: b, seen when admitted at T0 + 10, and c, seen at T0 + 2, are gone
    # longer than the grace; a and d were touched.
    gone = await room.abandon(EV, T0 + 3011, grace_ms=3000)
    assert (gone.shoppers, gone.waiters) == (["b"], ["c"])
    for user_id in ["b", "c"]:
        assert await room.status(EV, user_id, T0 + 3012) == QueueStatus(QueueState.LEFT)
        assert await room.touch(EV, user_id, T0 + 3012) is False
    gone = await room.abandon(EV, T0 + 3011, grace_ms=3000)
    assert (gone.shoppers, gone.waiters) == ([], [])
    summary = await room.summary(EV)
    assert (summary.waiting, summary.shopping) == (1, 1)


async def test_a_new_shopper_gets_the_whole_grace_to_show_up(room: WaitingRoomStore) -> None:
    await room.join(EV, "a", T0, None)  # last seen waiting at T0
    await room.admit(EV, T0 + 2900, max_shoppers=1, shopper_ms=60_000, limit=1)
    gone = await room.abandon(EV, T0 + 3100, grace_ms=3000)  # past T0's grace
    assert (gone.shoppers, gone.waiters) == ([], [])
    gone = await room.abandon(EV, T0 + 5901, grace_ms=3000)  # past the admission's
    assert gone.shoppers == ["a"]


async def test_seen_exactly_at_the_grace_is_not_abandoned(room: WaitingRoomStore) -> None:
    await room.join(EV, "a", T0, None)
    gone = await room.abandon(EV, T0 + 3000, grace_ms=3000)
    assert (gone.shoppers, gone.waiters) == ([], [])
    gone = await room.abandon(EV, T0 + 3001, grace_ms=3000)
    assert gone.waiters == ["a"]


async def test_a_late_heartbeat_never_moves_seen_backwards(room: WaitingRoomStore) -> None:
    await room.join(EV, "a", T0, None)
    await room.touch(EV, "a", T0 + 5000)
    await room.touch(EV, "a", T0 + 1000)  # another process, its clock a little behind
    assert (await room.abandon(EV, T0 + 7000, grace_ms=3000)).waiters == []


async def test_present_touches_those_with_a_place_and_reads_everyone(
    room: WaitingRoomStore,
) -> None:
    await open_room_with(room, ["a", "b", "c"])  # seen at T0 .. T0 + 2
    await room.admit(EV, T0 + 10, max_shoppers=1, shopper_ms=60_000, limit=1)  # a
    statuses = await room.present(EV, ["c", "nobody", "a"], T0 + 5000)
    assert statuses == [
        QueueStatus(QueueState.WAITING, position=2, ahead=1),
        QueueStatus(QueueState.NONE),
        QueueStatus(QueueState.ADMITTED, admitted_until_ms=T0 + 60_010),
    ]
    # a and c were seen at T0 + 5000, b was not: only b is gone past the grace.
    gone = await room.abandon(EV, T0 + 4000, grace_ms=3000)
    assert (gone.shoppers, gone.waiters) == ([], ["b"])
    assert await room.status(EV, "nobody", T0 + 5000) == QueueStatus(QueueState.NONE)
    assert await room.present(EV, [], T0) == []


async def test_present_answers_a_large_room_in_order(room: WaitingRoomStore) -> None:
    crowd = users(1200)  # more than one Redis call's chunk
    await room.join(EV, "first", T0, None)
    for i, user_id in enumerate(crowd):
        await room.join(EV, user_id, T0 + 1 + i, None)
    statuses = await room.present(EV, crowd, T0 + 2000)
    assert [s.position for s in statuses] == list(range(2, 1202))


async def test_touch_without_a_place_records_nothing(room: WaitingRoomStore) -> None:
    assert await room.touch(EV, "nobody", T0) is False
    await room.join(EV, "a", T0, None)
    assert await room.touch(EV, "nobody", T0) is False
    assert await room.status(EV, "nobody", T0) == QueueStatus(QueueState.NONE)


# Rule 6: counters; per-event rooms.


async def test_rooms_are_per_event(room: WaitingRoomStore) -> None:
    await room.join("ev-a", "u", T0, None)
    assert (await room.join("ev-b", "u", T0, SALE)).position is None
    assert (await room.status("ev-a", "u", T0)).position == 1
    await room.admit("ev-a", T0, 1, 1000, 1)
    assert (await room.summary("ev-b")).shopping == 0


async def test_clear_forgets_the_room(room: WaitingRoomStore) -> None:
    await open_room_with(room, ["a", "b"])
    await room.admit(EV, T0 + 10, 1, 1000, 1)
    await room.clear(EV)
    assert await room.status(EV, "a", T0 + 20) == QueueStatus(QueueState.NONE)
    assert await room.summary(EV) == RoomSummary()


# Rule 7: an empty or lost room is sane; an app process restart keeps the room.


async def test_every_call_on_a_room_nobody_joined_is_sane(room: WaitingRoomStore) -> None:
    assert await room.status(EV, "a", T0) == QueueStatus(QueueState.NONE)
    assert await room.admit(EV, T0, 10, 1000, 10) == []
    assert await room.expire_shoppers(EV, T0) == []
    gone = await room.abandon(EV, T0, 0)
    assert (gone.shoppers, gone.waiters) == ([], [])
    assert await room.touch(EV, "a", T0) is False
    assert await room.leave(EV, "a") is False
    assert await room.finish(EV, "a") is False
    assert await room.summary(EV) == RoomSummary()
    assert RoomSummary().admission_rate() is None
    await room.clear(EV)
    await room.ping()


# Rule 6: a store that lost its rooms gets them back from a dump.


async def prequeue_then_open(room: WaitingRoomStore, crowd: list[str]) -> list[str]:
    """`crowd` joins before the sale, the room opens, two go in: the queue order."""
    for i, user_id in enumerate(crowd):
        await room.join(EV, user_id, T0 + i, SALE)
    await room.admit(EV, SALE, max_shoppers=2, shopper_ms=60_000, limit=2)
    await room.join(EV, "late", SALE + 5, SALE)  # first come, first served
    return await queue_order(room, [*crowd, "late"], SALE + 10)


async def test_a_dump_restores_every_place_window_and_counter(room: WaitingRoomStore) -> None:
    crowd = users(12)
    order = await prequeue_then_open(room, crowd)
    before = await room.summary(EV)
    dump = await room.dump(EV)
    assert dump is not None and dump.born == before.born
    assert (len(dump.queue), len(dump.shop)) == (11, 2)
    shoppers = sorted(u for u, _ in dump.shop)

    await room.clear(EV)  # what a Redis restart without persistence leaves
    assert await room.summary(EV) == RoomSummary()
    assert await room.dump(EV) is None
    assert await room.restore(EV, dump, SALE + 20) is True

    assert await queue_order(room, [*crowd, "late"], SALE + 30) == order
    for user_id in shoppers:
        assert await room.status(EV, user_id, SALE + 30) == QueueStatus(
            QueueState.ADMITTED, admitted_until_ms=SALE + 60_000
        )
    after = await room.summary(EV)
    assert after == before
    # The restored count as seen at the restore: nobody is abandoned for the outage.
    gone = await room.abandon(EV, SALE + 20 + 3000, grace_ms=3000)
    assert (gone.shoppers, gone.waiters) == ([], [])
    # And the room goes on: the next in line is admitted, later joiners go to the back.
    assert await room.admit(EV, SALE + 40, 3, 60_000, 1) == [Admission(order[0], SALE + 60_040)]
    await room.join(EV, "later", SALE + 50, SALE)
    assert (await queue_order(room, [*order, "later"], SALE + 60))[-2:] == ["late", "later"]


async def test_a_restore_merges_with_what_happened_since_the_loss(room: WaitingRoomStore) -> None:
    crowd = users(6)
    order = await prequeue_then_open(room, crowd)
    dump = await room.dump(EV)
    assert dump is not None
    await room.clear(EV)
    # Since the loss: a stranger joined, and someone with a place joined again.
    await room.join(EV, "stranger", SALE + 100, SALE)
    await room.join(EV, order[2], SALE + 101, SALE)
    assert (await room.status(EV, order[2], SALE + 102)).position == 2
    assert await room.restore(EV, dump, SALE + 200) is True
    # The restored places first, in their order (order[2] keeps its own), then the
    # stranger: nobody who waited before the loss is overtaken.
    assert await queue_order(room, [*order, "stranger"], SALE + 300) == [*order, "stranger"]


async def test_a_restore_happens_once_and_never_over_a_live_room(room: WaitingRoomStore) -> None:
    crowd = users(4)
    order = await prequeue_then_open(room, crowd)
    dump = await room.dump(EV)
    assert dump is not None
    assert await room.restore(EV, dump, SALE + 20) is False  # nothing was lost
    await room.clear(EV)
    await room.join(EV, "stranger", SALE + 100, SALE)
    assert (await room.summary(EV)).born != dump.born  # a new state of the store
    assert await room.restore(EV, dump, SALE + 200) is True
    await room.leave(EV, order[0])
    assert await room.restore(EV, dump, SALE + 300) is False  # another process was first
    assert await queue_order(room, [*order, "stranger"], SALE + 400) == [*order[1:], "stranger"]


async def test_a_task_is_claimed_by_one_process_per_interval(rooms: Rooms) -> None:
    store, other = rooms.store, rooms.other
    assert await store.claim(EV, "copy", T0, 5_000) is True
    assert await other.claim(EV, "copy", T0 + 1, 5_000) is False  # the other process
    assert await store.claim(EV, "copy", T0 + 4_999, 5_000) is False  # and itself
    assert await other.claim("ev2", "copy", T0 + 1, 5_000) is True  # per room
    assert await other.claim(EV, "other task", T0 + 1, 5_000) is True  # and per task
    assert await other.claim(EV, "copy", T0 + 5_000, 5_000) is True  # the next interval
    assert await store.claim(EV, "copy", T0 + 9_999, 5_000) is False
    assert await store.claim(EV, "copy", T0 + 20_000, 5_000) is True  # after a gap


async def test_a_dump_survives_its_json_form(room: WaitingRoomStore) -> None:
    await prequeue_then_open(room, users(5))
    dump = await room.dump(EV)
    assert dump is not None
    assert RoomDump.from_json(json.loads(json.dumps(dump.as_json()))) == dump


async def test_the_copys_text_is_the_dump_in_its_json_form(room: WaitingRoomStore) -> None:
    assert await room.dump_json("ev2") is None  # nobody has joined
    await room.join("ev2", "first", T0, SALE)  # not open yet: no opening, no shoppers
    early, first = await room.dump("ev2"), await room.dump_json("ev2")
    assert early is not None and first is not None and first[0] == early.born
    assert json.loads(first[1]) == early.as_json()
    # Every field filled: the pre-queue's draw, an opening, shoppers, a late joiner, and
    # an account whose id JSON must escape.
    await prequeue_then_open(room, [*users(30), 'q"uote\\'])
    dump, dumped = await room.dump(EV), await room.dump_json(EV)
    assert dump is not None and dumped is not None and dumped[0] == dump.born
    assert json.loads(dumped[1]) == dump.as_json()
    assert RoomDump.from_json(json.loads(dumped[1])) == dump


async def test_a_new_app_process_sees_the_same_room() -> None:
    require_services()
    prefix = unique_name("botestwr")
    first = RedisWaitingRoomStore(REDIS_URL, prefix)
    await first.on_startup()
    try:
        for i, user_id in enumerate(users(20)):
            await first.join(EV, user_id, T0 + i, SALE)
        order = await queue_order(first, users(20), SALE)
        await first.admit(EV, SALE, 2, 60_000, 2)
    finally:
        await first.on_shutdown()
    restarted = RedisWaitingRoomStore(REDIS_URL, prefix)
    await restarted.on_startup()
    try:
        assert await queue_order(restarted, users(20), SALE + 1) == order[2:]
        assert (await restarted.status(EV, order[0], SALE + 1)).state is QueueState.ADMITTED
    finally:
        await restarted.on_shutdown()
        await flush_redis_prefix(prefix)


async def test_after_a_redis_restart_the_dump_brings_the_room_back(tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        store = RedisWaitingRoomStore(server.url, "bo")
        await store.on_startup()
        try:
            await open_room_with(store, ["a", "b", "c"])
            await store.admit(EV, T0 + 10, 1, 60_000, 1)
            dump = await store.dump(EV)
            assert dump is not None
            server.stop()
            server.start()  # no persistence: every key is gone
            assert await store.status(EV, "a", T0 + 20) == QueueStatus(QueueState.NONE)
            assert await store.summary(EV) == RoomSummary()
            assert await store.admit(EV, T0 + 20, 1, 60_000, 1) == []
            assert await store.restore(EV, dump, T0 + 30) is True
            assert (await store.status(EV, "a", T0 + 40)).state is QueueState.ADMITTED
            assert (await store.status(EV, "c", T0 + 40)).position == 2
        finally:
            await store.on_shutdown()


# The stores themselves.


async def test_use_before_startup_is_a_clear_error() -> None:
    with pytest.raises(WaitingRoomNotStarted):
        await MemoryWaitingRoomStore().status(EV, "a", T0)
    with pytest.raises(WaitingRoomNotStarted):
        await RedisWaitingRoomStore("redis://127.0.0.1:1").status(EV, "a", T0)


def test_redis_keys_carry_the_event_hash_tag() -> None:
    assert room_keys("bo", "e1") == [
        "bo:{e1}:wr:meta",
        "bo:{e1}:wr:queue",
        "bo:{e1}:wr:shop",
        "bo:{e1}:wr:seen",
        "bo:{e1}:wr:gone",
    ]
