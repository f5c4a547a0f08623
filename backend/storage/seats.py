"""Seats: every read and write the booking rules make on seat rows, portable.

Writes are compare-and-set: each UPDATE names the state it expects in its WHERE and
RETURNs what it changed, so two writers can never both win a seat, whatever the locks
did. Every change bumps `version`. PostgreSQL's fast paths for the same operations are
in `seats_pg.py`, and tests/storage/ checks them against these value for value.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import And, Or, Where

from backend.seats import SeatOut, SeatStatus, seat_out, seat_view
from backend.storage.database import Database
from backend.storage.seatlog import LogEntry, SeatLogRepository
from backend.storage.tables import Booking, Event, Seat

AVAILABLE, HELD, BOOKED = SeatStatus.AVAILABLE, SeatStatus.HELD, SeatStatus.BOOKED

SEAT_STATE: tuple[Column, ...] = (
    Seat.id,
    Seat.status,
    Seat.holder,
    Seat.held_until_ms,
    Seat.version,
)
SEAT_FULL: tuple[Column, ...] = (
    Seat.id,
    Seat.label,
    Seat.section,
    Seat.row,
    Seat.number,
    Seat.category,
    Seat.accessible,
    Seat.x,
    Seat.y,
    *SEAT_STATE[1:],
)
# Seats looked up in one statement at most (SQLite's bound parameters are limited).
LOOKUP_CHUNK = 500


def valid_ids(ids: Sequence[str]) -> list[uuid.UUID]:
    """The distinct ids among `ids` that are UUIDs (a seat id that is not one names no
    seat), parsed once."""
    found: dict[uuid.UUID, None] = {}
    for text in ids:
        try:
            found[uuid.UUID(text)] = None
        except ValueError:
            continue
    return list(found)


_EVENT_COLUMNS = tuple(c._meta.db_column_name for c in Event._meta.columns)
_SEAT_COLUMNS = tuple(c._meta.db_column_name for c in SEAT_FULL)


def _free_now(now_ms: int) -> Or:
    # A seat is free when nobody holds it live and nobody has booked it (backend/seats.py):
    # an expired hold that the sweeper has not reached yet counts as free.
    return (Seat.status == AVAILABLE) | ((Seat.status == HELD) & (Seat.held_until_ms <= now_ms))


def _freed() -> dict[Column | str, Any]:
    return {
        Seat.status: AVAILABLE,
        Seat.holder: None,
        Seat.held_since_ms: None,
        Seat.held_until_ms: None,
        Seat.version: Seat.version + 1,
    }


class SeatRepository:
    """Seat rows. Reads return plain dicts (or Mappings read by the same keys)."""

    def __init__(self, database: Database) -> None:
        self.db = database

    # ------------------------------------------------------------------ reads

    async def by_id(self, event_id: str, seat_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Those of `seat_ids` that are seats of the event (every column a client sees)."""
        return await Seat.select(*SEAT_FULL).where(
            (Seat.event == event_id) & Seat.id.is_in(list(seat_ids))
        )

    async def events_of(self, seat_ids: Sequence[str]) -> dict[str, str]:
        """The event of each of `seat_ids` that is a seat (no entry for the others)."""
        wanted = [str(key) for key in valid_ids(seat_ids)]  # SQLite keeps them as text
        found: dict[str, str] = {}
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            rows = await Seat.select(Seat.id, Seat.event).where(
                Seat.id.is_in(wanted[start : start + LOOKUP_CHUNK])
            )
            found.update((str(r["id"]), str(r["event"])) for r in rows)
        return found

    async def event_with_seats(
        self, event_id: str, seat_ids: Sequence[str]
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
        """The event (as `events.get`), those of `seat_ids` that are its seats (as
        `by_id`) and the database clock, in one round trip: the hot path's one read."""
        event_cols = ", ".join(f'e."{c}" AS "e_{c}"' for c in _EVENT_COLUMNS)
        seat_cols = ", ".join(f's."{c}" AS "s_{c}"' for c in _SEAT_COLUMNS)
        marks = ", ".join("{}" for _ in seat_ids) or "NULL"
        # The seats by their ids, never by walking the event's seats (SQLite's guess).
        seat_event = self.db.NOT_INDEXED_SQL.format('s."event"')
        # Only column names and placeholders are formatted in; every value is bound.
        sql = (
            f"SELECT {event_cols}, {seat_cols}, {self.db.NOW_MS_SQL} AS now_ms "  # noqa: S608
            'FROM "bo_event" e LEFT JOIN "bo_seat" s '
            f'ON {seat_event} = e."id" AND s."id" IN ({marks}) WHERE e."id" = {{}}'
        )
        rows = await self.db.fetch(sql, *seat_ids, event_id)
        if not rows or rows[0]["e_draft"]:  # a draft is no event yet (events.py)
            return None, [], 0
        first = rows[0]
        event = {c: first[f"e_{c}"] for c in _EVENT_COLUMNS}
        if isinstance(event["categories"], str):
            event["categories"] = json.loads(event["categories"])
        event["is_demo"] = bool(event["is_demo"])  # SQLite has no boolean type
        event["waiting_room"] = bool(event["waiting_room"])
        event["draft"] = False
        seats = [
            {c: row[f"s_{c}"] for c in _SEAT_COLUMNS} for row in rows if row["s_id"] is not None
        ]
        return event, seats, int(first["now_ms"])

    async def of_event(self, event_id: str) -> Sequence[Mapping[str, Any]]:
        """Every seat of the event with every column, in map order (y, x, id)."""
        return (
            await Seat.select(*SEAT_FULL)
            .where(Seat.event == event_id)
            .order_by(Seat.y, Seat.x, Seat.id)
        )

    async def states(self, event_id: str) -> Sequence[Mapping[str, Any]]:
        """Every seat's state columns (id, status, holder, held_until_ms, version)."""
        return await Seat.select(*SEAT_STATE).where(Seat.event == event_id)

    async def event_json(
        self, event_id: str, user_id: str | None
    ) -> tuple[dict[str, int], str, int]:
        """`GET /events/{id}`'s seats: their counts by status, their JSON (the items of
        an array, `mine` for `user_id`, map order) and the clock they were read at."""
        now = await self.db.now_ms()
        rows = await self.of_event(event_id)
        counts = {"total": len(rows), AVAILABLE: 0, HELD: 0, BOOKED: 0}
        seats: list[SeatOut] = []
        for row in rows:
            seat = seat_out(row, now, user_id)
            counts[seat.status] += 1
            seats.append(seat)
        return counts, msgspec.json.encode(seats)[1:-1].decode(), now

    async def seat_map(self, event_id: str) -> dict[str, Any]:
        """Every seat's live state in map order (y, x, id), compactly: `status` (one
        letter a seat: a/h/b, expired holds shown free), `versions` (comma separated),
        the live holds' indices and ends (`held`), who holds or booked each taken seat
        (`taken`, to mark `mine` per user), `count`, and `now`, the clock read at."""
        now = await self.db.now_ms()
        rows = (
            await Seat.select(*SEAT_STATE)
            .where(Seat.event == event_id)
            .order_by(Seat.y, Seat.x, Seat.id)
        )
        letters, held, taken = [], [], []
        for i, row in enumerate(rows):
            view = seat_view(row, now, None)
            letters.append(_LETTER[view.status])
            if view.held_until_ms is not None:
                held.append((i, view.held_until_ms))
            if view.status != AVAILABLE:
                taken.append((i, str(row["holder"])))
        return {
            "now": now,
            "count": len(rows),
            "status": "".join(letters),
            "versions": ",".join(str(int(r["version"])) for r in rows),
            "held": held,
            "taken": taken,
        }

    async def free(
        self,
        event_id: str,
        now_ms: int,
        categories: Sequence[str] | None,
        section: str | None = None,
        accessible: bool = False,
    ) -> list[dict[str, Any]]:
        """The event's free seats (for best-available): of these categories (None: any),
        in one section, wheelchair-accessible only."""
        where: Where | And | Or = (Seat.event == event_id) & _free_now(now_ms)
        if categories is not None:
            where = where & Seat.category.is_in(list(categories))
        if section is not None:
            where = where & (Seat.section == section)
        if accessible:
            where = where & (Seat.accessible == True)  # noqa: E712 (Piccolo)
        return await Seat.select(
            Seat.id, Seat.section, Seat.row, Seat.number, Seat.x, Seat.y
        ).where(where)

    async def has_section(self, event_id: str, section: str) -> bool:
        return bool(await Seat.exists().where((Seat.event == event_id) & (Seat.section == section)))

    async def own_live_holds(
        self, event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int
    ) -> list[dict[str, Any]]:
        """Those of `seat_ids` that `user_id` holds live at `now_ms`."""
        # Plain SQL: on the hot path, building this with the query builder cost more CPU
        # than running it (flash sale profile). Only placeholders are formatted in.
        marks = ", ".join("{}" for _ in seat_ids) or "NULL"
        return await self.db.fetch(
            'SELECT "id", "status", "holder", "held_until_ms", "version" FROM "bo_seat" '  # noqa: S608
            f'WHERE "event" = {{}} AND "id" IN ({marks}) AND "status" = {{}} '
            'AND "holder" = {} AND "held_until_ms" > {}',
            event_id,
            *seat_ids,
            HELD.value,
            user_id,
            now_ms,
        )

    async def count_for_user(self, event_id: str, user_id: str, now_ms: int) -> int:
        """Seats `user_id` has booked or holds live on the event (the per-user limit)."""
        rows = await self.db.fetch(
            # Counted by status, found by (event, holder) only: see `clock_and_counts`.
            'SELECT count(CASE WHEN "status" = {} OR ("status" = {} AND "held_until_ms" > {}) '
            'THEN 1 END) AS n FROM "bo_seat" WHERE "event" = {} AND "holder" = {}',
            BOOKED.value,
            HELD.value,
            now_ms,
            event_id,
            user_id,
        )
        return int(rows[0]["n"])

    async def lock_user_now(self, user_id: str) -> int | None:
        """Serialise one user's holds and bookings (so the per-user seat limit cannot be
        raced) and read the clock; None if the account no longer exists. Portable: the
        writer slot already serialises writers (SQLite); PostgreSQL takes the user's row
        lock (`seats_pg.py`)."""
        rows = await self.db.fetch(
            f'SELECT {self.db.NOW_MS_SQL} AS now, EXISTS (SELECT 1 FROM "bo_user" '  # noqa: S608
            'WHERE "id" = {}) AS known',
            user_id,
        )
        return int(rows[0]["now"]) if rows[0]["known"] else None

    async def changed_since(self, since_ms: int) -> list[str]:
        """Events with a hold taken or a booking made or cancelled since `since_ms`
        (epoch ms): what a process that died between a commit and its announcement may
        have left unannounced (services.py announces a resync for them at start-up)."""
        since = datetime.fromtimestamp(since_ms / 1000, UTC)
        held = await Seat.select(Seat.event).where(Seat.held_since_ms >= since_ms).distinct()
        booked = (
            await Booking.select(Booking.event)
            .where((Booking.created_at >= since) | (Booking.cancelled_at >= since))
            .distinct()
        )
        return sorted({str(r["event"]) for r in [*held, *booked]})

    # ---------------------------------------------------------- batched writes
    # The group commit (backend/booking/batch.py) reads every seat and account of a
    # batch once, decides each request in Python, and writes the outcome in one
    # statement. These are its reads and its one write, portable; `seats_pg.py` locks
    # the rows and writes set-based.

    async def lock_users(self, user_ids: Sequence[str]) -> set[str]:
        """Those of `user_ids` that still exist, each account serialised like
        `lock_user_now` (PostgreSQL: their row locks, in id order)."""
        marks = ", ".join("{}" for _ in user_ids) or "NULL"
        rows = await self.db.fetch(
            f'SELECT "id" FROM "bo_user" WHERE "id" IN ({marks})',  # noqa: S608
            *user_ids,
        )
        return {str(r["id"]) for r in rows}

    async def lock_event(self, event_id: str) -> None:
        """Lock every seat of the event until the transaction ends (SQLite: the writer
        slot already does; PostgreSQL takes the row locks in id order)."""

    async def for_update(
        self, event_id: str, seat_ids: Sequence[str], holders: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Those of `seat_ids` that are the event's seats, and every seat of the event
        that one of `holders` holds (live, or expired and not swept yet: the carts a
        batch's holds re-hold), each once, with every column the rules read (`SEAT_FULL`
        and `held_since_ms`), locked until the transaction ends (the writer slot does it
        on SQLite; PostgreSQL takes the row locks in id order, in this one statement).

        The holders' accounts are locked first (`lock_users`), so their carts can only
        shrink meanwhile (a release, the sweeper): a seat that left a cart before its row
        was locked is not returned unless named."""
        where: Where | Or = Seat.id.is_in(list(seat_ids)) if seat_ids else Seat.id.is_null()
        if holders:
            where = where | ((Seat.holder.is_in(list(holders))) & (Seat.status == HELD))
        return await Seat.select(*SEAT_FULL, Seat.held_since_ms).where(
            (Seat.event == event_id) & where
        )

    async def clock_and_counts(
        self, event_id: str, user_ids: Sequence[str]
    ) -> tuple[int, dict[str, int], bool]:
        """The database clock, then each user's seats on the event at that clock (booked
        or held live: what `count_for_user` counts), and whether the event has been
        cancelled, in one statement. Read after the batch's seats are locked, so a
        cancellation that held them has committed and is seen (`EventService.cancel`)."""
        marks = ", ".join("{}" for _ in user_ids) or "NULL"
        rows = await self.db.fetch(
            # The status is counted by, not searched on: only the (event, holder) index
            # can find the rows (statistics taken before a sale make "booked" look rare).
            'SELECT c.now AS now, c.cancelled AS cancelled, s."holder" AS holder, '  # noqa: S608
            'count(CASE WHEN s."status" = {} OR (s."status" = {} AND s."held_until_ms" > c.now) '
            "THEN 1 END) AS n "
            f"FROM (SELECT {self.db.NOW_MS_SQL} AS now, "
            '(SELECT "cancelled_at" IS NOT NULL FROM "bo_event" WHERE "id" = {}) AS cancelled'
            ") AS c "
            'LEFT JOIN "bo_seat" AS s ON s."event" = {} '
            f'AND s."holder" IN ({marks}) '
            'GROUP BY c.now, c.cancelled, s."holder"',
            BOOKED.value,
            HELD.value,
            event_id,
            event_id,
            *user_ids,
        )
        counts = {str(r["holder"]): int(r["n"]) for r in rows if r["holder"] is not None}
        return int(rows[0]["now"]), counts, bool(rows[0]["cancelled"])

    async def cancelled(self, event_id: str) -> bool:
        """Whether the event has been cancelled, read inside a write transaction after
        its compare-and-set (the alone paths; the batch reads it in `clock_and_counts`)."""
        rows = await self.db.fetch(
            'SELECT "cancelled_at" IS NOT NULL AS cancelled FROM "bo_event" WHERE "id" = {}',
            event_id,
        )
        return bool(rows and rows[0]["cancelled"])

    async def apply(
        self,
        event_id: str,
        states: Sequence[Mapping[str, Any]],
        log: Sequence[LogEntry] = (),
    ) -> list[dict[str, Any]]:
        """Write each seat's new state (`id`, `status`, `holder`, `held_since_ms`,
        `held_until_ms`) if its `version` is still the one given: compare-and-set, one
        version up, and the status-change log's lines `log` (`SeatLogRepository.record`,
        in the same statement on PostgreSQL). Returns the rows written (`SEAT_STATE`); a
        row whose version moved is left alone and missing from the answer, and the
        caller rolls the transaction back (its log lines with it)."""
        changed: list[dict[str, Any]] = []
        for state in states:
            changed += await (
                Seat.update(
                    {
                        Seat.status: state["status"],
                        Seat.holder: state["holder"],
                        Seat.held_since_ms: state["held_since_ms"],
                        Seat.held_until_ms: state["held_until_ms"],
                        Seat.version: Seat.version + 1,
                    }
                )
                .where(
                    (Seat.event == event_id)
                    & (Seat.id == state["id"])
                    & (Seat.version == state["version"])
                )
                .returning(*SEAT_STATE)
            )
        await SeatLogRepository(self.db).record(log)
        return changed

    # ----------------------------------------------------------------- writes

    async def hold_free(
        self, event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int, until_ms: int
    ) -> list[dict[str, Any]]:
        """Take free seats (or ones whose hold has expired) as holds for `user_id`."""
        return await (
            Seat.update(
                {
                    Seat.status: HELD,
                    Seat.holder: user_id,
                    Seat.held_since_ms: now_ms,
                    Seat.held_until_ms: until_ms,
                    Seat.version: Seat.version + 1,
                }
            )
            .where((Seat.event == event_id) & Seat.id.is_in(list(seat_ids)) & _free_now(now_ms))
            .returning(*SEAT_STATE)
        )

    async def cart_start(self, event_id: str, user_id: str, now_ms: int) -> int | None:
        """When the earliest of `user_id`'s live holds on the event was taken (its
        `held_since_ms`), or None when they hold none: where their cart's cap counts from."""
        rows = await self.db.fetch(
            'SELECT min("held_since_ms") AS since FROM "bo_seat" WHERE "event" = {} '
            'AND "holder" = {} AND "status" = {} AND "held_until_ms" > {}',
            event_id,
            user_id,
            HELD.value,
            now_ms,
        )
        since = rows[0]["since"] if rows else None
        return None if since is None else int(since)

    async def hold_cart_until(
        self, event_id: str, user_id: str, now_ms: int, until_ms: int
    ) -> list[dict[str, Any]]:
        """Give every live hold of `user_id` on the event the one end `until_ms` (their
        cart's); holds that already end then are left alone (no version bump)."""
        return await (
            Seat.update({Seat.held_until_ms: until_ms, Seat.version: Seat.version + 1})
            .where(
                (Seat.event == event_id)
                & (Seat.holder == user_id)
                & (Seat.status == HELD)
                & (Seat.held_until_ms > now_ms)
                & (Seat.held_until_ms != until_ms)
            )
            .returning(*SEAT_STATE)
        )

    async def book(
        self, event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int, guard: bool = True
    ) -> list[dict[str, Any]]:
        """Mark seats booked: the caller's own holds, or free seats.

        `guard=False` is the chaos tests' negative control only (settings refuse it outside
        tests): it drops the compare-and-set condition so any seat is taken.
        """
        mine = (Seat.status == HELD) & (Seat.holder == user_id)
        taken = (mine | _free_now(now_ms)) if guard else (Seat.version > 0)
        return await (
            Seat.update(
                {
                    Seat.status: BOOKED,
                    Seat.holder: user_id,
                    Seat.held_since_ms: None,
                    Seat.held_until_ms: None,
                    Seat.version: Seat.version + 1,
                }
            )
            .where((Seat.event == event_id) & Seat.id.is_in(list(seat_ids)) & taken)
            .returning(*SEAT_STATE)
        )

    async def release(
        self, event_id: str, user_id: str, seat_ids: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        """Free the user's holds on the event (all, or those listed)."""
        where = (Seat.event == event_id) & (Seat.status == HELD) & (Seat.holder == user_id)
        if seat_ids is not None:
            where = where & Seat.id.is_in(list(seat_ids))
        return await Seat.update(_freed()).where(where).returning(*SEAT_STATE, Seat.event)

    async def expire(self, now_ms: int) -> list[dict[str, Any]]:
        """Free every hold past its end. The conditional update claims each expiry once,
        so exactly one app process announces it."""
        where = (Seat.status == HELD) & (Seat.held_until_ms <= now_ms)
        return await Seat.update(_freed()).where(where).returning(*SEAT_STATE, Seat.event)

    async def free_event(self, event_id: str) -> list[dict[str, Any]]:
        """Free every held or booked seat of the event (its organiser cancelled it;
        inside that transaction, its seats locked)."""
        return await (
            Seat.update(_freed())
            .where((Seat.event == event_id) & (Seat.status != AVAILABLE))
            .returning(*SEAT_STATE, Seat.event)
        )

    async def free_booked(self, seat_id: str, user_id: str) -> list[dict[str, Any]]:
        """Free a seat the user had booked (its booking was just cancelled)."""
        return await (
            Seat.update(_freed())
            .where((Seat.id == seat_id) & (Seat.status == BOOKED) & (Seat.holder == user_id))
            .returning(*SEAT_STATE, Seat.event)
        )


_LETTER = {AVAILABLE: "a", HELD: "h", BOOKED: "b"}
