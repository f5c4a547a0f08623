"""Fresh databases for a test run: a SQLite folder, or a new PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from backend.cli import run_migrations
from backend.settings import Mode, Settings
from tests.support.services import PG_URL, REDIS_URL, TEST_SECRET, require_services, unique_name


def base_settings(data_dir: Path) -> Settings:
    return Settings(
        mode=Mode.EMBEDDED,
        database_url=None,
        redis_url=None,
        redis_prefix="bo",
        jwt_secret=TEST_SECRET,
        jwt_lifetime_seconds=3600,
        host="127.0.0.1",
        port=8000,
        workers=1,
        data_dir=data_dir,
        allowed_origins=(),
        allowed_hosts=(),
        demo=False,
        expiry_interval=0.1,
        lock_ttl_ms=5000,
        live_batch_ms=10,
        live_sends_per_second=40_000,
        ws_backlog=256,
        ws_heartbeat_seconds=20,
        db_pool_max=20,
        argon2_concurrency=4,
        signin_attempts=1000,
        signin_window_seconds=60,
    )


def pg_url_for(database: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_pg_database(name: str) -> str:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return pg_url_for(name)


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def flush_redis_prefix(prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@contextlib.contextmanager
def services_database(tmp: Path) -> Iterator[Settings]:
    """A new, migrated PostgreSQL database and a private Redis key prefix; dropped after."""
    name = unique_name("bo_test")
    url = asyncio.run(create_pg_database(name))
    prefix = unique_name("botest")
    settings = replace(
        base_settings(tmp),
        mode=Mode.SERVICES,
        database_url=url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
    )
    try:
        asyncio.run(run_migrations(settings))
        yield settings
    finally:
        asyncio.run(drop_pg_database(name))
        asyncio.run(flush_redis_prefix(prefix))


@contextlib.contextmanager
def embedded_database(tmp: Path) -> Iterator[Settings]:
    settings = base_settings(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_migrations(settings))
    yield settings


@contextlib.contextmanager
def mode_database(mode: str, tmp: Path) -> Iterator[Settings]:
    """A fresh database of one run mode, by name ("embedded" or "services"): for fixtures
    parametrized over both modes."""
    if mode == "services":
        require_services()
        with services_database(tmp) as settings:
            yield settings
    else:
        with embedded_database(tmp) as settings:
            yield settings
