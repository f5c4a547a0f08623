"""A database outage answers 503 with Retry-After (try again), never a 500."""

from __future__ import annotations

import asyncpg
import pytest

from backend.storage import queries
from tests.conftest import Api

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

    async def down(*_: object) -> None:
        raise error

    # Every read the two requests below can start with fails as a dead database would.
    for name in ("get_event", "seats_by_id", "event_of_seat", "event_seats", "event_with_seats"):
        if hasattr(queries, name):
            monkeypatch.setattr(queries, name, down)
    for response in (
        await api.client.get(f"/events/{event['id']}"),
        await api.client.post(
            f"/events/{event['id']}/bookings",
            json={"seatIds": [event["seats"][0]["id"]]},
            headers=user["headers"],
        ),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json() == {
            "success": False,
            "message": "temporarily unavailable; try again",
            "code": "unavailable",
        }
