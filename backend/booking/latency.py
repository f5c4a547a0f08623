"""The booking path's recent latency: what the waiting room's admission backs off on.

A rolling window of the last holds' and bookings' durations in this process (refusals
included: a slow 423 is as much a sign of a busy path as a slow 201). Old samples age
out, so a quiet path is never "slow" because of what happened minutes ago.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

WINDOW_SIZE = 512
# Short enough that the admission pace sees its own effect within a few ticks.
WINDOW_SECONDS = 3.0


class LatencyWindow:
    def __init__(
        self,
        size: int = WINDOW_SIZE,
        max_age: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque(maxlen=size)  # (at, seconds)

    def add(self, seconds: float) -> None:
        """Record one request's duration."""
        self._samples.append((self._clock(), seconds))

    def last_at(self) -> float | None:
        """When the last request was recorded (the clock's time), or None."""
        return self._samples[-1][0] if self._samples else None

    def p99_ms(self, within: float | None = None) -> float | None:
        """The 99th percentile of the recent samples (those of the last `within`
        seconds, if given) in milliseconds; None without any."""
        now = self._clock()
        cutoff = now - self.max_age
        while self._samples and self._samples[0][0] < cutoff:
            self._samples.popleft()
        since = -math.inf if within is None else now - within
        ordered = sorted(seconds for at, seconds in self._samples if at >= since)
        if not ordered:
            return None
        rank = max(0, math.ceil(0.99 * len(ordered)) - 1)
        return ordered[rank] * 1000
