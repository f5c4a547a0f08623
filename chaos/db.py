"""Direct database access for the harness: users, the final read, row blockers.

The harness talks to PostgreSQL itself (asyncpg), never through the app: the final read
must not depend on the system under test, and setting up hundreds of users through the
sign-up endpoint would spend the run's time on argon2.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import jwt
from argon2 import PasswordHasher

PASSWORD = "chaos-password-1"  # noqa: S105 (the chaos accounts' published password)


@dataclass(frozen=True)
class User:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def mint_token(user_id: str, secret: str, lifetime: int = 3600) -> str:
    """The same HS256 token `POST /signin` issues (exp and sub, as the app requires)."""
    now = int(time.time())
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + lifetime}, secret, "HS256")


async def create_users(dsn: str, count: int, secret: str, prefix: str = "chaos") -> list[User]:
    """Insert `count` users sharing one argon2 hash of PASSWORD; tokens minted directly."""
    password_hash = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash(PASSWORD)
    run = uuid.uuid4().hex[:8]
    rows = [(uuid.uuid4(), f"{prefix}-{run}-{i}@example.com") for i in range(count)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO bo_user (id, email, password_hash, created_at) VALUES ($1, $2, $3, now())",
            [(uid, email, password_hash) for uid, email in rows],
        )
    finally:
        await conn.close()
    return [User(str(uid), email, mint_token(str(uid), secret)) for uid, email in rows]


async def final_read(dsn: str, event_ids: Sequence[str]) -> dict[str, Any]:
    """Every booking and seat row of the run's events, with the database clock."""
    conn = await asyncpg.connect(dsn)
    try:
        ids = [uuid.UUID(e) for e in event_ids]
        bookings = await conn.fetch(
            'SELECT id, seat, event, "user", status, active_seat FROM bo_booking '
            "WHERE event = ANY($1::uuid[]) ORDER BY created_at",
            ids,
        )
        seats = await conn.fetch(
            "SELECT id, event, label, status, holder, held_until_ms, version FROM bo_seat "
            "WHERE event = ANY($1::uuid[]) ORDER BY label",
            ids,
        )
        now_ms = await conn.fetchval(
            "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint"
        )
    finally:
        await conn.close()
    return {
        "now_ms": int(now_ms),
        "bookings": [_plain(r) for r in bookings],
        "seats": [_plain(r) for r in seats],
    }


def _plain(record: asyncpg.Record) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in record.items()}


async def live_holds(dsn: str, event_ids: Sequence[str]) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM bo_seat WHERE event = ANY($1::uuid[]) AND status = 'held'",
                [uuid.UUID(e) for e in event_ids],
            )
        )
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def row_blocker(dsn: str, seat_ids: Sequence[str]) -> AsyncIterator[asyncpg.Connection]:
    """Hold the seats' row locks (SELECT … FOR UPDATE) until the block ends.

    Every booking transaction on these seats then waits inside its UPDATE, after it has
    taken its Redis lock: with a short lock TTL, the lock expires while it waits, and
    several transactions end up in the critical section at once.
    """
    conn = await asyncpg.connect(dsn)
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(
            "SELECT id FROM bo_seat WHERE id = ANY($1::uuid[]) FOR UPDATE",
            [uuid.UUID(s) for s in seat_ids],
        )
        try:
            yield conn
        finally:
            await transaction.rollback()
    finally:
        await conn.close()


async def waiting_seat_updates(dsn: str) -> int:
    """How many sessions are waiting for a seat's row lock right now: inside an UPDATE of
    bo_seat (one request's compare-and-set) or a batch's SELECT ... FOR UPDATE."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND (query ILIKE 'UPDATE%bo_seat%' "
                "OR query ILIKE 'SELECT%FROM \"bo_seat\"%FOR UPDATE')"
            )
        )
    finally:
        await conn.close()


async def committed_bookings(dsn: str, user_id: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM bo_booking WHERE \"user\" = $1 AND status = 'active'",
                uuid.UUID(user_id),
            )
        )
    finally:
        await conn.close()


async def active_bookings_of(dsn: str, event_id: str) -> int:
    """Active bookings of one event (0 for an event that no longer exists)."""
    connection = await asyncpg.connect(dsn)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM bo_booking WHERE event = $1 AND status = 'active'",
            uuid.UUID(event_id),
        )
    finally:
        await connection.close()
    return int(count)


async def room_snapshot(dsn: str, event_id: str) -> dict[str, Any] | None:
    """The database's copy of an event's waiting room (`bo_waiting_room_snapshot`)."""
    connection = await asyncpg.connect(dsn)
    try:
        places = await connection.fetchval(
            "SELECT places FROM bo_waiting_room_snapshot WHERE event = $1", uuid.UUID(event_id)
        )
    finally:
        await connection.close()
    if places is None:
        return None
    data: dict[str, Any] = json.loads(places) if isinstance(places, str) else places
    return data
