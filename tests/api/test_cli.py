"""Start-up is safe to run concurrently: several instances share one PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.support.databases import create_pg_database, drop_pg_database
from tests.support.services import REDIS_URL, TEST_SECRET, require_services, unique_name

ROOT = Path(__file__).resolve().parents[2]


def run_all(
    commands: list[list[str]], env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            c, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for c in commands
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, ""))
    return results


def test_concurrent_migrate_and_demo_on_postgres(tmp_path: Path) -> None:
    require_services()
    name = unique_name("bo_cli")
    url = asyncio.run(create_pg_database(name))
    env = {
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "JWT_SECRET": TEST_SECRET,
        "REDIS_PREFIX": unique_name("botestcli"),
    }
    try:
        cmd = [sys.executable, "-m", "backend.cli"]
        for result in run_all([[*cmd, "migrate"]] * 3, env):
            assert result.returncode == 0, result.stdout
        demo = run_all([[*cmd, "demo"]] * 3, env)
        assert all(r.returncode == 0 for r in demo), [r.stdout for r in demo]
        assert sum("demo events exist" not in r.stdout for r in demo) == 1

        async def counts() -> tuple[int, int, int]:
            conn = await asyncpg.connect(url)
            try:
                events = await conn.fetchval("SELECT count(*) FROM bo_event WHERE is_demo")
                seats = await conn.fetchval("SELECT count(*) FROM bo_seat")
                migrations = await conn.fetchval("SELECT count(*) FROM migration")
            finally:
                await conn.close()
            return events, seats, migrations

        events, seats, migrations = asyncio.run(counts())
        # Each committed migration applied exactly once, whoever ran it first.
        committed = len(list((ROOT / "backend/storage/piccolo_migrations").glob("storage_*.py")))
        assert committed >= 3
        # The theatre and the arena, once each.
        assert events == 2 and seats > 19_000 and migrations == committed
    finally:
        asyncio.run(drop_pg_database(name))


def test_migrate_and_demo_on_sqlite(tmp_path: Path) -> None:
    # The creation quota does not apply to the command line (the demos have ~19,500 seats).
    quota = {"EVENTS_PER_USER_PER_DAY": "1", "SEATS_PER_USER_PER_DAY": "1"}
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), **quota}
    cmd = [sys.executable, "-m", "backend.cli"]
    assert subprocess.run([*cmd, "migrate"], cwd=ROOT, env=env, timeout=120).returncode == 0
    first = subprocess.run(
        [*cmd, "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    second = subprocess.run(
        [*cmd, "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.stdout.count("demo event ") == 2 and "exist" not in first.stdout
    assert "demo events exist" in second.stdout


@pytest.mark.parametrize("command", [["--help"]])
def test_cli_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "serve" in result.stdout


@pytest.mark.parametrize(("mode", "workers"), [("embedded", 1), ("services", 1), ("services", 2)])
def test_serve_refuses_a_port_something_listens_on(mode: str, workers: int, tmp_path: Path) -> None:
    """Whatever listens on PORT (an earlier run, another program), `serve` stops before
    migrating with a message and exit code 2, and the other keeps its port: with several
    workers, each binding its own SO_REUSEPORT socket, nothing else would stop a second
    server from joining the port silently."""
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "WORKERS": str(workers)}
    name = ""
    if mode == "services":
        require_services()
        name = unique_name("bo_cli")
        env |= {
            "DATABASE_URL": asyncio.run(create_pg_database(name)),
            "REDIS_URL": REDIS_URL,
            "JWT_SECRET": TEST_SECRET,
            "REDIS_PREFIX": unique_name("botestcli"),
        }
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        try:
            result = subprocess.run(
                [sys.executable, "-m", "backend.cli", "serve"],
                cwd=ROOT,
                env={**env, "HOST": "127.0.0.1", "PORT": str(port), "BOXOFFICE_DEMO": "0"},
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            if name:
                asyncio.run(drop_pg_database(name))
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"boxoffice: cannot listen on 127.0.0.1:{port}: " in result.stderr, result.stderr
        assert "Address already in use" in result.stderr and "Traceback" not in result.stderr
        # It stopped before migrating: no database file was made.
        assert not list(tmp_path.glob("*.sqlite*")), list(tmp_path.iterdir())
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the port is still the other's
