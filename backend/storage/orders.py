"""Orders (issue 15, item 1): one per booking request that booked seats.

An order has a short reference a buyer can read out over the phone (`BX-7K3Q-92MH`:
eight characters from an alphabet without 0/O or 1/I, 40 bits), its event, its buyer,
its currency and its total: the sum of its active bookings' prices. The bookings keep
their order and their own price (copied from the seat's category when they were made),
so a later price change never rewrites an order. Created in the booking's transaction;
a cancelled booking takes its price off in the cancel's.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from backend.storage.database import Database, PostgresDatabase
from backend.storage.tables import Booking, Order

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, no 1/I; 32 letters
REFERENCE_TRIES = 5  # draws for one order before giving up (each try: 1 in 10^12 taken)
ORDER_COLUMNS = (
    Order.id,
    Order.reference,
    Order.event,
    Order.user,
    Order.currency,
    Order.total,
    Order.created_at,
)


# PostgreSQL's insert of a batch's orders: one statement over arrays (a reference already
# taken is skipped, as Piccolo's ON CONFLICT DO NOTHING does, and drawn again).
_INSERT = """
INSERT INTO "bo_order" ("id", "reference", "event", "user", "currency", "total", "created_at")
SELECT o.id, o.reference, $3, o.buyer, $4, o.total, now()
FROM unnest($1::uuid[], $2::text[], $5::uuid[], $6::int[]) AS o(id, reference, buyer, total)
ON CONFLICT ("reference") DO NOTHING
RETURNING "id", "reference", "event", "user", "currency", "total", "created_at"
"""


def new_reference() -> str:
    # One read of the system's randomness for the eight letters (`secrets.choice` made
    # one each: 1.4 % of a worker's samples under the seed's load, py-spy 2026-12-04).
    # 32 letters: each byte's last five bits pick one uniformly.
    chars = "".join(REFERENCE_ALPHABET[b & 31] for b in secrets.token_bytes(8))
    return f"BX-{chars[:4]}-{chars[4:]}"


class OrderRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def create(
        self, event_id: str, currency: str, orders: Sequence[tuple[str, int]]
    ) -> list[dict[str, Any]]:
        """One order per (user, total), in that order; each row as `ORDER_COLUMNS`.

        References are drawn at random: one already taken (the unique index says so,
        and the insert skips it) is drawn again, so no booking ever fails for it."""
        rows: list[dict[str, Any]] = [
            {"id": uuid.uuid4(), "user": user, "total": total} for user, total in orders
        ]
        pending = list(range(len(rows)))
        for _ in range(REFERENCE_TRIES):
            for i in pending:
                rows[i]["reference"] = new_reference()
            inserted = await self._insert(event_id, currency, [rows[i] for i in pending])
            made = {str(r["id"]): r for r in inserted}
            for i in pending:
                if str(rows[i]["id"]) in made:
                    rows[i] = made[str(rows[i]["id"])]
            pending = [i for i in pending if "created_at" not in rows[i]]
            if not pending:
                return rows
        raise RuntimeError("no free order reference after several draws")

    async def _insert(
        self, event_id: str, currency: str, rows: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows whose reference was free, inserted; the others skipped."""
        if isinstance(self.db, PostgresDatabase):
            # Building Piccolo's insert was 7 % of a worker's CPU under the seed's
            # `POST /book` load (py-spy, 2026-12-04): one statement over arrays instead.
            records = await self.db.records(
                _INSERT,
                [r["id"] for r in rows],
                [r["reference"] for r in rows],
                uuid.UUID(event_id),
                currency,
                [uuid.UUID(str(r["user"])) for r in rows],
                [r["total"] for r in rows],
            )
            return [dict(r) for r in records]
        inserted: list[dict[str, Any]] = await (
            Order.insert(
                *(
                    Order(
                        id=r["id"],
                        reference=r["reference"],
                        event=event_id,
                        user=r["user"],
                        currency=currency,
                        total=r["total"],
                    )
                    for r in rows
                )
            )
            .on_conflict(target=Order.reference, action="DO NOTHING")
            .returning(*ORDER_COLUMNS)
        )
        return inserted

    async def get(self, order_id: str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = (
            await Order.select(*ORDER_COLUMNS).where(Order.id == order_id).first()
        )
        return row

    async def many(self, order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not order_ids:
            return {}
        rows = await Order.select(*ORDER_COLUMNS).where(Order.id.is_in(list(order_ids)))
        return {str(r["id"]): r for r in rows}

    async def of_user(self, user_id: str) -> list[dict[str, Any]]:
        """The user's orders, newest first."""
        rows: list[dict[str, Any]] = await (
            Order.select(*ORDER_COLUMNS)
            .where(Order.user == user_id)
            .order_by(Order.created_at, ascending=False)
        )
        return rows

    async def bookings(self, order_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every booking of these orders (active and cancelled), oldest first."""
        if not order_ids:
            return []
        rows: list[dict[str, Any]] = await (
            Booking.select()
            .where(Booking.order_id.is_in(list(order_ids)))
            .order_by(Booking.created_at)
        )
        return rows

    async def take_off(self, order_id: str, price: int) -> None:
        """A booking of the order was cancelled: its price comes off the total (inside
        the cancel's transaction)."""
        await Order.update({Order.total: Order.total - price}).where(Order.id == order_id)

    async def empty_event(self, event_id: str) -> None:
        """Every booking of the event's orders was cancelled (its organiser cancelled
        it): their totals are nothing now (inside that transaction)."""
        await Order.update({Order.total: 0}).where(Order.event == event_id)
