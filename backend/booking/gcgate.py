"""Full collections wait while this process serves holds and bookings: the booking
path's side of the collector's tuning (`backend/observability/collector.py`, whose
docstring says why and what was measured)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from backend.booking.expiry import Periodic
from backend.observability.collector import FULL_THRESHOLD, MIDDLE_THRESHOLD

# What counts as calm, how long at most a full collection is held off, and the rest
# after each release.
CALM_SECONDS = 5.0
MAX_HOLD_SECONDS = 30.0
REST_SECONDS = 10.0
HELD_OFF_THRESHOLD = 1_000_000_000  # middle collections between two full ones: never


class FullCollectionGate(Periodic):
    """Holds full collections off while holds and bookings are being served (see
    collector.py's docstring). `last_busy` answers when the last one was (monotonic
    seconds), or None; the gate looks every `interval` seconds, off the requests' path."""

    name = "gc-full-gate"
    failure = "the collector's gate failed"

    def __init__(
        self,
        last_busy: Callable[[], float | None],
        young: int,
        *,
        interval: float = 0.5,
        calm_seconds: float = CALM_SECONDS,
        max_hold_seconds: float = MAX_HOLD_SECONDS,
        rest_seconds: float = REST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(interval)
        self._last_busy = last_busy
        self._young = young
        self._calm = calm_seconds
        self._max_hold = max_hold_seconds
        self._rest = rest_seconds
        self._clock = clock
        self._held_since: float | None = None
        self._rest_until = 0.0
        self.holds = 0  # times it held full collections off (for tests and logs)

    @property
    def holding(self) -> bool:
        return self._held_since is not None

    async def round(self) -> None:
        self.look()

    def look(self) -> None:
        """One look at the booking path: hold off, release, or leave as it is."""
        now = self._clock()
        last = self._last_busy()
        busy = last is not None and now - last < self._calm
        if self._held_since is None:
            if busy and now >= self._rest_until:
                gc.set_threshold(self._young, MIDDLE_THRESHOLD, HELD_OFF_THRESHOLD)
                self._held_since = now
                self.holds += 1
        elif not busy or now - self._held_since >= self._max_hold:
            self.release(now)

    def release(self, now: float | None = None) -> None:
        """CPython's full threshold back (a full collection due meanwhile runs at the
        next middle one); no holding off for the next `rest_seconds`."""
        if self._held_since is None:
            return
        gc.set_threshold(self._young, MIDDLE_THRESHOLD, FULL_THRESHOLD)
        self._held_since = None
        self._rest_until = (self._clock() if now is None else now) + self._rest

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        self.release()
