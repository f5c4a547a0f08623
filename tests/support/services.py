"""Finding the real PostgreSQL and Redis, and failing loudly when CI needs them."""

from __future__ import annotations

import os
import secrets
import socket

import pytest

PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRET = "test-secret-" + "x" * 40


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def services_up() -> bool:
    return _reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 6379)


def require_services() -> None:
    """Skip (loudly) without PostgreSQL + Redis; in CI, fail instead."""
    if services_up():
        return
    reason = (
        "PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are needed for the services-mode "
        "tests and are not answering"
    )
    if IN_CI:
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
