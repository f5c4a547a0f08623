"""The event loop's lag: measured by a probe, added to the booking path's p99 by the
waiting room's admitter, and given way to by the live queue feed's rounds (issue 12:
at an opening the shoppers' holds waited behind the room's news, not in the booking
path). Unit level: no database, no sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.booking.admission import Admitter
from backend.booking.latency import LatencyWindow
from backend.booking.looplag import LoopLag
from backend.booking.queue import QueueState, QueueView, RoomView
from backend.live.channel import MemorySeatChannel
from backend.live.hub import LiveHub
from backend.live.queuefeed import SLICE_ACCOUNTS, QueueFeed

EVENT = "11111111-1111-1111-1111-111111111111"


async def test_the_probe_sees_the_loop_blocked() -> None:
    heard: asyncio.Queue[float] = asyncio.Queue()
    probe = LoopLag(interval=0.01, observe=heard.put_nowait)
    await probe.on_startup()
    try:
        await asyncio.wait_for(heard.get(), 5)  # probing, from its second round on
        time.sleep(0.2)  # the loop is blocked: whatever became ready waits
        lags = [await asyncio.wait_for(heard.get(), 5)]
        while not heard.empty():
            lags.append(heard.get_nowait())
    finally:
        await probe.on_shutdown()
    assert max(lags) >= 0.15, lags
    assert probe.p99_ms() >= 150


class Rooms:
    """The waiting rooms as the feed reads them: everyone waiting, in id order."""

    def __init__(self) -> None:
        self.presents = 0

    async def room_view(self, event_id: str) -> RoomView:
        return RoomView(5_000, 0, 100, None, None, True)

    async def present(self, event_id: str, user_ids: list[str]) -> dict[str, QueueView]:
        self.presents += 1
        return {
            u: QueueView(QueueState.WAITING, position=i + 1, ahead=i)
            for i, u in enumerate(user_ids)
        }


@pytest.fixture
async def hub() -> AsyncIterator[LiveHub]:
    channel = MemorySeatChannel()
    await channel.on_startup()
    live = LiveHub(channel, batch_ms=20, backlog=8)
    await live.on_startup()
    try:
        yield live
    finally:
        await live.on_shutdown()
        await channel.on_shutdown()


def crowd(hub: LiveHub, count: int) -> None:
    for i in range(count):
        hub.watch(EVENT, f"user-{i:05d}")


async def test_a_round_over_a_big_room_lets_a_shopper_in_between_its_slices(
    hub: LiveHub,
) -> None:
    total = 4 * SLICE_ACCOUNTS
    crowd(hub, total)
    feed = QueueFeed(hub, Rooms())  # type: ignore[arg-type]
    round_ = asyncio.create_task(feed.tick(1e9))
    await asyncio.sleep(0)  # the round starts
    # A hold that became ready now runs before the round has told everyone.
    await asyncio.sleep(0)
    told_when_the_hold_ran = feed.sent
    await round_
    assert feed.sent == 2 * total  # each a `room` and a `queue` message
    assert told_when_the_hold_ran < 2 * total
    assert feed.rested == 0  # the loop is not late: no rests


async def test_while_the_loop_is_late_a_round_rests_between_its_slices(hub: LiveHub) -> None:
    crowd(hub, 3 * SLICE_ACCOUNTS)
    lag = LoopLag()
    lag.record(0.4)  # the loop ran 400 ms late just now
    feed = QueueFeed(hub, Rooms(), loop_lag=lag)  # type: ignore[arg-type]
    await feed.tick(1e9)
    assert feed.rested > 0
    assert feed.sent == 2 * 3 * SLICE_ACCOUNTS  # everyone is told all the same


def admitter(latency: LatencyWindow, lag: LoopLag) -> Admitter:
    rooms: Any = object()
    return Admitter(rooms, rooms, latency, loop_lag=lag, interval=1.0, grace_ms=60_000, slow_ms=600)


async def test_admission_backs_off_on_the_loops_lag_too() -> None:
    """A quick booking path behind a late loop is a slow path for the buyer."""
    latency, lag = LatencyWindow(), LoopLag()
    latency.add(0.05)  # holds take 50 ms once their handler runs …
    gate = admitter(latency, lag)
    assert gate.quick() and not gate.slow()
    assert gate.window(EVENT, 400, 0, 0) == 20  # a twentieth of maxShoppers to start
    assert gate.window(EVENT, 400, 20, 1_000) == 40  # quick and in use: doubles
    lag.record(0.7)  # … but they start 700 ms late
    assert gate.slow() and not gate.quick()
    assert gate.path_p99_ms() == pytest.approx(750)
    assert gate.window(EVENT, 400, 40, 2_000) == 30  # a quarter less
