"""`Shutdown.websocket` leaves no task behind: neither when the app returns after many
receives, nor when the app's reader is cancelled in the middle of a receive (which left a
pending `Event.wait()` task per socket, logged as "Task was destroyed but it is
pending" when collected), and a leave still ends a receive with 1001."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.observability.shutdown import WS_1001_GOING_AWAY, Shutdown


def _left_behind() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not current and not t.done()]


async def test_many_receives_leave_no_task_behind() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    for n in range(5):
        inbox.put_nowait({"type": "websocket.receive", "text": str(n)})
    got = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        for _ in range(5):
            got.append((await receive())["text"])

    async def send(message: Any) -> None:
        pass

    await Shutdown().websocket(app, {"type": "websocket"}, inbox.get, send)
    assert got == ["0", "1", "2", "3", "4"]
    await asyncio.sleep(0)  # let the cancelled waiters finish being cancelled
    assert _left_behind() == []


async def test_a_reader_cancelled_mid_receive_leaves_no_task_behind() -> None:
    never: asyncio.Queue[Any] = asyncio.Queue()
    reading = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reader = asyncio.ensure_future(receive())
        await asyncio.sleep(0)
        reading.set()
        reader.cancel()  # as a websocket session ends its reader
        await asyncio.gather(reader, return_exceptions=True)

    async def send(message: Any) -> None:
        pass

    await Shutdown().websocket(app, {"type": "websocket"}, never.get, send)
    assert reading.is_set()
    await asyncio.sleep(0)
    assert _left_behind() == []


async def test_leaving_ends_a_receive_with_1001() -> None:
    shutdown = Shutdown(drain_seconds=5)
    never: asyncio.Queue[Any] = asyncio.Queue()
    sent: list[Any] = []
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        answer.set_result(await receive())

    async def send(message: Any) -> None:
        sent.append(message)

    session = asyncio.ensure_future(shutdown.websocket(app, {"type": "websocket"}, never.get, send))
    while not shutdown.sockets:
        await asyncio.sleep(0)
    await shutdown.drain()
    await session
    assert (await answer) == {"type": "websocket.disconnect", "code": WS_1001_GOING_AWAY}
    assert sent and sent[0]["code"] == WS_1001_GOING_AWAY
    await asyncio.sleep(0)
    assert _left_behind() == []
