"""The arena demo (issue 14, item 4): about 20,000 seats in the round, every section
facing the stage, nothing overlapping (from_sections refuses overlaps), and seats for
wheelchair users."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

from backend.booking.layout import PlacedSeat
from backend.demo import arena_layout, demo_layout


def test_the_arena_is_about_twenty_thousand_seats_around_its_stage() -> None:
    layout = arena_layout()
    assert 18_000 <= len(layout.seats) <= 21_000
    stage = layout.stage
    assert stage is not None
    cx, cy = stage.x + stage.width / 2, stage.y + stage.height / 2
    # The stage sits in the middle of the map, and every seat is on the map.
    assert abs(cx - layout.width / 2) < 1 and abs(cy - layout.height / 2) < 1
    assert all(0 <= s.x < layout.width and 0 <= s.y < layout.height for s in layout.seats)

    rows: dict[tuple[str, str], list[PlacedSeat]] = defaultdict(list)
    for seat in layout.seats:
        rows[(seat.section, seat.row)].append(seat)
    sections = {s.section for s in layout.seats}
    assert len(sections) == 28
    for section in sections:
        # Each row an arc around the stage's centre: its seats all as far from it, and
        # each row behind one pitch further than the one before.
        distances = []
        for r in range(1, 37):
            members = rows.get((section, str(r)))
            if not members:
                break
            d = [math.hypot(s.x - cx, s.y - cy) for s in members]
            assert max(d) - min(d) < 0.01, (section, r)
            distances.append(d[0])
        assert all(abs(b - a - 1) < 0.01 for a, b in itertools.pairwise(distances))
    assert sum(s.accessible for s in layout.seats) >= 24  # both ends of the lower bowl's last rows


def test_the_theatre_is_still_stacked_with_no_stage_of_its_own() -> None:
    layout = demo_layout()
    assert layout.stage is None and 400 <= len(layout.seats) <= 500
