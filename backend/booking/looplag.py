"""How late this process's event loop runs: the wait no handler's timer sees.

Every request and socket of a process shares one event loop. When it is busy (thousands
of waiters told their new place at an opening, a burst of polls), a request waits for
its turn before its first line runs, and the booking path's own timing
(`BookingService.latency`) starts only then. `LoopLag` sleeps `interval` and measures
how late it wakes, which is how long anything that became ready then waited: each
lateness goes to /metrics (`boxoffice_event_loop_lag_seconds`) and to a window of recent
samples, which the waiting room's admitter adds to the booking path's p99 (a buyer's
hold takes both) and the live queue feed reads to give way to the shoppers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from backend.booking.expiry import Periodic
from backend.booking.latency import LatencyWindow

LOOP_LAG_INTERVAL = 0.05  # seconds between probes: 20 samples a second


class LoopLag(Periodic):
    name = "loop-lag"
    failure = "measuring the event loop's lag failed"

    def __init__(
        self,
        interval: float = LOOP_LAG_INTERVAL,
        *,
        observe: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(interval)
        self.window = LatencyWindow(clock=clock)
        self._observe = observe
        self._clock = clock
        self._due: float | None = None

    async def on_startup(self) -> None:
        self._due = None
        await super().on_startup()

    async def round(self) -> None:
        now = self._clock()
        if self._due is not None:
            self.record(max(0.0, now - self._due))
        self._due = now + self.interval

    def record(self, seconds: float) -> None:
        self.window.add(seconds)
        if self._observe is not None:
            self._observe(seconds)

    def p99_ms(self, within: float | None = None) -> float:
        """The recent p99 of the lag (of the last `within` seconds, if given) in
        milliseconds (0 before any sample)."""
        return self.window.p99_ms(within) or 0.0
