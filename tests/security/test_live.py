"""Security against real server processes (services mode): throttling shared by all
workers, bounded argon2 memory under a login flood, websocket limits per user.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from chaos import db as chaosdb
from tests.support.databases import services_database
from tests.support.live_server import live_server
from tests.support.services import require_services

pytestmark = [pytest.mark.services, pytest.mark.live]

PASSWORD = "correct horse battery"
WINDOW_SECONDS = 120


def fresh(url: str, path: str, body: dict[str, str]) -> httpx.Response:
    # A new connection each time, so requests spread over the workers.
    with httpx.Client(base_url=url, timeout=30) as client:
        return client.post(path, json=body, headers={"Connection": "close"})


def test_signin_and_signup_throttles_are_shared_by_every_worker(tmp_path: Path) -> None:
    require_services()
    with (
        services_database(tmp_path) as settings,
        live_server(
            settings, workers=2, SIGNIN_ATTEMPTS="3", SIGNIN_WINDOW_SECONDS=str(WINDOW_SECONDS)
        ) as app,
    ):
        email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
        assert fresh(app.url, "/signup", {"email": email, "password": PASSWORD}).status_code == 201
        # Per account: three wrong guesses, then 429 on every worker, right password or not.
        codes = [
            fresh(app.url, "/signin", {"email": email, "password": "wrong-guess"}).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 401]
        for password in ("wrong-again", PASSWORD, "wrong-once-more", PASSWORD):
            blocked = fresh(app.url, "/signin", {"email": email, "password": password})
            assert blocked.status_code == 429, blocked.text
            retry_after = int(blocked.headers["retry-after"])
            assert 1 <= retry_after <= WINDOW_SECONDS  # inside the shared window
            assert blocked.json()["retryAfter"] == retry_after
            assert blocked.json()["code"] == "throttled"
        # Per address: sign-ups from one address stop after 5 times the limit, whatever the email.
        statuses = [
            fresh(
                app.url,
                "/signup",
                {"email": f"spam{i}-{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD},
            ).status_code
            for i in range(16)
        ]
        assert statuses[:14].count(201) == 14 and statuses[-1] == 429, statuses
        # Sign-in attempts from one address across many accounts are counted too.
        statuses = [
            fresh(
                app.url, "/signin", {"email": f"nobody{i}@example.com", "password": "x" * 9}
            ).status_code
            for i in range(16)
        ]
        assert 429 in statuses and statuses[-1] == 429, statuses


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_login_flood_queues_for_argon2_instead_of_exhausting_memory(tmp_path: Path) -> None:
    require_services()
    with (
        services_database(tmp_path) as settings,
        live_server(settings, ARGON2_CONCURRENCY="2") as app,
    ):
        before = _peak_rss_kb(app.process.pid)

        async def flood() -> list[int]:
            limits = httpx.Limits(max_connections=80)
            async with httpx.AsyncClient(base_url=app.url, timeout=120, limits=limits) as client:
                responses = await asyncio.gather(
                    *(
                        client.post(
                            "/signin",
                            json={
                                "email": f"flood{i}@example.com",
                                "password": f"guess-{i}-" + "p" * 1000,
                            },
                        )
                        for i in range(64)
                    )
                )
            return [r.status_code for r in responses]

        statuses = asyncio.run(flood())
        peak = _peak_rss_kb(app.process.pid)
    assert set(statuses) <= {401, 429} and statuses.count(401) >= 10, statuses
    # argon2id takes 19 MiB per hash; 64 at once would be over 1 GiB. With two hashing
    # slots the process grows by a few of them at most.
    growth_mib = (peak - before) / 1024
    print(f"argon2 flood: peak RSS grew by {growth_mib:.0f} MiB")
    assert growth_mib < 160, f"peak RSS grew by {growth_mib:.0f} MiB during the flood"


def test_an_oversized_password_is_refused_before_hashing(tmp_path: Path) -> None:
    require_services()
    with services_database(tmp_path) as settings, live_server(settings) as app:
        huge = fresh(app.url, "/signup", {"email": "big@example.com", "password": "p" * 5000})
        assert huge.status_code == 400
        body = fresh(app.url, "/signin", {"email": "big@example.com", "password": "p" * 10**6})
        assert body.status_code in (400, 413)


def test_websocket_connections_are_capped_per_user(tmp_path: Path) -> None:
    require_services()
    with services_database(tmp_path) as settings, live_server(settings, WS_MAX_PER_USER="2") as app:
        asyncio.run(_cap(app.url, settings.database_url or "", settings.jwt_secret))


async def _cap(url: str, dsn: str, secret: str) -> None:
    owner, other = await chaosdb.create_users(dsn, 2, secret)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        event = (
            await http.post("/events", json={"name": "Cap", "seats": ["A1"]}, headers=owner.headers)
        ).json()
    ws_url = url.replace("http", "ws") + f"/ws/events/{event['id']}"

    async def signed_in(token: str) -> tuple[object, str]:
        socket = await connect(ws_url)
        await socket.send(f'{{"type": "auth", "token": "{token}"}}')
        kinds = []
        for _ in range(4):
            message = await asyncio.wait_for(socket.recv(), 5)
            kinds.append(message)
            if '"type":"auth"' in message.replace(" ", ""):
                return socket, "auth"
        return socket, "no auth answer"

    first, second = await signed_in(owner.token), await signed_in(owner.token)
    assert first[1] == second[1] == "auth"
    third = await connect(ws_url)
    await third.send(f'{{"type": "auth", "token": "{owner.token}"}}')
    with pytest.raises(ConnectionClosed):  # the server closes it (4409, checked below)
        for _ in range(5):
            await asyncio.wait_for(third.recv(), 5)
    assert third.close_code == 4409, third.close_code
    # Anonymous sockets and other people are not affected.
    anonymous = await connect(ws_url)
    assert '"snapshot"' in await asyncio.wait_for(anonymous.recv(), 5)
    others, status = await signed_in(other.token)
    assert status == "auth"
    for socket in (first[0], second[0], anonymous, others):
        await socket.close()  # type: ignore[attr-defined]
