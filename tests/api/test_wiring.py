"""create_app is wiring: the services start in order, stop in reverse, and a step that
fails or hangs on shutdown is bounded and logged, never raised."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

import backend.services
from backend.app import create_app
from backend.services import Services
from backend.settings import Mode, Settings
from backend.storage.tables import Seat

# Start-up order; shutdown is the reverse. The attribute of `Services` holding each part.
PARTS = [
    ("event-loop lag probe", "loop_lag"),
    ("event-loop watchdog", "loop_watchdog"),
    ("database pool", "storage"),
    ("lock store", "locks"),
    ("waiting rooms", "rooms"),
    ("live channel", "channel"),
    ("live hub", "hub"),
    ("hold sweeper", "sweeper"),
    ("seat log pruner", "log_pruner"),
    ("waiting-room admitter", "admitter"),
    ("live queue feed", "queue_feed"),
    ("signal handlers", "shutdown"),
]


class FakePart:
    """Records its start and stop in a shared list; `stop` may fail or hang."""

    def __init__(self, name: str, calls: list[tuple[str, str]]) -> None:
        self.name = name
        self.calls = calls
        self.fail_start: Exception | None = None
        self.fail_stop: Exception | None = None
        self.hang_stop = False
        self.abandoned = asyncio.Event()

    async def on_startup(self) -> None:
        self.calls.append(("start", self.name))
        if self.fail_start is not None:
            raise self.fail_start

    async def on_shutdown(self) -> None:
        self.calls.append(("stop", self.name))
        if self.fail_stop is not None:
            raise self.fail_stop
        if self.hang_stop:
            try:
                await asyncio.Future()  # never resolved: only cancelling ends it
            except asyncio.CancelledError:
                self.abandoned.set()
                raise


@dataclass
class Rig:
    """A real `Services` whose every part is replaced by a recording fake."""

    services: Services
    parts: dict[str, FakePart]
    calls: list[tuple[str, str]]


@pytest.fixture
def rig(embedded_settings: Settings) -> Rig:
    services = Services(embedded_settings)
    calls: list[tuple[str, str]] = []
    parts = {name: FakePart(name, calls) for name, _ in PARTS}
    for name, attribute in PARTS:
        setattr(services, attribute, parts[name])
    return Rig(services, parts, calls)


async def test_services_start_in_order_and_stop_in_reverse(rig: Rig) -> None:
    assert [name for name, _, _ in rig.services.parts()] == [name for name, _ in PARTS]
    await rig.services.on_startup()
    assert rig.calls == [("start", name) for name, _ in PARTS]
    rig.calls.clear()
    await rig.services.on_shutdown()
    assert rig.calls == [("stop", name) for name, _ in reversed(PARTS)]
    rig.calls.clear()
    await rig.services.on_shutdown()  # a second call stops nothing twice
    assert rig.calls == []


async def test_a_failed_start_up_stops_only_what_started(rig: Rig) -> None:
    rig.parts["live channel"].fail_start = ConnectionError("redis is down")
    with pytest.raises(ConnectionError):
        await rig.services.on_startup()
    assert rig.calls[-1] == ("start", "live channel")
    rig.calls.clear()
    # Litestar runs the shutdown hooks when a start-up hook raises.
    await rig.services.on_shutdown()
    assert rig.calls == [
        ("stop", "waiting rooms"),
        ("stop", "lock store"),
        ("stop", "database pool"),
        ("stop", "event-loop watchdog"),
        ("stop", "event-loop lag probe"),
    ]


async def test_a_failing_or_hanging_shutdown_step_is_bounded_and_logged(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The bound is the behaviour under test: keep it short.
    monkeypatch.setattr(backend.services, "SHUTDOWN_STEP_SECONDS", 0.05)
    rig.parts["live hub"].fail_stop = RuntimeError("hub broke")
    rig.parts["live channel"].hang_stop = True
    await rig.services.on_startup()
    rig.calls.clear()
    with caplog.at_level(logging.WARNING, logger="boxoffice"):
        await rig.services.on_shutdown()  # returns: neither step raises out of it
    assert rig.calls == [("stop", name) for name, _ in reversed(PARTS)], "later steps ran"
    await asyncio.wait_for(rig.parts["live channel"].abandoned.wait(), 5)
    messages = [r.getMessage() for r in caplog.records if r.name == "boxoffice"]
    assert "shutdown: live hub failed: RuntimeError('hub broke')" in messages
    assert any(
        m.startswith("shutdown: live channel did not stop within") and m.endswith("abandoned")
        for m in messages
    ), messages


# A read of a few tenths of a second in each run mode.
SLOW_QUERY = {
    Mode.EMBEDDED: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
    " WHERE i < 300000) SELECT count(*) FROM n",
    Mode.SERVICES: "SELECT pg_sleep(0.3)",
}


async def test_a_snapshot_read_in_flight_ends_before_the_database_closes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket's snapshot read is a task of its own (the sockets asking at once share
    it), so a socket going away does not stop it. Stopping the app lets it finish before
    the database closes. Cut short by the event loop's end instead, a read still opening
    its SQLite connection left aiosqlite's thread answering a closed loop (the fresh-clone
    CI run of 2026-12-04 failed on that thread's error)."""
    services = Services(settings)
    await services.on_startup()
    order: list[str] = []
    stopping = asyncio.Event()
    stop_hub, stop_storage = services.hub.on_shutdown, services.storage.on_shutdown

    async def hub_stops() -> None:
        stopping.set()
        await stop_hub()

    async def storage_stops() -> None:
        order.append("database closed")
        await stop_storage()

    async def load() -> Any:
        await stopping.wait()  # still reading when the app begins to stop
        await Seat.raw(SLOW_QUERY[settings.mode])  # longer than the steps after the hub
        rows = await services.storage.seats.states(str(uuid.uuid4()))
        order.append("read")
        return rows

    monkeypatch.setattr(services.hub, "on_shutdown", hub_stops)
    monkeypatch.setattr(services.storage, "on_shutdown", storage_stops)
    reading = asyncio.ensure_future(services.hub.snapshot_reads.read("an event", load))
    await services.on_shutdown()
    assert order == ["read", "database closed"]
    rows, _ = await reading
    assert list(rows) == []


def test_settings_reach_the_hub(embedded_settings: Settings) -> None:
    assert Services(embedded_settings).hub.commit_stamps is False
    stamped = replace(embedded_settings, live_commit_stamps=True)
    assert Services(stamped).hub.commit_stamps is True


STATE_KEYS = {
    "settings",
    "storage",
    "engine",
    "locks",
    "channel",
    "hub",
    "accounts",
    "events",
    "booking",
    "door",
    "reports",
    "rooms",
    "admitter",
    "queue_feed",
    "loop_lag",
    "idempotency",
    "throttle",
    "queue_throttle",
    "refresh_throttle",
    "jwt_auth",
    "metrics",
    "services",
}


async def test_create_app_runs_the_services_with_the_app(embedded_settings: Settings) -> None:
    app = create_app(embedded_settings)
    services: Services = app.state.services
    assert set(app.state.dict()) == STATE_KEYS
    assert app.on_startup == [services.on_startup]
    assert app.on_shutdown == [services.on_shutdown]
    # The throttle counts in the store Litestar holds (and closes) as "throttle".
    assert app.state.throttle.store is app.stores.get("throttle") is services.throttle_store
    assert app.state.refresh_throttle.store is services.throttle_store
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text  # database, locks and channel answer
