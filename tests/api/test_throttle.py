"""Sign-in and sign-up throttles: atomic under concurrency, failures per account and
address, and open (counted, never a 500) when Redis is down or has restarted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.errors import Throttled
from backend.settings import Settings
from backend.web import accounts as web_accounts
from backend.web.throttle import CountingMemoryStore, CountingRedisStore, CountingStore, Throttle
from tests.support.redis_server import private_redis
from tests.support.services import REDIS_URL, require_services, unique_name

LIMIT = 10


@asynccontextmanager
async def tight_client(settings: Settings, **changes: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    # A private Redis prefix: other tests' sign-ins must not count toward this window.
    tight = replace(
        settings,
        signin_attempts=LIMIT,
        signin_window_seconds=60,
        redis_prefix=unique_name("botestthr"),
        **changes,
    )
    async with AsyncTestClient(app=create_app(tight)) as client:
        yield client


@pytest.fixture
def addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test say which client address a request comes from (the test client has one)."""

    def client_address(request: Any) -> str:
        return str(request.headers.get("x-test-address", "192.0.2.1"))

    monkeypatch.setattr(web_accounts, "_client", client_address)


async def _account(client: AsyncTestClient[Any]) -> str:
    email = f"thr-{time.time_ns()}@example.com"
    created = await client.post("/signup", json={"email": email, "password": "password123"})
    assert created.status_code == 201, created.text
    return email


def _signin(email: str, password: str, address: str = "192.0.2.1") -> dict[str, Any]:
    return {
        "json": {"email": email, "password": password},
        "headers": {"x-test-address": address},
    }


async def test_concurrent_wrong_passwords_get_no_more_tries_than_the_limit(
    settings: Settings, addresses: None
) -> None:
    """40 guesses at once on one account: it let 25-45 through when the count was read
    and written back in two steps."""
    async with tight_client(settings) as client:
        email = await _account(client)
        responses = await asyncio.gather(
            *(client.post("/signin", **_signin(email, f"wrong-{i:04d}")) for i in range(40))
        )
        codes = sorted(r.status_code for r in responses)
        assert codes.count(401) == LIMIT, codes
        assert codes.count(429) == 40 - LIMIT, codes


async def test_a_strangers_guesses_do_not_lock_the_owner_out(
    settings: Settings, addresses: None
) -> None:
    async with tight_client(settings) as client:
        email = await _account(client)
        for i in range(LIMIT):
            guess = await client.post("/signin", **_signin(email, f"wrong-{i}", "198.51.100.7"))
            assert guess.status_code == 401
        shut = await client.post("/signin", **_signin(email, "password123", "198.51.100.7"))
        assert shut.status_code == 429  # that address is done for the window
        owner = await client.post("/signin", **_signin(email, "password123", "203.0.113.9"))
        assert owner.status_code == 200, owner.text


async def test_a_correct_password_clears_the_failures(settings: Settings, addresses: None) -> None:
    async with tight_client(settings) as client:
        email = await _account(client)
        for _ in range(2):
            for i in range(LIMIT - 1):
                assert (
                    await client.post("/signin", **_signin(email, f"no-{i}"))
                ).status_code == 401
            assert (
                await client.post("/signin", **_signin(email, "password123"))
            ).status_code == 200


async def test_guessing_from_many_addresses_shuts_the_account_at_five_times_the_limit(
    settings: Settings, addresses: None
) -> None:
    async with tight_client(settings) as client:
        email = await _account(client)
        codes = [
            (await client.post("/signin", **_signin(email, "wrong-pw", f"10.0.{i}.1"))).status_code
            for i in range(5 * LIMIT + 1)
        ]
        assert codes == [401] * (5 * LIMIT) + [429]


async def test_sign_up_is_throttled_per_account(settings: Settings, addresses: None) -> None:
    async with tight_client(settings) as client:
        email = f"thr-up-{time.time_ns()}@example.com"
        codes = [
            (
                await client.post(
                    "/signup",
                    json={"email": email, "password": "password123"},
                    headers={"x-test-address": f"10.1.{i}.1"},
                )
            ).status_code
            for i in range(LIMIT + 1)
        ]
        assert codes == [201] + [409] * (LIMIT - 1) + [429]


async def test_redis_down_or_restarted_never_turns_sign_in_into_a_500(
    services_settings: Settings, tmp_path: Path
) -> None:
    """Services mode with a test-owned Redis for the throttle: killed, sign-up and sign-in
    go on uncounted (a warning and a metric); restarted, the stale pooled connections are
    retried on fresh ones instead of answering 500."""
    with private_redis(tmp_path) as redis:
        async with tight_client(services_settings, redis_url=redis.url) as client:
            email = await _account(client)
            redis.stop()
            up = await client.post("/signup", json={"email": f"x{email}", "password": "pw123456"})
            assert up.status_code == 201, up.text
            signed = await client.post("/signin", **_signin(email, "password123"))
            assert signed.status_code == 200, signed.text
            uncounted = await _uncounted(client)
            assert uncounted >= 2  # at least the sign-up's and the sign-in's first counts
            redis.start()
            for i in range(3):  # more than the pool had connections before the restart
                again = await client.post(
                    "/signup", json={"email": f"y{i}{email}", "password": "pw123456"}
                )
                assert again.status_code == 201, again.text
            assert await _uncounted(client) == uncounted  # counted again, none missed


async def _uncounted(client: AsyncTestClient[Any]) -> float:
    metrics = (await client.get("/metrics")).text
    [line] = [
        x for x in metrics.splitlines() if x.startswith("boxoffice_throttle_unavailable_total")
    ]
    return float(line.split()[-1])


@pytest.fixture(params=["memory", "redis"])
async def counting_store(request: pytest.FixtureRequest) -> AsyncIterator[CountingStore]:
    if request.param == "memory":
        yield CountingMemoryStore()
        return
    require_services()
    store = CountingRedisStore.from_url(REDIS_URL, namespace=unique_name("botestcount"))
    async with store:
        yield store
        await store.delete_all()


async def test_concurrent_hits_never_overrun_the_limit(counting_store: CountingStore) -> None:
    """The store level, where the race was: 40 hits at once on one key, 10 allowed."""
    throttle = Throttle(counting_store, LIMIT, 60)
    results = await asyncio.gather(
        *(throttle.hit("race", "one@example.com") for _ in range(40)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, Throttled)]
    assert [r for r in results if r is not None and not isinstance(r, Throttled)] == []
    assert len(refused) == 40 - LIMIT
    assert all(1 <= r.retry_after <= 60 for r in refused)
