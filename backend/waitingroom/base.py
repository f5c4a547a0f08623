"""The waiting-room store interface: one event's queue, its shoppers and its counters.

A room admits a bounded number of shoppers in a fair order (issue 12). This is its state
only; HTTP, the live channel and the event's configuration live elsewhere, and every
method that depends on the time takes it as `now_ms` (epoch milliseconds): the caller
owns the clock.

Places. Each account has at most one live place: `join` again (any tab, any device,
any app process, at once) returns the same place. Someone who joins before the sale
opens goes into the pre-queue with a secret random ticket drawn from `secrets`;
someone who joins once it is open goes to the back, in the order the store received
the joins. Every pre-queue ticket sorts before every later join, so at the opening the
pre-queue becomes a uniformly random permutation ahead of everyone who came after, and
nothing the store does afterwards reorders people already placed. Nothing needs to
move at the opening: the order was fixed as people joined and is only revealed then,
which is why the opening is cheap, atomic and the same for every app process. Before
the opening a waiter's `position` and `ahead` are None (the draw is not public yet).

Opening. `join` records the sale time it is given (`None`: on sale now); the first call
of any method at or after it opens the room, once. The time may still move while the
room is closed (the caller passes the event's current `onSaleAt`); a room, once open,
stays open. App processes should pass clocks that agree: the room opens at the
earliest `now_ms` any of them reports.

States. `waiting` (in the queue or pre-queue), `admitted` (shopping until
`admitted_until_ms`), `left` (left the queue, finished shopping — booked or gave up —
or abandoned: their sockets were gone too long), `expired` (their shopping window ran
out), `none` (never joined, or the room's state was lost). `left` and `expired` are
not bans: `join` puts such an account at the back as a new place, behind everyone who
waited. An admitted shopper whose window has run out reads as `expired` at once, but
keeps its slot until `expire_shoppers` reaps it and tells the caller to release its
holds.

Slots. `admit` fills free slots (`max_shoppers` minus those shopping) in queue order,
atomically, so concurrent calls from any number of processes never exceed the bound.
A slot frees only through a call that reports who freed it: `expire_shoppers`,
`finish`, `leave` or `abandon`. Reap first, then admit, on each tick.

Presence. The caller reports life with `touch` while the user has at least one socket
open (a heartbeat every few seconds, from each app process holding one of their
sockets) and on every status poll; `abandon(grace_ms)` then drops waiters and frees
shoppers not seen for longer than `grace_ms`. `join` counts as being seen. The grace
must be a few heartbeats long. Being admitted counts as being seen too: a new shopper
gets the whole grace to show up, however long ago they were last seen waiting.

Restarts. In services mode the room lives in Redis, so an app process restart loses
nobody's place. The room's state is lost with Redis unless Redis persists it (the
event's configuration stays in the database): every method then behaves as for a
room nobody has joined (`none`, nothing to admit, zeros). `born`, drawn when a room's
state is created, tells the caller that this happened: a `dump` taken before carries
another `born`, and `restore` brings its places back (see `restore`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

# Pre-queue tickets are drawn from [0, TICKET_SPAN); joins after the opening score
# TICKET_SPAN + their arrival number, so every ticket sorts before every later join.
# 2**52 keeps all scores exact in a Redis sorted set (IEEE doubles, 53-bit integers).
TICKET_BITS = 52
TICKET_SPAN = 1 << TICKET_BITS


class WaitingRoomNotStarted(RuntimeError):
    """Raised when a waiting-room store is used before `on_startup`."""


class QueueState(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    LEFT = "left"
    EXPIRED = "expired"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """One account's place: `position` is 1-based and `ahead` = position - 1, both only
    for a waiter in an open room; `admitted_until_ms` for a shopper (live or expired)."""

    state: QueueState
    position: int | None = None
    ahead: int | None = None
    admitted_until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """A shopper let in by `admit`, and when their window ends."""

    user_id: str
    admitted_until_ms: int


@dataclass(frozen=True, slots=True)
class Abandoned:
    """Who `abandon` removed: shoppers (their holds should be released) and waiters."""

    shoppers: list[str] = field(default_factory=list)
    waiters: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RoomSummary:
    """The room's counters for organisers and watchers.

    `waiting` counts the pre-queue too. `opened_at_ms` is None until some call has
    opened the room. `admitted_total` only grows; with the first and last admission
    times the caller can estimate the admission rate (or sample it over time).
    """

    waiting: int = 0
    shopping: int = 0
    admitted_total: int = 0
    opens_at_ms: int | None = None
    opened_at_ms: int | None = None
    first_admitted_at_ms: int | None = None
    last_admitted_at_ms: int | None = None
    born: int | None = None  # which state of the store this is (None: nobody joined)

    def admission_rate(self) -> float | None:
        """Admissions per second between the first and the last admission, if measurable."""
        if self.first_admitted_at_ms is None or self.last_admitted_at_ms is None:
            return None
        span_ms = self.last_admitted_at_ms - self.first_admitted_at_ms
        if span_ms <= 0:
            return None
        return self.admitted_total * 1000 / span_ms


@dataclass(frozen=True, slots=True)
class RoomDump:
    """A copy of a room's places and counters, to keep elsewhere and `restore`.

    `queue` holds each waiter's score (pre-queue ticket, or TICKET_SPAN + arrival),
    `shop` each shopper's end of window. Who left or expired is not kept."""

    born: int
    opens_at_ms: int | None
    opened_at_ms: int | None
    arrivals: int
    admitted_total: int
    first_admitted_at_ms: int | None
    last_admitted_at_ms: int | None
    queue: list[tuple[str, int]]
    shop: list[tuple[str, int]]

    def as_json(self) -> dict[str, object]:
        return {
            "born": self.born,
            "opensAt": self.opens_at_ms,
            "openedAt": self.opened_at_ms,
            "arrivals": self.arrivals,
            "admittedTotal": self.admitted_total,
            "firstAdmittedAt": self.first_admitted_at_ms,
            "lastAdmittedAt": self.last_admitted_at_ms,
            "queue": [[u, s] for u, s in self.queue],
            "shop": [[u, s] for u, s in self.shop],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoomDump:
        return cls(
            born=int(data["born"]),
            opens_at_ms=data.get("opensAt"),
            opened_at_ms=data.get("openedAt"),
            arrivals=int(data.get("arrivals") or 0),
            admitted_total=int(data.get("admittedTotal") or 0),
            first_admitted_at_ms=data.get("firstAdmittedAt"),
            last_admitted_at_ms=data.get("lastAdmittedAt"),
            queue=[(str(u), int(s)) for u, s in data.get("queue", [])],
            shop=[(str(u), int(s)) for u, s in data.get("shop", [])],
        )


class WaitingRoomStore(ABC):
    """Per-event waiting rooms: fair places, bounded admission, reaping, counters."""

    @abstractmethod
    async def on_startup(self) -> None:
        """Open connections; called once before use."""

    @abstractmethod
    async def on_shutdown(self) -> None:
        """Close connections."""

    @abstractmethod
    async def join(
        self, event_id: str, user_id: str, now_ms: int, on_sale_at_ms: int | None
    ) -> QueueStatus:
        """Give the account a place (or return the one it has); see the module docstring."""

    @abstractmethod
    async def status(self, event_id: str, user_id: str, now_ms: int) -> QueueStatus:
        """The account's place, without changing it (the call may open the room)."""

    @abstractmethod
    async def leave(self, event_id: str, user_id: str) -> bool:
        """Drop a waiter or free a shopper's slot (state `left`); False if neither."""

    @abstractmethod
    async def finish(self, event_id: str, user_id: str) -> bool:
        """Free a shopper's slot when they are done (state `left`); False if not shopping."""

    @abstractmethod
    async def admit(
        self, event_id: str, now_ms: int, max_shoppers: int, shopper_ms: int, limit: int
    ) -> list[Admission]:
        """Admit up to `limit` waiters in order while fewer than `max_shoppers` shop.

        Their admission time (their window starts then) is `now_ms`, or the room's last
        admission if that is later: each process's admitter reads its clock as its tick
        begins and admits after reaping, so a tick begun earlier can admit later, and
        whoever is admitted later in queue order must not get the earlier time."""

    @abstractmethod
    async def expire_shoppers(self, event_id: str, now_ms: int) -> list[str]:
        """Free the slots whose window has ended (state `expired`); return those users."""

    @abstractmethod
    async def touch(self, event_id: str, user_id: str, now_ms: int) -> bool:
        """Record that the account is present; False if it has no live place."""

    @abstractmethod
    async def present(self, event_id: str, user_ids: list[str], now_ms: int) -> list[QueueStatus]:
        """`touch` each account and read its status, in one step (the live channel's
        heartbeat for every signed-in socket of a room); statuses in the given order."""

    @abstractmethod
    async def abandon(self, event_id: str, now_ms: int, grace_ms: int) -> Abandoned:
        """Drop waiters and free shoppers not seen for longer than `grace_ms` (state `left`)."""

    @abstractmethod
    async def summary(self, event_id: str) -> RoomSummary:
        """The room's counters (read only: it does not open the room)."""

    @abstractmethod
    async def dump(self, event_id: str) -> RoomDump | None:
        """A copy of the room (None if nobody has joined it in this store's state)."""

    async def dump_json(self, event_id: str) -> tuple[int, str] | None:
        """`dump` as its JSON text (`RoomDump.as_json`), with its `born`: the copy the
        database keeps. A store may build the text itself (Redis: in its script, so
        no per-place object is made in the app process)."""
        dump = await self.dump(event_id)
        if dump is None:
            return None
        return dump.born, msgspec.json.encode(dump.as_json()).decode()

    @abstractmethod
    async def restore(self, event_id: str, dump: RoomDump, now_ms: int) -> bool:
        """Bring a dump's places back after the store lost them; False (and nothing
        changes) if the room is still the state the dump was taken from.

        Merged with whatever the room holds since the loss: a restored place wins over
        a newer one of the same account, the accounts who joined since the loss (first
        come, first served) go behind everyone restored in their order, pre-queue
        tickets keep their draw, restored shoppers keep their window, and every
        restored account counts as seen at `now_ms` (the grace starts again). Atomic,
        and at most once per loss: it takes the dump's `born`."""

    @abstractmethod
    async def claim(self, event_id: str, task: str, now_ms: int, every_ms: int) -> bool:
        """True for one caller of all that share the store (every app process) per
        `every_ms` of `now_ms`: the one that does `task` for the room this time (its copy
        to the database). The clock is the caller's, as everywhere in a store."""

    @abstractmethod
    async def clear(self, event_id: str) -> None:
        """Forget the room entirely (its event is over or deleted)."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the backend does not answer."""
