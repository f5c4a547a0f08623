"""The compose topology with real processes: two app instances behind nginx on loopback.

nginx runs `deploy/nginx.conf` (the file docker-compose.yml mounts) with its upstreams
pointed at two `python -m backend.cli serve` processes sharing one PostgreSQL database and
one Redis. People sign up, book and watch through the proxy (and directly on each
instance); every booking is recorded and judged by the chaos history checker, and every
watcher, whichever instance it landed on, must converge on the database. Then one
instance is shut down gracefully: its watchers get 1001, reconnect through the proxy to
the other one, and everything still converges.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from chaos import db as chaosdb
from chaos.checker import check
from chaos.clients import Client, Stats, http_client
from chaos.history import OK, History
from chaos.services import AppProcess, Nginx
from chaos.watcher import SeatWatcher
from tests.support.databases import services_database
from tests.support.services import IN_CI, require_services
from tests.support.waiting import eventually
from tests.support.watcher import Watcher

pytestmark = [pytest.mark.services, pytest.mark.live]


def require_nginx() -> None:
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return
    reason = "nginx is not installed (apt-get install -y nginx-light): the scale-out test needs it"
    if IN_CI:
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


@contextlib.contextmanager
def topology(tmp: Path) -> Iterator[tuple[Nginx, AppProcess, AppProcess, str, str]]:
    with services_database(tmp) as settings:
        # SIGNIN_ATTEMPTS=2: 10 sign-in attempts per client address and window, few
        # enough for the scenario to show whose address the apps count.
        a = AppProcess(settings, "a", tmp, DB_POOL_MAX="8", SIGNIN_ATTEMPTS="2")
        b = AppProcess(settings, "b", tmp, DB_POOL_MAX="8", SIGNIN_ATTEMPTS="2")
        proxy = Nginx(tmp, [])
        try:
            for app in (a, b):
                app.start()
            proxy.upstreams = [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]
            proxy.start()
            assert settings.database_url is not None
            yield proxy, a, b, settings.database_url, settings.jwt_secret
        finally:
            proxy.stop()
            a.stop()
            b.stop()


def metric(url: str, name: str) -> float:
    """Sum of a metric's samples in one instance's /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def book_some(
    clients: list[Client], event_id: str, seats: list[str], rounds: int
) -> list[str]:
    results: list[str] = []
    rng = random.Random(7)
    for _ in range(rounds):
        picks = [rng.sample(seats, rng.choice((1, 1, 2))) for _ in clients]
        results += await asyncio.gather(
            *(c.book(event_id, pick, deadline=10) for c, pick in zip(clients, picks, strict=True))
        )
    return results


def test_two_instances_behind_nginx(tmp_path: Path) -> None:
    require_services()
    require_nginx()
    with topology(tmp_path) as (proxy, a, b, dsn, secret):
        asyncio.run(scenario(proxy, a, b, dsn, secret))


async def scenario(proxy: Nginx, a: AppProcess, b: AppProcess, dsn: str, secret: str) -> None:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as web:
        # An account made and used through the proxy.
        creds = {"email": "proxy-user@example.com", "password": "correct horse battery"}
        assert (await web.post("/signup", json=creds)).status_code == 201
        signed = await web.post("/signin", json=creds)
        assert signed.status_code == 200, signed.text
        auth = {"Authorization": f"Bearer {signed.json()['token']}"}
        me = await web.get("/me", headers=auth)
        assert me.status_code == 200 and me.json()["email"] == creds["email"]
        # nginx's request id reaches the app and comes back.
        assert re.fullmatch(r"[0-9a-f]{32}", me.headers["x-request-id"])
        # Metrics stay off the public proxy, however the path is spelled.
        for spelling in ("/metrics", "/metrics/", "/metrics%2F", "/metrics/.", "/./metrics"):
            hidden = await web.get(spelling)
            assert hidden.status_code == 404, (spelling, hidden.status_code, hidden.text[:80])
            assert "boxoffice_" not in hidden.text
        # A client cannot choose the address the apps count: nginx sets X-Forwarded-For
        # to the address it sees (it appended to the client's own, which was believed).
        codes = [
            (
                await web.post(
                    "/signin",
                    json={"email": f"nobody{i}@example.com", "password": "wrong password"},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                )
            ).status_code
            for i in range(12)
        ]
        assert codes[-1] == 429 and set(codes) == {401, 429}, codes

        created = await web.post(
            "/events",
            json={
                "name": "Scale-out",
                "seats": [f"{r}{n}" for r in "ABC" for n in range(1, 11)],
                "maxSeatsPerUser": 30,
            },
            headers=auth,
        )
        assert created.status_code == 201, created.text
        event_id = created.json()["id"]
        seats = [s["id"] for s in created.json()["seats"]]

    # Watchers through the proxy (nginx spreads them over both instances) and on each.
    watchers = [
        await SeatWatcher(proxy.url.replace("http", "ws"), event_id, f"proxy{i}").start()
        for i in range(6)
    ]
    watchers += [
        await SeatWatcher(app.ws_url, event_id, f"direct-{app.name}").start() for app in (a, b)
    ]
    per_instance = {app.name: metric(app.url, "boxoffice_websocket_watchers") for app in (a, b)}
    assert per_instance["a"] >= 2 and per_instance["b"] >= 2, per_instance

    # A browser on the proxy's origin is same-origin through it; another origin is not.
    tab = Watcher(proxy.url.replace("http", "ws"), event_id, origin=proxy.url)
    await tab.start()
    await tab.close()
    with pytest.raises(InvalidStatus) as refused:
        await Watcher(
            proxy.url.replace("http", "ws"), event_id, origin="https://evil.example"
        ).start()
    assert refused.value.response.status_code == 403

    history = History()
    stats = Stats()
    users = await chaosdb.create_users(dsn, 24, secret)
    http = http_client()
    try:
        via_proxy = [
            Client(f"p{i}", u, history, [proxy.url], http, stats) for i, u in enumerate(users[:16])
        ]
        direct = [
            Client(f"d{i}", u, history, [(a if i % 2 else b).url], http, stats)
            for i, u in enumerate(users[16:])
        ]
        results = await book_some(via_proxy + direct, event_id, seats[:20], rounds=3)
        assert results.count(OK) >= 5, results
        booked = {app.name: metric(app.url, "boxoffice_bookings_total") for app in (a, b)}
        assert booked["a"] > 0 and booked["b"] > 0, f"bookings served by each instance: {booked}"

        # One instance leaves gracefully: its sockets get 1001 and come back via the proxy.
        on_a = metric(a.url, "boxoffice_websocket_watchers")
        exit_code = await asyncio.to_thread(a.stop)
        assert exit_code in (0, -15), f"instance a exit code {exit_code}\n{a.log()[-2000:]}"
        results = await book_some(via_proxy, event_id, seats[20:], rounds=2)
        assert results.count(OK) >= 3, results

        verdicts = []

        async def judged_valid() -> bool:
            read = await chaosdb.final_read(dsn, [event_id])
            views = {w.name: w.view() for w in watchers if w.name != "direct-a"}
            verdicts.append(check(history.ops(), read, views))
            return verdicts[-1].valid

        with contextlib.suppress(AssertionError):  # the verdict below says what is wrong
            await eventually(
                judged_valid,
                what="the checker to find the history and every watcher consistent",
                timeout=10,
                interval=0.25,
            )
        verdict = verdicts[-1]
        assert verdict.valid, verdict.to_json()[:4000]
        going_away = [w.name for w in watchers if 1001 in w.close_codes]
        assert len(going_away) >= on_a, (going_away, on_a)
        assert all(
            w.connects >= 2
            for w in watchers
            if w.name.startswith("proxy") and 1001 in w.close_codes
        )
        print(
            f"watchers per instance {per_instance}, bookings per instance {booked}, "
            f"closed with 1001 and reconnected: {going_away}, {verdict.summary()}"
        )
    finally:
        for watcher in watchers:
            await watcher.stop()
        await http.aclose()
