"""Per-socket limits of GET /ws/events/{id} (issue 11, item 5), in-process in both run modes:
anonymous sockets per address, and a socket whose sends stall. The real-server side, with
stalled TCP readers and the server's memory, is test_stalled_readers.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from backend.live.channel import MemorySeatChannel
from backend.live.hub import LiveHub
from backend.live.websocket import WS_4408_TOO_SLOW, WS_4409_TOO_MANY_CONNECTIONS, Session
from backend.settings import Settings
from tests.conftest import Api
from tests.live.test_websocket import close_code, custom_client, tab
from tests.support.waiting import eventually


async def test_anonymous_sockets_are_capped_per_address_and_signed_in_ones_are_not(
    settings: Settings,
) -> None:
    async with custom_client(settings, ws_max_anonymous_per_address=2) as client:
        api = Api(client)
        hub: LiveHub = client.app.state.hub
        user = await api.user()
        event = await api.event(user)
        url = f"/ws/events/{event['id']}"
        async with tab(client, event["id"]), tab(client, event["id"]) as second:
            # A third anonymous socket from the same address gets a moment to sign in,
            # then a close that says why.
            with await client.websocket_connect(url) as third:
                assert close_code(third, timeout=5) == WS_4409_TOO_MANY_CONNECTIONS
            assert hub.limit_closes["anonymous_limit"] == 1

            # Signing in first thing (as the browser does) is not anonymous: admitted.
            with await client.websocket_connect(url) as signed:
                signed.send_json({"type": "auth", "token": user["token"]})
                assert signed.receive_json(timeout=5)["type"] == "auth"
                snapshot = signed.receive_json(timeout=5)
                assert snapshot["type"] == "snapshot" and len(snapshot["seats"]) == len(
                    event["seats"]
                )

            # One anonymous socket leaving makes room for another.
            second.ws.close()
            await eventually(
                lambda: hub.anonymous_count("testclient") == 1,
                what="the hub to count the anonymous socket that left",
                timeout=3,
            )
            async with tab(client, event["id"]) as again:
                assert again.messages[0]["type"] == "snapshot"
        await eventually(
            lambda: hub.anonymous_count("testclient") == 0,
            what="no anonymous socket left counted",
            timeout=3,
        )


class NeverSends:
    """A socket whose sends never complete, like one whose client stopped reading."""

    async def send_text(self, data: str) -> None:
        await asyncio.Event().wait()


async def test_a_send_that_stalls_past_the_deadline_closes_the_socket_4408(
    embedded_settings: Settings,
) -> None:
    # Without a transport to watch (another ASGI server than uvicorn), the send itself
    # has the deadline.
    settings = replace(embedded_settings, ws_stall_seconds=1)
    hub = LiveHub(MemorySeatChannel())
    socket: Any = NeverSends()
    session = Session(socket, "event", hub, events=None, settings=settings)  # type: ignore[arg-type]
    session.watcher.needs_snapshot = False
    session.send_control({"type": "pong"})
    await asyncio.wait_for(session.writer(), 5)
    assert session.closing is not None and session.closing[0] == WS_4408_TOO_SLOW
    assert session.limit == "too_slow"
