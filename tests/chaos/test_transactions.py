"""A connection that dies inside a transaction is released and forgotten.

Found by the postgres-restart scenario: when COMMIT or ROLLBACK failed on a dead
connection, Piccolo's transaction exit raised before releasing the pooled connection and
before resetting its "current transaction", so the pool lost a slot for good and the rest
of the request (the idempotency key's clean-up) ran on the dead transaction and got a 500.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from backend.settings import Settings
from backend.storage.database import make_database
from tests.support.databases import services_database
from tests.support.services import require_services

pytestmark = [pytest.mark.chaos, pytest.mark.services]

# How asyncpg reports a connection terminated under a running transaction, depending on
# when it notices (all three were seen in runs of the test below):
CONNECTION_DIED = (
    # ConnectionDoesNotExistError: the next query found the connection closed.
    asyncpg.PostgresConnectionError,
    # "cannot call Connection.fetch(): connection has been released back to the pool":
    # asyncpg detaches a pooled connection's proxy once the connection is closed.
    asyncpg.InterfaceError,
    # "cannot switch to state 11; another operation is in progress": the query was sent
    # while the protocol was still handling the server's termination notice.
    asyncpg.InternalClientError,
)


def test_a_connection_killed_mid_transaction_is_released_and_forgotten(tmp_path: Path) -> None:
    require_services()
    with services_database(tmp_path) as settings:
        asyncio.run(_kill_inside_transactions(settings))


async def _kill_inside_transactions(settings: Settings) -> None:
    assert settings.database_url is not None
    database = make_database(settings)
    engine = database.engine
    await database.on_startup(2)
    admin = await asyncpg.connect(settings.database_url)
    try:
        # More rounds than the pool has connections: a leaked slot would hang the third.
        for _ in range(4):
            with pytest.raises(CONNECTION_DIED):
                async with asyncio.timeout(10), database.transaction():
                    rows = await database.fetch("SELECT pg_backend_pid() AS pid")
                    await admin.execute("SELECT pg_terminate_backend($1)", rows[0]["pid"])
                    await database.fetch("SELECT 1 AS ok")
            assert engine.current_transaction.get() is None  # type: ignore[attr-defined]
        async with asyncio.timeout(10), database.transaction():
            assert (await database.fetch("SELECT 1 AS ok"))[0]["ok"] == 1
    finally:
        await admin.close()
        await database.on_shutdown()
