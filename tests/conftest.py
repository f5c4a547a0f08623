"""Shared fixtures: the booking behaviour runs against both run modes.

`settings` is parametrized over `embedded` (SQLite + in-process locks and channel) and
`services` (a fresh PostgreSQL database + Redis under a private key prefix).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.settings import Settings
from tests.support.databases import embedded_database, services_database
from tests.support.services import require_services

MODES = ["embedded", "services"]


@pytest.fixture(scope="session")
def embedded_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with embedded_database(tmp_path_factory.mktemp("embedded")) as settings:
        yield settings


@pytest.fixture(scope="session")
def services_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    require_services()
    with services_database(tmp_path_factory.mktemp("services")) as settings:
        yield settings


@pytest.fixture(params=MODES)
def settings(request: pytest.FixtureRequest) -> Settings:
    if request.param == "services":
        require_services()
    return request.getfixturevalue(f"{request.param}_settings")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


_counter = itertools.count()


class Api:
    """A small typed wrapper over the test client: accounts, events, auth headers."""

    def __init__(self, client: AsyncTestClient[Any]) -> None:
        self.client = client

    async def user(self, password: str = "correct horse battery") -> dict[str, Any]:
        email = f"user{next(_counter)}-{uuid.uuid4().hex[:8]}@example.com"
        created = await self.client.post("/signup", json={"email": email, "password": password})
        assert created.status_code == 201, created.text
        signed = await self.client.post("/signin", json={"email": email, "password": password})
        assert signed.status_code == 200, signed.text
        token = signed.json()["token"]
        return {
            "id": created.json()["id"],
            "email": email,
            "token": token,
            "headers": {"Authorization": f"Bearer {token}"},
        }

    async def event(self, owner: dict[str, Any], **body: Any) -> dict[str, Any]:
        body.setdefault("name", "Test night")
        if "layout" not in body:
            body.setdefault("seats", [f"{row}{n}" for row in "ABC" for n in range(1, 11)])
        response = await self.client.post("/events", json=body, headers=owner["headers"])
        assert response.status_code == 201, response.text
        return response.json()

    async def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run `fn` on the app's event loop (the test client serves the app from its own
        thread and loop, which owns the database pool)."""
        return await anyio.to_thread.run_sync(self.client.blocking_portal.call, fn, *args)

    async def db(self, query: Any) -> Any:
        """Run a Piccolo query against the app's database."""
        return await self.run(query.run)

    async def seats(self, event_id: str, who: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = who["headers"] if who else {}
        response = await self.client.get(f"/events/{event_id}", headers=headers)
        assert response.status_code == 200, response.text
        return {s["id"]: s for s in response.json()["seats"]}


@pytest.fixture
def api(client: AsyncTestClient[Any]) -> Api:
    return Api(client)


def pytest_configure(config: pytest.Config) -> None:
    Path("tests/artifacts").mkdir(parents=True, exist_ok=True)
