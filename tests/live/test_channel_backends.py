"""One suite for every seat-change channel (in-process and Redis pub/sub).

The backend-specific tests at the end cover what only one backend can do: the Redis
channel losing its subscription when Redis restarts, the in-process one overflowing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.live.channel import (
    RESYNC,
    ChannelNotStarted,
    MemorySeatChannel,
    RedisSeatChannel,
    SeatChannel,
)
from tests.support.redis_server import private_redis
from tests.support.services import REDIS_URL, require_services, unique_name
from tests.support.waiting import eventually

# How long a wait may take before it counts as a failure (never how long a passing test
# waits). 5 s was once too short: in a fresh-clone CI run, with the chaos and browser tests
# keeping the host's load near 16 on two cores, one of the 20 pub/sub messages of
# test_each_event_keeps_its_order took longer than that, with no subscription loss logged,
# and the test passed 5 times of 5 alone right after. A message that is really lost still
# fails the test, 15 s later.
DEADLINE = 15.0


async def answers(channel: SeatChannel) -> bool:
    """True once `ping` succeeds; raises what `ping` raises."""
    await channel.ping()
    return True


async def is_down(channel: SeatChannel) -> bool:
    """Whether `ping` says Redis (or the subscription) is gone."""
    try:
        await channel.ping()
    except RedisConnectionError:
        return True
    return False


class Reader:
    """Runs `channel.messages()` in a task and queues what it yields."""

    def __init__(self, channel: SeatChannel) -> None:
        self.channel = channel
        self.received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())
        self.ended = asyncio.Event()

    async def _run(self) -> None:
        try:
            async for item in self.channel.messages():
                await self.received.put(item)
        finally:
            self.ended.set()

    async def ready(self) -> None:
        """Wait until the channel delivers (the Redis one has subscribed)."""
        await eventually(
            lambda: answers(self.channel),
            what="the channel to answer a ping (subscribed)",
            timeout=DEADLINE,
            ignoring=(RedisConnectionError,),
        )

    async def next(self, timeout: float = DEADLINE) -> tuple[str, bytes]:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def next_message(self, timeout: float = DEADLINE) -> tuple[str, bytes]:
        """The next real message, skipping RESYNC markers."""
        async with asyncio.timeout(timeout):
            while True:
                item = await self.received.get()
                if item[0] != RESYNC:
                    return item

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture(params=["memory", "redis"])
async def channel(request: pytest.FixtureRequest) -> AsyncIterator[SeatChannel]:
    if request.param == "memory":
        backend: SeatChannel = MemorySeatChannel()
    else:
        require_services()
        backend = RedisSeatChannel(REDIS_URL, unique_name("botestlive"))
    await backend.on_startup()
    try:
        yield backend
    finally:
        await backend.on_shutdown()


@pytest.fixture
async def reader(channel: SeatChannel) -> AsyncIterator[Reader]:
    reading = Reader(channel)
    await reading.ready()
    try:
        yield reading
    finally:
        await reading.stop()


async def test_published_bytes_arrive_with_their_event(
    channel: SeatChannel, reader: Reader
) -> None:
    data = b'{"changes":[{"id":"s1","version":2}]}\x00\xff'
    await channel.publish("event-1", data)
    assert await reader.next_message() == ("event-1", data)


async def test_each_event_keeps_its_order(channel: SeatChannel, reader: Reader) -> None:
    for n in range(20):
        await channel.publish(f"event-{n % 2}", str(n).encode())
    got = [await reader.next_message() for _ in range(20)]
    for event in ("event-0", "event-1"):
        numbers = [int(data) for event_id, data in got if event_id == event]
        assert numbers == sorted(numbers) and len(numbers) == 10


async def test_event_ids_with_pattern_characters_are_kept_whole(
    channel: SeatChannel, reader: Reader
) -> None:
    # Event ids are UUIDs, but the channel must not care: `*` or `:` stay inside the id.
    await channel.publish("a:b*c", b"x")
    assert await reader.next_message() == ("a:b*c", b"x")


async def test_ping_answers_once_started(channel: SeatChannel, reader: Reader) -> None:
    await channel.ping()


async def test_shutdown_ends_the_reader(channel: SeatChannel, reader: Reader) -> None:
    await channel.on_shutdown()
    await asyncio.wait_for(reader.ended.wait(), DEADLINE)


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_use_before_startup_is_a_clear_error(backend: str) -> None:
    channel: SeatChannel = (
        MemorySeatChannel() if backend == "memory" else RedisSeatChannel(REDIS_URL, "bo")
    )
    with pytest.raises(ChannelNotStarted, match="before on_startup"):
        await channel.publish("e", b"x")
    with pytest.raises(ChannelNotStarted):
        await channel.ping()
    with pytest.raises(ChannelNotStarted):
        await anext(aiter(channel.messages()))


# ------------------------------------------------------------- memory only


async def test_memory_channel_overflow_becomes_one_resync() -> None:
    channel = MemorySeatChannel(max_queue=4)
    await channel.on_startup()
    for n in range(10):
        await channel.publish("e", str(n).encode())
    reader = Reader(channel)
    try:
        # Each time the reader fell 4 behind, the backlog was dropped for one RESYNC;
        # what came after the last one is still delivered.
        assert [await reader.next() for _ in range(2)] == [(RESYNC, b""), ("e", b"9")]
        await channel.publish("e", b"10")
        assert await reader.next() == ("e", b"10")
    finally:
        await reader.stop()
        await channel.on_shutdown()


# -------------------------------------------------------------- redis only


@pytest.fixture
def redis_tmp(tmp_path: Path) -> Path:
    require_services()
    return tmp_path


async def test_redis_restart_yields_resync_then_messages_flow_again(redis_tmp: Path) -> None:
    with private_redis(redis_tmp) as redis:
        channel = RedisSeatChannel(redis.url, "bo")
        await channel.on_startup()
        reader = Reader(channel)
        try:
            await reader.ready()
            assert await reader.next() == (RESYNC, b"")  # the first subscription's
            redis.stop()
            # While Redis is down, the channel says so (and /ready with it).
            await eventually(
                lambda: is_down(channel), what="ping to report Redis down", timeout=DEADLINE
            )
            with pytest.raises(RedisConnectionError):
                await channel.publish("e", b"lost")
            redis.start()
            # Subscribed again: RESYNC first (messages were lost), then normal delivery.
            assert await reader.next() == (RESYNC, b"")
            await reader.ready()
            await channel.publish("e", b"after")
            assert await reader.next() == ("e", b"after")
        finally:
            await reader.stop()
            await channel.on_shutdown()


async def test_redis_quick_restart_is_not_papered_over(redis_tmp: Path) -> None:
    # redis-py reconnects and resubscribes a pub/sub connection by itself; when Redis is
    # back before the channel notices, the gap must still be reported as a RESYNC.
    with private_redis(redis_tmp) as redis:
        channel = RedisSeatChannel(redis.url, "bo")
        await channel.on_startup()
        reader = Reader(channel)
        try:
            await reader.ready()
            assert await reader.next() == (RESYNC, b"")  # the first subscription's
            redis.stop()
            redis.start()
            assert await reader.next() == (RESYNC, b"")
            await channel.publish("e", b"after")
            assert await reader.next_message() == ("e", b"after")
        finally:
            await reader.stop()
            await channel.on_shutdown()


async def test_redis_first_subscription_resyncs_sockets_accepted_before_it(
    redis_tmp: Path,
) -> None:
    # A process that has just (re)started may accept websockets before its pattern
    # subscription is up; their snapshots were read before it could hear changes. The
    # RESYNC after the first subscription gives them fresh ones (a kill -9 chaos run
    # once left a watcher missing a cancellation made in that gap).
    with private_redis(redis_tmp) as redis:
        channel = RedisSeatChannel(redis.url, "bo")
        await channel.on_startup()
        reader = Reader(channel)
        try:
            assert await reader.next() == (RESYNC, b"")
            await reader.ready()
            await channel.publish("e", b"first")
            assert await reader.next() == ("e", b"first")  # and just one RESYNC
        finally:
            await reader.stop()
            await channel.on_shutdown()


async def test_redis_channel_starts_while_redis_is_down_and_resyncs_when_it_comes(
    redis_tmp: Path,
) -> None:
    with private_redis(redis_tmp) as redis:
        redis.stop()
        channel = RedisSeatChannel(redis.url, "bo")
        await channel.on_startup()
        reader = Reader(channel)
        try:
            with pytest.raises(RedisConnectionError):
                await channel.ping()
            redis.start()
            # Watchers that connected meanwhile read their snapshot without a channel.
            assert await reader.next() == (RESYNC, b"")
            await reader.ready()
        finally:
            await reader.stop()
            await channel.on_shutdown()


async def test_the_redis_subscription_counts_once_redis_has_confirmed_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PSUBSCRIBE only sends the command: until Redis confirms it, a message published
    (even after the PSUBSCRIBE was written, by another connection) may be dropped. The
    channel answers its ping, and resyncs its watchers, only once the confirmation has
    been read: before, a loaded host lost this suite's first message now and then."""
    require_services()
    confirmed = asyncio.Event()
    sent = asyncio.Event()
    real_parse, real_psubscribe = PubSub.parse_response, PubSub.psubscribe

    async def held(self: PubSub, *args: Any, **kwargs: Any) -> Any:
        await confirmed.wait()
        return await real_parse(self, *args, **kwargs)

    async def psubscribe(self: PubSub, *args: Any, **kwargs: Any) -> Any:
        result = await real_psubscribe(self, *args, **kwargs)
        sent.set()
        return result

    monkeypatch.setattr(PubSub, "parse_response", held)
    monkeypatch.setattr(PubSub, "psubscribe", psubscribe)
    channel = RedisSeatChannel(REDIS_URL, unique_name("botestlive"))
    await channel.on_startup()
    reader = Reader(channel)
    try:
        await asyncio.wait_for(sent.wait(), DEADLINE)
        for _ in range(5):
            await asyncio.sleep(0)  # a few turns of the loop: nothing more is sent
        assert not channel.connected
        assert await is_down(channel)
        confirmed.set()
        await reader.ready()
        await channel.publish("event-1", b"first")
        assert await reader.next_message() == ("event-1", b"first")
    finally:
        await reader.stop()
        await channel.on_shutdown()
