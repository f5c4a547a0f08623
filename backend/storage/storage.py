"""`Storage`: the database as one declared backend, like the lock store and the channel.

Made from settings by `make_storage`, started and stopped by the services object, and
handed to the services of `booking/` and `accounts`. It is a set of repositories (seats,
events, bookings, orders, the door, reports, the seat log, users, idempotency keys,
waiting-room snapshots) over one `Database` (the engine and its primitives).
Engine-specific code lives in `database.py` and `seats_pg.py`, and in the PostgreSQL
statements of the bookings' and orders' batch inserts (`bookings.py`, `orders.py`): nobody
above `storage/` asks which engine this is.
"""

from __future__ import annotations

import contextlib
from typing import Any

from piccolo.engine.base import Engine

from backend.settings import Settings
from backend.storage.bookings import BookingRepository
from backend.storage.database import Database, PostgresDatabase, make_database
from backend.storage.door import DoorRepository
from backend.storage.events import EventRepository
from backend.storage.idempotency import IdempotencyRepository
from backend.storage.orders import OrderRepository
from backend.storage.reports import ReportRepository
from backend.storage.rooms import RoomSnapshotRepository
from backend.storage.seatlog import SeatLogRepository
from backend.storage.seats import SeatRepository
from backend.storage.seats_pg import PostgresSeatRepository
from backend.storage.users import UserRepository


class Storage:
    """Every read and write the booking rules and accounts need."""

    def __init__(self, database: Database, pool_max: int = 20) -> None:
        self.database = database
        self.pool_max = pool_max
        self.seats: SeatRepository = (
            PostgresSeatRepository(database)
            if isinstance(database, PostgresDatabase)
            else SeatRepository(database)
        )
        self.events = EventRepository(database)
        self.bookings = BookingRepository(database)
        self.orders = OrderRepository(database)
        self.door = DoorRepository(database)
        self.reports = ReportRepository(database)
        self.seat_log = SeatLogRepository(database)
        self.users = UserRepository(database)
        self.idempotency = IdempotencyRepository(database)
        self.room_snapshots = RoomSnapshotRepository(database)

    @property
    def engine(self) -> Engine[Any]:
        """Piccolo's engine (for tests and tools that run a query of their own)."""
        return self.database.engine

    async def on_startup(self) -> None:
        """Connect."""
        await self.database.on_startup(self.pool_max)

    async def on_shutdown(self) -> None:
        """Disconnect (connections still out after a timeout are terminated)."""
        await self.database.on_shutdown()

    def transaction(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A read-write transaction; commits on success, rolls back on any exception.
        On SQLite it takes the one writer slot up front."""
        return self.database.transaction()

    async def delete_event_if_idle(self, event_id: str) -> tuple[int, int, int | None]:
        """Delete the event unless it has active bookings or live holds; what stopped it,
        as `EventRepository.activity` (all zeros: deleted).

        Its seats are locked first, in id order as every booking path locks them
        (PostgreSQL; SQLite's writer slot does it), so a hold or booking in flight either
        commits first, and stops the deletion, or finds the seats gone: never a foreign
        key violation or a deadlock."""
        async with self.transaction():
            await self.seats.lock_event(event_id)
            now = await self.database.now_ms()
            activity = await self.events.activity(event_id, now)
            if activity[0] or activity[1]:
                return activity
            await self.events.remove(event_id)
        return 0, 0, None

    async def now_ms(self) -> int:
        """The database clock, in epoch milliseconds."""
        return await self.database.now_ms()

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        await self.database.ping()


def make_storage(settings: Settings) -> Storage:
    """The configured mode's storage (not yet connected)."""
    return Storage(make_database(settings), pool_max=settings.db_pool_max)
