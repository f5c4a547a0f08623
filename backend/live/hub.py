"""The per-process hub between the seat-change channel and this process's websockets.

* `publish` (called by the booking service after commit) encodes changes once and puts
  them on the channel; it never raises: a lost publish is healed by a resync, never by
  failing a committed booking.
* `run` reads the channel, gathers the changes for an event over a short window, and
  encodes one message per batch, plus one variant per signed-in user who owns a changed
  seat (so `mine` is right in all of that user's tabs), never one per socket.
* Each watcher's backlog is capped; past the cap its queue is dropped and it gets a
  fresh snapshot instead, so a socket that never reads cannot grow memory (what its
  transport holds is bounded by the websocket's writer, see frames.py).
* It counts anonymous watchers per client address, for the websocket's cap on them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from backend.booking.records import SeatChange
from backend.live.channel import RESYNC, SeatChannel
from backend.live.frames import Framed, FrameSink
from backend.seats import is_mine, live_seat
from backend.timefmt import iso_from_ms

log = logging.getLogger("boxoffice.live")

# Published on an event's channel when a change for it could not be: every process
# answers it by sending that event's watchers a fresh snapshot.
RESYNC_MARKER: Final = b'{"resync":true}'
# Published on an event's channel when it is deleted.
DELETED_MARKER: Final = b'{"deleted":true}'
RESEND_SECONDS: Final = 0.5
# A cancellation freeing more seats than this resyncs the event's watchers instead.
CANCEL_CHANGES_MAX: Final = 2_000
WS_4410_EVENT_DELETED: Final = 4410
# Fan-out budget: each message costs every watching socket a send (a write of a frame
# built once per batch, see frames.py; on loopback the kernel's delivery to the reader is
# charged to that write too), so with many watchers the batch window grows until one
# process spends at most LIVE_SENDS_PER_SECOND sends a second on an event, up to
# MAX_BATCH_SECONDS. With a few thousand watchers the window stays at LIVE_BATCH_MS.
MAX_BATCH_SECONDS: Final = 0.5
YIELD_POLL_SECONDS: Final = 0.01
# Bookings before fan-out (issue 13: "bookings go before fan-out when the two compete";
# LIVE_SALE_SENDS_PER_SECOND, LIVE_YIELD_MS): while this process is writing bookings (a
# write batch in flight), an event's shoppers' batch is held past its window, gathering
# more changes into fewer frames, so that the process's fan-out to the event stays
# within a smaller budget of sends a second while it sells: the batch goes out when the
# writing stops (at the next window's end), or once its first change is shoppers /
# LIVE_SALE_SENDS_PER_SECOND seconds old, at most LIVE_YIELD_MS. Each frame costs every
# watching socket a write (and, on the bench's 2 cores, every watcher's client a read):
# beside 10,000 watchers the flash sale kept about half of itself at the 25-125 ms
# window, and 0.8-1.0 with its frames held up to a second (README Performance items 31
# and 33). A small audience costs little and is held little (1,000 watchers on two
# processes: 0.1 s at most); quiet, nothing is held. The issue extends DESIGN's window
# of tens of milliseconds here (README says so).
# Lookers (see `Watcher.looking`) get an event's changes at this pace: each seat's latest
# state once a second, the window widening with their number so that one process sends
# them at most LOOKING_SENDS_PER_SECOND a second, up to MAX_LOOKING_SECONDS. At 5,000
# (before) the on-sale's ~4,500 lookers a process got a batch every second, and writing
# them was the largest share of a worker during the sale (py-spy: 16 % of its samples in
# the socket writes alone) beside the shoppers' holds; at 1,500 they get one every 3 s.
LOOKING_SECONDS: Final = 1.0
LOOKING_SENDS_PER_SECOND: Final = 1_500
MAX_LOOKING_SECONDS: Final = 3.0
# A lookers' batch goes out to this many sockets per turn of the event loop
# (`LiveHub._send_to_lookers`): about 8 ms of writes on this host.
LOOKING_SLICE: Final = 250


@dataclass(eq=False)
class Watcher:
    """One websocket's view of one event: a capped queue of encoded messages."""

    event_id: str
    user_id: str | None
    cap: int
    address: str | None = None  # the client's, for the cap on anonymous sockets
    queue: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    needs_snapshot: bool = True
    overflows: int = 0
    # Set by the websocket once accepted, if the server offers direct frame writes.
    sink: FrameSink | None = None
    # True while the socket's writer task is sending: a direct write then would overtake it.
    busy: bool = True
    # State messages (`room`, `queue`) not sent yet, the latest of each kind only.
    notices: dict[str, bytes] = field(default_factory=dict)
    # The last message and the close (code, reason) when the event itself is gone.
    final: tuple[bytes, int, str] | None = None
    # A looker watches a sale it cannot buy in yet: someone in (or outside) the waiting
    # room of an event that has one. Its map stays true, a second behind instead of
    # 25 ms: on the on-sale night the thousands waiting would otherwise cost the few
    # hundred shopping most of the server (issue 13: the sale must not drown in its
    # audience). Set by the queue feed (`LiveHub.set_looking`).
    looking: bool = False

    def __post_init__(self) -> None:
        # A new watcher's first job is its snapshot.
        self.wake.set()

    def push(self, data: str, frame: Framed | None = None) -> bool:
        """Send `data` (whose websocket frame is `frame`, if the caller built it): written
        straight to the socket when nothing is ahead of it (True), else queued for the
        writer task (False)."""
        if (
            frame is not None
            and self.sink is not None
            and not self.busy
            and not self.needs_snapshot
            and not self.queue
        ):
            try:
                if self.sink.write(frame):
                    return True
            except Exception:  # the transport broke under us: the writer task takes over
                log.exception("direct websocket write failed; using the ASGI path for it")
                self.sink = None
        if len(self.queue) >= self.cap:
            # Too far behind: what it missed is replaced by a snapshot.
            self.queue.clear()
            self.needs_snapshot = True
            self.overflows += 1
        self.queue.append(data)
        self.wake.set()
        return False

    def notify(self, kind: str, data: bytes, frame: Framed | None = None) -> bool:
        """Send a state message of which only the latest matters (the room's counters, the
        user's place): written straight to the socket when nothing is ahead of it (True),
        else kept for the writer task in place of any unsent one of its kind (False). The
        writer sends it after the snapshot and the queued changes, so a snapshot never
        drops it and a socket that does not read holds at most one of each kind."""
        if (
            frame is not None
            and self.sink is not None
            and not self.busy
            and not self.needs_snapshot
            and not self.queue
            and not self.notices
        ):
            try:
                if self.sink.write(frame):
                    return True
            except Exception:
                log.exception("direct websocket write failed; using the ASGI path for it")
                self.sink = None
        self.notices[kind] = data
        self.wake.set()
        return False

    def end(self, message: bytes, code: int, reason: str) -> None:
        """The event is gone: send `message`, then close with `code` (nothing else)."""
        self.queue.clear()
        self.notices.clear()
        self.final = (message, code, reason)
        self.wake.set()

    def resync(self) -> None:
        self.queue.clear()
        self.needs_snapshot = True
        self.wake.set()


class SharedReads:
    """Concurrent snapshot reads of one event share one database read.

    A read is shared only by the requests made before it started: a request arriving
    while a read is already running waits for the next one. So every watcher still gets
    a state read after it asked (and after it was registered for changes), which is what
    guarantees it misses nothing; 5,000 watchers connecting at once cost a handful of
    reads instead of 5,000. `memo` lets callers keep what they derive from one read
    (the anonymous snapshot message) for everyone who shares it.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.reads = 0

    async def read(
        self, key: str, load: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, dict[Any, Any]]:
        future = self._waiting.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(_consume)
            self._waiting[key] = future
            task = asyncio.ensure_future(self._load(key, future, load))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(future)  # one waiter leaving does not cancel the read

    async def _load(
        self, key: str, future: asyncio.Future[Any], load: Callable[[], Awaitable[Any]]
    ) -> None:
        previous = self._running.get(key)
        if previous is not None:
            await asyncio.wait({previous})
        # From here on, new requests queue for the next read.
        if self._waiting.get(key) is future:
            del self._waiting[key]
        task = asyncio.current_task()
        assert task is not None
        self._running[key] = task
        try:
            self.reads += 1
            result = await load()
            if not future.done():
                future.set_result((result, {}))
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if self._running.get(key) is task:
                del self._running[key]

    async def finish(self, seconds: float) -> None:
        """Wait (at most `seconds`) for the reads in flight. Shielded from their sockets,
        a read outlives them, and the app must not close its database under it: nor let
        the event loop's end cancel it, which leaves a SQLite connection being opened in
        aiosqlite's thread to answer a closed loop."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)


def _consume(future: asyncio.Future[Any]) -> None:
    # Nobody may be left to await a failed read; retrieve the error so it is not logged.
    if not future.cancelled():
        future.exception()


def public_seat(change: dict[str, Any], user_id: str | None) -> dict[str, Any]:
    """A published change as `user_id` sees it. A change is read at its commit, so its
    status needs no expiry check; `mine` is the one rule of `backend/seats.py`."""
    return live_seat(
        change["id"],
        change["version"],
        change["status"],
        change.get("heldUntil"),
        is_mine(change["status"], change.get("holder"), user_id),
    )


def _never() -> bool:
    return False


def encode_batch(changes: list[dict[str, Any]], user_id: str | None, at: int | None = None) -> str:
    seats = [public_seat(c, user_id) for c in changes]
    if at is not None:
        return msgspec.json.encode({"type": "seats", "at": at, "changes": seats}).decode()
    return msgspec.json.encode({"type": "seats", "changes": seats}).decode()


def _keep_newest(pending: dict[str, dict[str, Any]], changes: Iterable[dict[str, Any]]) -> None:
    """Gather `changes` into `pending` by seat: within a batch only a seat's newest
    state goes out."""
    for change in changes:
        current = pending.get(change["id"])
        if current is None or change["version"] > current["version"]:
            pending[change["id"]] = change


class _Outgoing:
    """One `seats` message of a batch of changes: encoded once, plus once per watching
    owner of a changed seat (for `mine`), when the first socket needs it."""

    def __init__(self, pending: dict[str, dict[str, Any]], at: int | None) -> None:
        self.changes = list(pending.values())
        self.at = at
        self.public = encode_batch(self.changes, None, at)
        self.public_frame = Framed(self.public)
        self.owners = {c["holder"] for c in self.changes if c.get("holder")}
        self.variants: dict[str, tuple[str, Framed]] = {}
        self.counted = False
        self._encodings = 1

    def send(self, watcher: Watcher) -> bool:
        """Push it to `watcher`; True if written straight to the socket."""
        user_id = watcher.user_id
        if user_id is not None and user_id in self.owners:
            variant = self.variants.get(user_id)
            if variant is None:
                data = encode_batch(self.changes, user_id, self.at)
                variant = self.variants[user_id] = (data, Framed(data))
                self._encodings += 1
            return watcher.push(*variant)
        return watcher.push(self.public, self.public_frame)

    def take_encodings(self) -> int:
        """Encodings made since the last call (for the hub's count)."""
        made, self._encodings = self._encodings, 0
        return made


class LiveHub:
    def __init__(
        self,
        channel: SeatChannel,
        batch_ms: int = 25,
        backlog: int = 256,
        sends_per_second: int = 40_000,
        *,
        commit_stamps: bool = False,
        yield_ms: int = 0,
        sale_sends_per_second: float = 5_000,
    ) -> None:
        self.channel = channel
        # Whether this process is writing bookings now (`WriteBatcher.writing`, set by
        # Services), the longest a shoppers' batch may wait for them (0: never), and the
        # fan-out budget that decides how long it waits (the note after
        # MAX_BATCH_SECONDS; `sale_wait`).
        self.writing: Callable[[], bool] = _never
        self.yield_seconds = yield_ms / 1000
        self.sale_sends_per_second = sale_sends_per_second
        self._pending_since: dict[str, float] = {}  # when each pending batch began
        self.held_back = 0  # windows that ended with bookings being written, batch held
        # With LIVE_COMMIT_STAMPS=1, each `seats` message also carries `"at"`: the commit
        # time (epoch ms) of its oldest change, so a client can time commit-to-socket (the
        # benchmark does). Off by default: the message stays exactly as documented.
        self.commit_stamps = commit_stamps
        self.batch_seconds = batch_ms / 1000
        self.sends_per_second = sends_per_second
        self.backlog = backlog
        self.watchers: dict[str, set[Watcher]] = {}
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}
        self._pending_at: dict[str, int] = {}  # oldest commit stamp per pending batch
        # The same for lookers: every change is gathered here too, whoever is looking
        # now, so a watcher that starts or stops looking between two windows misses
        # nothing (a change it already had comes again; the client keeps the newer
        # version).
        self._looking_pending: dict[str, dict[str, dict[str, Any]]] = {}
        self._looking_at: dict[str, int] = {}
        # Lookers' batches going out, per event, oldest first (pending changes, commit
        # stamp), and the task sending them in slices (`_send_to_lookers`).
        self._looking_sending: dict[str, list[tuple[dict[str, dict[str, Any]], int | None]]] = {}
        self._looking_sends: dict[str, asyncio.Task[None]] = {}
        self.snapshot_reads = SharedReads()
        self._unsent: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.published = 0
        self.batches = 0
        self.encodings = 0
        self.resyncs = 0
        self.sent_direct = 0  # batch deliveries written straight to a socket
        self.sent_queued = 0  # batch deliveries left to a socket's writer task
        self._anonymous: Counter[str] = Counter()  # anonymous watchers by client address
        # Signed-in watchers by account (the per-account cap is checked on every sign-in
        # of a socket: counting them by walking every watcher cost 10 % of a process
        # while 5,000 sockets signed in at an on-sale's opening).
        self._by_user: Counter[str] = Counter()
        # The same sockets by event and account: the waiting room's news for a few
        # accounts reaches their sockets without walking the event's whole audience
        # (3.2 % of a worker's samples during `make bench onsale`, py-spy).
        self._of_user: dict[tuple[str, str], set[Watcher]] = {}
        # The watchers not looking (shoppers), by event: the shoppers' window goes to
        # them alone, and walking the whole audience for them on every window (tens a
        # second during a sale, 4,500 sockets a worker) was 3.8 % of a worker's samples
        # in `make bench onsale` (py-spy).
        self._shoppers: dict[str, set[Watcher]] = {}
        # Sockets closed by a limit, by reason (too_slow, anonymous_limit, user_limit).
        self.limit_closes: Counter[str] = Counter()
        self._snapshots: dict[str, bytes] = {}  # the last anonymous snapshot per event
        # Called with (event id, user ids) when a process announces that these accounts'
        # places in the event's waiting room changed (admitted, expired, abandoned).
        self.queue_listeners: list[Callable[[str, list[str]], None]] = []

    # ------------------------------------------------------------ publishing

    async def publish(self, event_id: str, changes: list[SeatChange]) -> None:
        """Put committed changes on the event's channel; log, never raise, on failure."""
        payload = {
            "at": int(time.time() * 1000),
            "changes": [
                {
                    "id": c.id,
                    "status": c.status,
                    "version": c.version,
                    "heldUntil": iso_from_ms(c.held_until_ms),
                    "holder": c.holder,
                }
                for c in changes
            ],
        }
        try:
            await self.channel.publish(event_id, msgspec.json.encode(payload))
            self.published += 1
        except Exception as exc:
            # Nobody will hear of this change: resync this process's watchers now, and
            # every process's once the channel takes a resync marker again.
            log.warning("publish to live channel failed (watchers will resync): %s", exc)
            self._unsent.add(event_id)
            self._resync_event(event_id)

    async def publish_queue(self, event_id: str, user_ids: list[str]) -> None:
        """Tell every process that these accounts' places changed, so each one pushes
        the news to their sockets at once; log, never raise (the next round of each
        process's queue feed brings it anyway)."""
        try:
            await self.channel.publish(event_id, msgspec.json.encode({"queue": user_ids}))
        except Exception as exc:
            log.warning("publish of waiting-room news failed (sent at the next round): %s", exc)

    async def publish_deleted(self, event_id: str) -> None:
        """Tell every process's watchers of the event that it was deleted; they get
        `{"type": "event", "eventId", "status": "deleted"}` and their socket closes with
        4410. Retried like a resync marker while the channel is down (a watcher that
        misses it still finds the event gone: 404 on every request, 4404 on reconnect)."""
        try:
            await self.channel.publish(event_id, DELETED_MARKER)
        except Exception as exc:
            log.warning("announcing the deletion of %s failed: %s", event_id, exc)
            self._end_event(event_id)

    async def publish_cancelled(
        self, event_id: str, cancelled_at: str, reason: str | None, freed: list[SeatChange]
    ) -> None:
        """Tell every process's watchers that the event was cancelled: its freed seats as
        any change (or, past CANCEL_CHANGES_MAX of them, a fresh snapshot each: cheaper
        than one huge message), then `{"type": "event", "eventId", "status":
        "cancelled", "cancelledAt", "cancelReason"}`; their sockets stay open (the map
        shows the event as cancelled). Told to this process's watchers at once if the
        channel is down (a page opened later reads `cancelledAt` from the event itself)."""
        if len(freed) > CANCEL_CHANGES_MAX:
            self.announce_resync([event_id])
        elif freed:
            await self.publish(event_id, freed)
        try:
            await self.channel.publish(
                event_id, msgspec.json.encode({"cancelled": cancelled_at, "reason": reason})
            )
        except Exception as exc:
            log.warning("announcing the cancellation of %s failed: %s", event_id, exc)
            self._tell_cancelled(event_id, cancelled_at, reason)

    async def publish_door(
        self, event_id: str, checked_in: int, booked: int, user_ids: list[str]
    ) -> None:
        """Tell every process's sockets of these accounts (the event's organiser and door
        staff) the event's check-in count: `{"type": "door", "eventId", "checkedIn",
        "booked"}`, the latest only (a socket that does not read holds one). Nobody else
        hears it. Log, never raise: the pages read the count again now and then."""
        message = {"door": {"checkedIn": checked_in, "booked": booked, "to": user_ids}}
        try:
            await self.channel.publish(event_id, msgspec.json.encode(message))
        except Exception as exc:
            log.warning("publish of a check-in count failed (read at the next poll): %s", exc)

    def _tell_door(self, event_id: str, door: dict[str, Any]) -> None:
        to = door.get("to")
        if not isinstance(to, list):
            return
        accounts = {u for u in to if isinstance(u, str)}
        message = msgspec.json.encode(
            {
                "type": "door",
                "eventId": event_id,
                "checkedIn": door.get("checkedIn"),
                "booked": door.get("booked"),
            }
        )
        for watcher in self.watchers.get(event_id, ()):
            if watcher.user_id in accounts:
                watcher.notify("door", message)

    def _tell_cancelled(self, event_id: str, cancelled_at: Any, reason: Any) -> None:
        # The freed seats came first on the channel: out before the news, not a window
        # after it (their timers then find nothing pending).
        self._flush(event_id)
        self._flush_looking(event_id)
        message = msgspec.json.encode(
            {
                "type": "event",
                "eventId": event_id,
                "status": "cancelled",
                "cancelledAt": cancelled_at if isinstance(cancelled_at, str) else None,
                "cancelReason": reason if isinstance(reason, str) else None,
            }
        )
        for watcher in list(self.watchers.get(event_id, ())):
            watcher.notify("event", message)

    def _end_event(self, event_id: str) -> None:
        message = msgspec.json.encode({"type": "event", "eventId": event_id, "status": "deleted"})
        for watcher in list(self.watchers.get(event_id, ())):
            watcher.end(message, WS_4410_EVENT_DELETED, "event deleted")

    async def _resend_markers(self) -> None:
        while True:
            await asyncio.sleep(RESEND_SECONDS)
            for event_id in list(self._unsent):
                try:
                    await self.channel.publish(event_id, RESYNC_MARKER)
                except Exception:
                    break  # still down; try again later
                self._unsent.discard(event_id)

    def announce_resync(self, event_ids: list[str]) -> None:
        """Have every process send these events' watchers a fresh snapshot (the resync
        marker goes out on each event's channel within RESEND_SECONDS, retried while
        the channel is down)."""
        self._unsent.update(event_ids)

    # -------------------------------------------------------------- watchers

    def watch(self, event_id: str, user_id: str | None, address: str | None = None) -> Watcher:
        watcher = Watcher(event_id=event_id, user_id=user_id, cap=self.backlog, address=address)
        self.watchers.setdefault(event_id, set()).add(watcher)
        self._count_shopper(watcher, 1)  # not looking yet
        self._count_anonymous(watcher, 1)
        self._count_user(watcher, 1)
        return watcher

    def identify(self, watcher: Watcher, user_id: str) -> None:
        """The watcher's socket signed in as `user_id`: it is no longer anonymous."""
        self._count_anonymous(watcher, -1)
        self._count_user(watcher, -1)
        watcher.user_id = user_id
        self._count_user(watcher, 1)

    def unwatch(self, watcher: Watcher) -> None:
        group = self.watchers.get(watcher.event_id)
        if group is None or watcher not in group:
            return
        self._count_user(watcher, -1)  # while it is still in the group
        self._count_shopper(watcher, -1)
        group.discard(watcher)
        self._count_anonymous(watcher, -1)
        watcher.queue.clear()
        if not group:
            # The last watcher of this event left: keep no per-event state behind.
            del self.watchers[watcher.event_id]
            self._snapshots.pop(watcher.event_id, None)
            self._snapshots.pop(f"{watcher.event_id}:compact", None)
            self._pending.pop(watcher.event_id, None)
            self._pending_at.pop(watcher.event_id, None)
            self._pending_since.pop(watcher.event_id, None)
            self._looking_pending.pop(watcher.event_id, None)
            self._looking_at.pop(watcher.event_id, None)

    def shared_snapshot(self, key: str, encoded: bytes) -> bytes:
        """`encoded`, or the equal encoding kept for `key` (an event's id, or its compact
        form): sockets that are still being sent an earlier read's snapshot (slowly, or
        never, until their deadline) and sockets of a later read of the same state share
        one copy, instead of each read keeping its own (7.9 MB for 100,000 seats). One
        encoding is kept per watched event, and dropped with its last watcher."""
        last = self._snapshots.get(key)
        if last == encoded:
            return last
        self._snapshots[key] = encoded
        return encoded

    def watcher_count(self) -> int:
        return sum(len(group) for group in self.watchers.values())

    def anonymous_count(self, address: str) -> int:
        """Anonymous sockets from one client address in this process."""
        return self._anonymous[address]

    def _count_anonymous(self, watcher: Watcher, step: int) -> None:
        if watcher.user_id is not None or watcher.address is None:
            return
        count = self._anonymous[watcher.address] + step
        if count > 0:
            self._anonymous[watcher.address] = count
        else:
            self._anonymous.pop(watcher.address, None)  # no entry kept per address ever seen

    def _count_user(self, watcher: Watcher, step: int) -> None:
        user_id = watcher.user_id
        if user_id is None or watcher not in self.watchers.get(watcher.event_id, ()):
            return
        count = self._by_user[user_id] + step
        if count > 0:
            self._by_user[user_id] = count
        else:
            self._by_user.pop(user_id, None)
        key = (watcher.event_id, user_id)
        if step > 0:
            self._of_user.setdefault(key, set()).add(watcher)
        elif (sockets := self._of_user.get(key)) is not None:
            sockets.discard(watcher)
            if not sockets:
                del self._of_user[key]

    def sockets_of(self, event_id: str, user_id: str) -> list[Watcher]:
        """The account's sockets watching the event in this process."""
        return list(self._of_user.get((event_id, user_id), ()))

    def _count_shopper(self, watcher: Watcher, step: int) -> None:
        """Add a watching shopper to its event's shoppers (1), or take a watcher out (-1)."""
        event_id = watcher.event_id
        if step > 0:
            self._shoppers.setdefault(event_id, set()).add(watcher)
            return
        shoppers = self._shoppers.get(event_id)
        if shoppers is not None:
            shoppers.discard(watcher)
            if not shoppers:
                del self._shoppers[event_id]

    def lookers(self, event_id: str) -> int:
        """How many of the event's watchers in this process are looking."""
        return len(self.watchers.get(event_id, ())) - len(self._shoppers.get(event_id, ()))

    def user_watcher_count(self, user_id: str) -> int:
        """Signed-in sockets of one account in this process (the per-user cap)."""
        return self._by_user[user_id]

    # --------------------------------------------------------------- reading

    async def on_startup(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="live-hub"),
            asyncio.create_task(self._resend_markers(), name="live-hub-resend"),
        ]

    async def on_shutdown(self) -> None:
        tasks = [*self._tasks, *self._looking_sends.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)
        self._tasks = []
        await self.snapshot_reads.finish(2)

    async def _run(self) -> None:
        while True:
            try:
                async for event_id, data in self.channel.messages():
                    if event_id == RESYNC:
                        self.resync_all()
                    elif event_id in self.watchers:
                        self._gather(event_id, data)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live hub reader failed; restarting and resyncing")
                self.resync_all()
                await asyncio.sleep(0.5)

    def resync_all(self) -> None:
        self.resyncs += 1
        for group in self.watchers.values():
            for watcher in group:
                watcher.resync()

    def _resync_event(self, event_id: str) -> None:
        for watcher in self.watchers.get(event_id, ()):
            watcher.resync()

    def _gather(self, event_id: str, data: bytes) -> None:
        try:
            message = msgspec.json.decode(data)
        except msgspec.DecodeError:
            log.warning("undecodable live message on event %s", event_id)
            return
        if not isinstance(message, dict):
            log.warning("unexpected live message on event %s", event_id)
            return
        if message.get("resync"):
            self._resync_event(event_id)
            return
        if message.get("deleted"):
            self._end_event(event_id)
            return
        door = message.get("door")
        if isinstance(door, dict):
            self._tell_door(event_id, door)
            return
        if "cancelled" in message:
            self._tell_cancelled(event_id, message["cancelled"], message.get("reason"))
            return
        users = message.get("queue")
        if isinstance(users, list):
            for listener in self.queue_listeners:
                listener(event_id, [u for u in users if isinstance(u, str)])
            return
        changes = message.get("changes", [])
        stamp = message.get("at") if self.commit_stamps else None
        loop = asyncio.get_running_loop()
        if self._add(self._pending, self._pending_at, event_id, changes, stamp):
            self._pending_since[event_id] = loop.time()
            window = self._window(event_id)
            if window > 0:
                loop.call_later(window, self._flush, event_id)
            else:
                loop.call_soon(self._flush, event_id)
        if self._add(self._looking_pending, self._looking_at, event_id, changes, stamp):
            loop.call_later(self._looking_window(event_id), self._flush_looking, event_id)

    @staticmethod
    def _add(
        pending_by_event: dict[str, dict[str, dict[str, Any]]],
        stamps: dict[str, int],
        event_id: str,
        changes: list[dict[str, Any]],
        stamp: Any,
    ) -> bool:
        """Gather `changes` into an event's pending batch; True if it is a new batch."""
        first = event_id not in pending_by_event
        pending = pending_by_event.setdefault(event_id, {})
        if isinstance(stamp, int):
            at = stamps.get(event_id)
            stamps[event_id] = stamp if at is None else min(at, stamp)
        _keep_newest(pending, changes)
        return first

    def _window(self, event_id: str) -> float:
        """The shoppers' batch window for an event: LIVE_BATCH_MS, widened for a large
        audience of shoppers (lookers have their own, `_looking_window`)."""
        audience = len(self._shoppers.get(event_id, ()))
        return max(self.batch_seconds, min(MAX_BATCH_SECONDS, audience / self.sends_per_second))

    def _looking_window(self, event_id: str) -> float:
        lookers = self.lookers(event_id)
        return max(LOOKING_SECONDS, min(MAX_LOOKING_SECONDS, lookers / LOOKING_SENDS_PER_SECOND))

    def sale_wait(self, event_id: str) -> float:
        """How long an event's shoppers' batch may wait for bookings being written: long
        enough that this process sends its shoppers at most `sale_sends_per_second`
        frames a second, at most `yield_seconds` (0 when that is 0)."""
        shoppers = len(self._shoppers.get(event_id, ()))
        return min(self.yield_seconds, shoppers / self.sale_sends_per_second)

    def _flush(self, event_id: str) -> None:
        if self.yield_seconds > 0 and event_id in self._pending and self.writing():
            loop = asyncio.get_running_loop()
            waited = loop.time() - self._pending_since.get(event_id, loop.time())
            bound = self.sale_wait(event_id)
            if waited < bound:
                # Bookings first: the batch waits (and grows) while they are written.
                self.held_back += 1
                # Looked at again a window later (at least YIELD_POLL_SECONDS: with
                # LIVE_BATCH_MS=0 the window is 0), or at the bound if that comes first.
                wait = min(max(self._window(event_id), YIELD_POLL_SECONDS), bound - waited)
                loop.call_later(max(wait, 0.001), self._flush, event_id)
                return
        self._pending_since.pop(event_id, None)
        pending = self._pending.pop(event_id, None)
        at = self._pending_at.pop(event_id, None)
        shoppers = self._shoppers.get(event_id)
        if pending and shoppers:
            self._deliver(pending, at, list(shoppers))

    def _flush_looking(self, event_id: str) -> None:
        """The lookers' window ended: their batch goes out, in slices (`_send_to_lookers`),
        after any earlier batch still going out."""
        pending = self._looking_pending.pop(event_id, None)
        at = self._looking_at.pop(event_id, None)
        if not pending or not self.watchers.get(event_id):
            return
        self._looking_sending.setdefault(event_id, []).append((pending, at))
        if event_id not in self._looking_sends:
            self._looking_sends[event_id] = asyncio.create_task(
                self._send_to_lookers(event_id), name="live-hub-lookers"
            )

    async def _send_to_lookers(self, event_id: str) -> None:
        """Send the event's lookers' batches, oldest first, each in slices of
        LOOKING_SLICE sockets with a turn of the event loop between two slices.

        On the on-sale night a worker's lookers are thousands of sockets; written in one
        go, their batch stopped the loop for 0.15-0.19 s every second (a watchdog's
        stacks during `make bench onsale`), and the admitted shoppers' holds and
        bookings waited behind it. Now a hold waits for one slice at most. Lookers are a
        second behind by design; the slices add a few milliseconds to that. A watcher
        that stops looking meanwhile is sent what is still going out at once
        (`set_looking`), and the slices skip whoever is no longer looking or watching."""
        try:
            while batches := self._looking_sending.get(event_id):
                pending, at = batches[0]
                group = self.watchers.get(event_id, ())
                lookers = [w for w in group if w.looking]
                outgoing = _Outgoing(pending, at)
                for start in range(0, len(lookers), LOOKING_SLICE):
                    if start:
                        await asyncio.sleep(0)  # let the loop serve what waits
                        group = self.watchers.get(event_id, ())
                    self._send(
                        outgoing,
                        [
                            w
                            for w in lookers[start : start + LOOKING_SLICE]
                            if w.looking and w in group
                        ],
                    )
                batches.pop(0)
        except Exception:
            log.exception("sending the lookers' batch of %s failed; resyncing them", event_id)
            self._resync_event(event_id)
        finally:
            # No await since the loop's last check: a flush after this starts a new task.
            self._looking_sends.pop(event_id, None)
            self._looking_sending.pop(event_id, None)

    def sending_to_lookers(self, event_id: str) -> bool:
        """True while a lookers' batch of the event is still going out (for tests)."""
        return event_id in self._looking_sends

    def set_looking(self, watcher: Watcher, looking: bool) -> None:
        """Move a watcher between the shoppers' pace and the lookers'. Either way it is
        sent at once what the pace it leaves would still have sent it and the new one
        will not: one who stops looking (admitted), the lookers' batches still going out
        (their slices skip it now) and their pending batch, all it may have missed since
        its last batch or snapshot; one who starts looking, the shoppers' pending batch
        (their window skips it now). From then on the new pace's batches cover the rest.
        A change it already had comes again; the client keeps the newer version."""
        if watcher.looking == looking:
            return
        watcher.looking = looking
        event_id = watcher.event_id
        if watcher in self.watchers.get(event_id, ()):
            self._count_shopper(watcher, -1 if looking else 1)
        batches: list[tuple[dict[str, dict[str, Any]], int | None]] = []
        if looking:
            if event_id in self._pending:
                batches.append((self._pending[event_id], self._pending_at.get(event_id)))
        else:
            batches.extend(self._looking_sending.get(event_id, ()))
            if event_id in self._looking_pending:
                batches.append((self._looking_pending[event_id], self._looking_at.get(event_id)))
        if batches:
            merged: dict[str, dict[str, Any]] = {}
            stamps = [at for _, at in batches if at is not None]
            for pending, _ in batches:
                _keep_newest(merged, pending.values())
            self._deliver(merged, min(stamps) if stamps else None, [watcher])

    def _deliver(
        self, pending: dict[str, dict[str, Any]], at: int | None, watchers: list[Watcher]
    ) -> None:
        """One `seats` message of these changes to each of `watchers`."""
        if watchers:
            self._send(_Outgoing(pending, at), watchers)

    def _send(self, outgoing: _Outgoing, watchers: list[Watcher]) -> None:
        for watcher in watchers:
            if outgoing.send(watcher):
                self.sent_direct += 1
            else:
                self.sent_queued += 1
        if not outgoing.counted:
            outgoing.counted = True
            self.batches += 1
        self.encodings += outgoing.take_encodings()
