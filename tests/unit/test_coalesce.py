"""`Coalesced` (backend/booking/coalesce.py): one event's reads that arrive while its
call is out go as the next call; callers that go away, and a call that is stopped,
leave nobody waiting forever."""

from __future__ import annotations

import asyncio

import pytest

from backend.booking.coalesce import Coalesced


class Store:
    """A read held until `let_go` is set, recording the accounts of each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.let_go = asyncio.Event()

    async def read(self, event_id: str, users: list[str]) -> dict[str, str]:
        self.calls.append(list(users))
        await self.let_go.wait()
        return {u: f"{event_id}:{u}" for u in users}


async def turn() -> None:
    """Let every ready task run once (no time passes)."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_reads_behind_a_call_out_share_the_next_one_and_others_stay_apart() -> None:
    store = Store()
    reads: Coalesced[str] = Coalesced(store.read)
    first = asyncio.ensure_future(reads.get("e1", "a"))
    await turn()
    later = [asyncio.ensure_future(reads.get("e1", u)) for u in ("b", "c", "b")]
    other = asyncio.ensure_future(reads.get("e2", "a"))  # another event: its own call
    await turn()
    assert store.calls == [["a"], ["a"]]
    store.let_go.set()
    assert await first == "e1:a"
    assert [await f for f in later] == ["e1:b", "e1:c", "e1:b"]
    assert await other == "e2:a"
    assert store.calls == [["a"], ["a"], ["b", "c"]] and reads.calls == 3


async def test_a_caller_that_goes_away_leaves_the_others_answered() -> None:
    store = Store()
    reads: Coalesced[str] = Coalesced(store.read)
    first = asyncio.ensure_future(reads.get("e1", "a"))
    await turn()
    gone = asyncio.ensure_future(reads.get("e1", "b"))
    kept = asyncio.ensure_future(reads.get("e1", "c"))
    await turn()
    gone.cancel()
    store.let_go.set()
    assert (await first, await kept) == ("e1:a", "e1:c")
    assert store.calls == [["a"], ["c"]]  # nobody asks for the one who left


async def test_a_stopped_call_cancels_its_waiters_instead_of_leaving_them() -> None:
    store = Store()
    reads: Coalesced[str] = Coalesced(store.read)
    first = asyncio.ensure_future(reads.get("e1", "a"))
    await turn()
    waiting = asyncio.ensure_future(reads.get("e1", "b"))
    await turn()
    reads._running["e1"].cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert reads._running == {}
