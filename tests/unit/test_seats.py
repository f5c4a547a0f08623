"""The seat projection (backend/seats.py): the rules, and its batch form agreeing."""

from __future__ import annotations

import itertools
import uuid

from backend.seats import (
    SeatStatus,
    effective_status,
    is_mine,
    live_seat,
    live_seats,
    seat_view,
)
from backend.timefmt import iso_from_ms

NOW = 1_800_000_000_000
ALICE, BOB = str(uuid.uuid4()), str(uuid.uuid4())


def test_a_hold_is_live_until_its_end_exclusive() -> None:
    assert effective_status("held", NOW + 1, NOW) is SeatStatus.HELD
    assert effective_status("held", NOW, NOW) is SeatStatus.AVAILABLE  # ends at its end
    assert effective_status("held", None, NOW) is SeatStatus.AVAILABLE
    assert effective_status("booked", None, NOW) is SeatStatus.BOOKED
    assert effective_status("available", None, NOW) is SeatStatus.AVAILABLE


def test_mine_needs_a_viewer_a_taken_seat_and_the_same_holder() -> None:
    assert is_mine("held", uuid.UUID(ALICE), ALICE)
    assert is_mine("booked", ALICE, ALICE)
    assert not is_mine("held", ALICE, BOB)
    assert not is_mine("held", ALICE, None)
    assert not is_mine("available", ALICE, ALICE)  # an expired hold is nobody's
    assert not is_mine("booked", None, ALICE)


def test_seat_view_of_an_expired_hold_shows_it_free_and_nobodys() -> None:
    row = {"status": "held", "holder": ALICE, "held_until_ms": NOW - 5}
    view = seat_view(row, NOW, ALICE)
    assert (view.status, view.held_until_ms, view.mine) == ("available", None, False)
    live = seat_view({**row, "held_until_ms": NOW + 5}, NOW, ALICE)
    assert (live.status, live.held_until_ms, live.mine) == ("held", NOW + 5, True)


def _every_row() -> list[dict[str, object]]:
    rows = []
    cases = itertools.product(
        ("available", "held", "booked"),
        (None, uuid.UUID(ALICE), uuid.UUID(BOB)),
        (None, NOW - 1, NOW, NOW + 1),
    )
    for status, holder, until in cases:
        rows.append(
            {"id": uuid.uuid4(), "status": status, "holder": holder, "held_until_ms": until}
            | {"version": len(rows) + 1}
        )
    return rows


def test_the_batch_form_says_what_the_per_row_rules_say() -> None:
    rows = _every_row()
    for viewer in (None, ALICE, BOB):
        want = []
        for row in rows:
            view = seat_view(row, NOW, viewer)
            want.append(
                live_seat(
                    str(row["id"]),
                    int(row["version"]),  # type: ignore[call-overload]
                    view.status,
                    iso_from_ms(view.held_until_ms),
                    view.mine,
                )
            )
        assert live_seats(rows, NOW, viewer) == want
    shown = {s["status"] for s in live_seats(rows, NOW, ALICE)}
    assert shown == {"available", "held", "booked"}
    assert any(s.get("mine") for s in live_seats(rows, NOW, ALICE))
