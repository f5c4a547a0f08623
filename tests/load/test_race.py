"""200 buyers, each with an account, race for 20 seats on a live server (2 workers, PG + Redis)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from backend.settings import Settings
from bench.common import insert_accounts
from tests.support.databases import services_database
from tests.support.live_server import live_server
from tests.support.services import require_services
from tests.support.waiting import eventually

CLIENTS = 200
SEATS = 20
ATTEMPTS = 6


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require_services()
    with services_database(tmp_path_factory.mktemp("race")) as settings:
        yield settings


async def make_buyers(settings: Settings, count: int) -> list[dict[str, str]]:
    """`count` accounts inserted with one shared argon2 hash and tokens minted as
    `POST /signin` mints them: this test is about seats, not about hashing 400 times."""
    accounts = await insert_accounts(settings, count, f"race-{uuid.uuid4().hex[:8]}")
    return [{"id": a.id, "auth": f"Bearer {a.token}"} for a in accounts]


@pytest.mark.live
async def test_two_hundred_buyers_race_for_twenty_seats(services: Settings, tmp_path: Path) -> None:
    with live_server(services, workers=2) as server:
        limits = httpx.Limits(max_connections=CLIENTS + 10)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
            organiser, *buyers = await make_buyers(services, CLIENTS + 1)
            created = await client.post(
                "/events",
                json={
                    "name": "Race",
                    "seats": [f"A{n}" for n in range(1, SEATS + 1)],
                    "maxSeatsPerUser": 2,
                },
                headers={"Authorization": organiser["auth"]},
            )
            assert created.status_code == 201
            event_id = created.json()["id"]
            all_seats = [s["id"] for s in created.json()["seats"]]

            start = asyncio.Event()
            at_the_start: list[int] = []
            statuses: Counter[tuple[str, int]] = Counter()
            acknowledged: list[dict[str, str]] = []
            rng = random.Random(7)

            async def buyer(i: int, who: dict[str, str]) -> None:
                headers = {"Authorization": who["auth"]}
                at_the_start.append(i)
                await start.wait()
                choices = list(all_seats)
                for _ in range(ATTEMPTS):
                    if i % 2 == 0:
                        kind, wanted = "book", [rng.choice(choices)]
                        response = await client.post(
                            "/book", json={"seatId": wanted[0]}, headers=headers
                        )
                    else:
                        kind, wanted = "bookings", rng.sample(choices, min(2, len(choices)))
                        response = await client.post(
                            f"/events/{event_id}/bookings",
                            json={"seatIds": wanted},
                            headers=headers,
                        )
                    statuses[(kind, response.status_code)] += 1
                    if response.status_code == 201:
                        body = response.json()
                        for booking in body.get("bookings") or [body["booking"]]:
                            acknowledged.append(
                                {"id": booking["id"], "seat": booking["seatId"], "user": who["id"]}
                            )
                        return
                    assert response.status_code in (409, 423), response.text
                    # Lost: look at what is still free and try again (bounded).
                    seats = (await client.get(f"/events/{event_id}")).json()["seats"]
                    choices = [s["id"] for s in seats if s["status"] == "available"]
                    if not choices:
                        return

            tasks = [asyncio.create_task(buyer(i, b)) for i, b in enumerate(buyers)]
            await eventually(
                lambda: len(at_the_start) == len(buyers), what="every buyer at the start line"
            )
            start.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)

    assert not any(code >= 500 for _, code in statuses), statuses
    assert statuses[("book", 201)] + statuses[("bookings", 201)] >= 1
    assert any(code in (409, 423) for _, code in statuses)

    conn = await asyncpg.connect(services.database_url)
    try:
        rows = await conn.fetch(
            "SELECT b.id::text, b.seat::text, b.user::text, s.status, s.holder::text AS holder "
            "FROM bo_booking b JOIN bo_seat s ON s.id = b.seat "
            "WHERE b.event = $1 AND b.status = 'active'",
            event_id,
        )
        booked_seats = await conn.fetchval(
            "SELECT count(*) FROM bo_seat WHERE event = $1 AND status = 'booked'", event_id
        )
    finally:
        await conn.close()

    per_seat = Counter(r["seat"] for r in rows)
    assert sorted(per_seat) == sorted(all_seats), "every seat ends with a booking"
    assert set(per_seat.values()) == {1}, "no seat has two active bookings"
    assert booked_seats == SEATS
    # Every acknowledged booking is a row, with the right seat and owner, and nothing else is.
    assert sorted((a["id"], a["seat"], a["user"]) for a in acknowledged) == sorted(
        (r["id"], r["seat"], r["user"]) for r in rows
    )
    assert all(r["holder"] == r["user"] for r in rows)
    print(f"\nrace statuses: {dict(statuses)}")
