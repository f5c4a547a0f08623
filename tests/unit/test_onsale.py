"""The waiting room's small parts: the sale-settings cache, the latency window, the rate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from backend.booking.latency import LatencyWindow
from backend.booking.onsale import SaleConfigs
from backend.booking.queue import RateMeter
from backend.errors import NotFound
from backend.storage import Storage

EVENT = "6f1c2a4e-0000-4000-8000-000000000001"


class FakeEvents:
    """`storage.events.get`, counting its reads; each read waits for `release`."""

    def __init__(self) -> None:
        self.reads = 0
        self.release = asyncio.Event()
        self.release.set()
        self.row: dict[str, Any] | None = {
            "id": EVENT,
            "organiser": "o",
            "on_sale_at": datetime(2030, 1, 2, 19, tzinfo=UTC),
            "waiting_room": 1,  # as SQLite might hand it back
            "max_shoppers": 5,
            "shopper_seconds": 60,
        }

    async def get(self, event_id: str) -> dict[str, Any] | None:
        self.reads += 1
        await self.release.wait()
        return self.row


class FakeStorage:
    def __init__(self) -> None:
        self.events = FakeEvents()


def configs(clock: list[float]) -> tuple[SaleConfigs, FakeEvents]:
    storage = FakeStorage()
    return SaleConfigs(cast(Storage, storage), ttl=1.0, clock=lambda: clock[0]), storage.events


async def test_sale_settings_are_read_once_a_second_and_misses_share_one_read() -> None:
    clock = [100.0]
    cache, events = configs(clock)
    events.release.clear()
    waiters = [asyncio.ensure_future(cache.get(EVENT)) for _ in range(10)]
    await asyncio.sleep(0)  # let them all miss
    events.release.set()
    got = await asyncio.gather(*waiters)
    assert events.reads == 1 and {c.on_sale_at_ms for c in got} == {1_893_610_800_000}
    assert got[0].room is True and got[0].shopper_ms == 60_000
    clock[0] += 0.5
    await cache.get(EVENT)
    assert events.reads == 1
    clock[0] += 0.6
    await cache.get(EVENT)
    assert events.reads == 2
    cache.forget(EVENT)
    await cache.get(EVENT)
    assert events.reads == 3


async def test_an_unknown_event_is_not_found_and_not_remembered() -> None:
    cache, events = configs([0.0])
    events.row = None
    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.get(EVENT)
    assert events.reads == 2


def test_the_latency_window_forgets_old_samples() -> None:
    clock = [0.0]
    window = LatencyWindow(size=200, max_age=10.0, clock=lambda: clock[0])
    assert window.p99_ms() is None
    for _ in range(99):
        window.add(0.010)
    window.add(2.0)
    assert window.p99_ms() == pytest.approx(10.0)  # one slow request in 100 is the 1%
    window.add(2.0)
    assert window.p99_ms() == pytest.approx(2000.0)
    clock[0] = 10.5
    assert window.p99_ms() is None


def test_the_latency_window_answers_for_its_last_second_alone() -> None:
    """The admitter judges each second on that second's requests: slow ones from
    before it (a burst the window has already answered) no longer count."""
    clock = [0.0]
    window = LatencyWindow(size=200, max_age=3.0, clock=lambda: clock[0])
    for _ in range(5):
        window.add(2.0)
    clock[0] = 1.5
    assert window.p99_ms() == pytest.approx(2000.0)  # the 3 s window still has them
    assert window.p99_ms(1.0) is None  # nothing in the last second
    window.add(0.05)
    assert window.p99_ms(1.0) == pytest.approx(50.0)
    assert window.p99_ms() == pytest.approx(2000.0)


def test_the_rate_is_measured_after_the_opening_burst() -> None:
    meter = RateMeter()
    meter.observe(0, 0)  # nobody admitted yet: no baseline
    meter.observe(1_000, 200)  # the opening fills every slot at once
    meter.observe(3_000, 202)
    assert meter.rate() is None  # under five seconds seen
    meter.observe(11_000, 210)
    assert meter.rate() == pytest.approx(1.0)  # 10 in 10 s, the burst left out
    # The admitter samples every tick: three quiet minutes, then five admissions in 5 s.
    for second in range(12, 200):
        meter.observe(second * 1000, 210)
    for n in range(1, 6):
        meter.observe((200 + n) * 1000, 210 + n)
    assert meter.rate() == pytest.approx(5 / 60)  # the last minute's, not the first's
