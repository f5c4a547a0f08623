"""Bookings before fan-out (LIVE_YIELD_MS, backend/live/hub.py): while the process writes
a batch of bookings, the shoppers of every event it serves get their changes held and
gathered, then in one frame once the writing stops. Both modes, the app's own channel
and batcher; the batch in flight is held at its start by a gate."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from backend.settings import Settings
from tests.conftest import Api
from tests.live.test_websocket import BASE, custom_client
from tests.support.waiting import eventually


async def test_changes_wait_for_a_batch_of_bookings_and_go_out_together(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bound far longer than the test (and a budget so small that one watcher reaches
    # it): what releases the changes is the writing's end.
    async with custom_client(
        settings, live_yield_ms=60_000, live_sale_sends_per_second=0.001
    ) as client:
        api = Api(client)
        app = api.client.app
        state = app.state
        batcher = state.booking.batcher
        assert batcher is not None and state.hub.writing == batcher.writing
        owner, buyer, other = await api.user(), await api.user(), await api.user()
        selling, watched = await api.event(owner), await api.event(owner)
        labels = {s["id"]: s["label"] for s in watched["seats"]}

        async def scenario() -> list[str]:
            """On the app's loop (its requests run concurrently there): the selling
            event's batch held in flight while the watched event changes twice."""
            gate = asyncio.Event()
            original = batcher._run

            async def gated(event_id: str, requests: list[Any]) -> Any:
                if event_id == selling["id"]:
                    await gate.wait()
                return await original(event_id, requests)

            monkeypatch.setattr(batcher, "_run", gated)
            watcher = state.hub.watch(watched["id"], None)
            watcher.needs_snapshot = False  # as if its snapshot went out
            watcher.queue.clear()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:

                async def hold(event: dict[str, Any], label: str, who: dict[str, Any]) -> Any:
                    seat = next(s["id"] for s in event["seats"] if s["label"] == label)
                    response = await http.post(
                        f"/events/{event['id']}/holds",
                        json={"seatIds": [seat]},
                        headers=who["headers"],
                    )
                    assert response.status_code == 201, response.text

                in_flight = asyncio.ensure_future(hold(selling, "A1", buyer))
                await eventually(batcher.writing, what="the selling event's batch in flight")
                await hold(watched, "B1", other)
                await eventually(
                    lambda: state.hub.held_back >= 1, what="the watched event's batch held"
                )
                assert not watcher.queue  # held while the bookings are written
                await hold(watched, "B2", other)
                assert not watcher.queue
                gate.set()
                await in_flight
                await eventually(lambda: watcher.queue, what="the held changes, writing done")
                assert not batcher.writing()
                return list(watcher.queue)

        (message,) = [json.loads(m) for m in await api.run(scenario)]
        assert message["type"] == "seats"
        assert sorted(labels[c["id"]] for c in message["changes"]) == ["B1", "B2"]
