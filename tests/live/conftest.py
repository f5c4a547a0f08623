"""Live-server helpers: two app processes on PostgreSQL + Redis, and a small HTTP client."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from backend.settings import Settings
from bench.common import insert_accounts
from tests.support.live_server import LiveServer, live_server

PASSWORD = "correct horse battery"
# Small enough that the slow-reader test overflows a socket's backlog quickly.
LIVE_ENV = {"WS_BACKLOG": "8", "LIVE_BATCH_MS": "25"}

_counter = itertools.count()


@dataclass
class User:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class HttpApi:
    """Accounts, events, holds and bookings over real HTTP against one server."""

    def __init__(self, client: httpx.AsyncClient, server: LiveServer) -> None:
        self.client = client
        self.server = server

    async def user(self, *, via_http: bool = False) -> User:
        """A new signed-in user. By default inserted straight into the server's database
        with a precomputed hash and a token minted as `POST /signin` mints it (these tests
        are not about argon2); `via_http=True` signs up and signs in over HTTP."""
        tag = f"live{next(_counter)}-{uuid.uuid4().hex[:8]}"
        if not via_http:
            [account] = await insert_accounts(self.server.settings, 1, tag)
            return User(account.id, account.token)
        email = f"{tag}@example.com"
        created = await self.client.post("/signup", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        signed = await self.client.post("/signin", json={"email": email, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        return User(created.json()["id"], signed.json()["token"])

    async def event(self, owner: User, seats: int = 20, **body: Any) -> dict[str, Any]:
        body.setdefault("name", "Live night")
        body.setdefault("seats", [f"A{n}" for n in range(1, seats + 1)])
        response = await self.client.post("/events", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def hold(self, who: User, event_id: str, seat_ids: list[str]) -> dict[str, Any]:
        response = await self.client.post(
            f"/events/{event_id}/holds", json={"seatIds": seat_ids}, headers=who.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def release(self, who: User, event_id: str, seat_ids: list[str]) -> None:
        response = await self.client.request(
            "DELETE", f"/events/{event_id}/holds", json={"seatIds": seat_ids}, headers=who.headers
        )
        assert response.status_code == 200, response.text

    async def book(self, who: User, event_id: str, seat_ids: list[str]) -> list[dict[str, Any]]:
        response = await self.client.post(
            f"/events/{event_id}/bookings", json={"seatIds": seat_ids}, headers=who.headers
        )
        assert response.status_code == 201, response.text
        return list(response.json()["bookings"])

    async def cancel(self, who: User, booking_id: str) -> None:
        response = await self.client.delete(f"/bookings/{booking_id}", headers=who.headers)
        assert response.status_code in (200, 204), response.text


@contextlib.asynccontextmanager
async def http(server: LiveServer) -> AsyncIterator[HttpApi]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield HttpApi(client, server)


@dataclass
class Pair:
    a: LiveServer
    b: LiveServer
    settings: Settings


@contextlib.contextmanager
def server_pair(settings: Settings, **env: str) -> Iterator[Pair]:
    """Two single-process servers sharing one database and one Redis."""
    with live_server(settings, 1, None, **env) as a, live_server(settings, 1, None, **env) as b:
        yield Pair(a, b, settings)


@pytest.fixture(scope="module")
def pair(services_settings: Settings) -> Iterator[Pair]:
    with server_pair(services_settings, **LIVE_ENV) as servers:
        yield servers
