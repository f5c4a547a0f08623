"""The cyclic garbage collector of a serving process: tuned once started, pauses measured.

CPython 3.11's collector stops the whole process while it runs, and a full collection
scans every container object the process keeps. A server holding thousands of sockets
keeps a lot of them: each open websocket has its protocol, transport, tasks, coroutines,
queues and dicts, about 240 tracked objects (a worker holding 4,300 sockets of an on-sale
tracked 1.1 million). With CPython's default thresholds (700, 10, 10) a full collection
runs each time the long-lived objects have grown by a quarter, which an audience
connecting does over and over: in `make bench onsale` each worker ran 14-18 of them while
10,000 buyers connected and joined, up to 2.2 s each and 9-13 s in all, with the event
loop stopped (no accept, no request, no hold) for all of it.

`tune_collector` runs once per serving process, after start-up:

* `gc.freeze()`: the modules, the app and everything start-up made move to the permanent
  generation and are never scanned again.
* thresholds (`young`, 10, 100): a young collection every `young` net allocations
  (10,000 by default, instead of 700), a middle one every 10 of those, so each scans at
  most about `10 * young` objects, and a full one considered only after 100 middle ones
  (10 million allocations; and still only once the long-lived objects have grown by a
  quarter): at an on-sale's rate (about 23,000 net allocations a second in a worker),
  every 7 minutes at most instead of every few seconds. Short-lived
  cycles are still collected in the young generations; what outlives them waits longer
  for a full collection, which costs memory, not correctness. On the same bench: no full
  collection during the sale, longest pause about 0.2 s, 2.5-2.9 s of pauses a worker
  in all instead of 13 s. (Thresholds of 50,000 and 20 had made one middle collection
  of the whole audience, 0.86 s.)

`GC_YOUNG_THRESHOLD=0` leaves CPython's defaults (to measure what this gains). Every
collection's pause goes to /metrics (`boxoffice_gc_pause_seconds`, by generation).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

MIDDLE_THRESHOLD = 10
FULL_THRESHOLD = 100

Observe = Callable[[int, float], None]


class PauseMeter:
    """A `gc.callbacks` entry: each collection's generation and pause, to `observe`."""

    def __init__(self, observe: Observe, clock: Callable[[], float] = time.perf_counter) -> None:
        self._observe = observe
        self._clock = clock
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
        elif self._started is not None:
            self._observe(int(info["generation"]), self._clock() - self._started)
            self._started = None


def tune_collector(young: int, observe: Observe | None = None) -> PauseMeter | None:
    """Freeze what start-up made and raise the thresholds (unless `young` is 0); measure
    every pause from now on when `observe` is given. Returns the meter installed."""
    if young > 0:
        gc.freeze()
        gc.set_threshold(young, MIDDLE_THRESHOLD, FULL_THRESHOLD)
    if observe is None:
        return None
    meter = PauseMeter(observe)
    gc.callbacks.append(meter)
    return meter


def untune_collector(meter: PauseMeter | None) -> None:
    """Undo `tune_collector` (tests): CPython's thresholds, nothing frozen, no meter."""
    if meter is not None and meter in gc.callbacks:
        gc.callbacks.remove(meter)
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
