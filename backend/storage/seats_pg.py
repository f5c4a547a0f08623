"""PostgreSQL's fast paths for seat reads: the only engine-specific SQL of the seats.

Each method returns exactly what its portable version in `seats.py` returns, and
tests/storage/test_seat_projection.py checks that value for value. The statements are
generated from the same constants as `backend/seats.py` (statuses, the free rule), so
the projection cannot drift between Python and SQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from backend.seats import SeatStatus
from backend.storage.database import PostgresDatabase
from backend.storage.seats import SEAT_FULL, SEAT_STATE, SeatRepository

AVAILABLE, HELD, BOOKED = (f"'{s.value}'" for s in SeatStatus)
NOW_MS = PostgresDatabase.NOW_MS_SQL


def _columns(columns: Sequence[Any]) -> str:
    return ", ".join(f'"{c._meta.db_column_name}"' for c in columns)


# Reads of every seat of an event as asyncpg Records: read by key like the dicts
# Piccolo returns, and skipping Piccolo's per-row conversion to dicts takes 260 ms off a
# 100,000-seat GET /events/{id} (of 700 ms). Same columns, same order.
_OF_EVENT = (
    f'SELECT {_columns(SEAT_FULL)} FROM "bo_seat" '  # noqa: S608 - column names only
    'WHERE "event" = $1 ORDER BY "y", "x", "id"'
)
_STATES = f'SELECT {_columns(SEAT_STATE)} FROM "bo_seat" WHERE "event" = $1'  # noqa: S608

# The effective status (backend/seats.py `effective_status`) of a row at `clock.now`.
_EFFECTIVE = (
    f'CASE WHEN "status" = {HELD} AND coalesce("held_until_ms", 0) <= clock.now '
    f'THEN {AVAILABLE} ELSE "status" END'
)

# GET /events/{id}: the seats' JSON (exactly what `seats.seat_out` and msgspec write: same
# keys, same omissions) and the counts, built by PostgreSQL in one statement. For
# 100,000 seats the server otherwise spends ~300 ms decoding 1.3 million values and
# ~130 ms building and encoding 100,000 output objects. x and y are double precision,
# which PostgreSQL (12+) prints in the shortest form that reads back exactly, as Python
# and msgspec do. `mine` is `is_mine`: not free, and the holder is the caller.
_SEAT_JSON = (
    """'{"id":"' || "id"::text || '","label":' || to_json("label")::text"""
    """ || ',"section":' || to_json("section")::text || ',"row":' || to_json("row")::text"""
    """ || ',"number":' || "number"::text || ',"category":' || to_json("category")::text"""
    """ || ',"accessible":' || CASE WHEN "accessible" THEN 'true' ELSE 'false' END"""
    """ || ',"x":' || "x"::text || ',"y":' || "y"::text"""
    """ || ',"status":"' || st || '","version":' || "version"::text"""
    f""" || CASE WHEN st = {HELD} THEN ',"heldUntil":"' || to_char("""
    """(timestamptz 'epoch' + "held_until_ms" * interval '1 millisecond') AT TIME ZONE 'UTC',"""
    """ 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"' ELSE '' END"""
    f""" || CASE WHEN st <> {AVAILABLE} AND "holder" = $2 THEN ',"mine":true' ELSE '' END"""
    """ || '}'"""
)
_EVENT_JSON = f"""
WITH clock AS (SELECT {NOW_MS} AS now),
s AS (SELECT *, {_EFFECTIVE} AS st FROM "bo_seat", clock WHERE "event" = $1)
SELECT (SELECT now FROM clock) AS now, count(*) AS total,
  count(*) FILTER (WHERE st = {AVAILABLE}) AS available,
  count(*) FILTER (WHERE st = {HELD}) AS held,
  count(*) FILTER (WHERE st = {BOOKED}) AS booked,
  coalesce(string_agg({_SEAT_JSON}, ',' ORDER BY "y", "x", "id"), '') AS seats
FROM s
"""  # noqa: S608 - no values are formatted in

# The compact seat map: a 100,000-seat snapshot read as rows costs 150-200 ms in asyncpg
# alone (decoding 100,000 rows); PostgreSQL aggregates the same states into a few
# strings in about 80 ms.
_SEAT_MAP = f"""
WITH clock AS (SELECT {NOW_MS} AS now)
SELECT (SELECT now FROM clock) AS now, count(*) AS n,
  string_agg(CASE st WHEN {BOOKED} THEN 'b' WHEN {HELD} THEN 'h' ELSE 'a' END,
             '' ORDER BY "y", "x", "id") AS status,
  string_agg("version"::text, ',' ORDER BY "y", "x", "id") AS versions,
  array_agg("held_until_ms" ORDER BY "y", "x", "id") FILTER (WHERE st = {HELD}) AS held_until,
  array_agg("holder"::text ORDER BY "y", "x", "id") FILTER (WHERE st <> {AVAILABLE}) AS taken_by
FROM (SELECT "y", "x", "id", "holder", "held_until_ms", "version", {_EFFECTIVE} AS st
      FROM "bo_seat", clock WHERE "event" = $1) AS s
"""  # noqa: S608 - no values are formatted in

# The user's row lock, then the clock: read in the outer query, after the CTE has taken
# the lock, so a request that waited for the lock still gets the time it got it.
_LOCK_USER_NOW = (
    'WITH u AS (SELECT "id" FROM "bo_user" WHERE "id" = {} FOR UPDATE) '  # noqa: S608
    f"SELECT {NOW_MS} AS now FROM u"  # runs inside the write transaction (Piccolo's)
)

_HELD_LETTER = re.compile("h")
_TAKEN_LETTER = re.compile("[hb]")


class PostgresSeatRepository(SeatRepository):
    """`SeatRepository` with PostgreSQL doing the heavy reads itself."""

    db: PostgresDatabase

    def __init__(self, database: PostgresDatabase) -> None:
        super().__init__(database)

    async def of_event(self, event_id: str) -> Sequence[Mapping[str, Any]]:
        return await self.db.records(_OF_EVENT, uuid.UUID(event_id))

    async def states(self, event_id: str) -> Sequence[Mapping[str, Any]]:
        return await self.db.records(_STATES, uuid.UUID(event_id))

    async def event_json(
        self, event_id: str, user_id: str | None
    ) -> tuple[dict[str, int], str, int]:
        holder = uuid.UUID(user_id) if user_id is not None else None
        [row] = await self.db.records(_EVENT_JSON, uuid.UUID(event_id), holder)
        counts = {k: int(row[k]) for k in ("total", "available", "held", "booked")}
        return counts, row["seats"], int(row["now"])

    async def seat_map(self, event_id: str) -> dict[str, Any]:
        [row] = await self.db.records(_SEAT_MAP, uuid.UUID(event_id))
        status = row["status"] or ""
        # The letters say which seats are held (h) and taken (h or b); their ends and
        # holders come in the same order, so the indices are counted here rather than
        # numbered in SQL (a window function: another sort of every seat).
        held_i = [m.start() for m in _HELD_LETTER.finditer(status)]
        taken_i = [m.start() for m in _TAKEN_LETTER.finditer(status)]
        return {
            "now": int(row["now"]),
            "count": int(row["n"]),
            "status": status,
            "versions": row["versions"] or "",
            "held": list(zip(held_i, row["held_until"] or [], strict=True)),
            "taken": list(zip(taken_i, row["taken_by"] or [], strict=True)),
        }

    async def lock_user_now(self, user_id: str) -> int | None:
        rows = await self.db.fetch(_LOCK_USER_NOW, user_id)
        return int(rows[0]["now"]) if rows else None  # no row: no such account
