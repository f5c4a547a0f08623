"""Best available: the best `count` adjacent free seats in one row.

Adjacent means consecutive seat numbers in the same section and row. Among the
windows that fit, prefer one that does not leave a lone empty seat beside it (a seat
nobody can buy as a pair), then rows nearer the front, then seats nearer the centre.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class BestFilter:
    """What best available may pick from, beside the category (issue 14, item 4): one
    section, wheelchair-accessible seats only, and a price range (of the category)."""

    section: str | None = None
    accessible: bool | None = None
    max_price: int | None = None
    min_price: int | None = None


@dataclass(frozen=True)
class FreeSeat:
    id: str
    section: str
    row: str
    number: int
    x: float
    y: float


def choose_adjacent(
    free: list[FreeSeat],
    count: int,
    centre_x: float,
    exclude: frozenset[str] = frozenset(),
    stage: tuple[float, float, float, float] | None = None,
) -> list[str] | None:
    """The ids of the best window of `count` adjacent free seats, or None if none fits.

    Nearer the front: the front is the top of the map (a stage above the seats), or, with
    `stage` (its x, y, width, height, for a venue placed around it), the stage itself:
    the window nearest its edge, by whole seat pitches, then nearest the middle of its
    free run."""
    rows: dict[tuple[str, str], list[FreeSeat]] = defaultdict(list)
    for seat in free:
        if seat.id not in exclude:
            rows[(seat.section, seat.row)].append(seat)

    best: tuple[tuple[int, float, float], list[str]] | None = None
    for members in rows.values():
        members.sort(key=lambda s: s.number)
        run_start = 0
        for i in range(1, len(members) + 1):
            if i < len(members) and members[i].number == members[i - 1].number + 1:
                continue
            run = members[run_start:i]
            run_start = i
            for start in range(len(run) - count + 1):
                window = run[start : start + count]
                left_gap = start
                right_gap = len(run) - start - count
                lone = int(left_gap == 1) + int(right_gap == 1)
                mid = (window[0].x + window[-1].x) / 2
                if stage is None:
                    score = (lone, window[0].y, abs(mid - centre_x))
                else:
                    near = min(_to_stage(s, stage) for s in window)
                    middle = abs(run[(len(run) - 1) // 2].number - window[count // 2].number)
                    score = (lone, float(round(near)), float(middle))
                if best is None or score < best[0]:
                    best = (score, [s.id for s in window])
    return best[1] if best else None


def _to_stage(seat: FreeSeat, stage: tuple[float, float, float, float]) -> float:
    """How far a seat is from the stage's rectangle (the ends of a long end stage are
    as near as its middle)."""
    x, y, w, h = stage
    dx = max(x - seat.x, 0.0, seat.x - (x + w))
    dy = max(y - seat.y, 0.0, seat.y - (y + h))
    return math.hypot(dx, dy)
