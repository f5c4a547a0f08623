"""What an event sold (issue 15, item 5): aggregates for the report, and the bookings
page by page for the CSV export.

Every figure is one aggregate query (nothing is read row by row into Python). A hold
past its end counts as available, as the API shows it before the sweeper gets to it.
The export reads bookings in pages ordered by (booked at, id) and resumes after the
last one it gave, so a 100,000-booking export holds one page in memory at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.seats import BookingStatus
from backend.storage.database import Database

ACTIVE, CANCELLED = BookingStatus.ACTIVE.value, BookingStatus.CANCELLED.value

_SEATS = """
SELECT category, section, status, count(*) AS n FROM (
    SELECT category, section,
           CASE WHEN status = 'held' AND held_until_ms <= {} THEN 'available' ELSE status END
               AS status
    FROM bo_seat WHERE event = {}
) AS s
GROUP BY category, section, status
"""

_SALES = """
SELECT s.category AS category, s.section AS section, count(*) AS bookings,
       coalesce(sum(b.price), 0) AS revenue,
       sum(CASE WHEN b.checked_in_at IS NULL THEN 0 ELSE 1 END) AS checked_in
FROM bo_booking AS b JOIN bo_seat AS s ON s.id = b.seat
WHERE b.event = {} AND b.status = {}
GROUP BY s.category, s.section
"""

_BOOKINGS = """
SELECT status, count(*) AS n, count(DISTINCT order_id) AS orders
FROM bo_booking WHERE event = {} GROUP BY status
"""

_PER_MINUTE = """
SELECT {minute} AS minute, count(*) AS bookings, coalesce(sum(price), 0) AS revenue
FROM bo_booking WHERE event = {{}} AND status = {{}}
GROUP BY {minute} ORDER BY {minute}
"""

_EXPORT = """
SELECT b.id AS id, b.status AS status, b.price AS price, b.created_at AS created_at,
       b.checked_in_at AS checked_in_at, o.reference AS reference, s.label AS label,
       s.section AS section, s."row" AS "row", s."number" AS "number",
       s.category AS category, u.email AS email
FROM bo_booking AS b
JOIN bo_seat AS s ON s.id = b.seat
JOIN bo_user AS u ON u.id = b."user"
LEFT JOIN bo_order AS o ON o.id = b.order_id
WHERE b.event = {{}} {after}
ORDER BY b.created_at, b.id
LIMIT {{}}
"""


class ReportRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def seats(self, event_id: str, now_ms: int) -> list[dict[str, Any]]:
        """Seats by (category, section, status): `n`."""
        return await self.db.fetch(_SEATS, now_ms, event_id)

    async def sales(self, event_id: str) -> list[dict[str, Any]]:
        """Active bookings by (category, section): `bookings`, `revenue`, `checked_in`."""
        return await self.db.fetch(_SALES, event_id, ACTIVE)

    async def bookings(self, event_id: str) -> dict[str, tuple[int, int]]:
        """By booking status: (bookings, distinct orders)."""
        rows = await self.db.fetch(_BOOKINGS, event_id)
        return {str(r["status"]): (int(r["n"]), int(r["orders"])) for r in rows}

    async def orders(self, event_id: str) -> int:
        rows = await self.db.fetch("SELECT count(*) AS n FROM bo_order WHERE event = {}", event_id)
        return int(rows[0]["n"])

    async def per_minute(self, event_id: str) -> list[dict[str, Any]]:
        """Active bookings by the UTC minute they were made: `minute` (`YYYY-MM-DD HH:MM`),
        `bookings`, `revenue`; oldest first."""
        minute = self.db.MINUTE_SQL.format("created_at")
        return await self.db.fetch(_PER_MINUTE.format(minute=minute), event_id, ACTIVE)

    async def export_page(
        self, event_id: str, after: Sequence[Any] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` bookings (active and cancelled) with their seat, order and buyer,
        after the (created_at, id) `after`, in that order."""
        if after is None:
            return await self.db.fetch(_EXPORT.format(after=""), event_id, limit)
        sql = _EXPORT.format(after="AND (b.created_at > {} OR (b.created_at = {} AND b.id > {}))")
        created_at, booking_id = after
        return await self.db.fetch(sql, event_id, created_at, created_at, booking_id, limit)
