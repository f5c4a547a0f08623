"""The seat projection exists once (backend/seats.py); every fast path agrees with it.

One venue holds every case: free, held live by Alice, held live by Bob, a hold past
its end that the sweeper has not reached, booked by Alice, booked by Bob, and labels
that need escaping in JSON. For each viewer (nobody, Alice, Bob) the storage's answers
(`event_json`, `seat_map`, `states`, `of_event`) must say, seat for seat, what
`seat_view` says of the raw rows. On PostgreSQL those answers are its fast paths (SQL
that writes JSON, aggregates a compact map, asyncpg records), and they are also checked
against the portable implementation run on the same database. Nothing here writes
expectations by hand: the projection is the oracle, and the cases make it say
available, held, booked, mine and not mine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from backend.seats import SeatStatus, seat_view
from backend.storage import Storage
from backend.storage.seats import SeatRepository
from backend.storage.tables import Seat
from backend.timefmt import iso_from_ms
from tests.storage.conftest import Venue, new_user, new_venue

HOUR = 3_600_000
LABELS = ['Q"1', "Q\\2", "Ü3", "Q 4", "Q\t5", "Q6", "Q7", "Q8"]


async def _every_case(storage: Storage) -> tuple[Venue, str, str]:
    venue = await new_venue(storage, LABELS)
    alice, bob = await new_user(storage), await new_user(storage)
    s = venue.seats
    now = await storage.now_ms()
    async with storage.transaction():
        await storage.seats.hold_free(venue.id, [s['Q"1']], alice, now, now + HOUR)
        await storage.seats.hold_free(venue.id, [s["Q6"]], bob, now, now + HOUR + 7)
        await storage.seats.hold_free(venue.id, [s["Q7"]], bob, now - 2 * HOUR, now - HOUR)
        await storage.seats.book(venue.id, [s["Ü3"]], alice, now)
        await storage.seats.book(venue.id, [s["Q 4"]], bob, now)
    # A position that is not round in binary floating point.
    await Seat.update({Seat.x: 0.1, Seat.y: 2.7}).where(Seat.id == s["Q8"])
    return venue, alice, bob


def _projected(
    rows: list[Mapping[str, Any]], now: int, user_id: str | None
) -> dict[str, dict[str, Any]]:
    """What the projection says of every raw row, keyed by seat id."""
    out = {}
    for row in rows:
        view = seat_view(row, now, user_id)
        out[str(row["id"])] = {
            "status": view.status.value,
            "version": int(row["version"]),
            "heldUntil": iso_from_ms(view.held_until_ms),
            "mine": view.mine,
        }
    return out


async def _raw_rows(venue: Venue) -> list[dict[str, Any]]:
    return await Seat.select().where(Seat.event == venue.id).order_by(Seat.y, Seat.x, Seat.id)


async def test_event_json_says_what_the_projection_says(storage: Storage) -> None:
    venue, alice, bob = await _every_case(storage)
    rows = await _raw_rows(venue)
    statuses: set[str] = set()
    for viewer in (None, alice, bob):
        counts, items, now = await storage.seats.event_json(venue.id, viewer)
        seats = json.loads(f"[{items}]")
        want = _projected(rows, now, viewer)
        assert [s["id"] for s in seats] == [str(r["id"]) for r in rows]  # map order
        for seat, row in zip(seats, rows, strict=True):
            expected = want[seat["id"]]
            assert seat["status"] == expected["status"]
            assert seat["version"] == expected["version"]
            assert seat.get("heldUntil") == expected["heldUntil"]
            assert seat.get("mine", False) == expected["mine"]
            assert "mine" not in seat or seat["mine"] is True  # omitted, never false
            for column in ("label", "section", "row", "number", "category", "x", "y"):
                assert seat[column] == row[column], column
            assert seat["accessible"] is bool(row["accessible"])
        assert counts == {
            "total": len(rows),
            **{s.value: sum(1 for v in want.values() if v["status"] == s) for s in SeatStatus},
        }
        statuses |= {s["status"] for s in seats}
        mine = {s["label"] for s in seats if s.get("mine")}
        assert mine == {None: set(), alice: {'Q"1', "Ü3"}, bob: {"Q 4", "Q6"}}[viewer]
    assert statuses == {"available", "held", "booked"}
    if type(storage.seats) is not SeatRepository:  # a fast path: also the portable one
        for viewer in (None, alice, bob):
            fast = await storage.seats.event_json(venue.id, viewer)
            portable = await SeatRepository.event_json(storage.seats, venue.id, viewer)
            assert json.loads(f"[{fast[1]}]") == json.loads(f"[{portable[1]}]")
            assert fast[0] == portable[0]


async def test_the_compact_seat_map_says_what_the_projection_says(storage: Storage) -> None:
    venue, alice, bob = await _every_case(storage)
    rows = await _raw_rows(venue)
    state = await storage.seats.seat_map(venue.id)
    want = _projected(rows, state["now"], None)
    ordered = [want[str(r["id"])] for r in rows]
    assert state["count"] == len(rows)
    assert state["status"] == "".join(v["status"][0] for v in ordered)
    assert state["versions"] == ",".join(str(v["version"]) for v in ordered)
    assert [(i, iso_from_ms(until)) for i, until in state["held"]] == [
        (i, v["heldUntil"]) for i, v in enumerate(ordered) if v["heldUntil"] is not None
    ]
    for viewer in (alice, bob):
        mine = _projected(rows, state["now"], viewer)
        assert [i for i, holder in state["taken"] if holder == viewer] == [
            i for i, r in enumerate(rows) if mine[str(r["id"])]["mine"]
        ]
    if type(storage.seats) is not SeatRepository:
        portable = await SeatRepository.seat_map(storage.seats, venue.id)
        assert {k: v for k, v in portable.items() if k != "now"} == {
            k: v for k, v in state.items() if k != "now"
        }


async def test_row_reads_match_the_portable_reads(storage: Storage) -> None:
    venue, _, _ = await _every_case(storage)
    full = [dict(r) for r in await storage.seats.of_event(venue.id)]
    states = sorted((dict(r) for r in await storage.seats.states(venue.id)), key=lambda r: r["id"])
    assert full == [dict(r) for r in await SeatRepository.of_event(storage.seats, venue.id)]
    assert states == sorted(
        (dict(r) for r in await SeatRepository.states(storage.seats, venue.id)),
        key=lambda r: r["id"],
    )


async def test_the_locked_read_matches_the_portable_read(storage: Storage) -> None:
    venue, alice, bob = await _every_case(storage)
    named = [venue.seats["Q6"], venue.seats["Q8"], venue.seats["Ü3"]]
    for holders in ([], [alice], [bob], [alice, bob]):
        async with storage.transaction():
            fast = await storage.seats.for_update(venue.id, named, holders)
            portable = await SeatRepository.for_update(storage.seats, venue.id, named, holders)
        key = lambda r: str(r["id"])  # noqa: E731
        assert sorted(map(dict, fast), key=key) == sorted(map(dict, portable), key=key)
