"""Closing the embedded database waits for SQLite's threads still at work.

Piccolo's SQLite engine runs each query or transaction on a connection of its own, in a
thread of aiosqlite's, which answers the event loop when it is done. A read cancelled
while its connection was still opening returns at once and leaves that thread to finish
and answer: if the loop has closed by then, the thread dies with "Event loop is closed"
(the fresh-clone CI run of 2026-12-04 failed on it). PostgreSQL's side has no such
thread: its pool's close waits for the connections out (`PostgresDatabase.on_shutdown`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from typing import Any

import pytest

from backend.settings import Settings
from tests.storage.conftest import started


async def test_a_read_cancelled_while_connecting_ends_before_the_database_closes(
    embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    connecting = threading.Event()
    go_on = threading.Event()
    threads: list[threading.Thread] = []
    real_connect = sqlite3.connect

    def slow_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        if not threads:  # the read below; start-up's connections go straight through
            threads.append(threading.current_thread())
            connecting.set()
            go_on.wait(10)
            time.sleep(0.2)  # a slow disk: still opening when the database is closed
        return real_connect(*args, **kwargs)

    async with started(embedded_settings) as storage:
        monkeypatch.setattr(sqlite3, "connect", slow_connect)
        read = asyncio.ensure_future(storage.seats.states(str(uuid.uuid4())))
        assert await asyncio.to_thread(connecting.wait, 10)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        go_on.set()
    # `started` closed the database: the read's thread has answered and ended.
    (thread,) = threads
    assert not thread.is_alive()
