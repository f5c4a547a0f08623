"""The waiting room on the seat map's socket (issue 12, item 5): `room` and `queue` messages.

Every watcher of an event whose waiting room is on gets

    {"type": "room", "waiting", "shopping", "maxShoppers", "admissionsPerMinute",
     "onSaleAt", "open"}

after its snapshot and whenever those change; every signed-in socket of an account gets

    {"type": "queue", "state", "position", "ahead", "etaSeconds", "admittedUntil"?}

(the body of `GET /events/{id}/queue`) after it signs in, and whenever that changes, in
every tab. The work, per process:

* `greet`, after each snapshot a socket is sent: the room's counters and, signed in,
  the account's place.
* `round`, every second, for each watched event with a room that is due (on the
  event's cadence, which widens with the audience so that one process sends at most
  QUEUE_SENDS_PER_SECOND of these a second: one update a second for up to 2,500
  sockets a process, every 2 s for 5,000): one `present` call per 500 signed-in
  accounts records that they are here (an open socket is presence, so a waiter with
  the page open never needs to poll) and reads their places, and each changed one goes
  out; the room's counters go with them when they changed, at most every
  `room_cadence` (slower, for a big audience; a change of the room's settings, at
  once). Waiters further back than NEAR_POSITIONS are read and
  told at most every FAR_SECONDS. What the admitter changes (admitted, expired,
  dropped) goes out at once, through `announce`; a join or leave in another tab, at
  the next cadence.
* It also tells the hub who is shopping: a socket of an account admitted to the room
  gets the seat changes at the shoppers' pace; everyone else on the event's page (in
  the queue, outside it, signed out) looks at the map a second behind
  (`Watcher.looking`), which on the on-sale night is most of the audience.
* `announce`, the admitter's tick listener: whoever it admitted, expired or dropped is
  published on the event's live channel; every process (this one too) pushes those
  accounts' new state to their sockets as soon as it hears it, instead of at its next
  round.

A message is encoded once per account (and once per event for `room`) and written
straight to idle sockets (`Watcher.notify`); only the latest of each kind waits for a
busy one.

A round gives way to the shoppers. Its reads and sends go in slices of SLICE_ACCOUNTS
accounts (SLICE_SOCKETS sockets for `room`), and between two slices it lets the loop
serve what is waiting. While the loop runs late (its lag's recent p99 over GIVE_WAY_MS,
`backend/booking/looplag.py`) it also rests, so that its slices take at most FEED_SHARE
of the loop: at an opening, when thousands of waiters get their first place at once, a
shopper's hold waits behind one slice instead of the whole room's news. News from the
admitter (admitted, expired) does not wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any, Final

import msgspec

from backend.booking.admission import TickReport
from backend.booking.expiry import Periodic
from backend.booking.looplag import LoopLag
from backend.booking.queue import QueueView, RoomView, WaitingRooms
from backend.errors import NotFound
from backend.live.frames import Framed
from backend.live.hub import LiveHub, Watcher

log = logging.getLogger("boxoffice.live")

ROUND_SECONDS: Final = 1.0
# Position and room updates one process sends a second, at most (two per watcher per
# cadence): the seat changes of a sale keep the bigger share of the fan-out budget.
QUEUE_SENDS_PER_SECOND: Final = 5_000
MAX_CADENCE_SECONDS: Final = 5.0
# The room's counters alone (how many wait and shop, the admission rate) go to a
# process's watchers at most this many a second (every 4.5 s for the on-sale's 4,500
# sockets a worker instead of every 1.8 s; at most MAX_CADENCE_SECONDS): a gauge of
# demand needs no more, and every change was a send to every socket of the event (3 %
# of a worker's samples during `make bench onsale`, py-spy). A change of the room's
# settings (its opening, `maxShoppers`) goes on the next round.
ROOM_SENDS_PER_SECOND: Final = 1_000
# Waiters further back than this are read and sent their place at most every
# FAR_SECONDS (their state still comes at once, through `announce`): for the thousands
# at the back of an on-sale's room a place that moves every 6 s is as good, and the
# reads and sends for them were a fifth of a worker during the sale (py-spy).
NEAR_POSITIONS: Final = 1_000
FAR_SECONDS: Final = 6.0
# A round's slices, and how it gives way while the loop is late (module docstring).
SLICE_ACCOUNTS: Final = 250
SLICE_SOCKETS: Final = 500
GIVE_WAY_MS: Final = 50.0
FEED_SHARE: Final = 0.25


def _settings(room: RoomView) -> tuple[Any, ...]:
    """What of a room's message is not its counters."""
    return (room.max_shoppers, room.on_sale_at_ms, room.open)


def queue_message(view: QueueView) -> bytes:
    return msgspec.json.encode({"type": "queue", **view.as_json()})


class QueueFeed(Periodic):
    """Pushes waiting-room state to this process's sockets; see the module docstring."""

    name = "live-queue-feed"
    failure = "live queue feed: round failed"

    def __init__(
        self,
        hub: LiveHub,
        rooms: WaitingRooms,
        *,
        interval: float = ROUND_SECONDS,
        sends_per_second: int = QUEUE_SENDS_PER_SECOND,
        loop_lag: LoopLag | None = None,
    ) -> None:
        super().__init__(interval)
        self.hub = hub
        self.rooms = rooms
        self.loop_lag = loop_lag
        self.rested = 0.0  # seconds this feed's rounds rested to give way (for tests)
        self.sends_per_second = sends_per_second
        self.room_sends_per_second = ROOM_SENDS_PER_SECOND
        self._sent: dict[tuple[str, str], QueueView] = {}  # last place sent per (event, user)
        self._read_at: dict[tuple[str, str], float] = {}  # when a round last read it
        self.near_positions = NEAR_POSITIONS
        self._room_sent: dict[str, RoomView] = {}  # last room message sent per event
        self._room_due: dict[str, float] = {}  # when its counters alone may go again
        self._due: dict[str, float] = {}  # when an event's next position update is due
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0  # queue and room messages handed to sockets
        hub.queue_listeners.append(self._heard)

    # ------------------------------------------------------------- a socket

    async def greet(self, watcher: Watcher) -> None:
        """After a snapshot: the room's counters, and the account's place if signed in.
        Never raises: a socket without them still shows the seats."""
        event_id, user_id = watcher.event_id, watcher.user_id
        try:
            room = await self.rooms.room_view(event_id)
            if room is None:
                self.hub.set_looking(watcher, False)
                return
            self._due.setdefault(event_id, 0.0)  # known to have a room (see _event_round)
            watcher.notify("room", msgspec.json.encode({"type": "room", **room.as_json()}))
            if user_id is None:
                self.hub.set_looking(watcher, True)
                return
            view = await self.rooms.touch_and_read(user_id, event_id)
            self.hub.set_looking(watcher, view.state != "admitted")
            watcher.notify("queue", queue_message(view))
            self._sent[(event_id, user_id)] = view
        except NotFound:
            return  # deleted meanwhile: its watchers are being told
        except Exception as exc:
            log.warning("waiting room state for a new socket on %s failed: %s", event_id, exc)

    # ----------------------------------------------------------- the rounds

    async def round(self) -> None:
        await self.tick()

    async def tick(self, now: float | None = None) -> None:
        """One round at monotonic time `now` (default: the clock's); tests pass it."""
        now = time.monotonic() if now is None else now
        for event_id in list(self.hub.watchers):
            try:
                await self._event_round(event_id, now)
            except Exception as exc:
                log.warning("live queue feed of %s failed (will retry): %s", event_id, exc)
        self._forget_unwatched()

    def cadence(self, audience: int) -> float:
        """Seconds between position and room updates for an event watched by `audience`
        sockets in this process."""
        return min(MAX_CADENCE_SECONDS, max(self.interval, 2 * audience / self.sends_per_second))

    def room_cadence(self, audience: int) -> float:
        """Seconds between two `room` messages that change only the room's counters."""
        return min(MAX_CADENCE_SECONDS, max(self.interval, audience / self.room_sends_per_second))

    async def _event_round(self, event_id: str, now: float) -> None:
        group = self.hub.watchers.get(event_id)
        if not group:
            return
        try:
            room = await self.rooms.room_view(event_id)
        except NotFound:
            room = None  # deleted: its watchers are being told and closed
        if room is None:
            if event_id in self._due:  # its room was switched off: everyone shops now
                for watcher in list(group):
                    self.hub.set_looking(watcher, False)
            self._forget_event(event_id)
            return
        if now < self._due.get(event_id, 0.0):
            return  # changes of state came (and come) at once, through `announce`
        self._due[event_id] = now + self.cadence(len(group))
        last = self._room_sent.get(event_id)
        if last != room and (
            last is None or _settings(last) != _settings(room) or now >= self._room_due[event_id]
        ):
            self._room_sent[event_id] = room
            self._room_due[event_id] = now + self.room_cadence(len(group))
            encoded = msgspec.json.encode({"type": "room", **room.as_json()})
            frame = Framed(encoded)
            watchers = list(group)
            for start in range(0, len(watchers), SLICE_SOCKETS):
                began = time.perf_counter()
                for watcher in watchers[start : start + SLICE_SOCKETS]:
                    watcher.notify("room", encoded, frame)
                    self.sent += 1
                await self._give_way(began)
        await self._push(event_id, group, now=now)

    async def _give_way(self, began: float) -> None:
        """Between two slices of a round (the slice began at `began`): let the loop serve
        what waits, and while it runs late, rest so the round takes at most FEED_SHARE
        of it."""
        rest = 0.0
        if self.loop_lag is not None and self.loop_lag.p99_ms() > GIVE_WAY_MS:
            rest = (time.perf_counter() - began) * (1 / FEED_SHARE - 1)
            self.rested += rest
        await asyncio.sleep(rest)  # a rest, or one turn of the loop (0)

    def _far_and_fresh(self, key: tuple[str, str], now: float) -> bool:
        """A waiter far back whose place a round read less than FAR_SECONDS ago."""
        last = self._sent.get(key)
        return (
            last is not None
            and last.state == "waiting"
            and last.position is not None
            and last.position > self.near_positions
            and now - self._read_at.get(key, -FAR_SECONDS) < FAR_SECONDS
        )

    async def _push(
        self,
        event_id: str,
        group: set[Watcher],
        *,
        only: set[str] | None = None,
        now: float | None = None,
    ) -> None:
        """Read the places of the accounts watching `event_id` (`only` some of them) and
        send each changed one to that account's sockets. A round (`now` given) skips the
        waiters far back that it read less than FAR_SECONDS ago, and goes in slices
        that give way to the shoppers (module docstring); news (`only`) goes at once."""
        sockets: dict[str, list[Watcher]] = defaultdict(list)
        if only is not None:  # news for a few accounts: their sockets, looked up
            for account in only:
                if found := self.hub.sockets_of(event_id, account):
                    sockets[account] = found
        else:
            for watcher in list(group):
                user_id = watcher.user_id
                if user_id is None:
                    continue
                if now is not None and self._far_and_fresh((event_id, user_id), now):
                    continue
                sockets[user_id].append(watcher)
        users = sorted(sockets)
        step = SLICE_ACCOUNTS if now is not None else max(1, len(users))
        for start in range(0, len(users), step):
            began = time.perf_counter()
            views = await self.rooms.present(event_id, users[start : start + step])
            for user_id, view in views.items():
                key = (event_id, user_id)
                if now is not None:
                    self._read_at[key] = now
                last = self._sent.get(key)
                if last == view:
                    continue
                self._sent[key] = view
                encoded = queue_message(view)
                frame = Framed(encoded)
                for watcher in sockets[user_id]:
                    self.hub.set_looking(watcher, view.state != "admitted")
                    watcher.notify("queue", encoded, frame)
                    self.sent += 1
            if start + step < len(users):
                await self._give_way(began)

    # ------------------------------------------------- news from admitters

    async def announce(self, report: TickReport) -> None:
        """The admitter's listener: publish who changed, for every process to push."""
        changed: dict[str, set[str]] = defaultdict(set)
        for by_event in (report.admitted, report.expired, report.abandoned):
            for event_id, users in by_event.items():
                changed[event_id].update(users)
        for event_id, who in changed.items():
            await self.hub.publish_queue(event_id, sorted(who))

    def _heard(self, event_id: str, user_ids: list[str]) -> None:
        """A process announced changed places: push those of them watching here."""
        group = self.hub.watchers.get(event_id)
        if not group or not user_ids:
            return
        task = asyncio.ensure_future(self._push_heard(event_id, group, set(user_ids)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push_heard(self, event_id: str, group: set[Watcher], users: set[str]) -> None:
        try:
            await self._push(event_id, group, only=users)
        except Exception as exc:
            log.warning("waiting-room news for %s not pushed (next round will): %s", event_id, exc)

    # ------------------------------------------------------------ forgetting

    def _forget_event(self, event_id: str) -> None:
        self._room_sent.pop(event_id, None)
        self._room_due.pop(event_id, None)
        self._due.pop(event_id, None)
        for key in [k for k in self._sent if k[0] == event_id]:
            del self._sent[key]
            self._read_at.pop(key, None)

    def _forget_unwatched(self) -> None:
        """Keep nothing for events and accounts no longer watched here."""
        watched = self.hub.watchers
        for event_id in [e for e in self._due if e not in watched]:
            self._forget_event(event_id)
        users_by_event: dict[str, set[str | None]] = {}
        for key in list(self._sent):
            event_id, user_id = key
            users = users_by_event.get(event_id)
            if users is None:
                users = users_by_event[event_id] = {w.user_id for w in watched.get(event_id, ())}
            if user_id not in users:
                del self._sent[key]
                self._read_at.pop(key, None)

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)
