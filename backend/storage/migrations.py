"""Schema migrations (Piccolo's, committed in piccolo_migrations/) and the start-up lock
that lets any number of instances start at once against one PostgreSQL."""

from __future__ import annotations

import contextlib
import importlib
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from backend.settings import Settings
from backend.storage.database import bind_tables, make_engine

ROOT = Path(__file__).resolve().parent.parent.parent
MIGRATION_LOCK_KEY = 7_201_100_001  # pg_advisory_lock key owned by Boxoffice start-up

# The database cannot be reached or used at all (start-up says so and exits 2).
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.OperationalError,
)


def piccolo_conf_importable() -> None:
    """Piccolo finds its config as the module `piccolo_conf` at the project root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


@contextlib.asynccontextmanager
async def startup_lock(settings: Settings) -> AsyncIterator[None]:
    """Serialise migrations and demo data across instances sharing one PostgreSQL."""
    if not settings.database_url:
        yield
        return
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        yield
    finally:
        with contextlib.suppress(Exception):
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await conn.close()


async def run_migrations(settings: Settings) -> None:
    """Apply every committed Piccolo migration to the configured database."""
    piccolo_conf_importable()
    from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
    from piccolo.apps.migrations.tables import Migration

    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings)
    conf = importlib.import_module("piccolo_conf")
    setattr(conf, "DB", engine)  # noqa: B010 (the settings passed in win over the environment's)
    bind_tables(engine)
    Migration._meta.db = engine  # Piccolo's own bookkeeping table, cached per process
    manager = ForwardsMigrationManager(app_name="storage", migration_id="all", fake=False)
    result = await manager.run()
    if not result.success:
        raise SystemExit(f"migrations failed: {result.message}")
