"""Running one scenario: its services, its clients and watchers, the final read, the check.

A scenario is an async function of a `Run`. The runner gives it a fresh migrated
PostgreSQL database (or a test-owned cluster), Redis (the shared one under a private
prefix, a test-owned server, or either behind the fault proxy) and N app processes; the
scenario creates users and events, starts watchers and clients, injects its faults, and
returns. The runner then quiesces, reads the database, waits (bounded) for every watcher
to converge, and checks the history. Everything a run produced is written to its folder:
`history.jsonl`, `db.json`, `watchers.json`, `verdict.json`, `facts.json`, app logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import httpx

from backend.seats import SeatStatus, effective_status
from backend.settings import Settings
from chaos import db as chaosdb
from chaos.checker import Verdict, check
from chaos.clients import Client, Stats, http_client
from chaos.history import History
from chaos.proxy import TcpProxy
from chaos.services import AppProcess, PostgresCluster, RedisServer, database_on_cluster
from chaos.watcher import SeatWatcher, differences
from tests.support.databases import base_settings, services_database
from tests.support.services import unique_name

log = logging.getLogger("chaos")

RedisKind = Literal["shared", "own", "shared+proxy", "own+proxy"]


@dataclass
class Scenario:
    name: str
    description: str
    body: Callable[[Run], Awaitable[None]]
    ci: bool = False
    apps: int = 2
    workers: int = 1
    app_env: dict[str, str] = field(default_factory=dict)
    redis: RedisKind = "shared"
    own_postgres: bool = False
    expect_valid: bool = True
    converge_seconds: float = 8.0


@dataclass
class Result:
    scenario: Scenario
    verdict: Verdict
    facts: dict[str, Any]
    folder: Path
    seconds: float

    def line(self) -> str:
        expected = "valid" if self.scenario.expect_valid else "INVALID (negative control)"
        ok = self.verdict.valid == self.scenario.expect_valid
        return (
            f"{self.scenario.name}: {'PASS' if ok else 'FAIL'} (expected {expected}) "
            f"in {self.seconds:.0f}s — {self.verdict.summary()}"
        )


def _row_name(index: int) -> str:
    """A, B, … Z, AA, AB, …: seat rows the seed's label parser understands."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


class Run:
    """What a scenario body works with."""

    def __init__(
        self,
        scenario: Scenario,
        folder: Path,
        settings: Settings,
        apps: list[AppProcess],
        redis: RedisServer | None,
        proxy: TcpProxy | None,
        cluster: PostgresCluster | None,
    ) -> None:
        self.scenario = scenario
        self.folder = folder
        self.settings = settings
        self.apps = apps
        self.redis = redis
        self.proxy = proxy
        self.cluster = cluster
        self.history = History(folder / "history.jsonl")
        self.stats = Stats()
        self.http: httpx.AsyncClient = http_client()
        self.events: list[str] = []
        self.watchers: list[SeatWatcher] = []
        self.facts: dict[str, Any] = {}
        self.organiser: chaosdb.User | None = None
        self._started = time.monotonic()

    @property
    def dsn(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url

    @property
    def urls(self) -> list[str]:
        return [app.url for app in self.apps]

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def note(self, key: str, value: Any) -> None:
        self.facts[key] = value
        log.info("%s: %s = %s", self.scenario.name, key, value)

    def expect(self, condition: bool, message: str) -> None:
        """A scenario-specific check; failures are collected and fail the run."""
        self.facts.setdefault("expectations", []).append({"ok": bool(condition), "what": message})

    # ----------------------------------------------------------- set-up help

    async def users(self, count: int) -> list[chaosdb.User]:
        return await chaosdb.create_users(self.dsn, count, self.settings.jwt_secret)

    async def event(
        self, seats: int, hold_seconds: int = 600, max_per_user: int | None = None
    ) -> tuple[str, list[str]]:
        """Create an event with `seats` seats (rows of 20); its id and seat ids in order."""
        if self.organiser is None:
            self.organiser = (await self.users(1))[0]
        labels = [f"{_row_name(i // 20)}{i % 20 + 1}" for i in range(seats)]
        body = {
            "name": f"{self.scenario.name} {len(self.events) + 1}",
            "seats": labels,
            "holdSeconds": hold_seconds,
            "maxSeatsPerUser": max_per_user or min(seats, 50),
        }
        response = await self.http.post(
            f"{self.urls[0]}/events", json=body, headers=self.organiser.headers, timeout=30
        )
        response.raise_for_status()
        event = response.json()
        if "seats" not in event:  # over 1,000 seats: the 201 links to the event instead
            read = await self.http.get(f"{self.urls[0]}{response.headers['location']}", timeout=30)
            read.raise_for_status()
            event = read.json()
        self.events.append(event["id"])
        by_label = {s["label"]: s["id"] for s in event["seats"]}
        return event["id"], [by_label[label] for label in labels]

    def client(
        self,
        name: str,
        user: chaosdb.User,
        servers: list[str] | None = None,
        timeout: float = 5.0,
        start: int | None = None,
    ) -> Client:
        return Client(
            name,
            user,
            self.history,
            servers or self.urls,
            self.http,
            self.stats,
            timeout=timeout,
            start=start,
        )

    async def watch(
        self, event_id: str, per_app: int = 1, small_buffer: bool = False, prefix: str = "w"
    ) -> list[SeatWatcher]:
        started = []
        for app in self.apps:
            for i in range(per_app):
                name = f"{prefix}{len(self.watchers) + 1}-{app.name}-{i}"
                watcher = SeatWatcher(app.ws_url, event_id, name, small_buffer=small_buffer)
                started.append(await watcher.start())
                self.watchers.append(watcher)
        return started

    async def blocking(self, fn: Callable[[], Any]) -> Any:
        """Run a blocking process operation (start, kill, restart) off the event loop."""
        return await asyncio.to_thread(fn)

    # ------------------------------------------------------------- the check

    async def settle(self) -> dict[str, Any]:
        """Wait until nothing moves: every app up, holds swept, then the final read."""
        for app in self.apps:
            if not app.alive():
                await self.blocking(app.start)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            read = await chaosdb.final_read(self.dsn, self.events)
            stale = [
                s
                for s in read["seats"]
                if s["status"] == SeatStatus.HELD
                and effective_status(s["status"], s["held_until_ms"], read["now_ms"])
                != SeatStatus.HELD
            ]
            if not stale:
                return read
            await asyncio.sleep(0.2)
        return read

    async def converge(self, seconds: float) -> tuple[dict[str, Any], float | None]:
        """Re-read until every watcher shows the database's map, or `seconds` pass."""
        start = time.monotonic()
        read = await self.settle()
        while True:
            truth_by_event: dict[str, dict[str, dict[str, Any]]] = {}
            for seat in read["seats"]:
                status = effective_status(seat["status"], seat["held_until_ms"], read["now_ms"])
                truth_by_event.setdefault(seat["event"], {})[seat["id"]] = {
                    "status": status,
                    "version": seat["version"],
                }
            behind = [
                w for w in self.watchers if differences(w, truth_by_event.get(w.event_id, {}))
            ]
            if not behind:
                return read, time.monotonic() - start
            if time.monotonic() - start > seconds:
                return read, None
            await asyncio.sleep(0.2)
            read = await chaosdb.final_read(self.dsn, self.events)

    async def finish(self) -> Verdict:
        read, took = await self.converge(self.scenario.converge_seconds)
        self.note("watchers_converged_after_s", None if took is None else round(took, 2))
        views = {w.name: w.view() for w in self.watchers}
        self.note(
            "watcher_stats",
            {
                w.name: {
                    "snapshots": w.snapshots,
                    "batches": w.batches,
                    "connects": w.connects,
                    "close_codes": w.close_codes[-5:],
                }
                for w in self.watchers
            },
        )
        self.note(
            "requests",
            {
                "attempts": self.stats.attempts,
                "retries": self.stats.retries,
                "by_status": dict(sorted(self.stats.by_status.items())),
            },
        )
        verdict = check(self.history.ops(), read, views)
        (self.folder / "db.json").write_text(json.dumps(read, indent=1, default=str))
        (self.folder / "watchers.json").write_text(json.dumps(views, indent=1))
        (self.folder / "verdict.json").write_text(verdict.to_json())
        return verdict

    async def close(self) -> None:
        for watcher in self.watchers:
            await watcher.stop()
        await self.http.aclose()
        self.history.close()


# ------------------------------------------------------------------ running


@contextlib.contextmanager
def _database(
    scenario: Scenario, folder: Path
) -> Iterator[tuple[Settings, PostgresCluster | None]]:
    if not scenario.own_postgres:
        with services_database(folder) as settings:
            yield settings, None
        return
    from tests.support.services import REDIS_URL

    cluster = PostgresCluster(folder)
    try:
        cluster.init()
        cluster.start()
        prefix = unique_name("bochaos")
        base = replace(base_settings(folder), redis_url=REDIS_URL, redis_prefix=prefix)
        from backend.settings import Mode

        base = replace(base, mode=Mode.SERVICES)
        with database_on_cluster(base, cluster, "boxoffice") as settings:
            yield settings, cluster
    finally:
        cluster.destroy()


def run_scenario(scenario: Scenario, folder: Path) -> Result:
    """Run one scenario in `folder` (created); never leaves a process behind."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        settings, cluster = stack.enter_context(_database(scenario, folder))
        redis: RedisServer | None = None
        proxy: TcpProxy | None = None
        if scenario.redis.startswith("own"):
            redis = RedisServer(folder)
            redis.start()
            stack.callback(redis.stop)
            settings = replace(settings, redis_url=redis.url)
        if scenario.redis.endswith("+proxy"):
            assert settings.redis_url is not None
            from urllib.parse import urlsplit

            target = urlsplit(settings.redis_url)
            proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
            proxy.start()
            stack.callback(proxy.stop)
            settings = replace(settings, redis_url=proxy.url())
        # A small pool per process: the shared PostgreSQL's connection limit is shared
        # with everything else running on the machine.
        env = {"DB_POOL_MAX": "8", **scenario.app_env}
        apps = [
            AppProcess(settings, name, folder, workers=scenario.workers, **env)
            for name in ("a", "b", "c", "d")[: scenario.apps]
        ]
        for app in apps:
            stack.callback(app.stop)

        async def main() -> tuple[Verdict, dict[str, Any]]:
            await asyncio.gather(*(asyncio.to_thread(app.start) for app in apps))
            run = Run(scenario, folder, settings, apps, redis, proxy, cluster)
            try:
                await scenario.body(run)
                verdict = await run.finish()
            finally:
                await run.close()
            return verdict, run.facts

        verdict, facts = asyncio.run(main())
        facts["app_exit_codes"] = {app.name: app.stop() for app in apps}
    seconds = time.monotonic() - started
    (folder / "facts.json").write_text(json.dumps(facts, indent=1, default=str))
    result = Result(scenario, verdict, facts, folder, seconds)
    (folder / "result.txt").write_text(result.line() + "\n")
    return result


def failed_expectations(result: Result) -> list[str]:
    return [e["what"] for e in result.facts.get("expectations", []) if not e["ok"]]
