"""The history checker on hand-made histories: each problem it must report, and not more."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.checker import check
from chaos.history import FAIL, INFO, OK, History, join

pytestmark = pytest.mark.chaos

U1, U2 = "u1", "u2"
S1, S2, S3 = "s1", "s2", "s3"


def booking(bid: str, seat: str, user: str, status: str = "active") -> dict[str, Any]:
    return {"id": bid, "seat": seat, "user": user, "status": status}


def seat(
    sid: str,
    status: str = "available",
    holder: str | None = None,
    version: int = 1,
    held_until_ms: int | None = None,
) -> dict[str, Any]:
    return {
        "id": sid,
        "event": "e",
        "status": status,
        "holder": holder,
        "version": version,
        "held_until_ms": held_until_ms,
    }


def book(
    h: History,
    user: str,
    seats: list[str],
    outcome: str,
    bookings: list[tuple[str, str]] | None = None,
) -> None:
    op = h.invoke(user, "book", {"user": user, "seats": seats, "event": "e"})
    result: dict[str, Any] = {}
    if outcome == OK:
        result["bookings"] = [{"id": b, "seat": s} for b, s in bookings or []]
    h.complete(op, user, "book", outcome, result)


def db(bookings: list[dict[str, Any]], seats: list[dict[str, Any]]) -> dict[str, Any]:
    return {"now_ms": 1000, "bookings": bookings, "seats": seats}


def test_a_clean_history_is_valid() -> None:
    h = History()
    book(h, U1, [S1], OK, [("b1", S1)])
    book(h, U2, [S1], FAIL)
    verdict = check(h.ops(), db([booking("b1", S1, U1)], [seat(S1, "booked", U1, 2), seat(S2)]))
    assert verdict.valid, verdict.to_json()
    assert verdict.stats["ops"] == {"book:ok": 1, "book:fail": 1}
    assert verdict.summary().startswith("VALID")


def test_a_seat_sold_twice_is_a_duplicate() -> None:
    h = History()
    book(h, U1, [S1], OK, [("b1", S1)])
    book(h, U2, [S1], OK, [("b2", S1)])
    verdict = check(
        h.ops(), db([booking("b1", S1, U1), booking("b2", S1, U2)], [seat(S1, "booked", U2, 3)])
    )
    assert not verdict.valid
    assert verdict.duplicates == [{"seat": S1, "bookings": ["b1", "b2"], "users": [U1, U2]}]
    assert "duplicates=1" in verdict.summary()


def test_an_acknowledged_booking_missing_is_lost() -> None:
    h = History()
    book(h, U1, [S1], OK, [("b1", S1)])
    verdict = check(h.ops(), db([], [seat(S1)]))
    assert [p["kind"] for p in verdict.lost] == ["acknowledged booking missing"]


def test_an_acknowledged_booking_cancelled_without_a_cancel_is_lost() -> None:
    h = History()
    book(h, U1, [S1], OK, [("b1", S1)])
    verdict = check(h.ops(), db([booking("b1", S1, U1, "cancelled")], [seat(S1)]))
    assert [p["kind"] for p in verdict.lost] == [
        "acknowledged booking no longer active, never cancelled"
    ]
    # … but not when the owner asked to cancel it (even if the answer was lost).
    op = h.invoke(U1, "cancel", {"user": U1, "booking": "b1"})
    h.complete(op, U1, "cancel", INFO, {})
    assert check(h.ops(), db([booking("b1", S1, U1, "cancelled")], [seat(S1)])).valid


def test_a_row_nobody_asked_for_is_unexpected() -> None:
    verdict = check([], db([booking("b9", S1, U1)], [seat(S1, "booked", U1)]))
    assert [p["kind"] for p in verdict.unexpected] == ["booking no operation explains"]
    verdict = check([], db([], [seat(S1, "booked", U1)]))
    assert [p["kind"] for p in verdict.unexpected] == [
        "seat marked booked without an active booking"
    ]


def test_wrong_owner_in_the_booking_or_the_seat_row() -> None:
    h = History()
    book(h, U1, [S1], OK, [("b1", S1)])
    verdict = check(h.ops(), db([booking("b1", S1, U2)], [seat(S1, "booked", U2)]))
    assert [p["kind"] for p in verdict.wrong_owner] == ["acknowledged booking stored differently"]
    verdict = check(h.ops(), db([booking("b1", S1, U1)], [seat(S1, "booked", U2)]))
    assert [p["kind"] for p in verdict.wrong_owner] == ["seat row disagrees with its booking"]


def test_a_refused_booking_in_the_database_is_failed_but_applied() -> None:
    h = History()
    book(h, U1, [S1], FAIL)
    verdict = check(h.ops(), db([booking("b1", S1, U1)], [seat(S1, "booked", U1)]))
    assert [p["kind"] for p in verdict.failed_but_applied] == ["refused booking in the database"]
    assert not verdict.unexpected


def test_unknown_outcomes_are_recovered_and_allowed() -> None:
    h = History()
    book(h, U1, [S1, S2], INFO)
    book(h, U2, [S3], INFO)
    verdict = check(
        h.ops(),
        db(
            [booking("b1", S1, U1), booking("b2", S2, U1)],
            [seat(S1, "booked", U1), seat(S2, "booked", U1), seat(S3)],
        ),
    )
    assert verdict.valid, verdict.to_json()
    assert [(r["op"], r["resolution"]) for r in verdict.recovered_unknowns] == [
        (1, "applied"),
        (2, "not applied"),
    ]


def test_an_unknown_operation_applied_to_some_seats_only_is_partial() -> None:
    h = History()
    book(h, U1, [S1, S2], INFO)
    verdict = check(h.ops(), db([booking("b1", S1, U1)], [seat(S1, "booked", U1), seat(S2)]))
    assert [p["kind"] for p in verdict.partial] == ["unknown operation applied to some seats only"]


def test_an_acknowledgement_for_fewer_seats_than_asked_is_partial() -> None:
    h = History()
    book(h, U1, [S1, S2], OK, [("b1", S1)])
    verdict = check(h.ops(), db([booking("b1", S1, U1)], [seat(S1, "booked", U1), seat(S2)]))
    assert [p["kind"] for p in verdict.partial] == ["acknowledged for other seats than asked"]


def test_acknowledged_cancel_not_applied_is_lost_and_refused_cancel_applied_is_reported() -> None:
    h = History()
    book(h, U1, [S1], OK, [("b1", S1)])
    op = h.invoke(U1, "cancel", {"user": U1, "booking": "b1"})
    h.complete(op, U1, "cancel", OK, {})
    verdict = check(h.ops(), db([booking("b1", S1, U1)], [seat(S1, "booked", U1)]))
    assert [p["kind"] for p in verdict.lost] == ["acknowledged cancel not applied"]

    h = History()
    book(h, U1, [S1], OK, [("b1", S1)])
    op = h.invoke(U1, "cancel", {"user": U1, "booking": "b1"})
    h.complete(op, U1, "cancel", FAIL, {})
    verdict = check(h.ops(), db([booking("b1", S1, U1, "cancelled")], [seat(S1)]))
    assert [p["kind"] for p in verdict.failed_but_applied] == ["refused cancel applied"]


def test_watchers_are_compared_with_the_database() -> None:
    seats = [seat(S1, "booked", U1, 3), seat(S2, "held", U2, 2, held_until_ms=500)]
    agree = {
        "event": "e",
        "seats": {
            S1: {"status": "booked", "version": 3},
            S2: {"status": "available", "version": 2},
        },
    }
    behind = {
        "event": "e",
        "seats": {
            S1: {"status": "available", "version": 1},
            S2: {"status": "available", "version": 2},
        },
    }
    h = History()
    book(h, U1, [S1], OK, [("b1", S1)])
    verdict = check(h.ops(), db([booking("b1", S1, U1)], seats), {"ok": agree, "late": behind})
    assert [d["watcher"] for d in verdict.watcher_divergence] == ["late"]
    assert verdict.watcher_divergence[0]["examples"] == [
        {"seat": S1, "watcher": ("available", 1), "database": ("booked", 3)}
    ]
    assert verdict.problems() == {"watcher_divergence": 1}


def test_history_file_round_trip(tmp_path: Any) -> None:
    path = tmp_path / "history.jsonl"
    h = History(path)
    book(h, U1, [S1], OK, [("b1", S1)])
    op = h.invoke(U2, "book", {"user": U2, "seats": [S2]})  # never completed: unknown
    h.close()
    from chaos.history import read_lines

    ops = join(read_lines(path))
    assert [(o.id, o.type) for o in ops] == [(1, OK), (op, INFO)]
    assert ops[1].completed_at is None


def test_history_rejects_a_completion_without_invoke() -> None:
    with pytest.raises(ValueError, match="without an invoke"):
        join([{"id": 3, "type": "ok", "process": "p", "f": "book", "value": {}}])
