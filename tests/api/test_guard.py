"""The database is the guard: no double booking even when the lock layer fails."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from backend.booking.service import BookingService
from backend.errors import SeatsBooked, SeatsLocked
from backend.locks.base import SeatLockStore
from backend.seats import BookingStatus
from backend.storage.tables import Booking
from tests.conftest import Api
from tests.support.locks import lock_owner
from tests.support.waiting import eventually


class NoLocks(SeatLockStore):
    """A lock layer that grants everything: as if every lock had expired."""

    async def on_startup(self) -> None: ...
    async def on_shutdown(self) -> None: ...
    async def acquire(
        self, event_id: str, seat_ids: Sequence[str], token: str, ttl_ms: int
    ) -> list[str]:
        return []

    async def release(self, event_id: str, seat_ids: Sequence[str], token: str) -> int:
        return 0

    async def ping(self) -> None: ...


def service_with(api: Api, locks: SeatLockStore, lock_ttl_ms: int = 5000) -> BookingService:
    state = api.client.app.state
    return BookingService(state.storage, locks, state.hub, lock_ttl_ms=lock_ttl_ms)


async def test_unique_index_on_active_bookings_exists(api: Api) -> None:
    engine = api.client.app.state.engine
    if engine.engine_type == "postgres":
        rows = await api.run(
            engine.run_querystring,
            _qs(
                "SELECT indexdef FROM pg_indexes "
                "WHERE tablename = 'bo_booking' AND indexdef LIKE '%UNIQUE%'"
            ),
        )
        defs = " ".join(r["indexdef"] for r in rows)
    else:
        rows = await api.run(
            engine.run_querystring,
            _qs("SELECT sql FROM sqlite_master WHERE tbl_name = 'bo_booking' AND type = 'table'"),
        )
        defs = " ".join(r["sql"] for r in rows)
    assert "active_seat" in defs and "UNIQUE" in defs.upper()


def _qs(sql: str) -> Any:
    from piccolo.querystring import QueryString

    return QueryString(sql)


async def test_the_index_alone_refuses_a_second_active_booking(api: Api) -> None:
    owner, a, b = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]

    def row(user: str) -> Booking:
        return Booking(
            id=uuid.uuid4(),
            seat=seat,
            event=event["id"],
            user=user,
            status=BookingStatus.ACTIVE,
            active_seat=seat,
        )

    await api.db(Booking.insert(row(a["id"])))
    with pytest.raises((asyncpg.UniqueViolationError, sqlite3.IntegrityError)):
        await api.db(Booking.insert(row(b["id"])))


async def test_without_locks_concurrent_bookings_of_one_seat_yield_one(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    buyers = [await api.user() for _ in range(12)]
    service = service_with(api, NoLocks())

    async def race() -> list[Any]:
        return await asyncio.gather(
            *(service.book_seats(b["id"], event["id"], [seat]) for b in buyers),
            return_exceptions=True,
        )

    results = await api.run(race)
    wins = [r for r in results if isinstance(r, list)]
    assert len(wins) == 1, results
    assert all(isinstance(r, SeatsBooked | SeatsLocked) for r in results if not isinstance(r, list))
    active = await api.db(
        Booking.count().where((Booking.seat == seat) & (Booking.status == BookingStatus.ACTIVE))
    )
    assert active == 1


class RecordingLocks(SeatLockStore):
    """The real lock store, plus a log of who owned the seat right after each release."""

    def __init__(self, inner: SeatLockStore) -> None:
        self.inner = inner
        self.after_release: dict[str, str | None] = {}
        self.acquired: list[str] = []

    async def on_startup(self) -> None: ...
    async def on_shutdown(self) -> None: ...
    async def acquire(
        self, event_id: str, seat_ids: Sequence[str], token: str, ttl_ms: int
    ) -> list[str]:
        taken = await self.inner.acquire(event_id, seat_ids, token, ttl_ms)
        if not taken:
            self.acquired.append(token)
        return taken

    async def release(self, event_id: str, seat_ids: Sequence[str], token: str) -> int:
        released = await self.inner.release(event_id, seat_ids, token)
        self.after_release[token] = await lock_owner(self.inner, event_id, seat_ids[0])
        return released

    async def ping(self) -> None: ...


async def test_lock_expiring_mid_transaction_cannot_double_book(api: Api) -> None:
    owner, slow_buyer, fast_buyer = await api.user(), await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    locks = RecordingLocks(api.client.app.state.locks)
    # A 50 ms lock, and a first transaction that stalls before committing until its lock
    # has expired and the second request has taken the seat's lock for itself.
    service = service_with(api, locks, lock_ttl_ms=50)
    slow_in_txn = asyncio.Event()

    async def stall(_: Any) -> None:
        slow_in_txn.set()
        await eventually(
            lambda: len(locks.acquired) == 2,
            what="the fast request to take the lock the slow one let expire",
        )

    async def lock_expired() -> bool:
        return await lock_owner(locks.inner, event["id"], seat) is None

    async def scenario() -> tuple[Any, Any]:
        slow = asyncio.create_task(
            service.book_seats(slow_buyer["id"], event["id"], [seat], on_commit=stall)
        )
        await slow_in_txn.wait()
        await eventually(lock_expired, what="the slow request's 50 ms lock to expire")
        fast = asyncio.create_task(service.book_seats(fast_buyer["id"], event["id"], [seat]))
        results = await asyncio.gather(slow, fast, return_exceptions=True)
        return results[0], results[1]

    slow_result, fast_result = await api.run(scenario)
    assert isinstance(slow_result, list) and len(slow_result) == 1  # the first writer committed
    assert isinstance(fast_result, SeatsBooked | SeatsLocked)  # the database refused the second
    active = await api.db(
        Booking.select(Booking.user).where(
            (Booking.seat == seat) & (Booking.status == BookingStatus.ACTIVE)
        )
    )
    assert [str(r["user"]) for r in active] == [slow_buyer["id"]]
    # The slow request released after its TTL: compare-and-delete must not have removed
    # the lock the fast request held at that moment.
    slow_token, fast_token = locks.acquired
    assert locks.after_release[slow_token] in (fast_token, None)


async def test_a_booking_whose_event_vanished_is_a_404_not_an_account_error(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insert's foreign key can fail because the event (and its seats) was deleted
    meanwhile, not only because the account is gone: each gets its own answer."""
    from backend.storage import MissingReference

    owner, buyer = await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]

    async def event_deleted_meanwhile(*_: Any, **__: Any) -> Any:
        raise MissingReference("the event")

    storage = api.client.app.state.storage
    monkeypatch.setattr(storage.bookings, "insert", event_deleted_meanwhile)
    monkeypatch.setattr(storage.bookings, "insert_many", event_deleted_meanwhile)  # batched
    response = await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": [seat]}, headers=buyer["headers"]
    )
    assert response.status_code == 404, response.text
    assert "no longer exists" in response.json()["message"]
    assert (await api.seats(event["id"]))[seat]["status"] == "available"  # rolled back
