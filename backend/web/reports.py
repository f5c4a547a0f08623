"""An event's report for its organiser (issue 15, item 5): `GET /events/{id}/report` as
JSON and `GET /events/{id}/report.csv`, one row per booking, streamed; and its seats'
status-change log (item 4), `GET /events/{id}/log`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from backend.booking.reports import Report, ReportService, Tally
from backend.timefmt import iso_from_ms
from backend.web.deps import current_user_id, parse_id
from backend.web.queue import QueueSummaryOut, summary_out
from backend.web.schemas import Out

ROWS_PER_CHUNK = 500  # CSV rows written to the socket at a time


class TallyOut(Out):
    total: int
    available: int
    held: int
    booked: int
    revenue: int
    checked_in: int


class CategoryTallyOut(TallyOut):
    id: str = ""
    name: str = ""
    price: int = 0


class SectionTallyOut(TallyOut):
    name: str = ""


class MinuteOut(Out):
    minute: str  # its start, UTC
    bookings: int
    revenue: int


class BookingCountsOut(Out):
    active: int
    cancelled: int


class ReportOut(Out):
    """Figures are counts of seats and minor units of `currency`. `seats.revenue` is what
    the active bookings were booked at; `perMinute` lists the minutes with bookings."""

    success: bool
    event_id: str
    currency: str
    seats: TallyOut
    by_category: list[CategoryTallyOut]
    by_section: list[SectionTallyOut]
    bookings: BookingCountsOut
    orders: int
    per_minute: list[MinuteOut]
    waiting_room: QueueSummaryOut | None = None


class LogLineOut(Out):
    id: int  # the cursor: pass the last one as `after` for the next page
    at: str | None
    seat_id: str
    seat_label: str
    action: str  # held, extended, released, expired, booked, cancelled, checked_in
    actor_id: str | None  # null: the system (an expiry)
    actor_email: str | None
    order_id: str | None


class LogOut(Out):
    success: bool
    entries: list[LogLineOut]
    next: int | None  # `after` for the next page; null when this one is the last


def log_out(rows: list[dict[str, Any]], limit: int) -> LogOut:
    entries = [
        LogLineOut(
            id=int(r["id"]),
            at=iso_from_ms(int(r["at_ms"])),
            seat_id=str(r["seat"]),
            seat_label=str(r["label"]),
            action=str(r["action"]),
            actor_id=None if r["actor"] is None else str(r["actor"]),
            actor_email=r.get("email"),
            order_id=None if r["order_id"] is None else str(r["order_id"]),
        )
        for r in rows
    ]
    return LogOut(
        success=True, entries=entries, next=entries[-1].id if len(entries) == limit else None
    )


def _tally(tally: Tally) -> dict[str, int]:
    return {
        "total": tally.total,
        "available": tally.by_status.get("available", 0),
        "held": tally.by_status.get("held", 0),
        "booked": tally.by_status.get("booked", 0),
        "revenue": tally.revenue,
        "checked_in": tally.checked_in,
    }


def report_out(report: Report) -> ReportOut:
    event = report.event
    event_id = str(event["id"])
    categories = {c["id"]: c for c in event.get("categories") or ()}
    return ReportOut(
        success=True,
        event_id=event_id,
        currency=str(event["currency"]),
        seats=TallyOut(**_tally(report.seats)),
        by_category=[
            CategoryTallyOut(
                id=key,
                name=str(categories.get(key, {}).get("name", key)),
                price=int(categories.get(key, {}).get("price", 0)),
                **_tally(tally),
            )
            for key, tally in sorted(report.by_category.items())
        ],
        by_section=[
            SectionTallyOut(name=key, **_tally(tally))
            for key, tally in sorted(report.by_section.items())
        ],
        bookings=BookingCountsOut(
            active=report.bookings["active"], cancelled=report.bookings["cancelled"]
        ),
        orders=report.orders,
        per_minute=[MinuteOut(minute=m, bookings=b, revenue=r) for m, b, r in report.per_minute],
        waiting_room=None if report.room is None else summary_out(event_id, report.room),
    )


async def csv_chunks(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[str]:
    """The rows as CSV text, a few hundred rows per chunk (the csv module writes to a
    buffer; each chunk is handed to the socket and dropped)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    pending = 0
    async for row in rows:
        writer.writerow(row)
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()


def _filename(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "event"
    return f"{slug}-bookings.csv"


class ReportController(Controller):
    path = "/events/{event_id:str}"
    tags = ["reports"]

    @get("/report")
    async def report(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        reports: NamedDependency[ReportService],
    ) -> ReportOut:
        """What the event sold (organiser only; 403 for anyone else): seats by status,
        by category and by section with revenue and check-ins, bookings and orders,
        bookings and revenue per minute, and the waiting room's figures when it has one."""
        eid = parse_id(event_id, "event id")
        return report_out(await reports.report(current_user_id(request), eid))

    @get("/log")
    async def seat_log(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        reports: NamedDependency[ReportService],
        after: FromQuery[int] = 0,
        limit: FromQuery[int] = 100,
        latest: FromQuery[bool] = False,
    ) -> LogOut:
        """Every seat change of the event, oldest first (organiser only): held,
        extended, released, expired, booked, cancelled, checked in; by whom (null: the
        system) and for which order. Cursor-paginated: `after` the last `id` seen
        (`next`), `limit` 1 to 1,000 lines a page; `latest=true`: the last `limit` lines
        (a dashboard's recent activity), still oldest first."""
        eid = parse_id(event_id, "event id")
        rows = await reports.log(current_user_id(request), eid, after, limit, latest)
        out = log_out(rows, limit)
        if latest:
            out.next = None  # the end of the log: follow it with `after` the last id
        return out

    @get("/report.csv", media_type="text/csv")
    async def report_csv(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        reports: NamedDependency[ReportService],
    ) -> Stream:
        """Every booking, one row each (organiser only), streamed: order reference, seat,
        section, row, number, category, price (major units), currency, status, buyer
        email, booked at, checked in at. Text a spreadsheet would run as a formula is
        prefixed with `'`."""
        eid = parse_id(event_id, "event id")
        event, rows = await reports.export(current_user_id(request), eid)
        return Stream(
            csv_chunks(rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{_filename(str(event["name"]))}"',
                "Cache-Control": "no-store",
            },
        )
