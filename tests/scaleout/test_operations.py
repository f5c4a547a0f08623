"""Operations: metrics, structured logs with request ids, graceful shutdown, start-up errors.

Real `python -m backend.cli serve` processes, services mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chaos import db as chaosdb
from chaos.services import AppProcess
from chaos.watcher import SeatWatcher
from tests.support.databases import services_database
from tests.support.live_server import ROOT
from tests.support.services import TEST_SECRET, require_services
from tests.support.waiting import eventually

pytestmark = [pytest.mark.services, pytest.mark.live]


def samples(text: str, name: str) -> dict[str, float]:
    """{labels: value} of one metric in a Prometheus text exposition."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            key, value = line.rsplit(" ", 1)
            found[key[len(name) :]] = float(value)
    return found


def shows(watcher: SeatWatcher, statuses: dict[str, str]) -> bool:
    """Whether the watcher's map shows each seat with the given status."""
    seats = watcher.map.seats
    return all(seat in seats and seats[seat]["status"] == s for seat, s in statuses.items())


def test_metrics_logs_and_request_ids(tmp_path: Path) -> None:
    require_services()
    with services_database(tmp_path) as settings:
        app = AppProcess(settings, "ops", tmp_path, LOG_FORMAT="json", LOG_LEVEL="info")
        app.start()
        try:
            asyncio.run(_metrics_and_logs(app, settings.database_url or "", settings.jwt_secret))
        finally:
            app.stop()
        lines = [json.loads(line) for line in app.log().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry["logger"] == "boxoffice.access"]
    mine = [entry for entry in access if entry.get("request_id") == "ops-test-request-1"]
    assert mine and mine[0]["path"] == "/health" and mine[0]["status"] == 200, access[:3]
    assert all({"ts", "level", "logger", "message"} <= set(entry) for entry in lines)
    assert all(entry.get("request_id") for entry in access)


async def _metrics_and_logs(app: AppProcess, dsn: str, secret: str) -> None:
    owner, other = await chaosdb.create_users(dsn, 2, secret)
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
        health = await http.get("/health", headers={"X-Request-ID": "ops-test-request-1"})
        assert health.headers["x-request-id"] == "ops-test-request-1"
        odd = await http.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
        assert odd.headers["x-request-id"] != "bad id\twith spaces"  # replaced, not echoed
        event = (
            await http.post(
                "/events",
                json={"name": "Ops", "seats": ["A1", "A2", "A3"]},
                headers=owner.headers,
            )
        ).json()
        seat_ids = [s["id"] for s in event["seats"]]
        watcher = await SeatWatcher(app.ws_url, event["id"], "ops").start()
        try:
            held = await http.post(
                f"/events/{event['id']}/holds",
                json={"seatIds": seat_ids[:1]},
                headers=owner.headers,
            )
            assert held.status_code == 201
            booked = await http.post(
                f"/events/{event['id']}/bookings",
                json={"seatIds": seat_ids[1:2]},
                headers=owner.headers,
            )
            assert booked.status_code == 201
            taken = await http.post(
                f"/events/{event['id']}/bookings",
                json={"seatIds": seat_ids[1:2]},
                headers=other.headers,
            )
            assert taken.status_code == 409
            locked = await http.post(
                f"/events/{event['id']}/holds",
                json={"seatIds": seat_ids[:1]},
                headers=other.headers,
            )
            assert locked.status_code == 423
            # The metrics below count the changes' trip through Redis back to the hub,
            # which is done once the watcher shows both.
            await eventually(
                lambda: shows(watcher, {seat_ids[0]: "held", seat_ids[1]: "booked"}),
                what="the watcher to show the hold and the booking",
            )
            text = (await http.get("/metrics")).text
        finally:
            await watcher.stop()
    assert samples(text, "boxoffice_bookings_total")[""] >= 1
    assert samples(text, "boxoffice_holds_total")[""] >= 1
    conflicts = samples(text, "boxoffice_conflicts_total")
    assert any('status="409"' in k for k in conflicts) and any(
        'status="423"' in k for k in conflicts
    )
    assert samples(text, "boxoffice_websocket_watchers")[""] == 1
    assert samples(text, "boxoffice_channel_lag_seconds_count")[""] >= 2
    routes = samples(text, "boxoffice_http_requests_total")
    assert any('route="/events/{event_id}/bookings"' in k and 'status="201"' in k for k in routes)
    assert not any(event["id"] in k for k in routes), "route labels must be templates, not ids"


def test_graceful_shutdown_finishes_bookings_and_closes_sockets_going_away(
    tmp_path: Path,
) -> None:
    require_services()
    with services_database(tmp_path) as settings:
        app = AppProcess(settings, "stop", tmp_path)
        app.start()
        try:
            asyncio.run(_shutdown(app, settings.database_url or "", settings.jwt_secret))
        finally:
            app.stop()


async def _shutdown(app: AppProcess, dsn: str, secret: str) -> None:
    owner, buyer = await chaosdb.create_users(dsn, 2, secret)
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
        event = (
            await http.post(
                "/events", json={"name": "Stop", "seats": ["A1", "A2"]}, headers=owner.headers
            )
        ).json()
        seat = event["seats"][0]["id"]
        watchers = [await SeatWatcher(app.ws_url, event["id"], f"w{i}").start() for i in range(3)]
        # The booking is held up inside its transaction when the signal arrives.
        async with chaosdb.row_blocker(dsn, [seat]):
            booking = asyncio.create_task(
                http.post(
                    f"/events/{event['id']}/bookings",
                    json={"seatIds": [seat]},
                    headers=buyer.headers,
                )
            )
            await eventually(
                lambda: chaosdb.waiting_seat_updates(dsn),
                what="the booking to wait on the blocked seat row",
            )
            assert app.process is not None
            app.process.send_signal(signal.SIGTERM)
            await eventually(
                lambda: all(w.close_codes for w in watchers),
                what="every socket to be closed after SIGTERM",
            )
            assert all(w.close_codes[:1] == [1001] for w in watchers), [
                w.close_codes for w in watchers
            ]
            # The row is still blocked, so the booking is still inside its transaction.
            assert not booking.done(), "the in-flight booking must not be cut off"
        response = await booking
        for watcher in watchers:
            await watcher.stop()
    assert response.status_code == 201, response.text
    assert await chaosdb.committed_bookings(dsn, buyer.id) == 1
    assert app.process is not None
    code = await asyncio.to_thread(app.process.wait, 20)
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    assert code in (0, -signal.SIGTERM), app.log()[-2000:]


def _serve(env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "BOXOFFICE_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "serve"],
        cwd=ROOT,
        env={**base, "DATA_DIR": str(tmp), "BOXOFFICE_DEMO": "0", "PORT": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


SERVICES = {"REDIS_URL": "redis://127.0.0.1:1/0", "JWT_SECRET": TEST_SECRET}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x/y", **SERVICES}, "DATABASE_URL must be a postgresql://"),
        ({"DATABASE_URL": "postgresql://h/db"}, "needs both DATABASE_URL"),
        (
            {"DATABASE_URL": "postgresql://h/db", "REDIS_URL": "redis://h", "JWT_SECRET": "secret"},
            "refuses to start without a real JWT_SECRET",
        ),
        ({"WORKERS": "two"}, "WORKERS must be an integer"),
        ({"WORKERS": "4"}, "the embedded mode runs one process"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of text, json"),
        ({"LOCK_TTL_MS": "5"}, "LOCK_TTL_MS must be between"),
        ({"BOXOFFICE_UNSAFE_DISABLE_GUARD": "1"}, "refused unless BOXOFFICE_TESTING=1"),
        (
            {"DATABASE_URL": "postgresql://postgres:hunter22@127.0.0.1:1/nope", **SERVICES},
            "cannot use the database at 127.0.0.1:1/nope",
        ),
    ],
)
def test_bad_configuration_stops_start_up_with_a_clear_message(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = _serve(env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter22" not in result.stderr  # never echo a password from a URL
    assert time.monotonic() - started < 30
