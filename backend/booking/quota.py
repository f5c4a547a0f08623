"""The per-organiser daily quota on creating events (issue 11, item 6).

Creating a 100,000-seat event is real work for the server, and any signed-up account may
create events: so each organiser may create at most so many events, and so many seats,
in any 24 hours. The window rolls: each creation counts for 24 hours after it was made,
deleted or not (deleting an event does not give its quota back, or create-and-delete
would be free). Pure rules over what `EventRepository.creations_since` reads; the
demo event and the command line pass no quota.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from backend.errors import InvalidInput, QuotaExceeded

WINDOW_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class CreationQuota:
    """Events and seats one organiser may create in WINDOW_MS; 0 is no limit."""

    events: int
    seats: int

    def check(self, recent: Sequence[tuple[int, int]], seats: int, now_ms: int) -> None:
        """Raise unless an event of `seats` seats fits beside `recent` (the organiser's
        creations in the window, as (at_ms, seats)): QuotaExceeded with the wait until
        enough of them have left the window, or InvalidInput if it never fits."""
        if self.seats and seats > self.seats:
            raise InvalidInput(
                f"an event may have at most {self.seats} seats on this server (the daily "
                f"quota of seats per organiser); this one has {seats}"
            )
        ordered = sorted(recent)
        if self._fits(ordered, seats):
            return
        # The earliest moment it fits: when the oldest creations have left the window.
        # Some moment does: with every creation gone, one event of `seats` fits.
        leaves_at = next(
            at + WINDOW_MS
            for n, (at, _) in enumerate(ordered)
            if self._fits(ordered[n + 1 :], seats)
        )
        wait = max(1, math.ceil((leaves_at - now_ms) / 1000))
        used_seats = sum(s for _, s in ordered)
        if self.events and len(ordered) >= self.events:
            what = f"{len(ordered)} events in the last 24 hours (the limit is {self.events})"
        else:
            what = (
                f"{used_seats} seats in the last 24 hours, and this event's {seats} more "
                f"would pass the limit of {self.seats}"
            )
        raise QuotaExceeded(
            f"quota exceeded: you have created {what}; this event fits in {_span(wait)}",
            retry_after=wait,
            quota={
                "events": self.events,
                "seats": self.seats,
                "eventsUsed": len(ordered),
                "seatsUsed": used_seats,
                "windowSeconds": WINDOW_MS // 1000,
            },
        )

    def _fits(self, recent: Sequence[tuple[int, int]], seats: int) -> bool:
        events_ok = not self.events or len(recent) + 1 <= self.events
        seats_ok = not self.seats or sum(s for _, s in recent) + seats <= self.seats
        return events_ok and seats_ok


def _span(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes = math.ceil(rest / 60)
    if minutes == 60:
        hours, minutes = hours + 1, 0
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{max(minutes, 1)} min"
