"""The per-process hub: batching, one encoding per batch (+ one per owner), the capped
backlog, resyncs and clean unwatching. Unit level: the in-process channel, no database."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.booking.records import SeatChange
from backend.live.channel import RESYNC, MemorySeatChannel, SeatChannel
from backend.live.hub import (
    LOOKING_SECONDS,
    LOOKING_SENDS_PER_SECOND,
    LOOKING_SLICE,
    RESYNC_MARKER,
    LiveHub,
    Watcher,
)
from tests.support.waiting import eventually
from tests.support.watcher import SeatMap

EVENT = "11111111-1111-1111-1111-111111111111"
OTHER_EVENT = "22222222-2222-2222-2222-222222222222"
UNTIL = 1_900_000_000_000  # a heldUntil in epoch ms


def held(seat: str, version: int, holder: str) -> SeatChange:
    return SeatChange(id=seat, status="held", version=version, held_until_ms=UNTIL, holder=holder)


def free(seat: str, version: int) -> SeatChange:
    return SeatChange(id=seat, status="available", version=version)


def drain(watcher: Watcher) -> list[dict[str, Any]]:
    """What a socket writer would send (snapshots aside): every queued message."""
    watcher.needs_snapshot = False
    messages = [json.loads(item) for item in watcher.queue]
    watcher.queue.clear()
    watcher.wake.clear()
    return messages


async def settle(hub: LiveHub, *watchers: Watcher, batches: int = 1) -> None:
    """Wait until each watcher has `batches` messages queued (the batch window passed)."""
    await eventually(
        lambda: all(len(w.queue) >= batches for w in watchers),
        what=f"{batches} batch(es) queued for each of {len(watchers)} watcher(s)",
        timeout=2,
        interval=hub.batch_seconds / 2 or 0.001,
    )


@pytest.fixture
async def hub() -> AsyncIterator[LiveHub]:
    channel = MemorySeatChannel()
    await channel.on_startup()
    live = LiveHub(channel, batch_ms=20, backlog=8)
    await live.on_startup()
    try:
        yield live
    finally:
        await live.on_shutdown()
        await channel.on_shutdown()


async def test_a_new_watcher_asks_for_its_snapshot_at_once(hub: LiveHub) -> None:
    watcher = hub.watch(EVENT, None)
    assert watcher.needs_snapshot and watcher.wake.is_set()


async def test_changes_within_the_window_go_out_as_one_message_encoded_once(
    hub: LiveHub,
) -> None:
    watchers = [hub.watch(EVENT, None) for _ in range(50)]
    for w in watchers:
        drain(w)
    await hub.publish(EVENT, [held("s1", 2, "u1")])
    await hub.publish(EVENT, [held("s2", 2, "u2"), free("s3", 5)])
    await settle(hub, *watchers)
    # One message for all 50 sockets: the very same encoded string, not 50 encodings.
    assert len({id(w.queue[0]) for w in watchers}) == 1
    assert hub.encodings == 1 and hub.batches == 1
    message = drain(watchers[0])
    assert message == [
        {
            "type": "seats",
            "changes": [
                {
                    "id": "s1",
                    "status": "held",
                    "version": 2,
                    "heldUntil": "2030-03-17T17:46:40.000Z",
                },
                {
                    "id": "s2",
                    "status": "held",
                    "version": 2,
                    "heldUntil": "2030-03-17T17:46:40.000Z",
                },
                {"id": "s3", "status": "available", "version": 5},
            ],
        }
    ]
    assert "holder" not in json.dumps(message)  # user ids never leave the server


async def test_owners_get_mine_in_every_tab_and_nobody_else_does(hub: LiveHub) -> None:
    tab1, tab2 = hub.watch(EVENT, "u1"), hub.watch(EVENT, "u1")
    stranger, anonymous = hub.watch(EVENT, "u2"), hub.watch(EVENT, None)
    everyone = (tab1, tab2, stranger, anonymous)
    for w in everyone:
        drain(w)
    await hub.publish(EVENT, [held("s1", 2, "u1"), free("s2", 3)])
    await settle(hub, *everyone)
    # Two encodings in all: the public one and u1's variant, shared by u1's two tabs.
    assert hub.encodings == 2
    assert tab1.queue[0] is tab2.queue[0]
    assert stranger.queue[0] is anonymous.queue[0]
    mine = drain(tab1)[0]["changes"]
    assert mine[0] == {**mine[0], "mine": True} and "mine" not in mine[1]
    for w in (stranger, anonymous):
        seat = drain(w)[0]["changes"][0]
        assert seat["status"] == "held" and seat["heldUntil"] and "mine" not in seat


async def test_a_batch_carries_only_each_seats_newest_version(hub: LiveHub) -> None:
    watcher = hub.watch(EVENT, "u1")
    drain(watcher)
    # Out of order, as two processes' messages can arrive: v4 before v3 and v2.
    await hub.publish(EVENT, [held("s1", 4, "u1")])
    await hub.publish(EVENT, [free("s1", 3)])
    await hub.publish(EVENT, [held("s1", 2, "u9")])
    await settle(hub, watcher)
    [message] = drain(watcher)
    assert message["changes"] == [
        {
            "id": "s1",
            "status": "held",
            "version": 4,
            "heldUntil": "2030-03-17T17:46:40.000Z",
            "mine": True,
        }
    ]


async def test_across_batches_the_client_rule_keeps_the_newest(hub: LiveHub) -> None:
    watcher = hub.watch(EVENT, None)
    drain(watcher)
    seat_map = SeatMap()
    seat_map.load([{"id": "s1", "status": "available", "version": 1}])
    for version in (4, 2, 3):  # each in its own batch
        status = "held" if version % 2 == 0 else "available"
        change = held("s1", version, "u1") if status == "held" else free("s1", version)
        await hub.publish(EVENT, [change])
        await settle(hub, watcher)
        for message in drain(watcher):
            for seat in message["changes"]:
                seat_map.apply(seat)
    assert seat_map.seats["s1"]["version"] == 4
    assert seat_map.seats["s1"]["status"] == "held"


async def test_a_watcher_that_never_reads_is_capped_and_marked_for_a_snapshot() -> None:
    channel = MemorySeatChannel()
    await channel.on_startup()
    hub = LiveHub(channel, batch_ms=0, backlog=8)
    await hub.on_startup()
    try:
        await _never_reads(hub)
    finally:
        await hub.on_shutdown()
        await channel.on_shutdown()


async def _never_reads(hub: LiveHub) -> None:
    stuck, reading = hub.watch(EVENT, None), hub.watch(EVENT, None)
    drain(stuck)
    drain(reading)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        received = 0
        for n in range(200):
            changes = [free(f"seat-{k}", n + 2) for k in range(50)]
            await hub.publish(EVENT, changes)
            await settle(hub, reading)
            received += len(drain(reading))  # the reading socket gets every batch
            assert len(stuck.queue) <= stuck.cap
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert received == 200
    assert stuck.needs_snapshot and stuck.overflows >= 200 // stuck.cap - 1
    # 200 batches of ~3 kB went by; the stuck socket holds at most `cap` of them.
    assert grown < 200_000, grown


async def test_unknown_and_unwatched_events_keep_no_state(hub: LiveHub) -> None:
    first, second = hub.watch(EVENT, None), hub.watch(EVENT, "u1")
    await hub.publish(OTHER_EVENT, [free("s1", 2)])  # nobody watches it
    await hub.publish(EVENT, [free("s1", 2)])
    await settle(hub, first)
    assert set(hub.watchers) == {EVENT}
    hub.unwatch(first)
    assert hub.watcher_count() == 1
    fence = hub.watch(OTHER_EVENT, None)
    drain(fence)
    await hub.publish(EVENT, [free("s1", 3)])
    hub.unwatch(second)  # the last one leaves while a batch is pending
    assert EVENT not in hub.watchers and EVENT not in hub._pending
    hub.unwatch(second)  # twice is harmless
    # The channel keeps order and both events have the same batch window, so once the
    # fence's batch is out, EVENT's message has been read and any flush for it has run.
    await hub.publish(OTHER_EVENT, [free("s1", 2)])
    await settle(hub, fence)
    assert EVENT not in hub.watchers and EVENT not in hub._pending
    hub.unwatch(fence)
    assert hub.watchers == {} and hub._pending == {}


async def test_resync_from_the_channel_asks_every_watcher_for_a_snapshot(hub: LiveHub) -> None:
    watchers = [hub.watch(EVENT, None), hub.watch(OTHER_EVENT, "u1")]
    for w in watchers:
        drain(w)
        w.queue.append("stale")
    await hub.channel.publish(RESYNC, b"")  # what a backend yields after losing messages
    await eventually(
        lambda: all(w.needs_snapshot for w in watchers),
        what="every watcher to be marked for a snapshot",
        timeout=2,
    )
    assert all(not w.queue and w.wake.is_set() for w in watchers)


class FlakyChannel(MemorySeatChannel):
    """An in-process channel whose publishes fail while `down` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, event_id: str, data: bytes) -> None:
        if self.down:
            raise ConnectionError("channel down")
        self.sent.append((event_id, data))
        await super().publish(event_id, data)


async def test_a_failed_publish_never_raises_and_ends_in_a_resync() -> None:
    channel = FlakyChannel()
    await channel.on_startup()
    hub = LiveHub(channel, batch_ms=5, backlog=8)
    await hub.on_startup()
    try:
        here, elsewhere = hub.watch(EVENT, None), hub.watch(OTHER_EVENT, None)
        drain(here)
        drain(elsewhere)
        channel.down = True
        await hub.publish(EVENT, [held("s1", 2, "u1")])  # does not raise
        assert here.needs_snapshot and not elsewhere.needs_snapshot
        drain(here)
        channel.down = False
        # Once the channel works again, a resync marker tells every process.
        await eventually(
            lambda: here.needs_snapshot,
            what="the resync marker to reach the hub once the channel is back",
            timeout=3,
        )
        assert (EVENT, RESYNC_MARKER) in channel.sent
        assert not elsewhere.needs_snapshot
    finally:
        await hub.on_shutdown()
        await channel.on_shutdown()


async def test_undecodable_messages_are_ignored(hub: LiveHub) -> None:
    watcher = hub.watch(EVENT, None)
    drain(watcher)
    channel: SeatChannel = hub.channel
    await channel.publish(EVENT, b"not json")
    await channel.publish(EVENT, b"[1, 2]")
    await hub.publish(EVENT, [free("s1", 2)])
    await settle(hub, watcher)
    assert [m["changes"][0]["id"] for m in drain(watcher)] == ["s1"]


async def test_the_batch_window_widens_with_the_audience_within_its_bounds() -> None:
    hub = LiveHub(MemorySeatChannel(), batch_ms=25, sends_per_second=1000)
    watched = [hub.watch(EVENT, None) for _ in range(10)]
    assert hub._window(EVENT) == pytest.approx(0.025)  # 10 sockets: LIVE_BATCH_MS
    watched += [hub.watch(EVENT, None) for _ in range(190)]
    assert hub._window(EVENT) == pytest.approx(0.2)  # 200 sends per message, 1000/s
    watched += [hub.watch(EVENT, None) for _ in range(2000)]
    assert hub._window(EVENT) == pytest.approx(0.5)  # capped
    assert hub._window(OTHER_EVENT) == pytest.approx(0.025)
    for watcher in watched:
        hub.unwatch(watcher)
    assert hub.watchers == {}


# ------------------------------------------------------------------ lookers


async def test_lookers_get_each_seats_latest_state_a_window_later(hub: LiveHub) -> None:
    shopper, looker = hub.watch(EVENT, "u1"), hub.watch(EVENT, None)
    hub.set_looking(looker, True)
    drain(shopper), drain(looker)
    await hub.publish(EVENT, [held("s1", 2, "u1")])
    await settle(hub, shopper)
    await hub.publish(EVENT, [free("s1", 3), held("s2", 2, "u2")])
    await settle(hub, shopper, batches=2)
    assert not looker.queue  # the shoppers' windows went by without it
    await eventually(lambda: looker.queue, what="the lookers' window", timeout=LOOKING_SECONDS * 3)
    [message] = drain(looker)
    assert {c["id"]: (c["status"], c["version"]) for c in message["changes"]} == {
        "s1": ("available", 3),
        "s2": ("held", 2),
    }
    assert len(drain(shopper)) == 2


async def test_a_looker_let_in_is_sent_what_it_missed_at_once(hub: LiveHub) -> None:
    """Admitted between two lookers' windows: the pending changes go to it at once, and
    the shoppers' batches from then on; nothing is missed in between."""
    watcher = hub.watch(EVENT, "u1")
    hub.set_looking(watcher, True)
    drain(watcher)
    await hub.publish(EVENT, [held("s1", 2, "u2")])
    other = hub.watch(EVENT, "u9")  # a shopper, to know when the shoppers' window has passed
    drain(other)
    await hub.publish(EVENT, [held("s2", 2, "u2")])
    await settle(hub, other)
    assert not watcher.queue
    hub.set_looking(watcher, False)
    [caught_up] = drain(watcher)
    assert {c["id"] for c in caught_up["changes"]} == {"s1", "s2"}
    await hub.publish(EVENT, [free("s2", 3)])
    await settle(hub, watcher)
    assert [c["version"] for c in drain(watcher)[0]["changes"]] == [3]
    hub.set_looking(watcher, False)  # no change, nothing sent
    assert not watcher.queue


async def test_a_shopper_who_starts_looking_misses_nothing(hub: LiveHub) -> None:
    """A change gathered while it was shopping, whose shoppers' window closes after it
    started looking, comes in its next lookers' batch."""
    watcher = hub.watch(EVENT, "u1")
    drain(watcher)
    # Gathered (as the channel reader does), and looking before the shoppers' window runs.
    hub._gather(
        EVENT, json.dumps({"changes": [{"id": "s1", "status": "held", "version": 2}]}).encode()
    )
    hub.set_looking(watcher, True)
    await eventually(lambda: watcher.queue, what="the lookers' window", timeout=LOOKING_SECONDS * 3)
    assert [c["id"] for c in drain(watcher)[0]["changes"]] == ["s1"]


def lookers_of(hub: LiveHub, count: int) -> list[Watcher]:
    watchers = [hub.watch(EVENT, None) for _ in range(count)]
    for watcher in watchers:
        hub.set_looking(watcher, True)
        drain(watcher)
    return watchers


def gathered(hub: LiveHub, *changes: SeatChange) -> None:
    """Changes as the channel reader hands them to the hub (no window started here)."""
    hub._gather(
        EVENT,
        json.dumps(
            {"changes": [{"id": c.id, "status": c.status, "version": c.version} for c in changes]}
        ).encode(),
    )


async def test_a_large_lookers_batch_lets_the_loop_serve_others_while_it_goes_out(
    hub: LiveHub,
) -> None:
    """On the on-sale night a worker's lookers are thousands of sockets, and their batch
    is written in one go once a second: the shoppers' holds waited behind it (0.15-0.19 s
    stalls of the loop, every second, in a profile). It goes out in slices now, and what
    is waiting (a hold, say) runs between two of them."""
    lookers = lookers_of(hub, 4 * LOOKING_SLICE)
    gathered(hub, held("s1", 2, "u1"))
    seen: list[int] = []

    async def a_request() -> None:  # ready to run while the batch goes out
        while not any(w.queue for w in lookers):
            await asyncio.sleep(0)
        seen.append(sum(1 for w in lookers if w.queue))

    request = asyncio.create_task(a_request())
    await asyncio.sleep(0)  # it is waiting for the first looker's message
    hub._flush_looking(EVENT)  # the lookers' window ends (its timer's callback)
    await request
    assert seen and seen[0] < len(lookers)  # it ran before the last slice
    await eventually(lambda: all(w.queue for w in lookers), what="every looker's batch")
    assert all([c["id"] for c in drain(w)[0]["changes"]] == ["s1"] for w in lookers)


async def test_lookers_batches_arrive_in_order_and_whole(hub: LiveHub) -> None:
    """A second window's batch starts only after the first has reached every looker."""
    lookers = lookers_of(hub, 3 * LOOKING_SLICE)
    gathered(hub, held("s1", 2, "u1"))
    hub._flush_looking(EVENT)
    gathered(hub, free("s1", 3))
    hub._flush_looking(EVENT)
    await eventually(lambda: all(len(w.queue) == 2 for w in lookers), what="both batches")
    for watcher in lookers:
        first, second = drain(watcher)
        assert [c["version"] for c in first["changes"]] == [2]
        assert [c["version"] for c in second["changes"]] == [3]


async def test_a_looker_let_in_while_its_batch_goes_out_is_sent_it_at_once(
    hub: LiveHub,
) -> None:
    """Admitted between two slices, before its own: it gets that batch (and what is
    pending) at once, and the rest of the delivery skips it. One that leaves meanwhile
    is sent nothing."""
    lookers = lookers_of(hub, 3 * LOOKING_SLICE)
    admitted, gone = lookers[-1], lookers[-2]
    gathered(hub, held("s1", 2, "u1"))
    hub._flush_looking(EVENT)
    gathered(hub, held("s2", 2, "u1"))  # pending for the next lookers' window
    assert not admitted.queue  # its slice has not gone out yet
    hub.set_looking(admitted, False)
    hub.unwatch(gone)
    [caught_up] = drain(admitted)
    assert {c["id"] for c in caught_up["changes"]} == {"s1", "s2"}
    await eventually(lambda: not hub.sending_to_lookers(EVENT), what="the delivery's end")
    assert all(w.queue for w in lookers[:-2])
    assert not admitted.queue and not gone.queue


async def test_a_shopper_who_starts_looking_after_the_lookers_batch_went_is_sent_it(
    hub: LiveHub,
) -> None:
    """A change in the lookers' batch that went out while it was shopping, and in the
    shoppers' window that closes after it started looking: it is sent at once."""
    lookers_of(hub, 2 * LOOKING_SLICE)
    shopper = hub.watch(EVENT, "u1")
    drain(shopper)
    gathered(hub, held("s1", 2, "u2"))
    hub._flush_looking(EVENT)
    await eventually(lambda: not hub.sending_to_lookers(EVENT), what="the lookers' batch sent")
    hub.set_looking(shopper, True)
    hub._flush(EVENT)  # the shoppers' window: it is looking now, so not in it
    assert [c["id"] for c in drain(shopper)[0]["changes"]] == ["s1"]


async def test_signed_in_sockets_are_counted_per_account(hub: LiveHub) -> None:
    """The per-account cap's count, and each account's sockets by event (the waiting
    room's news goes to them): sockets signed in from the start or later, on any event,
    and forgotten when they go (however often unwatch is called)."""
    a = hub.watch(EVENT, "u1")
    b = hub.watch(OTHER_EVENT, None)
    assert (hub.user_watcher_count("u1"), hub.user_watcher_count("u2")) == (1, 0)
    hub.identify(b, "u1")
    assert hub.user_watcher_count("u1") == 2
    c = hub.watch(EVENT, "u1")
    assert set(hub.sockets_of(EVENT, "u1")) == {a, c}
    assert hub.sockets_of(OTHER_EVENT, "u1") == [b]
    hub.identify(b, "u2")  # signed in again as someone else
    assert (hub.user_watcher_count("u1"), hub.user_watcher_count("u2")) == (2, 1)
    assert (hub.sockets_of(OTHER_EVENT, "u1"), hub.sockets_of(OTHER_EVENT, "u2")) == ([], [b])
    for watcher in (a, b, a, c):
        hub.unwatch(watcher)
    assert (hub.user_watcher_count("u1"), hub.user_watcher_count("u2")) == (0, 0)
    assert hub.sockets_of(EVENT, "u1") == []
    assert hub._by_user == {} and hub._of_user == {}


async def test_each_pace_widens_with_its_own_audience() -> None:
    """The shoppers' window counts the shoppers only, the lookers' the lookers only."""
    hub = LiveHub(MemorySeatChannel(), batch_ms=25, sends_per_second=1000)
    watched = [hub.watch(EVENT, None) for _ in range(200)]
    assert hub._window(EVENT) == pytest.approx(0.2)  # 200 shoppers
    for watcher in watched[10:]:
        hub.set_looking(watcher, True)
    assert hub._window(EVENT) == pytest.approx(0.025)  # 10 shoppers: LIVE_BATCH_MS
    assert hub._looking_window(EVENT) == pytest.approx(LOOKING_SECONDS)
    many = [hub.watch(EVENT, None) for _ in range(LOOKING_SENDS_PER_SECOND * 2)]
    for watcher in many:
        hub.set_looking(watcher, True)
    assert hub._looking_window(EVENT) == pytest.approx(
        (190 + 2 * LOOKING_SENDS_PER_SECOND) / LOOKING_SENDS_PER_SECOND
    )
    for watcher in watched + many:
        hub.unwatch(watcher)
    assert hub.watchers == {} and hub._shoppers == {}


async def test_the_shoppers_window_goes_to_the_shoppers_kept_apart(hub: LiveHub) -> None:
    """The hub keeps each event's shoppers apart from its lookers (the shoppers' window
    visits them alone): through watching, looking, being let in, a second call that
    changes nothing, and leaving, even when the change of pace comes after the socket
    left."""
    a, b, c = hub.watch(EVENT, "u1"), hub.watch(EVENT, None), hub.watch(OTHER_EVENT, "u2")
    assert hub._shoppers == {EVENT: {a, b}, OTHER_EVENT: {c}} and hub.lookers(EVENT) == 0
    hub.set_looking(a, True)
    hub.set_looking(a, True)
    assert hub._shoppers[EVENT] == {b} and hub.lookers(EVENT) == 1
    gathered(hub, held("s1", 2, "u3"))
    hub._flush(EVENT)
    assert [x["id"] for x in drain(b)[-1]["changes"]] == ["s1"]
    assert not a.queue  # looking: the lookers' batch brings it
    hub.set_looking(a, False)  # let in
    hub.set_looking(b, True)
    assert hub._shoppers[EVENT] == {a} and hub.lookers(EVENT) == 1
    hub.unwatch(a)
    hub.set_looking(a, True)  # news for a socket already gone
    hub.set_looking(a, False)
    assert EVENT not in hub._shoppers and hub.lookers(EVENT) == 1
    hub.unwatch(b)
    assert hub.lookers(EVENT) == 0 and hub._shoppers == {OTHER_EVENT: {c}}


@pytest.fixture
async def yielding() -> AsyncIterator[tuple[LiveHub, list[bool]]]:
    """A hub that holds shoppers' batches for bookings up to 0.3 s (a budget so small
    that one watcher reaches the bound); bookings are being written while the list's one
    flag is True."""
    channel = MemorySeatChannel()
    await channel.on_startup()
    live = LiveHub(channel, batch_ms=20, backlog=8, yield_ms=300, sale_sends_per_second=0.01)
    writing = [False]
    live.writing = lambda: writing[0]
    await live.on_startup()
    try:
        yield live, writing
    finally:
        await live.on_shutdown()
        await channel.on_shutdown()


async def test_while_bookings_are_written_a_shoppers_batch_waits_and_gathers_more(
    yielding: tuple[LiveHub, list[bool]],
) -> None:
    hub, writing = yielding
    watcher = hub.watch(EVENT, None)
    drain(watcher)
    writing[0] = True
    await hub.publish(EVENT, [held("s1", 2, "u1")])
    await eventually(lambda: hub.held_back >= 1, what="the window to end with bookings written")
    assert not watcher.queue  # held, not sent
    await hub.publish(EVENT, [held("s2", 2, "u2")])
    writing[0] = False
    await settle(hub, watcher)
    (message,) = drain(watcher)
    assert [c["id"] for c in message["changes"]] == ["s1", "s2"]  # one frame for both


async def test_a_batch_held_for_bookings_goes_out_once_its_first_change_is_that_old(
    yielding: tuple[LiveHub, list[bool]],
) -> None:
    hub, writing = yielding
    watcher = hub.watch(EVENT, None)
    drain(watcher)
    writing[0] = True  # and never done
    loop = asyncio.get_running_loop()
    published = loop.time()
    await hub.publish(EVENT, [held("s1", 2, "u1")])
    await eventually(lambda: watcher.queue, what="the held batch, at its bound", timeout=3)
    assert loop.time() - published >= hub.yield_seconds
    assert hub.held_back >= 1
    assert [c["id"] for c in drain(watcher)[0]["changes"]] == ["s1"]


async def test_the_wait_for_bookings_keeps_the_sale_budget_up_to_its_bound() -> None:
    """While bookings are written an event's shoppers get at most the sale's budget of
    frames a second: the wait grows with their number, up to LIVE_YIELD_MS; lookers and
    other events do not count."""
    hub = LiveHub(MemorySeatChannel(), batch_ms=25, yield_ms=1500, sale_sends_per_second=5000)
    assert hub.sale_wait(EVENT) == 0  # nobody watching: nothing to wait for
    watched = [hub.watch(EVENT, None) for _ in range(100)]
    assert hub.sale_wait(EVENT) == pytest.approx(0.02)  # 100 sockets: shorter than a window
    watched += [hub.watch(EVENT, None) for _ in range(4900)]
    assert hub.sale_wait(EVENT) == pytest.approx(1.0)  # 5,000 sends a frame, 5,000 a second
    for watcher in watched[2500:]:
        hub.set_looking(watcher, True)
    assert hub.sale_wait(EVENT) == pytest.approx(0.5)  # the shoppers only
    watched += [hub.watch(EVENT, None) for _ in range(10_000)]
    assert hub.sale_wait(EVENT) == pytest.approx(1.5)  # capped
    assert hub.sale_wait(OTHER_EVENT) == 0
    off = LiveHub(MemorySeatChannel(), yield_ms=0)
    many = [off.watch(EVENT, None) for _ in range(10_000)]
    assert off.sale_wait(EVENT) == 0  # LIVE_YIELD_MS=0: never
    for watcher in watched:
        hub.unwatch(watcher)
    for watcher in many:
        off.unwatch(watcher)


async def test_a_small_audience_is_held_for_bookings_only_as_long_as_its_budget_says() -> None:
    """Two watchers at a budget of 10 frames a second: held 0.2 s while bookings go on
    and on, not the 5 s bound."""
    channel = MemorySeatChannel()
    await channel.on_startup()
    hub = LiveHub(channel, batch_ms=20, backlog=8, yield_ms=5000, sale_sends_per_second=10)
    hub.writing = lambda: True  # and never done
    await hub.on_startup()
    try:
        first, second = hub.watch(EVENT, None), hub.watch(EVENT, None)
        drain(first)
        drain(second)
        loop = asyncio.get_running_loop()
        published = loop.time()
        await hub.publish(EVENT, [held("s1", 2, "u1")])
        await eventually(lambda: first.queue and second.queue, what="the batch", timeout=3)
        assert loop.time() - published >= 0.2
        assert hub.held_back >= 1
        assert [c["id"] for c in drain(first)[0]["changes"]] == ["s1"]
    finally:
        await hub.on_shutdown()
        await channel.on_shutdown()


async def test_with_no_yield_a_batch_goes_out_a_window_after_whatever_is_written(
    hub: LiveHub,
) -> None:
    hub.writing = lambda: True
    watcher = hub.watch(EVENT, None)
    drain(watcher)
    await hub.publish(EVENT, [held("s1", 2, "u1")])
    await settle(hub, watcher)
    assert hub.held_back == 0 and hub.yield_seconds == 0
