"""What `boxoffice serve` sets up in its processes, on both modes, with real servers: each
worker's garbage collector tuned once started, its pauses reported
(backend/observability/collector.py), and the listening socket's accept queue."""

from __future__ import annotations

import gc
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.settings import Settings
from tests.support.databases import mode_database
from tests.support.live_server import LiveServer, live_server


@pytest.fixture(params=["embedded", "services"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with mode_database(request.param, tmp_path) as settings:
        yield settings


@pytest.fixture(scope="module", params=["embedded", "services"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One real server per mode for this module's checks of the served process. A young
    threshold of 100 makes collections certain within a few requests."""
    tmp = tmp_path_factory.mktemp(request.param)
    with (
        mode_database(request.param, tmp) as settings,
        live_server(settings, GC_YOUNG_THRESHOLD="100", LISTEN_BACKLOG="1234") as server,
    ):
        yield server


def young_pauses(metrics: str) -> float:
    found = re.search(r'^boxoffice_gc_pause_seconds_count\{generation="0"\} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.live
def test_a_served_worker_measures_its_collectors_pauses(served: LiveServer) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        before = young_pauses(client.get("/metrics").text)
        for _ in range(20):
            assert client.get("/events").status_code == 200
        after = young_pauses(client.get("/metrics").text)
    assert after > before > 0


async def test_an_app_started_in_a_test_process_leaves_its_collector_alone(
    database: Settings,
) -> None:
    # Tests start many apps in one process: only `boxoffice serve`'s factory tunes.
    before = gc.get_threshold(), gc.get_freeze_count()
    async with AsyncTestClient(app=create_app(database)) as client:
        assert (await client.get("/health")).status_code == 200
        assert (gc.get_threshold(), gc.get_freeze_count()) == before


@pytest.mark.live
def test_the_listening_socket_takes_the_configured_backlog(served: LiveServer) -> None:
    ss = shutil.which("ss")
    assert ss, "ss (iproute2) is needed to read a listening socket's backlog"
    listening = subprocess.run(
        [ss, "-Hltn", f"sport = :{served.port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    # State, Recv-Q (connections waiting to be accepted), Send-Q (the backlog), address.
    assert listening[0] == "LISTEN" and int(listening[2]) == min(1234, somaxconn()), listening


def somaxconn() -> int:
    return int(Path("/proc/sys/net/core/somaxconn").read_text())
