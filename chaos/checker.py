"""The history checker: the run's history and the watchers' maps against the database.

Inputs, after the run has quiesced:

* the operations (`history.Op`): `book` (value: user, event, seats, key; ok result:
  the bookings' ids and seats), `cancel` (value: user, booking), `hold` (not checked);
* a final read of the database for the run's events: every booking row (id, seat, user,
  status) and every seat row (status, holder, held_until_ms, version) plus its clock;
* every watcher's final seat map (`{seat: {status, version}}`) and the event it watched.

What it reports (the run is valid only when all but `recovered_unknowns` are empty):

* `duplicates`         — a seat with more than one active booking (sold twice);
* `lost`               — an acknowledged booking missing or no longer active without an
                         attempted cancel; an acknowledged cancel not applied;
* `unexpected`         — a booking row no operation can explain; a seat marked booked
                         without an active booking;
* `wrong_owner`        — an acknowledged booking stored for another user or seat; a
                         booked seat whose holder is not its booking's user;
* `failed_but_applied` — a definitely refused operation whose effect is in the database;
* `partial`            — an operation on several seats that took effect on only some
                         (all-or-nothing broken);
* `watcher_divergence` — a watcher's final map that disagrees with the database;
* `recovered_unknowns` — operations whose outcome was unknown (`info`), resolved by the
                         final read as applied or not applied: allowed, and reported.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from backend.seats import BookingStatus, SeatStatus, effective_status
from chaos.history import FAIL, INFO, OK, Op

# The checker judges with the app's own definitions (backend/seats.py): a drifted copy
# here could pass a history the app gets wrong.
ACTIVE = BookingStatus.ACTIVE
BOOKED = SeatStatus.BOOKED
MUST_BE_EMPTY = (
    "duplicates",
    "lost",
    "unexpected",
    "wrong_owner",
    "failed_but_applied",
    "partial",
    "watcher_divergence",
)
MAX_DIVERGENCES_PER_WATCHER = 10


@dataclass
class Verdict:
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    wrong_owner: list[dict[str, Any]] = field(default_factory=list)
    failed_but_applied: list[dict[str, Any]] = field(default_factory=list)
    partial: list[dict[str, Any]] = field(default_factory=list)
    watcher_divergence: list[dict[str, Any]] = field(default_factory=list)
    recovered_unknowns: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not any(getattr(self, name) for name in MUST_BE_EMPTY)

    def problems(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in MUST_BE_EMPTY if getattr(self, name)}

    def summary(self) -> str:
        s = self.stats
        ops = s.get("ops", {})
        counts = ", ".join(f"{k} {v}" for k, v in sorted(ops.items())) or "no ops"
        unknown = Counter(r["resolution"] for r in self.recovered_unknowns)
        head = "VALID" if self.valid else "INVALID"
        text = (
            f"{head}: {counts}; {s.get('active_bookings', 0)} active bookings on "
            f"{s.get('seats', 0)} seats; recovered unknowns: "
            f"{dict(unknown) if unknown else 0}; watchers: {s.get('watchers', 0)}"
        )
        if not self.valid:
            text += "; PROBLEMS " + ", ".join(f"{k}={v}" for k, v in self.problems().items())
        return text

    def to_json(self) -> str:
        return json.dumps(
            {"valid": self.valid, "summary": self.summary(), **asdict(self)},
            indent=2,
            sort_keys=True,
            default=str,
        )


def _effective(seat: dict[str, Any], now_ms: int) -> str:
    return effective_status(str(seat["status"]), seat.get("held_until_ms"), now_ms).value


def check(
    ops: list[Op],
    db: dict[str, Any],
    watchers: dict[str, dict[str, Any]] | None = None,
) -> Verdict:
    """Check a history (and watchers' maps) against the final database read."""
    verdict = Verdict()
    rows: list[dict[str, Any]] = [
        {**r, "id": str(r["id"]), "seat": str(r["seat"]), "user": str(r["user"])}
        for r in db.get("bookings", [])
    ]
    seats = {str(s["id"]): s for s in db.get("seats", [])}
    now_ms = int(db.get("now_ms", 0))
    by_id = {r["id"]: r for r in rows}
    books = [op for op in ops if op.f == "book"]
    cancels = [op for op in ops if op.f == "cancel"]

    # ------------------------------------------------------------- duplicates
    active_by_seat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["status"] == ACTIVE:
            active_by_seat[row["seat"]].append(row)
    for seat_id, active in sorted(active_by_seat.items()):
        if len(active) > 1:
            verdict.duplicates.append(
                {
                    "seat": seat_id,
                    "bookings": [r["id"] for r in active],
                    "users": [r["user"] for r in active],
                }
            )

    # --------------------------------------------------------------- cancels
    maybe_cancelled = {str(op.value.get("booking")) for op in cancels if op.type in (OK, INFO)}
    for op in cancels:
        booking_id = str(op.value.get("booking"))
        row = by_id.get(booking_id)
        if op.type == OK and row is not None and row["status"] == ACTIVE:
            verdict.lost.append(
                {"kind": "acknowledged cancel not applied", "op": op.id, "booking": booking_id}
            )
        if (
            op.type == FAIL
            and row is not None
            and row["status"] != ACTIVE
            and not any(
                o.type in (OK, INFO) and str(o.value.get("booking")) == booking_id for o in cancels
            )
        ):
            verdict.failed_but_applied.append(
                {"kind": "refused cancel applied", "op": op.id, "booking": booking_id}
            )

    # ------------------------------------------------- acknowledged bookings
    explained: set[str] = set()
    for op in books:
        if op.type != OK:
            continue
        acked = op.result.get("bookings", [])
        acked_seats = sorted(str(b["seat"]) for b in acked)
        if acked_seats != sorted(op.seats):
            verdict.partial.append(
                {
                    "kind": "acknowledged for other seats than asked",
                    "op": op.id,
                    "asked": sorted(op.seats),
                    "acknowledged": acked_seats,
                }
            )
        for booking in acked:
            booking_id, seat_id = str(booking["id"]), str(booking["seat"])
            row = by_id.get(booking_id)
            if row is None:
                verdict.lost.append(
                    {
                        "kind": "acknowledged booking missing",
                        "op": op.id,
                        "booking": booking_id,
                        "seat": seat_id,
                        "user": op.user,
                    }
                )
                continue
            explained.add(booking_id)
            if row["user"] != op.user or row["seat"] != seat_id:
                verdict.wrong_owner.append(
                    {
                        "kind": "acknowledged booking stored differently",
                        "op": op.id,
                        "booking": booking_id,
                        "expected": {"user": op.user, "seat": seat_id},
                        "stored": {"user": row["user"], "seat": row["seat"]},
                    }
                )
            if row["status"] != ACTIVE and booking_id not in maybe_cancelled:
                verdict.lost.append(
                    {
                        "kind": "acknowledged booking no longer active, never cancelled",
                        "op": op.id,
                        "booking": booking_id,
                        "status": row["status"],
                    }
                )

    # ------------------------------------ rows no acknowledgement explains
    unexplained: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["id"] not in explained:
            unexplained[(row["user"], row["seat"])].append(row)

    for op in books:
        if op.type != INFO:
            continue
        taken = []
        for seat_id in op.seats:
            candidates = unexplained.get((op.user, seat_id))
            if candidates:
                taken.append(candidates.pop(0)["id"])
        if not taken:
            resolution = "not applied"
        elif len(taken) == len(op.seats):
            resolution = "applied"
        else:
            resolution = "partially applied"
            verdict.partial.append(
                {
                    "kind": "unknown operation applied to some seats only",
                    "op": op.id,
                    "asked": op.seats,
                    "bookings": taken,
                }
            )
        verdict.recovered_unknowns.append(
            {
                "op": op.id,
                "user": op.user,
                "seats": op.seats,
                "resolution": resolution,
                "bookings": taken,
                "error": op.result.get("error"),
            }
        )

    failed = defaultdict(list)
    for op in books:
        if op.type == FAIL:
            for seat_id in op.seats:
                failed[(op.user, seat_id)].append(op.id)
    for (user, seat_id), left in sorted(unexplained.items()):
        for row in left:
            if failed.get((user, seat_id)):
                verdict.failed_but_applied.append(
                    {
                        "kind": "refused booking in the database",
                        "ops": failed[(user, seat_id)],
                        "booking": row["id"],
                        "seat": seat_id,
                        "user": user,
                        "status": row["status"],
                    }
                )
            else:
                verdict.unexpected.append(
                    {
                        "kind": "booking no operation explains",
                        "booking": row["id"],
                        "seat": seat_id,
                        "user": user,
                        "status": row["status"],
                    }
                )

    # ------------------------------------------ seat rows vs their bookings
    for seat_id, seat in sorted(seats.items()):
        active = active_by_seat.get(seat_id, [])
        if len(active) == 1:
            owner = active[0]["user"]
            if seat["status"] != BOOKED or str(seat.get("holder")) != owner:
                verdict.wrong_owner.append(
                    {
                        "kind": "seat row disagrees with its booking",
                        "seat": seat_id,
                        "booked_by": owner,
                        "seat_status": seat["status"],
                        "seat_holder": None if seat.get("holder") is None else str(seat["holder"]),
                    }
                )
        elif not active and seat["status"] == BOOKED:
            verdict.unexpected.append(
                {
                    "kind": "seat marked booked without an active booking",
                    "seat": seat_id,
                    "seat_holder": None if seat.get("holder") is None else str(seat["holder"]),
                }
            )

    # -------------------------------------------------------------- watchers
    for name, watched in sorted((watchers or {}).items()):
        event_id = str(watched.get("event", ""))
        view = watched.get("seats", {})
        expected = {
            sid: s for sid, s in seats.items() if not event_id or str(s.get("event")) == event_id
        }
        wrong = []
        for seat_id in sorted(set(expected) | set(view)):
            truth = expected.get(seat_id)
            seen = view.get(seat_id)
            want = None if truth is None else (_effective(truth, now_ms), int(truth["version"]))
            got = None if seen is None else (str(seen.get("status")), int(seen.get("version", -1)))
            if want != got:
                wrong.append({"seat": seat_id, "watcher": got, "database": want})
        if wrong:
            verdict.watcher_divergence.append(
                {
                    "watcher": name,
                    "event": event_id,
                    "seats_wrong": len(wrong),
                    "examples": wrong[:MAX_DIVERGENCES_PER_WATCHER],
                }
            )

    verdict.stats = {
        "ops": dict(Counter(f"{op.f}:{op.type}" for op in ops)),
        "bookings": len(rows),
        "active_bookings": sum(1 for r in rows if r["status"] == ACTIVE),
        "seats": len(seats),
        "watchers": len(watchers or {}),
    }
    return verdict
