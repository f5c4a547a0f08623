"""The ceiling for the flash sale: a bare Litestar app doing Boxoffice's booking SQL with
raw asyncpg, under the same uvicorn settings as `backend.cli serve`.

It sends the statements Boxoffice sends for a hold and for a booking, in the same order
and inside the same transactions (the token checked without a database read, the one read of
the event, its seats and the database clock, the early refusal of seats already taken, then the
user row lock + clock, the compare-and-set UPDATEs, the per-user count and the booking
INSERT under the unique `active_seat` index). What it leaves out is what
Boxoffice adds on top: the Redis seat locks, the live publish, Piccolo, Litestar's
dependency injection, auth middleware, schemas and error mapping. Run it with
`python -m bench.bare_app` (env: DATABASE_URL, JWT_SECRET, BARE_PORT, BARE_WORKERS).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jwt
import msgspec
from litestar import Litestar, Request, Response, get, post

EVENT_SEATS = (
    "SELECT e.id, e.name, e.hold_seconds, e.max_seats_per_user, s.id AS seat_id, "
    "s.label, s.status, s.holder, s.held_until_ms, s.version, "
    "(extract(epoch from clock_timestamp()) * 1000)::bigint AS now "
    "FROM bo_event e LEFT JOIN bo_seat s ON s.event = e.id AND s.id = ANY($2::uuid[]) "
    "WHERE e.id = $1"
)
LOCK_USER_NOW = (
    "WITH u AS (SELECT id FROM bo_user WHERE id = $1 FOR UPDATE) "
    "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now FROM u"
)
OWN_LIVE = (
    "SELECT id FROM bo_seat WHERE event = $1 AND id = ANY($2::uuid[]) "
    "AND status = 'held' AND holder = $3 AND held_until_ms > $4"
)
FREE = "(status = 'available' OR (status = 'held' AND held_until_ms <= $4))"
# S608 below: the statements are joined from constants only; every value is a $n parameter.
HOLD = (
    "UPDATE bo_seat SET status = 'held', holder = $3, held_since_ms = $4, held_until_ms = $5, "  # noqa: S608
    "version = version + 1 WHERE event = $1 AND id = ANY($2::uuid[]) AND "
    + FREE
    + " RETURNING id, status, holder, held_until_ms, version"
)
BOOK = (
    "UPDATE bo_seat SET status = 'booked', holder = $3, held_since_ms = NULL, "  # noqa: S608
    "held_until_ms = NULL, version = version + 1 WHERE event = $1 AND id = ANY($2::uuid[]) "
    "AND ((status = 'held' AND holder = $3) OR " + FREE + ") "
    "RETURNING id, status, holder, held_until_ms, version"
)
COUNT = (
    "SELECT count(*) FROM bo_seat WHERE event = $1 AND holder = $2 "
    "AND (status = 'booked' OR (status = 'held' AND held_until_ms > $3))"
)
INSERT = (
    'INSERT INTO bo_booking (id, seat, event, "user", status, active_seat, created_at) '
    "SELECT gen_random_uuid(), s, $1, $2, 'active', s, now() FROM unnest($3::uuid[]) AS s "
    "RETURNING id, seat, status, created_at"
)

SECRET = os.environ.get("JWT_SECRET", "")
POOL: dict[str, asyncpg.Pool] = {}


class _Refused(Exception):
    """A compare-and-set took fewer seats than asked: roll back."""


class _Limit(Exception):
    """Over the per-user seat limit: roll back."""


class SeatsIn(msgspec.Struct, rename="camel"):
    seat_ids: list[uuid.UUID]


def _error(status: int, code: str, message: str) -> Response[bytes]:
    body = msgspec.json.encode({"success": False, "message": message, "code": code})
    return Response(body, status_code=status, media_type="application/json")


def _ok(status: int, data: Any) -> Response[bytes]:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json")


def _user_id(request: Request[Any, Any, Any]) -> uuid.UUID | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        claims = jwt.decode(
            token, SECRET, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError, KeyError):
        return None


async def _prepare(
    conn: asyncpg.Connection, request: Request[Any, Any, Any], event_id: str
) -> (
    tuple[uuid.UUID, asyncpg.Record, list[uuid.UUID], dict[uuid.UUID, asyncpg.Record]]
    | Response[bytes]
):
    user_id = _user_id(request)
    if user_id is None:
        return _error(401, "not_authenticated", "sign in first")
    try:
        body = msgspec.json.decode(await request.body(), type=SeatsIn)
        eid = uuid.UUID(event_id)
    except (msgspec.DecodeError, ValueError):
        return _error(400, "invalid", "bad request")
    rows = await conn.fetch(EVENT_SEATS, eid, body.seat_ids)
    if not rows:
        return _error(404, "not_found", "no such event")
    event = rows[0]
    seats = {r["seat_id"]: r for r in rows if r["seat_id"] is not None}
    if len(seats) != len(body.seat_ids):
        return _error(404, "not_found", "no such seat")
    # The same early refusal as Boxoffice: booked, or held live by someone else.
    if any(r["status"] == "booked" for r in seats.values()):
        return _error(409, "seat_booked", "Seat already booked")
    if any(
        r["status"] == "held" and r["holder"] != user_id and (r["held_until_ms"] or 0) > r["now"]
        for r in seats.values()
    ):
        return _error(423, "seat_held", "Seat is held by someone else")
    return user_id, event, body.seat_ids, seats


@post("/events/{event_id:str}/holds", status_code=201)
async def hold(request: Request[Any, Any, Any], event_id: str) -> Response[bytes]:
    async with POOL["db"].acquire() as conn:
        prepared = await _prepare(conn, request, event_id)
        if isinstance(prepared, Response):
            return prepared
        user_id, event, seat_ids, seats = prepared
        hold_ms = int(event["hold_seconds"]) * 1000
        try:
            async with conn.transaction():
                now = await conn.fetchval(LOCK_USER_NOW, user_id)
                mine = {
                    r["id"] for r in await conn.fetch(OWN_LIVE, event["id"], seat_ids, user_id, now)
                }
                others = [s for s in seat_ids if s not in mine]
                changed = await conn.fetch(HOLD, event["id"], others, user_id, now, now + hold_ms)
                if len(changed) != len(others):
                    raise _Refused
                if (
                    await conn.fetchval(COUNT, event["id"], user_id, now)
                    > event["max_seats_per_user"]
                ):
                    raise _Limit
        except _Refused:
            return _error(423, "seat_held", "Seat is held by someone else")
    states = {r["id"]: r for r in changed}
    until = now + hold_ms
    return _ok(
        201,
        {
            "eventId": event_id,
            "expiresAt": datetime.fromtimestamp(until / 1000, UTC).isoformat(),
            "seats": [
                {
                    "id": str(s),
                    "label": seats[s]["label"],
                    "status": "held",
                    "mine": True,
                    "version": int((states.get(s) or seats[s])["version"]),
                }
                for s in seat_ids
            ],
        },
    )


@post("/events/{event_id:str}/bookings", status_code=201)
async def book(request: Request[Any, Any, Any], event_id: str) -> Response[bytes]:
    async with POOL["db"].acquire() as conn:
        prepared = await _prepare(conn, request, event_id)
        if isinstance(prepared, Response):
            return prepared
        user_id, event, seat_ids, seats = prepared
        try:
            async with conn.transaction():
                now = await conn.fetchval(LOCK_USER_NOW, user_id)
                changed = await conn.fetch(BOOK, event["id"], seat_ids, user_id, now)
                if len(changed) != len(seat_ids):
                    raise _Refused
                if (
                    await conn.fetchval(COUNT, event["id"], user_id, now)
                    > event["max_seats_per_user"]
                ):
                    raise _Limit
                rows = await conn.fetch(INSERT, event["id"], user_id, seat_ids)
        except _Refused:
            return _error(409, "seat_booked", "Seat already booked")
        except asyncpg.UniqueViolationError:
            return _error(409, "seat_booked", "Seat already booked")
    return _ok(
        201,
        {
            "success": True,
            "bookings": [
                {
                    "id": str(r["id"]),
                    "status": r["status"],
                    "createdAt": r["created_at"].isoformat(),
                    "seat": {"id": str(r["seat"]), "label": seats[r["seat"]]["label"]},
                    "event": {"id": event_id, "name": event["name"]},
                }
                for r in rows
            ],
        },
    )


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _keep_session(_: asyncpg.Connection) -> None:
    """No reset query on release, as in Boxoffice."""


def create_app() -> Litestar:
    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        POOL["db"] = await asyncpg.create_pool(
            os.environ["DATABASE_URL"],
            min_size=2,
            max_size=int(os.environ.get("BARE_DB_POOL", "20")),
            reset=_keep_session,  # as Boxoffice's pool (backend/storage/db.py)
        )
        try:
            yield
        finally:
            await POOL.pop("db").close()

    def limit(_: Request[Any, Any, Any], __: _Limit) -> Response[bytes]:
        return _error(409, "seat_limit", "too many seats")

    return Litestar(
        route_handlers=[hold, book, health],
        lifespan=[lifespan],
        exception_handlers={_Limit: limit},
    )


def main() -> None:
    import uvicorn

    uvicorn.run(
        "bench.bare_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=int(os.environ.get("BARE_PORT", "8100")),
        workers=int(os.environ.get("BARE_WORKERS", "2")),
        ws_max_size=64 * 1024,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        timeout_graceful_shutdown=10,
        proxy_headers=True,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
