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
from tests.support.databases import embedded_database, services_database
from tests.support.live_server import live_server
from tests.support.services import require_services


@pytest.fixture(params=["embedded", "services"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "services":
        require_services()
        with services_database(tmp_path) as settings:
            yield settings
    else:
        with embedded_database(tmp_path) as settings:
            yield settings


def young_pauses(metrics: str) -> float:
    found = re.search(r'^boxoffice_gc_pause_seconds_count\{generation="0"\} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.live
def test_a_served_worker_measures_its_collectors_pauses(database: Settings) -> None:
    # A young threshold of 100 makes collections certain within a few requests.
    with (
        live_server(database, GC_YOUNG_THRESHOLD="100") as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
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
def test_the_listening_socket_takes_the_configured_backlog(database: Settings) -> None:
    ss = shutil.which("ss")
    assert ss, "ss (iproute2) is needed to read a listening socket's backlog"
    with live_server(database, LISTEN_BACKLOG="1234") as server:
        listening = subprocess.run(
            [ss, "-Hltn", f"sport = :{server.port}"], capture_output=True, text=True, check=True
        ).stdout.split()
    # State, Recv-Q (connections waiting to be accepted), Send-Q (the backlog), address.
    assert listening[0] == "LISTEN" and int(listening[2]) == min(1234, somaxconn()), listening


def somaxconn() -> int:
    return int(Path("/proc/sys/net/core/somaxconn").read_text())
