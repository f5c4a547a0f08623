"""The seats' status-change log (issue 15, item 4).

Each write path records its changes with `record` inside its own transaction, so a
change and its log line commit or roll back together (one insert per transaction, in
one driver call: `Database.insert_rows`). `page` reads an event's log after a cursor
(the last id seen); `prune` drops lines older than the retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from backend.storage.database import Database
from backend.storage.tables import Seat, SeatLog, User

COLUMNS = ("event", "seat", "action", "actor", "order_id", "at_ms")


class LogEntry(NamedTuple):
    """One seat change: its event, seat and action, who did it (None: the system), its
    order, and when (epoch ms: the transaction's database clock where it has read it)."""

    event: str
    seat: str
    action: str
    actor: str | None = None
    order_id: str | None = None
    at_ms: int | None = None


def log_rows(entries: Sequence[LogEntry], fallback: int | None) -> list[tuple[Any, ...]]:
    """The entries as rows of `COLUMNS`: a line without a time gets `fallback`, the
    database's clock (every time in the log is the database's, as a hold's end is; the
    app server's clock may be off, and a line stamped by it could come out before the
    change it follows). None leaves it to the statement (PostgreSQL's `apply`)."""
    return [
        (
            e.event,
            e.seat,
            e.action,
            e.actor,
            e.order_id,
            fallback if e.at_ms is None else int(e.at_ms),
        )
        for e in entries
    ]


class SeatLogRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def record(self, entries: Sequence[LogEntry]) -> None:
        """Write these lines; inside the change's `transaction()`."""
        if entries:
            untimed = any(e.at_ms is None for e in entries)
            now = await self.db.now_ms() if untimed else None
            await self.db.insert_rows("bo_seat_log", COLUMNS, log_rows(entries, now))

    async def page(
        self, event_id: str, after: int, limit: int, *, latest: bool = False
    ) -> list[dict[str, Any]]:
        """Up to `limit` lines of the event's log after the line `after` (`latest`: the
        last `limit` lines), oldest first, each with its seat's label and its actor's
        email."""
        query = SeatLog.select(
            SeatLog.id,
            SeatLog.seat,
            SeatLog.action,
            SeatLog.actor,
            SeatLog.order_id,
            SeatLog.at_ms,
        ).where((SeatLog.event == event_id) & (SeatLog.id > after))
        if latest:
            rows: list[dict[str, Any]] = await query.order_by(SeatLog.id, ascending=False).limit(
                limit
            )
            rows.reverse()
        else:
            rows = await query.order_by(SeatLog.id).limit(limit)
        if rows:
            actors = sorted({str(r["actor"]) for r in rows if r["actor"] is not None})
            users = (
                await User.select(User.id, User.email).where(User.id.is_in(actors))
                if actors
                else []
            )
            emails = {str(u["id"]): u["email"] for u in users}
            for row in rows:
                row["email"] = None if row["actor"] is None else emails.get(str(row["actor"]))
            seats = await Seat.select(Seat.id, Seat.label).where(
                Seat.id.is_in(sorted({str(r["seat"]) for r in rows}))
            )
            labels = {str(s["id"]): s["label"] for s in seats}
            for row in rows:
                row["label"] = labels.get(str(row["seat"]), "")
        return rows

    async def prune(self, before_ms: int, batch: int = 10_000) -> int:
        """Drop every line older than `before_ms`, `batch` lines per statement (after a
        big night the first prune has millions); how many went."""
        gone = 0
        while True:
            oldest = await (
                SeatLog.select(SeatLog.id)
                .where(SeatLog.at_ms < before_ms)
                .order_by(SeatLog.id)
                .limit(batch)
            )
            if not oldest:
                return gone
            last = oldest[-1]["id"]
            await SeatLog.delete().where((SeatLog.at_ms < before_ms) & (SeatLog.id <= last))
            gone += len(oldest)
