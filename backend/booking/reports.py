"""What an event sold, for its organiser (issue 15, item 5).

`report()` gathers the figures (seats by status, category and section; revenue; checked
in; bookings and revenue per minute; the waiting room's figures when it has one), each
from one aggregate query. `export()` checks the caller first and then yields the CSV's
rows one page of bookings at a time, so a 100,000-booking export never sits in memory.

CSV cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab
or a carriage return: seat labels, section and category names are the organiser's text,
emails the buyers') are neutralised with a leading `'` (OWASP's advice for CSV
injection); numbers are left as numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.booking.events import organised_event
from backend.booking.queue import RoomReport, WaitingRooms
from backend.errors import InvalidInput
from backend.seats import BookingStatus, SeatStatus
from backend.storage import Storage
from backend.timefmt import iso

EXPORT_PAGE = 2000
MAX_LOG_PAGE = 1000
MAX_LOG_ID = 2**63 - 1  # a BIGINT: a larger cursor would overflow the driver
CSV_HEADER = (
    "order_reference",
    "seat",
    "section",
    "row",
    "number",
    "category",
    "price",
    "currency",
    "status",
    "buyer_email",
    "booked_at",
    "checked_in_at",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Minor units per major unit where it is not 100 (ISO 4217); every other currency has 2.
MINOR_DIGITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0, "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
STATUSES = (SeatStatus.AVAILABLE.value, SeatStatus.HELD.value, SeatStatus.BOOKED.value)
BOOKING_STATUSES = (BookingStatus.ACTIVE.value, BookingStatus.CANCELLED.value)


@dataclass
class Tally:
    """Seats by status, and what the booked ones brought in."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    revenue: int = 0
    checked_in: int = 0

    def count(self, status: str, n: int) -> None:
        self.total += n
        self.by_status[status] = self.by_status.get(status, 0) + n


@dataclass
class Report:
    event: dict[str, Any]
    seats: Tally
    by_category: dict[str, Tally]
    by_section: dict[str, Tally]
    bookings: dict[str, int]
    orders: int
    per_minute: list[tuple[str, int, int]]  # (ISO minute, bookings, revenue)
    room: RoomReport | None


def neutralised(value: Any) -> Any:
    """A cell as a spreadsheet should read it: text that would start a formula gets a
    leading `'`; numbers and empty cells are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def major_units(price: int, currency: str) -> str:
    """`2500` GBP → `25.00`; `2500` JPY → `2500`."""
    digits = MINOR_DIGITS.get(currency, 2)
    if digits == 0:
        return str(price)
    sign = "-" if price < 0 else ""
    whole, part = divmod(abs(price), 10**digits)
    return f"{sign}{whole}.{part:0{digits}d}"


def _minute_iso(minute: str) -> str:
    """`2026-12-03 00:12` (UTC) → `2026-12-03T00:12:00Z`."""
    return minute.replace(" ", "T") + ":00Z"


class ReportService:
    def __init__(self, storage: Storage, rooms: WaitingRooms, log_days: int = 365) -> None:
        self.storage = storage
        self.rooms = rooms
        self.log_days = log_days  # the status-change log's retention (0: forever)

    async def _organised(self, user_id: str, event_id: str) -> dict[str, Any]:
        return await organised_event(
            self.storage, user_id, event_id, "only the event's organiser sees its report"
        )

    async def report(self, user_id: str, event_id: str) -> Report:
        event = await self._organised(user_id, event_id)
        reports = self.storage.reports
        now = await self.storage.now_ms()
        seat_rows, sales, bookings, orders, per_minute = await asyncio.gather(
            reports.seats(event_id, now),
            reports.sales(event_id),
            reports.bookings(event_id),
            reports.orders(event_id),
            reports.per_minute(event_id),
        )
        seats = Tally()
        by_category: dict[str, Tally] = {}
        by_section: dict[str, Tally] = {}
        for row in seat_rows:
            category, section = str(row["category"] or ""), str(row["section"] or "")
            status, n = str(row["status"]), int(row["n"])
            for tally in (
                seats,
                by_category.setdefault(category, Tally()),
                by_section.setdefault(section, Tally()),
            ):
                tally.count(status, n)
        for row in sales:
            category, section = str(row["category"] or ""), str(row["section"] or "")
            revenue, checked_in = int(row["revenue"]), int(row["checked_in"])
            for tally in (
                seats,
                by_category.setdefault(category, Tally()),
                by_section.setdefault(section, Tally()),
            ):
                tally.revenue += revenue
                tally.checked_in += checked_in
        room = None
        if event.get("waiting_room"):
            room = await self.rooms.report(user_id, event_id)
        return Report(
            event=event,
            seats=seats,
            by_category=by_category,
            by_section=by_section,
            bookings={status: bookings.get(status, (0, 0))[0] for status in BOOKING_STATUSES},
            orders=orders,
            per_minute=[
                (_minute_iso(str(r["minute"])), int(r["bookings"]), int(r["revenue"]))
                for r in per_minute
            ],
            room=room,
        )

    async def log(
        self, user_id: str, event_id: str, after: int, limit: int, latest: bool = False
    ) -> list[dict[str, Any]]:
        """The event's status-change log after the line `after`, or its `latest` lines
        (organiser only)."""
        await self._organised(user_id, event_id)
        if not 1 <= limit <= MAX_LOG_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_LOG_PAGE}, got {limit}")
        if not 0 <= after <= MAX_LOG_ID:
            raise InvalidInput(f"after must be a log line id (0 or more), got {after}")
        return await self.storage.seat_log.page(event_id, after, limit, latest=latest)

    async def prune_seat_log(self) -> int:
        """Drop log lines older than the retention (nothing when it is 0: forever)."""
        if self.log_days <= 0:
            return 0
        now = await self.storage.now_ms()
        return await self.storage.seat_log.prune(now - self.log_days * 86_400_000)

    async def export(
        self, user_id: str, event_id: str
    ) -> tuple[dict[str, Any], AsyncIterator[Sequence[Any]]]:
        """The event and its CSV rows (header first), once the caller is known to be
        its organiser: a refusal comes before the first byte of the file."""
        event = await self._organised(user_id, event_id)
        return event, self._rows(event)

    async def _rows(self, event: dict[str, Any]) -> AsyncIterator[Sequence[Any]]:
        event_id, currency = str(event["id"]), str(event["currency"])
        names = {c["id"]: c.get("name") or c["id"] for c in event.get("categories") or ()}
        yield CSV_HEADER
        after: tuple[Any, Any] | None = None
        while True:
            page = await self.storage.reports.export_page(event_id, after, EXPORT_PAGE)
            for r in page:
                yield [
                    neutralised(r["reference"] or ""),
                    neutralised(r["label"]),
                    neutralised(r["section"] or ""),
                    neutralised(r["row"] or ""),
                    r["number"] or "",
                    neutralised(names.get(r["category"], r["category"] or "")),
                    major_units(int(r["price"] or 0), currency),
                    currency,
                    r["status"],
                    neutralised(r["email"]),
                    _iso(r["created_at"]),
                    _iso(r["checked_in_at"]) or "",
                ]
            if len(page) < EXPORT_PAGE:
                return
            after = (page[-1]["created_at"], page[-1]["id"])


def _iso(value: Any) -> str | None:
    """A timestamp as ISO 8601 in UTC, whichever driver read it."""
    if value is None or isinstance(value, datetime):
        return iso(value)
    return str(value)
