"""Creating a large event (issue 11, item 6), on both run modes.

A 100,000-seat creation used to hold embedded mode's one writer for its whole insert and
the event loop for seconds of row building: a hold on an unrelated event waited 22 s and
`/health` 6 s. The creation now goes in bounded chunks behind an invisible draft; these
tests measure what other requests see meanwhile, and check the draft, the 201 and the
per-organiser quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.booking.layout import from_labels
from backend.settings import Settings
from backend.storage.tables import Event, EventCreation, Seat
from tests.conftest import Api
from tests.live.test_websocket import close_code
from tests.support.waiting import eventually

BASE = "http://testserver.local"
LARGE = 100_000  # seats: the starvation test's event (the most an event may have)
BOUND = 1.0  # seconds: what the issue allows a request beside a large creation
# The share of the whole creation a probe may wait on a host slow enough to stretch it
# past BOUND / SHARE (see the test's docstring).
SHARE = 1 / 8
PAUSE = 0.02  # seconds between two /health probes


def labels(count: int, per_row: int = 250) -> list[str]:
    """`count` seat labels in rows of `per_row` (row names AA, AB, ...)."""
    rows = [chr(65 + r // 26) + chr(65 + r % 26) for r in range(count // per_row + 1)]
    return [f"{rows[n // per_row]}{n % per_row + 1}" for n in range(count)]


async def test_a_large_creation_starves_nobody(api: Api) -> None:
    """While a 100,000-seat event is created, a hold (and its release) on another event
    and `/health` each answer within a second, again and again until it is done.

    The probes run on the app's own event loop beside the creation (an ASGI client on
    that loop), so what they measure is what a second client of the server would wait:
    for the writer (SQLite), for the event loop, or for both.

    On a quiet host the creation takes about 3 s and the slowest probe about 0.1 s. The
    suite runs three workers on two cores beside browsers and servers, and on a slow,
    shared host the creation took 16-23 s there and a probe, waiting for the host as much
    as for the app, up to 1.5 s (CI, 2026-12-05). The starvation this guards against made
    a probe wait for nearly all of the creation (22 s of 25), so the bound is BOUND or,
    when the host stretches the creation past 8 s, an eighth of it: a probe may wait for a
    few of the creation's 50 chunks, never for a stage of it."""
    owner, buyer = await api.user(), await api.user()
    other = await api.event(owner)
    seat = next(s["id"] for s in other["seats"] if s["label"] == "A1")
    body = {"name": "Stadium", "seats": labels(LARGE)}
    app = api.client.app

    async def scenario() -> tuple[int, list[float], list[float], float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=120) as http:
            holds: list[float] = []
            health: list[float] = []

            async def timed(
                request: Any, into: list[float], status: int, pause: float = 0.0
            ) -> None:
                # Timed from when it is due: a request sent while the loop is blocked
                # waits for the block, so a probe is "sent" at every moment of the run.
                started = time.perf_counter() + pause
                await asyncio.sleep(pause)
                response = await request()
                into.append(time.perf_counter() - started)
                assert response.status_code == status, response.text

            started = time.perf_counter()
            creation = asyncio.ensure_future(
                http.post("/events", json=body, headers=owner["headers"])
            )

            async def hold_and_release() -> None:
                while not creation.done():
                    await timed(
                        lambda: http.post(
                            f"/events/{other['id']}/holds",
                            json={"seatIds": [seat]},
                            headers=buyer["headers"],
                        ),
                        holds,
                        201,
                    )
                    await timed(
                        lambda: http.request(
                            "DELETE", f"/events/{other['id']}/holds", headers=buyer["headers"]
                        ),
                        holds,
                        200,
                    )

            async def check_health() -> None:
                while not creation.done():
                    await timed(lambda: http.get("/health"), health, 200, PAUSE)

            await asyncio.gather(hold_and_release(), check_health())
            created = await creation
            return created.status_code, holds, health, time.perf_counter() - started

    status, holds, health, took = await api.run(scenario)
    assert status == 201
    # Probes all along the creation, so that each of its stages met some.
    assert len(health) >= 10 and len(holds) >= 4, (len(health), len(holds), took)
    bound = max(BOUND, took * SHARE)
    assert max(holds) < bound, f"slowest hold/release {max(holds):.2f} s during {took:.1f} s"
    assert max(health) < bound, f"slowest /health {max(health):.2f} s during {took:.1f} s"


async def test_a_small_event_comes_back_with_its_seats_a_large_one_with_a_link(api: Api) -> None:
    """Up to 1,000 seats the 201 lists them (the seed's form and its clients rely on
    it); past that it has the event and its counts, and a Location to read them from."""
    owner = await api.user()
    small = await api.client.post(
        "/events", json={"name": "Club", "seats": labels(1000)}, headers=owner["headers"]
    )
    assert small.status_code == 201, small.text
    assert small.headers["location"] == f"/events/{small.json()['id']}"
    assert len(small.json()["seats"]) == 1000

    large = await api.client.post(
        "/events", json={"name": "Hall", "seats": labels(1001)}, headers=owner["headers"]
    )
    assert large.status_code == 201, large.text
    body = large.json()
    assert "seats" not in body
    assert body["counts"] == {"total": 1001, "available": 1001, "held": 0, "booked": 0}
    assert (body["name"], body["organiserId"], body["maxSeatsPerUser"]) == ("Hall", owner["id"], 10)
    assert large.headers["location"] == f"/events/{body['id']}"
    read = await api.client.get(large.headers["location"])
    assert read.status_code == 200 and len(read.json()["seats"]) == 1001


@contextlib.asynccontextmanager
async def quota_api(settings: Settings, events: int, seats: int) -> AsyncIterator[Api]:
    limited = replace(settings, events_per_user_per_day=events, seats_per_user_per_day=seats)
    async with AsyncTestClient(
        app=create_app(limited), base_url="http://testserver.local"
    ) as client:
        yield Api(client)


async def _made_by(api: Api, organiser: dict[str, Any]) -> tuple[int, int, int]:
    """Events, seats and recorded creations of `organiser`, read from the database."""
    events = await api.db(Event.select(Event.id).where(Event.organiser == organiser["id"]))
    ids = [e["id"] for e in events]
    seats = await api.db(Seat.count().where(Seat.event.is_in(ids))) if ids else 0
    made = await api.db(EventCreation.count().where(EventCreation.organiser == organiser["id"]))
    return len(ids), seats, made


def _refused_for_quota(response: Any) -> int:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "quota_exceeded" and body["success"] is False
    wait = int(response.headers["retry-after"])
    assert 0 < wait <= 86_400 and body["retryAfter"] == wait
    return wait


async def test_the_events_quota_refuses_the_next_creation_and_changes_nothing(
    settings: Settings,
) -> None:
    async with quota_api(settings, events=2, seats=0) as api:
        owner, other = await api.user(), await api.user()
        first = await api.event(owner)
        await api.event(owner)
        refused = await api.client.post(
            "/events", json={"name": "Third", "seats": ["A1"]}, headers=owner["headers"]
        )
        _refused_for_quota(refused)
        assert "2 events in the last 24 hours (the limit is 2)" in refused.json()["message"]
        assert await _made_by(api, owner) == (2, 60, 2)
        listed = (await api.client.get("/events")).json()["events"]
        assert "Third" not in {e["name"] for e in listed}

        # Deleting an event does not give its quota back; someone else has their own.
        deleted = await api.client.delete(f"/events/{first['id']}", headers=owner["headers"])
        assert deleted.status_code == 204
        again = await api.client.post(
            "/events", json={"name": "Third", "seats": ["A1"]}, headers=owner["headers"]
        )
        _refused_for_quota(again)
        await api.event(other)


async def test_the_seats_quota_counts_seats_and_says_when_they_fit(settings: Settings) -> None:
    async with quota_api(settings, events=0, seats=50) as api:
        owner = await api.user()
        await api.event(owner, seats=labels(40))

        async def create(count: int) -> Any:
            return await api.client.post(
                "/events", json={"name": "More", "seats": labels(count)}, headers=owner["headers"]
            )

        refused = await create(11)  # 40 + 11 > 50
        wait = _refused_for_quota(refused)
        assert wait > 86_000  # the 40 seats were created a moment ago
        assert "40 seats in the last 24 hours" in refused.json()["message"]
        assert await _made_by(api, owner) == (1, 40, 1)
        assert (await create(10)).status_code == 201  # exactly 50
        _refused_for_quota(await create(1))

        too_big = await create(51)  # would never fit: not a "come back later"
        assert too_big.status_code == 400 and "at most 50 seats" in too_big.json()["message"]

        # The window rolls: once the first creation is 24 hours old less a minute, the
        # next fits in a minute; once it is older than 24 hours, its seats are free.
        now = await api.run(api.client.app.state.storage.now_ms)
        oldest = EventCreation.organiser == owner["id"]
        first = await api.db(
            EventCreation.select(EventCreation.id)
            .where(oldest)
            .order_by(EventCreation.created_at_ms)
            .first()
        )
        day = 86_400_000
        age = EventCreation.id == first["id"]
        await api.db(
            EventCreation.update({EventCreation.created_at_ms: now - day + 60_000}).where(age)
        )
        assert 55 <= _refused_for_quota(await create(30)) <= 61
        await api.db(EventCreation.update({EventCreation.created_at_ms: now - day - 1}).where(age))
        assert (await create(30)).status_code == 201


async def test_concurrent_creations_never_pass_the_quota_together(settings: Settings) -> None:
    """The check and the record are one transaction under the organiser's row lock: of
    six creations sent at once with two events left, two are made."""
    async with quota_api(settings, events=2, seats=0) as api:
        owner = await api.user()
        app = api.client.app

        async def scenario() -> list[int]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
                responses = await asyncio.gather(
                    *[
                        http.post("/events", json={"name": f"E{n}", "seats": ["A1"]},
                                  headers=owner["headers"])
                        for n in range(6)
                    ]
                )  # fmt: skip
            return sorted(r.status_code for r in responses)

        assert await api.run(scenario) == [201, 201, 429, 429, 429, 429]
        assert await _made_by(api, owner) == (2, 2, 2)


async def test_the_demo_event_is_exempt_from_the_quota(settings: Settings) -> None:
    async with quota_api(settings, events=1, seats=1) as api:
        owner = await api.user()
        events = api.client.app.state.events
        layout = from_labels(labels(20))
        for _ in range(2):
            made = await api.run(lambda: events.create(owner["id"], "Demo", layout, is_demo=True))
            assert (await api.client.get(f"/events/{made}")).status_code == 200


async def test_a_draft_is_invisible_and_untouchable_until_published(api: Api) -> None:
    """An event whose seats are still being written is no event yet: not listed, 404 to
    reads, holds, bookings and its organiser, and its socket is closed as unknown."""
    owner, buyer = await api.user(), await api.user()
    storage = api.client.app.state.storage

    async def start() -> tuple[str, str]:
        async with storage.transaction():
            event_id = await storage.events.insert_draft(
                {"name": "Draft", "organiser": owner["id"]}
            )
        seats = [
            {"label": f"A{n}", "section": "", "row": "A", "number": n, "category": "standard",
             "accessible": False, "x": float(n), "y": 0.0}
            for n in range(1, 4)
        ]  # fmt: skip
        await storage.events.add_seats(event_id, seats)
        return event_id, str((await storage.seats.of_event(event_id))[0]["id"])

    event_id, seat = await api.run(start)
    path = f"/events/{event_id}"
    assert event_id not in {e["id"] for e in (await api.client.get("/events")).json()["events"]}
    assert (await api.client.get(path, headers=owner["headers"])).status_code == 404
    held = await api.client.post(
        f"{path}/holds", json={"seatIds": [seat]}, headers=buyer["headers"]
    )
    assert held.status_code == 404
    best = await api.client.post(f"{path}/holds", json={"count": 1}, headers=buyer["headers"])
    assert best.status_code == 404
    booked = await api.client.post(
        f"{path}/bookings", json={"seatIds": [seat]}, headers=buyer["headers"]
    )
    assert booked.status_code == 404
    assert (
        await api.client.post("/book", json={"seatId": seat}, headers=buyer["headers"])
    ).status_code == 404
    patched = await api.client.patch(path, json={"name": "Mine"}, headers=owner["headers"])
    assert patched.status_code == 404
    assert (await api.client.delete(path, headers=owner["headers"])).status_code == 404
    with await api.client.websocket_connect(f"/ws/events/{event_id}") as ws:
        assert close_code(ws) == 4404

    await api.run(storage.events.publish, event_id, 3)
    assert (await api.client.get(path)).status_code == 200
    held = await api.client.post(
        f"{path}/holds", json={"seatIds": [seat]}, headers=buyer["headers"]
    )
    assert held.status_code == 201, held.text


async def test_a_creation_failing_midway_leaves_nothing_behind(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await api.user()
    repository = api.client.app.state.storage.events
    original = repository.add_seats
    written: list[int] = []

    async def fail_on_the_third_chunk(event_id: str, seats: Any) -> None:
        if len(written) == 2:
            raise RuntimeError("disk full")
        await original(event_id, seats)
        written.append(len(seats))

    monkeypatch.setattr(repository, "add_seats", fail_on_the_third_chunk)
    response = await api.client.post(
        "/events", json={"name": "Doomed", "seats": labels(5000)}, headers=owner["headers"]
    )
    assert response.status_code == 500 and written == [2000, 2000]
    events, seats, made = await _made_by(api, owner)
    assert (events, seats) == (0, 0)  # the draft and its 4,000 seats are gone
    assert made == 1  # the attempt still counts towards the quota


async def test_a_creation_cancelled_midway_leaves_nothing_behind(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that goes away mid-creation (its request is cancelled): the draft's
    removal runs on, shielded from the cancellation."""
    owner = await api.user()
    repository = api.client.app.state.storage.events
    original = repository.add_seats
    app = api.client.app

    async def scenario() -> None:
        second = asyncio.Event()
        stall = asyncio.Event()

        async def stall_on_the_second_chunk(event_id: str, seats: Any) -> None:
            if second.is_set():
                await stall.wait()  # never set: the request is cancelled here
            await original(event_id, seats)
            second.set()

        monkeypatch.setattr(repository, "add_seats", stall_on_the_second_chunk)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            creation = asyncio.ensure_future(
                http.post("/events", json={"name": "Gone", "seats": labels(5000)},
                          headers=owner["headers"])
            )  # fmt: skip
            await eventually(second.is_set, what="the first chunk to be written")
            creation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await creation

    await api.run(scenario)

    async def cleaned() -> bool:
        return (await _made_by(api, owner))[:2] == (0, 0)

    await eventually(cleaned, what="the cancelled creation's draft to be removed")
