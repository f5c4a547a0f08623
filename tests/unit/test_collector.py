"""The served process's garbage collector (backend/observability/collector.py): what
start-up made is frozen, the thresholds raised, and every pause measured. Unit level:
this process's own collector, put back as it was after each test."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from backend.observability.collector import (
    FULL_THRESHOLD,
    MIDDLE_THRESHOLD,
    PauseMeter,
    tune_collector,
    untune_collector,
)
from backend.observability.metrics import Metrics


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
