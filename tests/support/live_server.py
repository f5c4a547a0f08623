"""Real app processes for live tests: `python -m backend.cli serve` on a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from backend.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(settings: Settings, port: int, workers: int = 1, **extra: str) -> dict[str, str]:
    """Environment for a server process using the same database/Redis as `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        WORKERS=str(workers),
        DATA_DIR=str(settings.data_dir),
        JWT_SECRET=settings.jwt_secret,
        BOXOFFICE_DEMO="0",
        REDIS_PREFIX=settings.redis_prefix,
        EXPIRY_INTERVAL_MS=str(int(settings.expiry_interval * 1000)),
        SIGNIN_ATTEMPTS="100000",
        # Load and chaos runs make many events with one organiser: no creation quota.
        EVENTS_PER_USER_PER_DAY="0",
        SEATS_PER_USER_PER_DAY="0",
        LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
        env["REDIS_URL"] = settings.redis_url or ""
    env.update(extra)
    return env


@dataclass
class LiveServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    settings: Settings  # what it was started with (its database, its JWT secret)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def stop_group(process: subprocess.Popen[bytes], timeout: float = 15) -> int:
    """SIGTERM a server's process group (graceful), SIGKILL what is left; the exit code.

    SIGCONT first, so a group paused by a fault test can act on the SIGTERM.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGCONT)
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.wait(timeout=5)


def wait_ready(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} not ready after {timeout}s:\n{log_path.read_text()}")


@contextlib.contextmanager
def live_server(
    settings: Settings, workers: int = 1, log_dir: Path | None = None, **extra: str
) -> Iterator[LiveServer]:
    """Start a server process (its own process group) and stop it, and its workers, after."""
    port = free_port()
    log_dir = log_dir or settings.data_dir
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve"],
            cwd=ROOT,
            env=server_env(settings, port, workers, **extra),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log_path)
        yield LiveServer(url, port, process, log_path, settings)
    finally:
        stop_group(process)
