"""Best available: the best `count` adjacent free seats in one row.

Adjacent means consecutive seat numbers in the same section and row. Among the
windows that fit, prefer one that does not leave a lone empty seat beside it (a seat
nobody can buy as a pair), then rows nearer the front, then seats nearer the centre.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class FreeSeat:
    id: str
    section: str
    row: str
    number: int
    x: float
    y: float


def choose_adjacent(
    free: list[FreeSeat], count: int, centre_x: float, exclude: frozenset[str] = frozenset()
) -> list[str] | None:
    """The ids of the best window of `count` adjacent free seats, or None if none fits."""
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
                score = (lone, window[0].y, abs(mid - centre_x))
                if best is None or score < best[0]:
                    best = (score, [s.id for s in window])
    return best[1] if best else None
