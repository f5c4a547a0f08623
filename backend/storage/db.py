"""The database engine for either run mode, and the few primitives the services need.

* `make_engine` picks PostgreSQL (asyncpg pool) or the embedded SQLite file.
* `write_transaction` is the one way writes happen: on SQLite it takes the single writer
  slot up front (BEGIN IMMEDIATE behind an asyncio lock) so concurrent requests in the one
  embedded process queue instead of failing with "database is locked".
* `now_ms` reads the database's clock: hold expiry never depends on an app server's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from backend.settings import Settings

# The database clock in epoch milliseconds, as an SQL expression per engine type.
NOW_MS_SQL = {
    "postgres": "(extract(epoch from clock_timestamp()) * 1000)::bigint",
    "sqlite": "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)",
}

# One writer slot per SQLite engine (the embedded mode has one engine per process).
# Holding the engine in the entry keeps its id() from being reused by a later engine
# (tests make one per app), which would hand that engine a lock bound to a closed loop.
_sqlite_writers: dict[int, tuple[Engine[Any], asyncio.Lock]] = {}


def _writer_slot(engine: Engine[Any]) -> asyncio.Lock:
    entry = _sqlite_writers.get(id(engine))
    if entry is None or entry[0] is not engine:
        entry = _sqlite_writers[id(engine)] = (engine, asyncio.Lock())
    return entry[1]


def make_engine(settings: Settings) -> Engine[Any]:
    """The Piccolo engine for the configured mode (not yet connected)."""
    if settings.database_url:
        return PostgresEngine(config={"dsn": settings.database_url})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # `timeout` is SQLite's busy timeout: only migrations or a second tool (a shell, a
    # backup) ever contend with the app, which serialises its own writers.
    return SQLiteEngine(path=str(settings.sqlite_path), timeout=30)


def is_postgres(engine: Engine[Any]) -> bool:
    return engine.engine_type == "postgres"


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def bind_tables(engine: Engine[Any]) -> None:
    """Point every Boxoffice table at `engine` (tests swap engines between run modes)."""
    from backend.storage.piccolo_app import APP_CONFIG

    for table in APP_CONFIG.table_classes:
        table._meta.db = engine


async def _keep_session(connection: Any) -> None:
    """Skip asyncpg's reset query on release (a round trip per query): Boxoffice never
    leaves session state behind (no SET, LISTEN, cursors or advisory locks on pooled
    connections), and asyncpg still rolls back a transaction left open."""


async def start(engine: Engine[Any], pool_max: int) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=2, max_size=pool_max, reset=_keep_session)
    else:
        # WAL lets readers run while the one writer writes; it persists in the file.
        await engine.run_ddl("PRAGMA journal_mode=WAL")


POOL_CLOSE_TIMEOUT = 10.0


async def stop(engine: Engine[Any]) -> None:
    """Close the pool; connections still out after the timeout are terminated."""
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        try:
            await asyncio.wait_for(engine.pool.close(), POOL_CLOSE_TIMEOUT)
        except TimeoutError:
            engine.pool.terminate()
        engine.pool = None


@asynccontextmanager
async def write_transaction(engine: Engine[Any]) -> AsyncIterator[None]:
    """A read-write transaction; commits on success, rolls back on any exception."""
    if isinstance(engine, SQLiteEngine):
        writer = _writer_slot(engine)
        async with writer, engine.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with _postgres_transaction(engine):
            yield


@asynccontextmanager
async def _postgres_transaction(engine: Engine[Any]) -> AsyncIterator[None]:
    """Piccolo's transaction, safe when the connection dies under it.

    If COMMIT or ROLLBACK fails (PostgreSQL restarted, the network dropped), Piccolo's
    exit raises before it releases the connection and before it resets its
    "current transaction" context variable: the pool slot would be lost for good and the
    rest of the request would keep using the dead transaction. Here the broken
    connection is terminated and released, and the context is reset, whatever happens.
    """
    transaction: Any = engine.transaction()
    try:
        await transaction.__aenter__()
    except BaseException:
        await _discard(engine, transaction)  # BEGIN failed on a connection it acquired
        raise
    owned = getattr(transaction, "_parent", None) is None
    try:
        yield
    except BaseException as exc:
        try:
            await transaction.__aexit__(type(exc), exc, exc.__traceback__)
        except Exception:
            if owned:
                await _discard(engine, transaction)
        raise
    try:
        await transaction.__aexit__(None, None, None)
    except BaseException:
        if owned:
            await _discard(engine, transaction)
        raise


async def _discard(engine: Engine[Any], transaction: Any) -> None:
    """Drop a transaction whose connection failed: terminate, release, forget it."""
    connection = getattr(transaction, "connection", None)
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.terminate()
        pool = getattr(engine, "pool", None)
        with contextlib.suppress(Exception):
            if pool is not None:
                await pool.release(connection)
    context = getattr(transaction, "context", None)
    if context is not None:
        with contextlib.suppress(Exception):
            engine.current_transaction.reset(context)


async def now_ms(engine: Engine[Any]) -> int:
    """The database clock, in epoch milliseconds."""
    rows = await fetch(engine, f"SELECT {NOW_MS_SQL[engine.engine_type]} AS now")
    return int(rows[0]["now"])


async def fetch(engine: Engine[Any], sql: str, *args: Any) -> list[dict[str, Any]]:
    from piccolo.querystring import QueryString

    result: list[dict[str, Any]] = await engine.run_querystring(QueryString(sql, *args))
    return result


async def ping(engine: Engine[Any]) -> None:
    """Raise if the database does not answer."""
    await fetch(engine, "SELECT 1 AS ok")
