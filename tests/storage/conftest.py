"""The storage suite: every storage operation, on both engines, through one fixture.

`storage` is parametrized over `embedded` (SQLite file) and `services` (PostgreSQL), as
Litestar's channels suite runs one test suite against every backend.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from piccolo.querystring import QueryString

from backend.settings import Settings
from backend.storage import Storage, make_storage
from backend.storage.database import PostgresDatabase
from tests.conftest import MODES
from tests.support.databases import mode_database
from tests.support.services import require_services

_emails = itertools.count()


@pytest.fixture(params=MODES)
def storage_settings(request: pytest.FixtureRequest) -> Settings:
    # A sync fixture: the session's databases are made with asyncio.run (migrations).
    if request.param == "services":
        require_services()
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return settings


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[Storage]:
    store = make_storage(settings)
    store.pool_max = 4
    await store.on_startup()
    try:
        yield store
    finally:
        await store.on_shutdown()


@pytest.fixture
async def storage(storage_settings: Settings) -> AsyncIterator[Storage]:
    async with started(storage_settings) as store:
        yield store


@dataclass
class Venue:
    """An event made through the storage: its id, organiser and seat ids by label."""

    id: str
    organiser: str
    seats: dict[str, str]


async def new_user(storage: Storage) -> str:
    row = await storage.users.create(f"s{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com", "!")
    return str(row["id"])


async def new_venue(storage: Storage, labels: list[str] | None = None, **event: Any) -> Venue:
    organiser = await new_user(storage)
    labels = labels or [f"A{n}" for n in range(1, 7)]
    values = {
        "name": "Storage night",
        "organiser": organiser,
        "hold_seconds": 600,
        "max_seats_per_user": len(labels),
        "categories": [{"id": "std", "name": "Standard", "colour": "#123456", "price": 100}],
        "width": float(len(labels)),
        "height": 1.0,
        **event,
    }
    seats = [
        {
            "label": label,
            "section": "",
            "row": label[0],
            "number": i + 1,
            "category": "std",
            "accessible": i == 0,
            "x": float(i) + 0.1,
            "y": 0.7,
        }
        for i, label in enumerate(labels)
    ]
    async with storage.transaction():
        event_id = await storage.events.insert_draft(values)
    await storage.events.add_seats(event_id, seats)
    await storage.events.publish(event_id, len(seats))
    rows = await storage.seats.of_event(event_id)
    return Venue(event_id, organiser, {r["label"]: str(r["id"]) for r in rows})


# ------------------------------------------- how a statement finds its rows (the planner)


@pytest.fixture(params=MODES)
def fresh_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A database of its own: what the planner knows depends on every seat written
    before, so tests of it cannot share the session's."""
    with mode_database(request.param, tmp_path) as settings:
        yield settings


@pytest.fixture
async def fresh_storage(fresh_settings: Settings) -> AsyncIterator[Storage]:
    async with started(fresh_settings) as store:
        yield store


@dataclass
class Explained:
    """The first statement a storage call sent, explained. PostgreSQL: run under
    EXPLAIN ANALYZE, `visited` the seat rows its plan read (returned or filtered out).
    SQLite: `steps`, its query plan's lines (it reports no row counts)."""

    result: Any
    visited: int | None = None
    steps: list[str] = field(default_factory=list)


async def explain_first(storage: Storage, call: Awaitable[Any]) -> Explained:
    database = storage.database
    postgres = isinstance(database, PostgresDatabase)
    sent: list[tuple[str, tuple[Any, ...]]] = []  # PostgreSQL's $n form, or Piccolo's {}
    fetch = database.fetch

    async def spy_fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
        if postgres:
            query, values = QueryString(sql, *args).compile_string(engine_type="postgres")
            sent.append((query, tuple(values)))
        else:
            sent.append((sql, args))
        return await fetch(sql, *args)

    database.fetch = spy_fetch  # type: ignore[method-assign]
    if isinstance(database, PostgresDatabase):
        records = database.records

        async def spy_records(sql: str, *args: Any) -> list[Any]:
            sent.append((sql, args))
            return await records(sql, *args)

        database.records = spy_records  # type: ignore[method-assign]
    try:
        result = await call
    finally:
        del database.fetch
        if postgres:
            del database.records
    (sql, args), *_ = sent
    if isinstance(database, PostgresDatabase):
        rows = await database.records("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)

        def visited(node: dict[str, Any]) -> int:
            own = 0
            if node.get("Relation Name") == "bo_seat":
                own = node["Actual Loops"] * (
                    node["Actual Rows"]
                    + node.get("Rows Removed by Filter", 0)
                    + node.get("Rows Removed by Index Recheck", 0)
                )
            return own + sum(visited(child) for child in node.get("Plans", []))

        return Explained(result, visited=visited(json.loads(rows[0][0])[0]["Plan"]))
    steps = await fetch("EXPLAIN QUERY PLAN " + sql, *args)
    return Explained(result, steps=[str(step["detail"]) for step in steps])
