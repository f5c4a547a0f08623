"""A database outage answers 503 with Retry-After (try again), never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from tests.conftest import Api

# The storage reads GET /events/{id} and POST /events/{id}/bookings start with.
OUTAGE_READS = (
    ("events", "get"),
    ("seats", "by_id"),
    ("seats", "events_of"),
    ("seats", "of_event"),
    ("seats", "event_json"),
    ("seats", "event_with_seats"),
)

OUTAGES = [
    ConnectionRefusedError(111, "Connection refused"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    ),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
]


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: type(e).__name__)
async def test_database_outage_is_503_with_retry_after(
    api: Api, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    user = await api.user()
    event = await api.event(user)

    calls: list[str] = []

    def failing(name: str) -> Callable[..., Awaitable[None]]:
        async def down(*_: object) -> None:
            calls.append(name)
            raise error

        return down

    # Every read the two requests below can start with fails as a dead database would.
    # A missing name fails here, loudly: a rename must not quietly turn the outage off.
    storage = api.client.app.state.storage
    for repository, name in OUTAGE_READS:
        target = getattr(storage, repository)
        assert hasattr(target, name), f"Storage.{repository}.{name} no longer exists"
        monkeypatch.setattr(target, name, failing(f"{repository}.{name}"))
    seat = event["seats"][0]["id"]
    requests = {
        "read": lambda: api.client.get(f"/events/{event['id']}"),
        "book": lambda: api.client.post(
            f"/events/{event['id']}/bookings", json={"seatIds": [seat]}, headers=user["headers"]
        ),
    }
    for request in requests.values():
        before = len(calls)
        response = await request()
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json() == {
            "success": False,
            "message": "temporarily unavailable; try again",
            "code": "unavailable",
        }
        # The 503 came from the simulated outage, not from something else.
        assert len(calls) > before, "the request went through none of the patched reads"
