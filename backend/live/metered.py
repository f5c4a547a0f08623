"""Metering wrappers for the live path: seats changed, and each message's channel lag.

They live here, not in `observability`, because they wrap the live channel and the hub;
`observability` is a lower layer that imports neither.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from backend.booking.records import ChangePublisher, SeatChange
from backend.live.channel import SeatChannel
from backend.observability.metrics import Metrics


class MeteredPublisher:
    """Counts committed seat changes on their way to the live channel."""

    def __init__(self, inner: ChangePublisher, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def publish(self, event_id: str, changes: list[SeatChange]) -> None:
        for change in changes:
            # The seat status values, as stored and published.
            if change.status == "booked":
                self.metrics.seats_booked.inc()
            elif change.status == "held":
                self.metrics.seats_held.inc()
            else:
                self.metrics.seats_freed.inc()
        await self.inner.publish(event_id, changes)


class _Stamp(msgspec.Struct):
    at: int = 0


_stamp = msgspec.json.Decoder(_Stamp)


class MeteredChannel(SeatChannel):
    """A seat channel that measures each message's lag from publish to arrival."""

    def __init__(self, inner: SeatChannel, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def on_startup(self) -> None:
        """Start the wrapped channel."""
        await self.inner.on_startup()

    async def on_shutdown(self) -> None:
        """Stop the wrapped channel."""
        await self.inner.on_shutdown()

    async def publish(self, event_id: str, data: bytes) -> None:
        """Publish through the wrapped channel."""
        await self.inner.publish(event_id, data)

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        """The wrapped channel's messages, timing each stamped one."""
        async for event_id, data in self.inner.messages():
            if data[:1] == b"{":
                try:
                    at = _stamp.decode(data).at
                except msgspec.DecodeError:
                    at = 0
                if at:
                    self.metrics.channel_lag.observe(max(0.0, time.time() - at / 1000))
            yield event_id, data

    async def ping(self) -> None:
        """Ping the wrapped channel."""
        await self.inner.ping()
