"""The database engine and its primitives, one class per engine.

Everything that differs between SQLite and PostgreSQL below the queries lives here:
connecting, the one way writes happen (`transaction`), the database clock, raw reads,
and turning a driver's unique violation into `DuplicateKey`. The repositories above it
(`seats.py`, `events.py`, ...) are written once, with Piccolo's query builder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

from backend.settings import DatabaseLocation, Settings
from backend.storage.errors import (
    DuplicateKey,
    MissingReference,
    is_duplicate,
    is_missing_reference,
)

log = logging.getLogger("boxoffice.storage")

POOL_CLOSE_TIMEOUT = 10.0


def make_engine(settings: Settings | DatabaseLocation) -> Engine[Any]:
    """The Piccolo engine for the configured mode: not connected, nothing created yet."""
    if settings.database_url:
        return PostgresEngine(config={"dsn": settings.database_url})
    # `timeout` is SQLite's busy timeout: only migrations or a second tool (a shell, a
    # backup) ever contend with the app, which serialises its own writers.
    return SQLiteEngine(path=str(settings.sqlite_path), timeout=30)


def bind_tables(engine: Engine[Any]) -> None:
    """Point every Boxoffice table at `engine` (tests swap engines between run modes)."""
    from backend.storage.piccolo_app import APP_CONFIG

    for table in APP_CONFIG.table_classes:
        table._meta.db = engine


class Database(ABC):
    """One engine's primitives. Subclasses: `SqliteDatabase`, `PostgresDatabase`."""

    # The database clock in epoch milliseconds, as an SQL expression.
    NOW_MS_SQL: str = ""
    # A timestamp column's UTC minute as text, `YYYY-MM-DD HH:MM` (`{}`: the column).
    MINUTE_SQL: str = ""
    # A column in a join or filter that must not lead the engine's choice of index
    # (`{}`: the column). SQLite's unary `+` takes it out of index selection; PostgreSQL
    # chooses by its statistics, kept fresh (`refresh_statistics`).
    NOT_INDEXED_SQL: str = "{}"

    def __init__(self, engine: Engine[Any]) -> None:
        self.engine = engine

    async def on_startup(self, pool_max: int) -> None:
        """Connect (bind the tables to this engine first)."""
        bind_tables(self.engine)

    @abstractmethod
    async def on_shutdown(self) -> None:
        """Disconnect; bounded."""

    @abstractmethod
    def transaction(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A read-write transaction; commits on success, rolls back on any exception."""

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of `sql` with `{}` placeholders bound to `args` (Piccolo's QueryString)."""
        result: list[dict[str, Any]] = await self.engine.run_querystring(QueryString(sql, *args))
        return result

    @abstractmethod
    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert `rows` (values in the order of `columns`) into `table` inside the
        current `transaction()`, in one driver call: Piccolo builds a query string of
        every value in Python, ~0.3 ms of event-loop time a seat row, which made a
        100,000-seat event block the loop for tens of seconds (issue 11, item 6)."""

    async def now_ms(self) -> int:
        """The database clock, in epoch milliseconds: no app server's clock ends a hold."""
        rows = await self.fetch(f"SELECT {self.NOW_MS_SQL} AS now")
        return int(rows[0]["now"])

    # Fewer new rows than this never mislead the planner by much: not worth an ANALYZE.
    ANALYZE_AFTER_ROWS = 1_000

    @abstractmethod
    async def refresh_statistics(self, table: str, added: int) -> bool:
        """After `added` rows were written to `table` at once: refresh the planner's
        statistics of it if they may now mislead it. True if they were refreshed."""

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        await self.fetch("SELECT 1 AS ok")

    @asynccontextmanager
    async def constraints(self, what: str) -> AsyncIterator[None]:
        """Turn a constraint violation inside the block into the storage's own error:
        a unique index into `DuplicateKey(what)`, a foreign key into `MissingReference`."""
        try:
            yield
        except Exception as exc:
            if is_duplicate(exc):
                raise DuplicateKey(what) from exc
            if is_missing_reference(exc):
                raise MissingReference(what) from exc
            raise


class SqliteDatabase(Database):
    """The embedded mode's file. One writer at a time, taken up front."""

    NOW_MS_SQL = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
    # Piccolo keeps a SQLite timestamp as its UTC text, `2026-12-03 00:12:16.403982+00:00`.
    MINUTE_SQL = "substr({}, 1, 16)"
    NOT_INDEXED_SQL = "+{}"
    engine: SQLiteEngine

    def __init__(self, engine: SQLiteEngine) -> None:
        super().__init__(engine)
        # The writer slot: concurrent requests in the one embedded process queue here
        # instead of failing with "database is locked" (BEGIN IMMEDIATE behind it).
        self._writer = asyncio.Lock()

    async def on_startup(self, pool_max: int) -> None:
        await super().on_startup(pool_max)
        path = self.engine.connection_kwargs["database"]
        await asyncio.to_thread(_make_parent, path)
        # WAL lets readers run while the one writer writes; it persists in the file.
        await self.engine.run_ddl("PRAGMA journal_mode=WAL")

    async def on_shutdown(self) -> None:
        """Nothing to close: Piccolo's SQLite engine opens a connection per query or
        transaction and closes it after, each in a thread of aiosqlite's. But wait (at
        most `THREADS_STOP_SECONDS`) for those threads still at work: a query cancelled
        while its connection was opening returns at once and leaves its thread to finish
        and answer this event loop, which must still be running then. aiosqlite keeps no
        list of its connections; its threads are known by their target's name."""
        busy = [t for t in threading.enumerate() if t.name.endswith(AIOSQLITE_THREAD)]
        if busy:
            await asyncio.to_thread(_join, busy, THREADS_STOP_SECONDS)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with (
            self._writer,
            self.engine.transaction(transaction_type=TransactionType.immediate),
        ):
            yield

    async def refresh_statistics(self, table: str, added: int) -> bool:
        """Nothing: SQLite's statistics (`ANALYZE`) are one average of rows per index
        prefix, taken once. Taken when an event is published, every seat is free and has
        no holder, so the (event, holder) index looks useless: measured, the one-request
        path's seat count then scanned the whole seat table, and the embedded flash
        sale ran slower. SQLite is left to its own rules instead; the statements that
        need a particular index say so (`NOT_INDEXED_SQL`)."""
        return False

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        current = self.engine.current_transaction.get()
        if current is None:
            raise RuntimeError("insert_rows runs inside transaction()")
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        # Only names are formatted in; every value is bound (Piccolo's sqlite3 adapters
        # store UUIDs as text and booleans as integers, as its own inserts do).
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608
        await current.connection.executemany(sql, rows)


# How a thread aiosqlite starts for a connection is named ("Thread-N (<target>)").
AIOSQLITE_THREAD = "(_connection_worker_thread)"
THREADS_STOP_SECONDS = 2.0


def _join(threads: list[threading.Thread], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _make_parent(path: str) -> None:
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)


async def _keep_session(connection: Any) -> None:
    """Skip asyncpg's reset query on release (a round trip per query): Boxoffice never
    leaves session state behind (no SET, LISTEN, cursors or advisory locks on pooled
    connections), and asyncpg still rolls back a transaction left open."""


class PostgresDatabase(Database):
    """The services mode's PostgreSQL, through an asyncpg pool."""

    NOW_MS_SQL = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
    # How long `refresh_statistics` waits for its table lock (held by a running VACUUM).
    ANALYZE_WAIT_MS = 2_000
    MINUTE_SQL = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
    engine: PostgresEngine

    async def on_startup(self, pool_max: int) -> None:
        await super().on_startup(pool_max)
        await self.engine.start_connection_pool(min_size=2, max_size=pool_max, reset=_keep_session)

    async def on_shutdown(self) -> None:
        """Close the pool; connections still out after the timeout are terminated."""
        pool = self.engine.pool
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), POOL_CLOSE_TIMEOUT)
        except TimeoutError:
            pool.terminate()
        self.engine.pool = None

    async def records(self, sql: str, *args: Any) -> list[Any]:
        """`sql` ($1, $2 … placeholders) as asyncpg Records: read by key like Piccolo's
        dicts, without its per-row conversion (the fast paths' reason to be). Inside
        `transaction()` it runs on the transaction's connection, else on the pool."""
        current = self.engine.current_transaction.get()
        if current is not None:
            return list(await current.connection.fetch(sql, *args))
        pool = self.engine.pool
        if pool is None:
            raise ConnectionError("the PostgreSQL pool is not started")
        async with pool.acquire() as connection:
            return list(await connection.fetch(sql, *args))

    async def refresh_statistics(self, table: str, added: int) -> bool:
        """ANALYZE `table` when `added` (at least `ANALYZE_AFTER_ROWS`) is a tenth of its
        rows or more (autovacuum's own threshold) or it was never analysed, instead of
        waiting for autovacuum's next round (a minute or more). Until then the planner
        takes a large new event for a few rows: on a fresh 20,000-seat event, every
        write batch's read by seat id walked the event's whole (event, holder) index
        and filtered 20,000 rows (4-7 ms of PostgreSQL's time). Best effort: it waits
        at most `ANALYZE_WAIT_MS` for its lock (a running VACUUM holds it) and a failure
        is only logged."""
        if added < self.ANALYZE_AFTER_ROWS:  # no round trip for a small event
            return False
        rows = await self.records(
            "SELECT reltuples::bigint AS n FROM pg_class WHERE oid = to_regclass($1)", table
        )
        known = int(rows[0]["n"]) if rows else -1
        if known >= 0 and added * 10 < known:
            return False
        try:
            async with self.transaction():
                await self.records(f"SET LOCAL lock_timeout = {int(self.ANALYZE_WAIT_MS)}")
                await self.records(f'ANALYZE "{table}"')  # our own table name, not input
        except Exception as exc:
            log.warning("statistics of %s not refreshed (autovacuum will): %s", table, exc)
            return False
        return True

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        current = self.engine.current_transaction.get()
        if current is None:
            raise RuntimeError("insert_rows runs inside transaction()")
        await current.connection.copy_records_to_table(
            table, records=list(rows), columns=list(columns)
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Piccolo's transaction, safe when the connection dies under it.

        If COMMIT or ROLLBACK fails (PostgreSQL restarted, the network dropped), Piccolo's
        exit raises before it releases the connection and before it resets its
        "current transaction" context variable: the pool slot would be lost for good and
        the rest of the request would keep using the dead transaction. Here the broken
        connection is terminated and released, and the context is reset, whatever happens.
        """
        transaction: Any = self.engine.transaction()
        try:
            await transaction.__aenter__()
        except BaseException:
            await self._discard(transaction)  # BEGIN failed on a connection it acquired
            raise
        owned = getattr(transaction, "_parent", None) is None
        try:
            yield
        except BaseException as exc:
            try:
                await transaction.__aexit__(type(exc), exc, exc.__traceback__)
            except Exception:
                if owned:
                    await self._discard(transaction)
            raise
        try:
            await transaction.__aexit__(None, None, None)
        except BaseException:
            if owned:
                await self._discard(transaction)
            raise

    async def _discard(self, transaction: Any) -> None:
        """Drop a transaction whose connection failed: terminate, release, forget it."""
        connection = getattr(transaction, "connection", None)
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()
            pool = self.engine.pool
            with contextlib.suppress(Exception):
                if pool is not None:
                    await pool.release(connection)
        context = getattr(transaction, "context", None)
        if context is not None:
            with contextlib.suppress(Exception):
                self.engine.current_transaction.reset(context)


def make_database(settings: Settings) -> Database:
    """The configured mode's database (not yet connected)."""
    engine = make_engine(settings)
    if isinstance(engine, PostgresEngine):
        return PostgresDatabase(engine)
    assert isinstance(engine, SQLiteEngine)
    return SqliteDatabase(engine)
