"""Every query the booking rules run, written with Piccolo's query builder.

Writes are compare-and-set: each UPDATE names the state it expects in its WHERE and
RETURNs what it changed, so two writers can never both win a seat, whatever the locks
did. Every change bumps `version`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import And, Or, Where
from piccolo.engine.base import Engine

from backend.storage.db import NOW_MS_SQL, is_postgres, now_ms
from backend.storage.tables import (
    ACTIVE,
    AVAILABLE,
    BOOKED,
    CANCELLED,
    HELD,
    Booking,
    Event,
    Seat,
    User,
)

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


def _free_now(now_ms: int) -> Or:
    # A seat is free when nobody holds it live and nobody has booked it (pretix's rule):
    # an expired hold that the sweeper has not reached yet counts as free.
    return (Seat.status == AVAILABLE) | ((Seat.status == HELD) & (Seat.held_until_ms <= now_ms))


async def get_event(event_id: str) -> dict[str, Any] | None:
    return await Event.select().where(Event.id == event_id).output(load_json=True).first()


async def seats_by_id(event_id: str, seat_ids: Sequence[str]) -> list[dict[str, Any]]:
    return await Seat.select(*SEAT_FULL).where(
        (Seat.event == event_id) & Seat.id.is_in(list(seat_ids))
    )


async def event_seats(event_id: str) -> Sequence[Mapping[str, Any]]:
    # The map order (y, x, id): the compact websocket snapshot lists seats in it too.
    records = await _pg_records(_EVENT_SEATS_PG, event_id)
    if records is not None:
        return records
    return (
        await Seat.select(*SEAT_FULL)
        .where(Seat.event == event_id)
        .order_by(Seat.y, Seat.x, Seat.id)
    )


async def event_seat_states(event_id: str) -> Sequence[Mapping[str, Any]]:
    records = await _pg_records(_EVENT_SEAT_STATES_PG, event_id)
    if records is not None:
        return records
    return await Seat.select(*SEAT_STATE).where(Seat.event == event_id)


# Reads of every seat of an event, on PostgreSQL, as asyncpg Records: they are read by
# key like the dicts Piccolo returns, and skipping Piccolo's per-row conversion to dicts
# takes 260 ms off a 100,000-seat GET /events/{id} (of 700 ms). Same columns, same order.
_EVENT_SEATS_PG = (
    "SELECT "  # noqa: S608 - column names only
    + ", ".join(f'"{c._meta.db_column_name}"' for c in SEAT_FULL)
    + ' FROM "bo_seat" WHERE "event" = $1 ORDER BY "y", "x", "id"'
)
_EVENT_SEAT_STATES_PG = (
    "SELECT "  # noqa: S608 - column names only
    + ", ".join(f'"{c._meta.db_column_name}"' for c in SEAT_STATE)
    + ' FROM "bo_seat" WHERE "event" = $1'
)


# GET /events/{id} on PostgreSQL: the seats' JSON (exactly what `seat_out` and msgspec
# write, as JSON values: same keys, same omissions) and the counts, built by PostgreSQL
# in one statement. For 100,000 seats the server otherwise spends ~300 ms decoding
# 1.3 million values and ~130 ms building and encoding 100,000 output objects.
# x and y are double precision, which PostgreSQL (12+) prints in the shortest form that
# reads back exactly, as Python and msgspec do.
_SEAT_JSON = (
    """'{"id":"' || "id"::text || '","label":' || to_json("label")::text"""
    """ || ',"section":' || to_json("section")::text || ',"row":' || to_json("row")::text"""
    """ || ',"number":' || "number"::text || ',"category":' || to_json("category")::text"""
    """ || ',"accessible":' || CASE WHEN "accessible" THEN 'true' ELSE 'false' END"""
    """ || ',"x":' || "x"::text || ',"y":' || "y"::text"""
    """ || ',"status":"' || st || '","version":' || "version"::text"""
    """ || CASE WHEN st = 'held' THEN ',"heldUntil":"' || to_char("""
    """(timestamptz 'epoch' + "held_until_ms" * interval '1 millisecond') AT TIME ZONE 'UTC',"""
    """ 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"' ELSE '' END"""
    """ || CASE WHEN st <> 'available' AND "holder" = $2 THEN ',"mine":true' ELSE '' END"""
    """ || '}'"""
)
_EVENT_SEATS_JSON_PG = f"""
WITH clock AS (SELECT {NOW_MS_SQL["postgres"]} AS now),
s AS (
  SELECT *, CASE WHEN "status" = 'held' AND coalesce("held_until_ms", 0) <= clock.now
                 THEN 'available' ELSE "status" END AS st
  FROM "bo_seat", clock WHERE "event" = $1
)
SELECT (SELECT now FROM clock) AS now, count(*) AS total,
  count(*) FILTER (WHERE st = 'available') AS available,
  count(*) FILTER (WHERE st = 'held') AS held,
  count(*) FILTER (WHERE st = 'booked') AS booked,
  coalesce(string_agg({_SEAT_JSON}, ',' ORDER BY "y", "x", "id"), '') AS seats
FROM s
"""  # noqa: S608 - no values are formatted in


async def event_seats_json(event_id: str, user_id: str | None) -> tuple[dict[str, int], str] | None:
    """On PostgreSQL: the event's seat counts and its seats as a JSON array's items (for
    `user_id`'s `mine`), in map order; None elsewhere (build them from `event_seats`)."""
    holder = uuid.UUID(user_id) if user_id is not None else None
    rows = await _pg_fetch(_EVENT_SEATS_JSON_PG, uuid.UUID(event_id), holder)
    if rows is None:
        return None
    [row] = rows
    counts = {k: int(row[k]) for k in ("total", "available", "held", "booked")}
    return counts, row["seats"]


async def _pg_records(sql: str, event_id: str) -> Sequence[Mapping[str, Any]] | None:
    """`sql` run with the event's id on PostgreSQL, or None elsewhere."""
    return await _pg_fetch(sql, uuid.UUID(event_id))


async def _pg_fetch(sql: str, *args: Any) -> list[Any] | None:
    """`sql` ($1, $2 … placeholders) on the PostgreSQL pool as asyncpg Records, or None
    when the tables are bound to another engine (the embedded mode)."""
    engine = Seat._meta.db
    pool = getattr(engine, "pool", None) if is_postgres(engine) else None
    if pool is None:
        return None
    async with pool.acquire() as connection:
        return list(await connection.fetch(sql, *args))


async def free_seats(event_id: str, now_ms: int, category: str | None) -> list[dict[str, Any]]:
    where: Where | And | Or = (Seat.event == event_id) & _free_now(now_ms)
    if category is not None:
        where = where & (Seat.category == category)
    return await Seat.select(Seat.id, Seat.section, Seat.row, Seat.number, Seat.x, Seat.y).where(
        where
    )


async def hold_free(
    event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int, until_ms: int
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


async def extend_own_holds(
    event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int, until_ms: int, cap_ms: int
) -> list[dict[str, Any]]:
    """Re-holding your own live hold extends it to `until_ms`, but never past its cap."""
    own = (
        (Seat.event == event_id)
        & Seat.id.is_in(list(seat_ids))
        & (Seat.status == HELD)
        & (Seat.holder == user_id)
        & (Seat.held_until_ms > now_ms)
    )
    extended = await (
        Seat.update({Seat.held_until_ms: until_ms, Seat.version: Seat.version + 1})
        .where(own & (Seat.held_since_ms >= until_ms - cap_ms))
        .returning(*SEAT_STATE)
    )
    capped = await (
        Seat.update(
            {Seat.held_until_ms: Seat.held_since_ms + cap_ms, Seat.version: Seat.version + 1}
        )
        .where(
            own
            & (Seat.held_since_ms < until_ms - cap_ms)
            & (Seat.held_until_ms < Seat.held_since_ms + cap_ms)
        )
        .returning(*SEAT_STATE)
    )
    return [*extended, *capped]


async def own_live_holds(
    event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int
) -> list[dict[str, Any]]:
    # Plain SQL: on the hot path, building this with the query builder cost more CPU
    # than running it (flash sale profile). Only placeholders are formatted in; every
    # value is a bound parameter.
    marks = ", ".join("{}" for _ in seat_ids) or "NULL"
    rows: list[dict[str, Any]] = await Seat.raw(
        'SELECT "id", "status", "holder", "held_until_ms", "version" FROM "bo_seat" '  # noqa: S608
        f'WHERE "event" = {{}} AND "id" IN ({marks}) AND "status" = {{}} '
        'AND "holder" = {} AND "held_until_ms" > {}',
        event_id,
        *seat_ids,
        HELD,
        user_id,
        now_ms,
    )
    return rows


async def book_seats(
    event_id: str, seat_ids: Sequence[str], user_id: str, now_ms: int, guard: bool = True
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


async def count_user_seats(event_id: str, user_id: str, now_ms: int) -> int:
    # Plain SQL, as own_live_holds: booked seats and live holds of this user.
    rows = await Seat.raw(
        'SELECT count(*) AS n FROM "bo_seat" WHERE "event" = {} AND "holder" = {} '
        'AND ("status" = {} OR ("status" = {} AND "held_until_ms" > {}))',
        event_id,
        user_id,
        BOOKED,
        HELD,
        now_ms,
    )
    return int(rows[0]["n"])


async def insert_bookings(
    event_id: str, seat_ids: Sequence[str], user_id: str, guard: bool = True
) -> list[dict[str, Any]]:
    """One booking row per seat. The unique `active_seat` column refuses a second one.

    `guard=False` (negative control only) leaves `active_seat` NULL, which the unique
    index never compares, so a second active booking goes in.
    """
    rows = [
        Booking(
            id=uuid.uuid4(),
            seat=seat_id,
            event=event_id,
            user=user_id,
            status=ACTIVE,
            active_seat=seat_id if guard else None,
        )
        for seat_id in seat_ids
    ]
    return await Booking.insert(*rows).returning(
        Booking.id, Booking.seat, Booking.status, Booking.created_at
    )


async def release_holds(
    event_id: str, user_id: str, seat_ids: Sequence[str] | None
) -> list[dict[str, Any]]:
    where = (Seat.event == event_id) & (Seat.status == HELD) & (Seat.holder == user_id)
    if seat_ids is not None:
        where = where & Seat.id.is_in(list(seat_ids))
    return await Seat.update(_freed()).where(where).returning(*SEAT_STATE, Seat.event)


async def expire_holds(now_ms: int, limit_event: str | None = None) -> list[dict[str, Any]]:
    """Free every hold past its end. The conditional update claims each expiry once, so
    exactly one app process announces it."""
    where = (Seat.status == HELD) & (Seat.held_until_ms <= now_ms)
    if limit_event is not None:
        where = where & (Seat.event == limit_event)
    return await Seat.update(_freed()).where(where).returning(*SEAT_STATE, Seat.event)


def _freed() -> dict[Column | str, Any]:
    return {
        Seat.status: AVAILABLE,
        Seat.holder: None,
        Seat.held_since_ms: None,
        Seat.held_until_ms: None,
        Seat.version: Seat.version + 1,
    }


async def get_booking(booking_id: str) -> dict[str, Any] | None:
    return await Booking.select().where(Booking.id == booking_id).first()


async def cancel_booking(booking_id: str, user_id: str) -> dict[str, Any] | None:
    """Cancel an active booking; NULLing `active_seat` lets the seat be booked again."""
    rows = await (
        Booking.update(
            {
                Booking.status: CANCELLED,
                Booking.active_seat: None,
                Booking.cancelled_at: datetime.now(UTC),
            }
        )
        .where((Booking.id == booking_id) & (Booking.user == user_id) & (Booking.status == ACTIVE))
        .returning(Booking.id, Booking.seat, Booking.event)
    )
    return _first(rows)


def _first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


async def free_booked_seat(seat_id: str, user_id: str) -> list[dict[str, Any]]:
    return await (
        Seat.update(_freed())
        .where((Seat.id == seat_id) & (Seat.status == BOOKED) & (Seat.holder == user_id))
        .returning(*SEAT_STATE, Seat.event)
    )


async def event_of_seat(seat_id: str) -> str:
    from backend.errors import NotFound

    row = await Seat.select(Seat.event).where(Seat.id == seat_id).first()
    if row is None:
        raise NotFound(f"no seat with id {seat_id}")
    return str(row["event"])


async def user_bookings(user_id: str) -> list[dict[str, Any]]:
    return (
        await Booking.select()
        .where(Booking.user == user_id)
        .order_by(Booking.created_at, ascending=False)
    )


async def seats_and_events(
    seat_ids: Sequence[str], event_ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    seats = await Seat.select(*SEAT_FULL).where(Seat.id.is_in(list(seat_ids))) if seat_ids else []
    events = (
        await Event.select().where(Event.id.is_in(list(event_ids))).output(load_json=True)
        if event_ids
        else []
    )
    return {str(s["id"]): s for s in seats}, {str(e["id"]): e for e in events}


# ----------------------------------------------------------- hot-path reads
# The flash sale's profile showed each request paying for several pool round trips
# (asyncpg resets a connection on every release) and for building queries. These two
# do in one statement what took two or three.

_EVENT_COLUMNS = tuple(c._meta.db_column_name for c in Event._meta.columns)
_SEAT_COLUMNS = tuple(c._meta.db_column_name for c in SEAT_FULL)


async def event_with_seats(
    engine: Engine[Any], event_id: str, seat_ids: Sequence[str]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
    """The event (as `get_event`), those of `seat_ids` that are its seats (as
    `seats_by_id`) and the database clock (as `db.now_ms`), in one round trip."""
    event_cols = ", ".join(f'e."{c}" AS "e_{c}"' for c in _EVENT_COLUMNS)
    seat_cols = ", ".join(f's."{c}" AS "s_{c}"' for c in _SEAT_COLUMNS)
    marks = ", ".join("{}" for _ in seat_ids) or "NULL"
    # Only column names and placeholders are formatted in; every value is bound.
    sql = (
        f"SELECT {event_cols}, {seat_cols}, {NOW_MS_SQL[engine.engine_type]} AS now_ms "  # noqa: S608
        f'FROM "bo_event" e LEFT JOIN "bo_seat" s ON s."event" = e."id" AND s."id" IN ({marks}) '
        'WHERE e."id" = {}'
    )
    rows = await Event.raw(sql, *seat_ids, event_id)
    if not rows:
        return None, [], 0
    first = rows[0]
    event = {c: first[f"e_{c}"] for c in _EVENT_COLUMNS}
    if isinstance(event["categories"], str):
        event["categories"] = json.loads(event["categories"])
    if not is_postgres(engine):
        event["is_demo"] = bool(event["is_demo"])
    seats = [{c: row[f"s_{c}"] for c in _SEAT_COLUMNS} for row in rows if row["s_id"] is not None]
    return event, seats, int(first["now_ms"])


async def lock_user_now(engine: Engine[Any], user_id: str) -> int:
    """Serialise one user's holds and bookings (so the per-user seat limit cannot be
    raced) and read the database clock (`db.now_ms`), in one statement. SQLite needs no
    row lock: its writers are already serialised.

    The clock is read in the outer query, after the CTE has taken the row lock, so a
    request that waited for the lock still gets the time it got it.
    """
    if is_postgres(engine):
        rows = await User.raw(
            'WITH u AS (SELECT "id" FROM "bo_user" WHERE "id" = {} FOR UPDATE) '  # noqa: S608
            f"SELECT {NOW_MS_SQL['postgres']} AS now FROM u",
            user_id,
        )
        if rows:
            return int(rows[0]["now"])
    return await now_ms(engine)


# ------------------------------------------------------- compact seat map
# A 100,000-seat snapshot read as rows costs 150-200 ms in asyncpg alone (decoding
# 100,000 rows); PostgreSQL aggregates the same states into a few strings in about 80 ms.

_HELD = re.compile("h")
_TAKEN = re.compile("[hb]")

_SEAT_MAP_PG = """
SELECT count(*) AS n,
  string_agg(CASE WHEN "status" = 'booked' THEN 'b' WHEN live_hold THEN 'h' ELSE 'a' END,
             '' ORDER BY "y", "x", "id") AS status,
  string_agg("version"::text, ',' ORDER BY "y", "x", "id") AS versions,
  array_agg("held_until_ms" ORDER BY "y", "x", "id") FILTER (WHERE live_hold) AS held_until,
  array_agg("holder"::text ORDER BY "y", "x", "id") FILTER (WHERE "status" = 'booked' OR live_hold)
    AS taken_by
FROM (
  SELECT "y", "x", "id", "status", "holder", "held_until_ms", "version",
         ("status" = 'held' AND "held_until_ms" > {}) AS live_hold
  FROM "bo_seat" WHERE "event" = {}
) AS s
"""


async def event_seat_map(engine: Engine[Any], event_id: str) -> dict[str, Any]:
    """Every seat's live state in map order (y, x, id), as `GET /events/{id}` lists them:
    `status` (one letter a seat: a/h/b, expired holds shown free), `versions` (comma
    separated), the live holds' indices and ends, and who holds or booked each taken
    seat (to mark `mine` per user). Also `now`, the database clock it was read at."""
    now = await now_ms(engine)
    if is_postgres(engine):
        row = (await Seat.raw(_SEAT_MAP_PG, now, event_id))[0]
        status = row["status"] or ""
        # The letters say which seats are held (h) and taken (h or b); their ends and
        # holders come in the same order, so the indices are counted here rather than
        # numbered in SQL (a window function: another sort of every seat).
        held_i = [m.start() for m in _HELD.finditer(status)]
        taken_i = [m.start() for m in _TAKEN.finditer(status)]
        return {
            "now": now,
            "count": int(row["n"]),
            "status": status,
            "versions": row["versions"] or "",
            "held": list(zip(held_i, row["held_until"] or [], strict=True)),
            "taken": list(zip(taken_i, row["taken_by"] or [], strict=True)),
        }
    rows = (
        await Seat.select(*SEAT_STATE)
        .where(Seat.event == event_id)
        .order_by(Seat.y, Seat.x, Seat.id)
    )
    letters, held, taken = [], [], []
    for i, r in enumerate(rows):
        live = r["status"] == HELD and (r["held_until_ms"] or 0) > now
        if r["status"] == BOOKED:
            letters.append("b")
        elif live:
            letters.append("h")
            held.append((i, r["held_until_ms"]))
        else:
            letters.append("a")
        if r["status"] == BOOKED or live:
            taken.append((i, str(r["holder"])))
    return {
        "now": now,
        "count": len(rows),
        "status": "".join(letters),
        "versions": ",".join(str(int(r["version"])) for r in rows),
        "held": held,
        "taken": taken,
    }
