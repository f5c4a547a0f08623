"""The seat-change channel: how committed seat changes travel between app processes.

Backends deal in bytes; the hub does the encoding. The in-memory backend is the
embedded mode's channel and the reference implementation; the Redis backend uses
pub/sub with one pattern subscription per process. Redis pub/sub delivers at most once,
so when the subscription is lost and regained the backend yields `RESYNC`, and the hub
sends every socket a fresh snapshot.

(Litestar's ChannelsPlugin was the first choice; it drops a slow subscriber's backlog
silently and does not report a lost Redis subscription, and both must trigger a
snapshot here.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Final

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from backend.redisclient import DRIVER_INFO

log = logging.getLogger("boxoffice.live")

RESYNC: Final = "*resync*"  # yielded instead of an event id when messages may have been lost


class ChannelNotStarted(RuntimeError):
    """Raised when a channel is used before `on_startup`."""


class SeatChannel(ABC):
    """Publish bytes on an event's channel; receive every event's messages."""

    @abstractmethod
    async def on_startup(self) -> None:
        """Connect; called once before use."""

    @abstractmethod
    async def on_shutdown(self) -> None:
        """Disconnect and end `messages()`."""

    @abstractmethod
    async def publish(self, event_id: str, data: bytes) -> None:
        """Send `data` to every process watching `event_id`."""

    @abstractmethod
    def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        """Yield `(event_id, data)` for every published message, or `(RESYNC, b"")`.

        One reader per channel. `RESYNC` means messages may have been lost since the last
        one yielded; it comes only once the channel delivers again.
        """

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the channel cannot deliver right now."""


class MemorySeatChannel(SeatChannel):
    def __init__(self, max_queue: int = 100_000) -> None:
        self._queue: asyncio.Queue[tuple[str, bytes]] | None = None
        self._max_queue = max_queue

    async def on_startup(self) -> None:
        """Create the in-process queue."""
        self._queue = asyncio.Queue(self._max_queue)

    async def on_shutdown(self) -> None:
        """Wake the reader so it can end (what it has not read yet is dropped)."""
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(("", b""))
        self._queue = None

    def _q(self) -> asyncio.Queue[tuple[str, bytes]]:
        if self._queue is None:
            raise ChannelNotStarted("MemorySeatChannel used before on_startup()")
        return self._queue

    async def publish(self, event_id: str, data: bytes) -> None:
        """Hand the message to this process's reader."""
        queue = self._q()
        try:
            queue.put_nowait((event_id, data))
        except asyncio.QueueFull:
            # The reader is far behind: drop the backlog and resync everyone instead.
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait((RESYNC, b""))

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        """Yield messages until shutdown."""
        queue = self._q()
        while True:
            event_id, data = await queue.get()
            if not event_id:
                return
            yield event_id, data

    async def ping(self) -> None:
        """Always answers once started."""
        self._q()


class _ReconnectWatch:
    """Told by redis-py whenever the pub/sub connection (re)connects.

    redis-py reconnects and resubscribes a pub/sub connection by itself, silently, on
    the next read or health check after a drop; whatever was published in between is
    lost. Seeing the reconnect is how the channel knows it must resync.
    """

    def __init__(self) -> None:
        self.reconnected = False

    async def on_connect(self, connection: object) -> None:
        self.reconnected = True


class RedisSeatChannel(SeatChannel):
    RETRY_MIN = 0.1
    RETRY_MAX = 2.0
    # How long a silent subscription waits before redis-py pings it: a dead connection
    # is noticed within about this long, even when nothing is being published.
    HEALTH_CHECK_SECONDS = 1
    READ_TIMEOUT = 1.0
    CONFIRM_SECONDS = 5.0  # a PSUBSCRIBE unconfirmed this long: start over

    def __init__(self, url: str, prefix: str = "bo") -> None:
        self._url = url
        self._prefix = prefix
        self._redis: Redis | None = None
        self._stopping = asyncio.Event()
        self.connected = False

    def channel_name(self, event_id: str) -> str:
        # The hash tag keeps an event's channel in the same cluster slot as its locks.
        return f"{self._prefix}:{{{event_id}}}:seats"

    def _event_of(self, channel: bytes) -> str | None:
        name = channel.decode()
        head = f"{self._prefix}:{{"
        if name.startswith(head) and name.endswith("}:seats"):
            return name[len(head) : -len("}:seats")]
        return None

    async def on_startup(self) -> None:
        """Create the publishing client; `messages()` opens its own connection."""
        # One retry on a fresh connection: after a Redis restart every pooled connection
        # is dead, and a publish should not be lost to that. (A duplicate is harmless:
        # clients apply a seat's version once.)
        self._redis = Redis.from_url(
            self._url,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 1),
            driver_info=DRIVER_INFO,
        )
        self._stopping.clear()

    async def on_shutdown(self) -> None:
        """Close the client; `messages()` ends."""
        self._stopping.set()
        self.connected = False
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def _client(self) -> Redis:
        if self._redis is None:
            raise ChannelNotStarted("RedisSeatChannel used before on_startup()")
        return self._redis

    async def publish(self, event_id: str, data: bytes) -> None:
        """PUBLISH on the event's channel."""
        await self._client().publish(self.channel_name(event_id), data)

    def _subscriber(self) -> Redis:
        """A client of its own for one subscription (`messages`)."""
        return Redis.from_url(
            self._url,
            socket_connect_timeout=2,
            health_check_interval=self.HEALTH_CHECK_SECONDS,
            driver_info=DRIVER_INFO,
        )

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        """Yield messages; after any loss of the subscription, yield RESYNC once it is back."""
        self._client()
        pattern = f"{self._prefix}:{{*}}:seats"
        delay = self.RETRY_MIN
        lost = False
        # The first subscription resyncs too: a websocket accepted while it was still
        # being set up (a process that has just started or restarted) read its snapshot
        # before this process could hear changes, and one committed in that gap would
        # otherwise never reach it (seen in the kill -9 chaos run).
        first = True
        while not self._stopping.is_set():
            client = self._subscriber()
            pubsub = client.pubsub()
            watch = _ReconnectWatch()
            try:
                await pubsub.psubscribe(pattern)
                connection = pubsub.connection
                if connection is None:
                    raise RedisConnectionError("pub/sub has no connection after PSUBSCRIBE")
                connection.register_connect_callback(watch.on_connect)
                await self._confirmed(pubsub)
                self.connected = True
                delay = self.RETRY_MIN
                if lost or first:
                    # Subscribed (again): only now can a snapshot miss nothing.
                    if lost:
                        log.warning("redis subscription restored; resyncing watchers")
                    lost = first = False
                    yield RESYNC, b""
                while not self._stopping.is_set():
                    message = await pubsub.get_message(timeout=self.READ_TIMEOUT)
                    if watch.reconnected or not connection.is_connected:
                        # Do not let redis-py paper over the gap: start over, and resync.
                        raise RedisConnectionError("redis pub/sub connection was dropped")
                    if message is None or message["type"] != "pmessage":
                        continue
                    event_id = self._event_of(message["channel"])
                    if event_id is not None:
                        yield event_id, message["data"]
            except (RedisError, OSError) as exc:
                if self.connected or not lost:
                    log.warning("redis subscription lost: %s", exc)
                lost = True
                self.connected = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, self.RETRY_MAX)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def _confirmed(self, pubsub: PubSub) -> None:
        """Wait for Redis's confirmation of the PSUBSCRIBE: redis-py only sends the
        command, and a message published before Redis has run it is not delivered, so
        the subscription counts (and the watchers resync) only from the confirmation."""
        async with asyncio.timeout(self.CONFIRM_SECONDS):
            while True:
                message = await pubsub.get_message(timeout=self.READ_TIMEOUT)
                if message is not None and message["type"] == "psubscribe":
                    return

    async def ping(self) -> None:
        """Raise unless Redis answers and this process's subscription is up."""
        await self._client().ping()
        if not self.connected:
            raise RedisConnectionError("redis subscription is not established")
