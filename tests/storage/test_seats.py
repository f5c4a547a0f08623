"""Seat reads and compare-and-set writes, on both engines."""

from __future__ import annotations

import time

import pytest

import backend.storage.seats
from backend.seats import SeatStatus
from backend.storage import DuplicateKey, LogEntry, MissingReference, Storage
from backend.storage.tables import Seat
from tests.storage.conftest import explain_first, new_user, new_venue

HOUR = 3_600_000


async def test_event_with_seats_reads_event_seats_and_clock_at_once(storage: Storage) -> None:
    venue = await new_venue(storage)
    before = await storage.now_ms()
    event, seats, now = await storage.seats.event_with_seats(
        venue.id, [venue.seats["A1"], venue.seats["A2"]]
    )
    assert event is not None and str(event["id"]) == venue.id
    assert event["is_demo"] is False and event["categories"][0]["id"] == "std"
    assert sorted(s["label"] for s in seats) == ["A1", "A2"]
    assert before <= now <= await storage.now_ms()
    missing, none, _ = await storage.seats.event_with_seats(
        "00000000-0000-0000-0000-000000000000", []
    )
    assert missing is None and none == []


async def test_hold_is_compare_and_set(storage: Storage) -> None:
    venue = await new_venue(storage)
    alice, bob = await new_user(storage), await new_user(storage)
    a1, a2 = venue.seats["A1"], venue.seats["A2"]
    now = await storage.now_ms()
    async with storage.transaction():
        taken = await storage.seats.hold_free(venue.id, [a1], alice, now, now + HOUR)
    assert [(str(r["id"]), r["status"], int(r["version"])) for r in taken] == [(a1, "held", 2)]
    async with storage.transaction():
        again = await storage.seats.hold_free(venue.id, [a1, a2], bob, now, now + HOUR)
    assert [str(r["id"]) for r in again] == [a2]  # A1 is Alice's live hold
    assert await storage.seats.count_for_user(venue.id, alice, now) == 1
    mine = await storage.seats.own_live_holds(venue.id, [a1, a2], alice, now)
    assert [str(r["id"]) for r in mine] == [a1]


async def test_an_expired_hold_is_free_to_take_and_expire_claims_it_once(
    storage: Storage,
) -> None:
    venue = await new_venue(storage)
    alice, bob = await new_user(storage), await new_user(storage)
    a1 = venue.seats["A1"]
    now = await storage.now_ms()
    async with storage.transaction():
        await storage.seats.hold_free(venue.id, [a1], alice, now - 2 * HOUR, now - HOUR)
    free = await storage.seats.free(venue.id, now, None)
    assert a1 in {str(r["id"]) for r in free}
    assert await storage.seats.count_for_user(venue.id, alice, now) == 0
    # `expire` sweeps every event (the database is shared with other tests): look at ours.
    async with storage.transaction():
        expired = await storage.seats.expire(now)
    assert [(str(r["id"]), r["status"]) for r in expired if str(r["event"]) == venue.id] == [
        (a1, "available")
    ]
    async with storage.transaction():
        again = await storage.seats.expire(now)
        assert a1 not in {str(r["id"]) for r in again}  # each expiry is announced once
        taken = await storage.seats.hold_free(venue.id, [a1], bob, now, now + HOUR)
    assert [str(r["holder"]) for r in taken] == [bob]


async def test_a_cart_is_reheld_to_one_end_and_starts_at_its_first_hold(
    storage: Storage,
) -> None:
    venue = await new_venue(storage)
    alice, bob = await new_user(storage), await new_user(storage)
    a1, a2, a3, b1 = (venue.seats[s] for s in ("A1", "A2", "A3", "A4"))
    now = await storage.now_ms()
    assert await storage.seats.cart_start(venue.id, alice, now) is None
    async with storage.transaction():
        await storage.seats.hold_free(venue.id, [a1], alice, now - 5000, now + 1000)
        await storage.seats.hold_free(venue.id, [a2], alice, now - 2000, now + 3000)
        await storage.seats.hold_free(venue.id, [a3], alice, now - 9000, now - 1)  # expired
        await storage.seats.hold_free(venue.id, [b1], bob, now - 7000, now + 1000)
    assert await storage.seats.cart_start(venue.id, alice, now) == now - 5000
    async with storage.transaction():  # her cart (A3 had lapsed: not swept, still hers)
        locked = await storage.seats.for_update(venue.id, [], [alice])
    assert sorted(str(r["id"]) for r in locked) == sorted([a1, a2, a3])
    async with storage.transaction():
        reheld = await storage.seats.hold_cart_until(venue.id, alice, now, now + 3000)
        again = await storage.seats.hold_cart_until(venue.id, alice, now, now + 3000)
    # A2 already ended then, A3 had lapsed, A4 is Bob's: only A1 changes.
    assert [(str(r["id"]), int(r["held_until_ms"])) for r in reheld] == [(a1, now + 3000)]
    assert again == []  # nothing to change, no version bump


async def test_booking_takes_own_holds_or_free_seats_never_others(storage: Storage) -> None:
    venue = await new_venue(storage)
    alice, bob = await new_user(storage), await new_user(storage)
    a1, a2, a3 = venue.seats["A1"], venue.seats["A2"], venue.seats["A3"]
    now = await storage.now_ms()
    async with storage.transaction():
        await storage.seats.hold_free(venue.id, [a1], alice, now, now + HOUR)
        await storage.seats.hold_free(venue.id, [a2], bob, now, now + HOUR)
        booked = await storage.seats.book(venue.id, [a1, a2, a3], alice, now)
    assert sorted(str(r["id"]) for r in booked) == sorted([a1, a3])
    assert {r["status"] for r in booked} == {SeatStatus.BOOKED}
    assert all(r["held_until_ms"] is None for r in booked)


async def test_the_unique_index_refuses_a_second_active_booking(storage: Storage) -> None:
    venue = await new_venue(storage)
    alice, bob = await new_user(storage), await new_user(storage)
    a1 = venue.seats["A1"]
    async with storage.transaction():
        first = await storage.bookings.insert(venue.id, [a1], alice)
    with pytest.raises(DuplicateKey):
        async with storage.transaction():
            await storage.bookings.insert(venue.id, [a1], bob)
    assert [r["user"] for r in await storage.bookings.of_user(bob)] == []
    # Cancelling frees the index entry: the seat can be booked again.
    async with storage.transaction():
        cancelled = await storage.bookings.cancel(str(first[0]["id"]), alice)
        assert cancelled is not None and str(cancelled["seat"]) == a1
        assert await storage.bookings.cancel(str(first[0]["id"]), alice) is None
        await storage.bookings.insert(venue.id, [a1], bob)
    mine = await storage.bookings.of_user(alice)
    assert [(r["status"], r["cancelled_at"] is not None) for r in mine] == [("cancelled", True)]


async def test_without_the_guard_a_second_booking_goes_in(storage: Storage) -> None:
    """The chaos tests' negative control: proves the index is what refuses it above."""
    venue = await new_venue(storage)
    alice, bob = await new_user(storage), await new_user(storage)
    a1 = venue.seats["A1"]
    async with storage.transaction():
        await storage.bookings.insert(venue.id, [a1], alice, guard=False)
        await storage.bookings.insert(venue.id, [a1], bob, guard=False)
    assert len(await storage.bookings.of_user(bob)) == 1


async def test_release_and_free_booked(storage: Storage) -> None:
    venue = await new_venue(storage)
    alice = await new_user(storage)
    a1, a2, a3 = venue.seats["A1"], venue.seats["A2"], venue.seats["A3"]
    now = await storage.now_ms()
    async with storage.transaction():
        await storage.seats.hold_free(venue.id, [a1, a2], alice, now, now + HOUR)
        released = await storage.seats.release(venue.id, alice, [a1])
        rest = await storage.seats.release(venue.id, alice, None)
        await storage.seats.book(venue.id, [a3], alice, now)
        freed = await storage.seats.free_booked(a3, alice)
    assert [str(r["id"]) for r in released] == [a1]
    assert [str(r["id"]) for r in rest] == [a2]
    assert [(str(r["id"]), r["status"], r["holder"]) for r in freed] == [(a3, "available", None)]


async def test_the_events_of_many_seats_are_read_together(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each seat that exists, by its canonical id, with its event; nothing for the rest."""
    monkeypatch.setattr(backend.storage.seats, "LOOKUP_CHUNK", 2)  # SQLite's chunks
    venue, other = await new_venue(storage), await new_venue(storage)
    a1, a3, b1 = venue.seats["A1"], venue.seats["A3"], other.seats["A1"]
    missing = "00000000-0000-0000-0000-000000000000"
    asked = [a3, missing, "not-a-seat-id", b1, a1, a3]
    assert await storage.seats.events_of(asked) == {a3: venue.id, b1: other.id, a1: venue.id}
    assert await storage.seats.events_of([a3.upper()]) == {a3: venue.id}
    assert await storage.seats.events_of(["not-a-seat-id"]) == {}
    assert await storage.seats.events_of([]) == {}


async def test_a_users_writes_are_serialised_by_lock_user_now(storage: Storage) -> None:
    alice = await new_user(storage)
    async with storage.transaction():
        first = await storage.seats.lock_user_now(alice)
    async with storage.transaction():
        second = await storage.seats.lock_user_now(alice)
    assert first <= second


async def test_a_missing_account_is_said_not_raised_as_a_driver_error(storage: Storage) -> None:
    venue = await new_venue(storage)
    nobody = "00000000-0000-4000-8000-000000000001"
    async with storage.transaction():
        assert await storage.seats.lock_user_now(nobody) is None
    with pytest.raises(MissingReference):
        async with storage.transaction():
            await storage.bookings.insert(venue.id, [venue.seats["A1"]], nobody)


async def test_for_update_reads_the_named_seats_and_the_holders_carts_once_each(
    storage: Storage,
) -> None:
    venue = await new_venue(storage)
    alice, bob, carol = [await new_user(storage) for _ in range(3)]
    a1, a2, a3, a4, a5 = (venue.seats[s] for s in ("A1", "A2", "A3", "A4", "A5"))
    now = await storage.now_ms()
    async with storage.transaction():
        await storage.seats.hold_free(venue.id, [a1, a2], alice, now, now + HOUR)
        await storage.seats.hold_free(venue.id, [a3], bob, now, now + HOUR)
        await storage.seats.hold_free(venue.id, [a4], carol, now, now + HOUR)
        await storage.seats.book(venue.id, [a5], alice, now)  # booked: not in her cart
    async with storage.transaction():
        rows = await storage.seats.for_update(venue.id, [a2, a3], [alice])
    # A2 is named and in her cart: once. A3 is named (Bob's). A4 is Carol's, unnamed.
    assert sorted(str(r["id"]) for r in rows) == sorted([a1, a2, a3])
    row = next(r for r in rows if str(r["id"]) == a1)
    assert row["label"] == "A1" and str(row["holder"]) == alice
    assert int(row["held_since_ms"]) == now and int(row["held_until_ms"]) == now + HOUR
    async with storage.transaction():
        named_only = await storage.seats.for_update(venue.id, [a4, a5], [])
        unknown = await storage.seats.for_update(venue.id, ["00000000-0000-0000-0000-000000000000"])
    assert sorted(str(r["id"]) for r in named_only) == sorted([a4, a5])
    assert unknown == []


async def test_a_log_line_without_a_time_gets_the_database_clock(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every time in the status-change log is the database's, as every hold's end is: a
    line written without one (a release, a check-in) is stamped by the database, not by
    the app server's clock, which may be off (here: an hour behind) and did not even
    round the same way (a line came out 1 ms before the clock read just before it)."""
    venue = await new_venue(storage)
    alice = await new_user(storage)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    before = await storage.now_ms()
    async with storage.transaction():
        await storage.seat_log.record([LogEntry(venue.id, venue.seats["A1"], "released", alice)])
    after = await storage.now_ms()
    (line,) = await storage.seat_log.page(venue.id, 0, 10)
    assert before <= line["at_ms"] <= after


async def test_apply_writes_the_states_and_their_log_lines_together(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = await new_venue(storage)
    alice = await new_user(storage)
    real = time.time  # an app clock an hour behind: the log's times are the database's
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    a1, a2 = venue.seats["A1"], venue.seats["A2"]
    now = await storage.now_ms()
    state = {"status": "held", "holder": alice, "held_since_ms": now, "held_until_ms": now + HOUR}
    lines = [
        LogEntry(venue.id, a1, "held", alice, None, now),
        LogEntry(venue.id, a2, "held", alice),
    ]
    async with storage.transaction():
        changed = await storage.seats.apply(
            venue.id,
            [{**state, "id": a1, "version": 1}, {**state, "id": a2, "version": 1}],
            lines,
        )
    assert sorted((str(r["id"]), int(r["version"])) for r in changed) == [
        (a, 2) for a in sorted([a1, a2])
    ]
    log = await storage.seat_log.page(venue.id, 0, 10)
    assert [(str(r["seat"]), r["action"], str(r["actor"])) for r in log] == [
        (a1, "held", alice),
        (a2, "held", alice),
    ]
    # No time given: the database's clock when it was written.
    assert log[0]["at_ms"] == now and now <= log[1]["at_ms"] <= await storage.now_ms()
    # A version that moved: that row is not written, and the caller rolls back (lines too).
    with pytest.raises(RuntimeError):
        async with storage.transaction():
            stale = await storage.seats.apply(
                venue.id,
                [{**state, "id": a1, "version": 1}],
                [LogEntry(venue.id, a1, "extended", alice, None, now)],
            )
            assert stale == []
            raise RuntimeError("roll back")
    assert len(await storage.seat_log.page(venue.id, 0, 10)) == 2


async def test_a_buyer_s_seats_are_counted_from_their_own_rows(fresh_storage: Storage) -> None:
    """The per-user limit counts a buyer's seats on the event. Statistics taken before
    the sale (every seat available) make "booked" look rare, and a count that searched
    by status walked every booked seat in the database instead of the buyer's own
    (measured: 7 ms a write batch, growing with each booking). Both counts, the batch's
    and the one-request path's, find the rows by (event, holder) only."""
    storage = fresh_storage
    organiser, other, buyer = [await new_user(storage) for _ in range(3)]
    async with storage.transaction():
        event_id = await storage.events.insert_draft({"name": "Counted", "organiser": organiser})
    await storage.events.add_seats(
        event_id,
        [
            {
                "label": f"A{n}",
                "section": "",
                "row": "A",
                "number": n,
                "category": "std",
                "accessible": False,
                "x": float(n),
                "y": 0.0,
            }
            for n in range(1, 3_001)
        ],
    )
    await storage.events.publish(event_id, 3_000)  # its statistics: every seat available
    now = await storage.now_ms()
    await Seat.update({Seat.status: "booked", Seat.holder: other}).where(
        (Seat.event == event_id) & (Seat.number > 1_000)
    )
    await Seat.update({Seat.status: "booked", Seat.holder: buyer}).where(
        (Seat.event == event_id) & (Seat.number <= 2)
    )
    await Seat.update(
        {Seat.status: "held", Seat.holder: buyer, Seat.held_until_ms: now + HOUR}
    ).where((Seat.event == event_id) & (Seat.number == 3))
    await Seat.update(
        {Seat.status: "held", Seat.holder: buyer, Seat.held_until_ms: now - HOUR}
    ).where((Seat.event == event_id) & (Seat.number == 4))  # lapsed: not counted

    batch = await explain_first(storage, storage.seats.clock_and_counts(event_id, [buyer, other]))
    alone = await explain_first(storage, storage.seats.count_for_user(event_id, buyer, now))

    assert batch.result[1] == {buyer: 3, other: 2_000} and alone.result == 3
    if batch.visited is not None:  # PostgreSQL: the two holders' rows, nothing else
        assert batch.visited == 2_004 and alone.visited == 4
    else:
        for plan in (batch, alone):
            assert any("bo_seat_event_holder (event=? AND holder=?)" in s for s in plan.steps)
