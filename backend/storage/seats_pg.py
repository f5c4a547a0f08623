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
from backend.storage.seatlog import COLUMNS as LOG_COLUMNS
from backend.storage.seatlog import LogEntry, log_rows
from backend.storage.seats import SEAT_FULL, SEAT_STATE, SeatRepository, valid_ids

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
_EVENTS_OF = 'SELECT "id", "event" FROM "bo_seat" WHERE "id" = ANY($1::uuid[])'
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

# The group commit's statements (`seats.py`, "batched writes"): row locks in id order,
# so two app processes' batches over the same seats or accounts queue instead of
# deadlocking; one set-based compare-and-set for a whole batch.
_LOCK_USERS = 'SELECT "id" FROM "bo_user" WHERE "id" = ANY($1::uuid[]) ORDER BY "id" FOR UPDATE'
_LOCK_EVENT = 'SELECT "id" FROM "bo_seat" WHERE "event" = $1 ORDER BY "id" FOR UPDATE'
# The named seats and the holders' carts in one statement. A row changed while its lock
# was awaited is checked against the WHERE again as it is now (PostgreSQL's READ
# COMMITTED), so a seat that has left its holder's cart meanwhile is skipped unless named.
_FOR_UPDATE = (
    f'SELECT {_columns(SEAT_FULL)}, "held_since_ms" FROM "bo_seat" '  # noqa: S608
    'WHERE "event" = $1 AND ("id" = ANY($2::uuid[]) '
    f'OR ("holder" = ANY($3::uuid[]) AND "status" = {HELD})) ORDER BY "id" FOR UPDATE'
)
# The status is counted by, not searched on: only the (event, holder) index can then
# find the rows, the holders' own seats. With the status in the join, statistics taken
# before the sale (every seat available) made "booked" look rare, and the planner walked
# every booked seat of every event by the status index instead (measured: 7 ms a batch,
# growing with each booking).
_CLOCK_AND_COUNTS = f"""
SELECT c.now AS now, c.cancelled AS cancelled, s."holder" AS holder,
  count(s."id") FILTER (
    WHERE s."status" = {BOOKED} OR (s."status" = {HELD} AND s."held_until_ms" > c.now)) AS n
FROM (SELECT {NOW_MS} AS now,
  (SELECT "cancelled_at" IS NOT NULL FROM "bo_event" WHERE "id" = $1) AS cancelled) AS c
LEFT JOIN "bo_seat" AS s ON s."event" = $1 AND s."holder" = ANY($2::uuid[])
GROUP BY c.now, c.cancelled, s."holder"
"""  # noqa: S608 - no values are formatted in
# The compare-and-set and the status-change log's lines (`seatlog.py`) in one statement:
# one round trip where the log's COPY took two. A data-modifying CTE runs whether or not
# it is read; a version that moved makes the caller roll back, lines and all.
_APPLY = f"""
WITH log AS (
  INSERT INTO "bo_seat_log" ({", ".join(f'"{c}"' for c in LOG_COLUMNS)})
  SELECT l.e, l.s, l.a, l.ac, l.o, COALESCE(l.t, {PostgresDatabase.NOW_MS_SQL})
  FROM unnest($8::uuid[], $9::uuid[], $10::text[], $11::uuid[], $12::uuid[], $13::bigint[])
    AS l(e, s, a, ac, o, t)
)
UPDATE "bo_seat" AS s SET "status" = v.status, "holder" = v.holder,
  "held_since_ms" = v.since, "held_until_ms" = v.until, "version" = s."version" + 1
FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::bigint[], $6::bigint[], $7::bigint[])
  AS v(id, status, holder, since, until, version)
WHERE s."id" = v.id AND s."event" = $1 AND s."version" = v.version
RETURNING {", ".join(f"s.{c}" for c in _columns(SEAT_STATE).split(", "))}
"""  # noqa: S608 - column names only

_HELD_LETTER = re.compile("h")
_TAKEN_LETTER = re.compile("[hb]")


class PostgresSeatRepository(SeatRepository):
    """`SeatRepository` with PostgreSQL doing the heavy reads itself."""

    db: PostgresDatabase

    def __init__(self, database: PostgresDatabase) -> None:
        super().__init__(database)

    async def events_of(self, seat_ids: Sequence[str]) -> dict[str, str]:
        # Once per `POST /book` of a seat not seen before (the seed's API names only the
        # seat), for every such request that arrived together: through Piccolo's builder
        # it was 16 % of a worker's CPU under the seed's load (py-spy, 2026-12-04); one
        # prepared statement over an array here.
        wanted = valid_ids(seat_ids)
        if not wanted:
            return {}
        rows = await self.db.records(_EVENTS_OF, wanted)
        return {str(r["id"]): str(r["event"]) for r in rows}

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

    async def lock_users(self, user_ids: Sequence[str]) -> set[str]:
        rows = await self.db.records(_LOCK_USERS, [uuid.UUID(u) for u in user_ids])
        return {str(r["id"]) for r in rows}

    async def lock_event(self, event_id: str) -> None:
        await self.db.records(_LOCK_EVENT, uuid.UUID(event_id))

    async def for_update(
        self, event_id: str, seat_ids: Sequence[str], holders: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        rows = await self.db.records(
            _FOR_UPDATE,
            uuid.UUID(event_id),
            [uuid.UUID(s) for s in seat_ids],
            [uuid.UUID(u) for u in holders],
        )
        return [dict(r) for r in rows]

    async def clock_and_counts(
        self, event_id: str, user_ids: Sequence[str]
    ) -> tuple[int, dict[str, int], bool]:
        rows = await self.db.records(
            _CLOCK_AND_COUNTS, uuid.UUID(event_id), [uuid.UUID(u) for u in user_ids]
        )
        counts = {str(r["holder"]): int(r["n"]) for r in rows if r["holder"] is not None}
        return int(rows[0]["now"]), counts, bool(rows[0]["cancelled"])

    async def apply(
        self,
        event_id: str,
        states: Sequence[Mapping[str, Any]],
        log: Sequence[LogEntry] = (),
    ) -> list[dict[str, Any]]:
        # The log's lines as one array per column (unnest's arguments).
        table = log_rows(log, None)  # untimed lines: the statement's clock_timestamp()
        lines = [[row[i] for row in table] for i in range(len(LOG_COLUMNS))]
        rows = await self.db.records(
            _APPLY,
            uuid.UUID(event_id),
            [uuid.UUID(str(s["id"])) for s in states],
            [str(s["status"]) for s in states],
            [None if s["holder"] is None else uuid.UUID(str(s["holder"])) for s in states],
            [s["held_since_ms"] for s in states],
            [s["held_until_ms"] for s in states],
            [int(s["version"]) for s in states],
            *lines,
        )
        return [dict(r) for r in rows]
