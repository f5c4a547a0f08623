"""The served process's garbage collector (backend/observability/collector.py): what
start-up made is frozen, the thresholds raised, and every pause measured. Unit level:
this process's own collector, put back as it was after each test."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from backend.booking.gcgate import HELD_OFF_THRESHOLD, FullCollectionGate
from backend.observability.collector import (
    FULL_THRESHOLD,
    MIDDLE_THRESHOLD,
    PauseMeter,
    tune_collector,
    untune_collector,
)
from backend.observability.metrics import Metrics
from tests.support.waiting import eventually


@pytest.fixture
def collector() -> Iterator[list[PauseMeter | None]]:
    before = gc.get_threshold()
    installed: list[PauseMeter | None] = []
    try:
        yield installed
    finally:
        for meter in installed:
            untune_collector(meter)
        gc.set_threshold(*before)


def test_tuning_freezes_what_exists_and_raises_the_thresholds(
    collector: list[PauseMeter | None],
) -> None:
    kept = [[] for _ in range(3)]  # tracked containers, alive through the freeze
    assert gc.get_freeze_count() == 0
    collector.append(tune_collector(10_000))
    assert gc.get_threshold() == (10_000, MIDDLE_THRESHOLD, FULL_THRESHOLD)
    # Frozen: in the permanent generation, so no collection scans them any more.
    assert gc.get_freeze_count() > 0
    assert not any(any(o is k for k in kept) for o in gc.get_objects())


def test_zero_leaves_cpythons_collector_alone(collector: list[PauseMeter | None]) -> None:
    gc.set_threshold(700, 10, 10)
    collector.append(tune_collector(0))
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_every_collection_is_measured_by_generation(collector: list[PauseMeter | None]) -> None:
    seen: list[tuple[int, float]] = []
    meter = tune_collector(0, lambda generation, seconds: seen.append((generation, seconds)))
    collector.append(meter)
    gc.collect(1)
    gc.collect(2)
    assert [g for g, _ in seen] == [1, 2]
    assert all(seconds >= 0 for _, seconds in seen)


def test_pauses_reach_the_metrics() -> None:
    metrics = Metrics()
    meter = PauseMeter(metrics.observe_gc_pause, clock=iter([1.0, 1.25]).__next__)
    meter("start", {"generation": 2})
    meter("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    text = metrics.render().decode()
    assert 'boxoffice_gc_pause_seconds_count{generation="2"} 1.0' in text
    assert 'boxoffice_gc_pause_seconds_sum{generation="2"} 0.25' in text


def test_a_stop_without_its_start_is_not_measured() -> None:
    seen: list[tuple[int, float]] = []
    meter = PauseMeter(lambda g, s: seen.append((g, s)))
    meter("stop", {"generation": 0})
    assert seen == []


# ------------------------------------------------------------ the full-collection gate


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


def test_full_collections_wait_while_the_booking_path_is_busy_and_run_after(
    collector: list[PauseMeter | None],
) -> None:
    """This process's own collector: with small thresholds, a full collection comes due
    many times over while the gate holds off, runs none, and runs once it lets go."""
    gc.collect()  # the long-lived count starts from everything there is
    young = 100
    gc.set_threshold(young, MIDDLE_THRESHOLD, FULL_THRESHOLD)
    clock = Clock()
    served_at = clock.now  # a hold just now
    gate = FullCollectionGate(lambda: served_at, young, clock=clock)
    gate.look()
    assert gate.holding and gc.get_threshold() == (young, MIDDLE_THRESHOLD, HELD_OFF_THRESHOLD)
    before = full_collections()
    # Kept alive, so they reach the oldest generation: far more than the quarter of it
    # CPython waits for, over hundreds of middle collections.
    kept = [[i] for i in range(len(gc.get_objects()))]
    assert gc.get_count()[2] > FULL_THRESHOLD  # due by the count, many times over
    assert full_collections() == before
    clock.now += 6  # calm for longer than CALM_SECONDS
    gate.look()
    assert not gate.holding and gc.get_threshold() == (young, MIDDLE_THRESHOLD, FULL_THRESHOLD)
    more = [[i] for i in range(20 * young * MIDDLE_THRESHOLD)]
    assert full_collections() > before
    del kept, more


def test_the_gate_holds_off_at_most_a_while_then_rests(
    collector: list[PauseMeter | None],
) -> None:
    gc.set_threshold(10_000, MIDDLE_THRESHOLD, FULL_THRESHOLD)
    clock = Clock()
    last: list[float | None] = [None]
    gate = FullCollectionGate(
        lambda: last[0], 10_000, calm_seconds=5, max_hold_seconds=30, rest_seconds=10, clock=clock
    )
    gate.look()
    assert not gate.holding  # nothing served yet
    last[0] = clock.now - 6
    gate.look()
    assert not gate.holding  # the last hold is older than the calm
    for _ in range(29):  # a hold or booking every second
        last[0] = clock.now
        gate.look()
        assert gate.holding
        clock.now += 1
    last[0] = clock.now
    gate.look()  # 29 s held: still
    assert gate.holding
    clock.now += 1
    last[0] = clock.now
    gate.look()  # 30 s: let go, though still busy
    assert not gate.holding and gc.get_threshold()[2] == FULL_THRESHOLD
    for _ in range(10):  # then rests, busy or not
        clock.now += 1
        last[0] = clock.now
        gate.look()
        assert gate.holding == (_ == 9)
    assert gate.holds == 2


async def test_stopping_the_gate_lets_go(collector: list[PauseMeter | None]) -> None:
    gc.set_threshold(10_000, MIDDLE_THRESHOLD, FULL_THRESHOLD)
    gate = FullCollectionGate(lambda: 0.0, 10_000, clock=lambda: 0.0)
    await gate.on_startup()
    await eventually(lambda: gate.holding, what="its first round holding off (busy at 0.0)")
    await gate.on_shutdown()
    assert gate.holds == 1 and not gate.holding
    assert gc.get_threshold() == (10_000, MIDDLE_THRESHOLD, FULL_THRESHOLD)
