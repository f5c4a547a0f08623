"""A process killed between a commit and its publish leaves the change unannounced; a
process that starts asks every process's watchers of recently changed events to resync
(backend/services.py `announce_recent_changes`). Both modes, through the app's channel."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.support.waiting import eventually


async def test_a_starting_process_has_recently_changed_events_resynced(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = api.client.app.state
    owner, buyer = await api.user(), await api.user()
    changed, quiet = await api.event(owner), await api.event(owner)
    watchers = {}

    async def watch() -> None:
        for event in (changed, quiet):
            watcher = state.hub.watch(event["id"], None)
            watcher.needs_snapshot = False  # as if its snapshot went out
            watchers[event["id"]] = watcher

    await api.run(watch)

    async def lost(*_: Any) -> None:  # the process "dies" before it publishes
        return None

    monkeypatch.setattr(state.booking.publisher, "publish", lost)
    seat = changed["seats"][0]["id"]
    response = await api.client.post(
        f"/events/{changed['id']}/bookings", json={"seatIds": [seat]}, headers=buyer["headers"]
    )
    assert response.status_code == 201
    assert not watchers[changed["id"]].needs_snapshot  # nobody was told

    announced = await api.run(state.services.announce_recent_changes)
    assert changed["id"] in announced and quiet["id"] not in announced
    await eventually(
        lambda: watchers[changed["id"]].needs_snapshot,
        what="the changed event's watcher to be asked for a fresh snapshot",
    )
    assert not watchers[quiet["id"]].needs_snapshot

    async def unwatch() -> None:
        for watcher in watchers.values():
            state.hub.unwatch(watcher)

    await api.run(unwatch)
