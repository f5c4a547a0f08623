"""Shared fixtures: the booking behaviour runs against both run modes.

`settings` is parametrized over `embedded` (SQLite + in-process locks and channel) and
`services` (a fresh PostgreSQL database + Redis under a private key prefix).
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from litestar.testing import AsyncTestClient

from backend.accounts import HASHER
from backend.app import create_app
from backend.settings import Settings
from backend.storage.tables import User
from tests.support.databases import embedded_database, services_database
from tests.support.services import require_services

MODES = ["embedded", "services"]


@pytest.fixture(scope="session")
def embedded_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with embedded_database(tmp_path_factory.mktemp("embedded")) as settings:
        yield settings


@pytest.fixture(scope="session")
def services_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    require_services()
    with services_database(tmp_path_factory.mktemp("services")) as settings:
        yield settings


@pytest.fixture(params=MODES)
def settings(request: pytest.FixtureRequest) -> Settings:
    if request.param == "services":
        require_services()
    return request.getfixturevalue(f"{request.param}_settings")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


_counter = itertools.count()
PASSWORD = "correct horse battery"


@functools.cache
def password_hash(password: str) -> str:
    """The app's argon2id hash of `password`, computed once per test session: argon2 is
    slow on purpose (19 MiB and tens of milliseconds a hash), and most tests only need a
    signed-in user, not a test of hashing."""
    return HASHER.hash(password)


class Api:
    """A small typed wrapper over the test client: accounts, events, auth headers."""

    def __init__(self, client: AsyncTestClient[Any]) -> None:
        self.client = client

    async def user(self, password: str = PASSWORD, *, via_http: bool = False) -> dict[str, Any]:
        """A new signed-in user: {id, email, token, headers}.

        By default the row is inserted directly, with a hash computed once per session,
        and the token minted by the app's own JWTAuth as `POST /signin` does (no argon2
        per user). `via_http=True` signs up and signs in over HTTP instead: for tests of
        sign-up, sign-in and hashing.
        """
        email = f"user{next(_counter)}-{uuid.uuid4().hex[:8]}@example.com"
        if via_http:
            return await self._user_via_http(email, password)
        user_id = uuid.uuid4()
        await self.db(
            User.insert(User(id=user_id, email=email, password_hash=password_hash(password)))
        )
        # Exactly what POST /signin does once the password checks out.
        auth = self.client.app.state.jwt_auth
        token = auth.create_token(
            identifier=str(user_id), token_expiration=auth.default_token_expiration
        )
        return self._signed_in(str(user_id), email, token)

    async def _user_via_http(self, email: str, password: str) -> dict[str, Any]:
        created = await self.client.post("/signup", json={"email": email, "password": password})
        assert created.status_code == 201, created.text
        signed = await self.client.post("/signin", json={"email": email, "password": password})
        assert signed.status_code == 200, signed.text
        return self._signed_in(created.json()["id"], email, signed.json()["token"])

    @staticmethod
    def _signed_in(user_id: str, email: str, token: str) -> dict[str, Any]:
        return {
            "id": user_id,
            "email": email,
            "token": token,
            "headers": {"Authorization": f"Bearer {token}"},
        }

    async def event(self, owner: dict[str, Any], **body: Any) -> dict[str, Any]:
        body.setdefault("name", "Test night")
        if "layout" not in body:
            body.setdefault("seats", [f"{row}{n}" for row in "ABC" for n in range(1, 11)])
        response = await self.client.post("/events", json=body, headers=owner["headers"])
        assert response.status_code == 201, response.text
        return response.json()

    async def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run `fn` on the app's event loop (the test client serves the app from its own
        thread and loop, which owns the database pool)."""
        return await anyio.to_thread.run_sync(self.client.blocking_portal.call, fn, *args)

    async def db(self, query: Any) -> Any:
        """Run a Piccolo query against the app's database."""
        return await self.run(query.run)

    async def seats(self, event_id: str, who: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = who["headers"] if who else {}
        response = await self.client.get(f"/events/{event_id}", headers=headers)
        assert response.status_code == 200, response.text
        return {s["id"]: s for s in response.json()["seats"]}


@pytest.fixture
def api(client: AsyncTestClient[Any]) -> Api:
    return Api(client)


def pytest_configure(config: pytest.Config) -> None:
    Path("tests/artifacts").mkdir(parents=True, exist_ok=True)
    config.addinivalue_line(
        "markers",
        "one_per_mode(param): pair the values of `param` with the run modes instead of "
        "crossing them (see pytest_collection_modifyitems)",
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _pair_with_modes(config, items)
    _group_for_workers(items)


# The longest units first (workers take units in collection order): the browser groups
# (four minutes each), then the packages that start servers and run load, then the rest,
# whose many small modules even out the end.
FIRST = ("tests/browser/", "tests/chaos/", "tests/scaleout/", "tests/load/", "tests/live/")


def _group_for_workers(items: list[pytest.Item]) -> None:
    """The units `make test`'s workers take (`--dist loadgroup`): a module, as with
    `--dist loadscope`, so module-wide servers and accounts are made once; but a browser
    test goes with the other browser tests of its run mode, wherever they are, so each
    worker starts the package-wide browser server of a mode once, instead of each time
    it switches between modes (which cost most of a core under loadscope). Items are
    put in FIRST's order (a stable sort: pytest's order within each package stays)."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((n for n, p in enumerate(FIRST) if path.startswith(p)), len(FIRST))

    items.sort(key=rank)
    for item in items:
        callspec = getattr(item, "callspec", None)
        mode = callspec.params.get("base_url") if callspec is not None else None
        if "base_url" in getattr(item, "fixturenames", ()) and mode in MODES:
            group = f"browser-{mode}"
        else:
            group = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


def _pair_with_modes(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.one_per_mode("size")` on a slow, time-bound story (a hold running out,
    a token's life, a silent socket) pairs the values of `size` with the run modes, the
    first value with `embedded` and the second with `services`, instead of running every
    combination: every behaviour still runs on both modes and at every size, and the
    suite keeps to its ten minutes. The other combinations are deselected (counted in
    pytest's summary); BOXOFFICE_FULL_MATRIX=1 runs them all."""
    if os.environ.get("BOXOFFICE_FULL_MATRIX") == "1":
        return
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("one_per_mode")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None:
            kept.append(item)
            continue
        (param,) = marker.args
        mode = callspec.params.get("base_url", callspec.params.get("settings"))
        values = next(
            list(m.args[1]) for m in item.iter_markers("parametrize") if m.args[0] == param
        )
        paired = mode not in MODES or values.index(callspec.params[param]) == MODES.index(mode)
        (kept if paired else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# Chaos scenarios' checker verdicts, printed at the end of the run. They travel as the
# reports' user properties, so they reach this (the controlling) process from pytest-xdist
# workers too.
VERDICTS: list[str] = []
# What an "unraisable exception" failure was about: the objects whose finaliser raised
# (an unclosed socket, a coroutine never awaited). pytest reports them against whichever
# test was running when the garbage collector got to them, and the summary line only says
# how many; these lines name them, at the end of the run where a truncated log keeps them.
UNRAISABLE: list[str] = []
UNRAISABLE_LINE = re.compile(r"(Exception ignored in[^\n]*|\w*Warning: [^\n]*)")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        VERDICTS.extend(str(v) for k, v in report.user_properties if k == "chaos verdict")
    if report.failed and "unraisable exception" in report.longreprtext:
        seen = dict.fromkeys(UNRAISABLE_LINE.findall(report.longreprtext))
        UNRAISABLE.extend(f"{report.nodeid} [{report.when}]: {line[:300]}" for line in seen)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if VERDICTS:
        terminalreporter.section("chaos verdicts")
        for line in VERDICTS:
            terminalreporter.write_line(line)
    if UNRAISABLE:
        terminalreporter.section("unraisable exceptions, by the test they surfaced in")
        for line in UNRAISABLE[:60]:
            terminalreporter.write_line(line)
