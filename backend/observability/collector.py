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
* thresholds (`young`, 10, 10): a young collection every `young` net allocations (10,000
  by default, instead of 700), a middle one every 10 of those, so each scans at most
  about `10 * young` objects, and a full one considered every 10 middle ones (and only
  once the long-lived objects have grown by a quarter): every million net allocations
  instead of every 70,000, 14 times rarer. On the same bench: one full collection a
  worker (0.8-0.95 s) instead of 14-18, young and middle pauses up to 0.15 s, 2-3 s of
  pauses a worker in all (2.7-3.0 s) instead of 13-18 s.

The full threshold stays CPython's on purpose. Raised to 100, the bench saw no full
collection at all, but a closed socket's objects are old by then, and the cycles among
them wait for a full collection: 1,500 sockets opened and closed six times grew a worker
from 179 to 338 MiB (CPython's defaults: 179 to 187 MiB; these thresholds: to 242 MiB,
then flat, a full collection having run).

`GC_YOUNG_THRESHOLD=0` leaves CPython's defaults (to measure what this gains). Every
collection's pause goes to /metrics (`boxoffice_gc_pause_seconds`, by generation).

`FullCollectionGate` (`backend/booking/gcgate.py`) holds full collections off while the
process serves holds and bookings. One full collection still stops a worker holding an
on-sale's audience for 0.65-0.9 s, and in two of seven instrumented `make bench onsale`
runs it fell inside the sale's first seconds, where it alone made the admitted buyers'
hold p99. While a hold or booking was served in the last CALM_SECONDS the full threshold
is raised out of reach; once the path has been calm that long (or after MAX_HOLD_SECONDS
of holding off, so memory stays bounded on a night that never calms) CPython's own rule
is back and a full collection that came due meanwhile runs at the next middle one. After
a release the gate rests REST_SECONDS before it may hold off again, so a busy shop still
gets its full collections, just not in the middle of a burst. Young and middle
collections are never held off (up to 0.15 s each, measured).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

MIDDLE_THRESHOLD = 10
FULL_THRESHOLD = 10  # CPython's: see above

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
