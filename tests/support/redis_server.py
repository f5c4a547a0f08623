"""A private `redis-server` on its own port, for tests that stop and restart Redis
without touching the shared one.

    with private_redis(tmp_path) as redis:
        ...            # redis.url
        redis.stop()   # Redis is down
        redis.start()  # back on the same port, empty (no persistence)
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import free_port
from tests.support.services import IN_CI

REDIS_SERVER = shutil.which("redis-server")


def require_redis_server() -> str:
    """The redis-server binary; skip loudly (fail in CI) without it."""
    if REDIS_SERVER:
        return REDIS_SERVER
    reason = "redis-server is not installed: the Redis restart tests need their own server"
    if IN_CI:
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


class PrivateRedis:
    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        assert self.process is None, "already running"
        log = (self.folder / f"redis-{self.port}.log").open("ab")
        options = {"--port": str(self.port), "--bind": "127.0.0.1", "--save": ""}
        options |= {"--appendonly": "no", "--dir": str(self.folder)}
        self.process = subprocess.Popen(
            [self.binary, *(part for pair in options.items() for part in pair)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); its clients see their connections drop."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextlib.contextmanager
def private_redis(folder: Path) -> Iterator[PrivateRedis]:
    """A running redis-server on a free port, stopped afterwards whatever happened."""
    server = PrivateRedis(require_redis_server(), folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
