"""Schemathesis against `/schema`: generated requests for every operation, no 5xx.

Bounded: a few derandomized examples per operation in `make test`, many more in
`make chaos` (BOXOFFICE_CHAOS=full). It runs against a real server in services mode with
a signed-in user, so authenticated operations get past the token check.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from bench.common import insert_accounts
from tests.support.databases import services_database
from tests.support.live_server import live_server
from tests.support.services import require_services

FULL = os.environ.get("BOXOFFICE_CHAOS", "").lower() == "full"
EXAMPLES = 80 if FULL else 6

pytestmark = [pytest.mark.services, pytest.mark.live, pytest.mark.chaos]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    require_services()
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    with services_database(tmp) as config, live_server(config, DB_POOL_MAX="8") as server:
        # Inserted with a precomputed hash: the fuzzer, not this fixture, exercises sign-up.
        [account] = asyncio.run(insert_accounts(config, 1, "fuzz"))
        token = account.token
        headers = {"Authorization": f"Bearer {token}"}
        event = httpx.post(
            f"{server.url}/events", json={"name": "Fuzz", "seats": ["A1", "A2"]}, headers=headers
        )
        assert event.status_code == 201
        yield server.url, token


def test_no_server_errors(target: tuple[str, str]) -> None:
    # Driven by hand rather than through schemathesis' pytest plugin, which does not
    # support this pytest version: every operation gets its own Hypothesis run.
    url, token = target
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=url, headers=headers, timeout=30)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}\n  reproduce: {case.as_curl_command()}"
                )

        run()
    assert operations >= 10, f"only {operations} operations in /schema"
    assert len(calls) >= 2 * operations, f"only {len(calls)} requests for {operations} operations"
    print(f"schemathesis: {operations} operations, {len(calls)} requests, no 5xx")
    assert not failures, "server errors:\n" + "\n".join(failures[:20])
