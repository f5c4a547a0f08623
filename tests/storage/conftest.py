"""The storage suite: every storage operation, on both engines, through one fixture.

`storage` is parametrized over `embedded` (SQLite file) and `services` (PostgreSQL), as
Litestar's channels suite runs one test suite against every backend.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from backend.settings import Settings
from backend.storage import Storage, make_storage
from tests.conftest import MODES
from tests.support.services import require_services

_emails = itertools.count()


@pytest.fixture(params=MODES)
def storage_settings(request: pytest.FixtureRequest) -> Settings:
    # A sync fixture: the session's databases are made with asyncio.run (migrations).
    if request.param == "services":
        require_services()
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return settings


@pytest.fixture
async def storage(storage_settings: Settings) -> AsyncIterator[Storage]:
    store = make_storage(storage_settings)
    store.pool_max = 4
    await store.on_startup()
    try:
        yield store
    finally:
        await store.on_shutdown()


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
    await storage.events.publish(event_id)
    rows = await storage.seats.of_event(event_id)
    return Venue(event_id, organiser, {r["label"]: str(r["id"]) for r in rows})
