"""In-process waiting rooms: the embedded mode's store and the reference implementation.

No method awaits between reading and writing a room, so on one event loop each call is
atomic, as each Redis script is; an `asyncio.Lock` would guard nothing. (The embedded
mode runs one process with one loop; the store is not for use across threads.)
"""

from __future__ import annotations

import bisect
import secrets
from dataclasses import dataclass, field

from backend.waitingroom.base import (
    TICKET_BITS,
    TICKET_SPAN,
    Abandoned,
    Admission,
    QueueState,
    QueueStatus,
    RoomDump,
    RoomSummary,
    WaitingRoomNotStarted,
    WaitingRoomStore,
)


@dataclass
class _Room:
    opens_at_ms: int | None = None
    opened_at_ms: int | None = None
    arrivals: int = 0
    # The queue as Redis keeps it: score per user, and (score, user) kept sorted, which
    # is a sorted set's order (ties by member).
    scores: dict[str, int] = field(default_factory=dict)
    order: list[tuple[int, str]] = field(default_factory=list)
    shopping: dict[str, int] = field(default_factory=dict)  # user -> admitted until
    seen: dict[str, int] = field(default_factory=dict)  # user -> last seen
    gone: dict[str, QueueState] = field(default_factory=dict)  # user -> left | expired
    admitted_total: int = 0
    first_admitted_at_ms: int | None = None
    last_admitted_at_ms: int | None = None
    born: int = field(default_factory=lambda: secrets.randbits(TICKET_BITS))

    def is_open(self, now_ms: int) -> bool:
        opens = self.opens_at_ms
        if self.opened_at_ms is None and opens is not None and now_ms >= opens:
            self.opened_at_ms = opens
        return self.opened_at_ms is not None

    def enqueue(self, user_id: str, score: int) -> None:
        self.scores[user_id] = score
        bisect.insort(self.order, (score, user_id))

    def dequeue(self, user_id: str) -> bool:
        score = self.scores.pop(user_id, None)
        if score is None:
            return False
        del self.order[bisect.bisect_left(self.order, (score, user_id))]
        return True

    def drop(self, user_id: str, state: QueueState) -> None:
        self.seen.pop(user_id, None)
        self.gone[user_id] = state

    def status(self, user_id: str, now_ms: int) -> QueueStatus:
        is_open = self.is_open(now_ms)
        until = self.shopping.get(user_id)
        if until is not None:
            state = QueueState.ADMITTED if until > now_ms else QueueState.EXPIRED
            return QueueStatus(state, admitted_until_ms=until)
        score = self.scores.get(user_id)
        if score is not None:
            if not is_open:
                return QueueStatus(QueueState.WAITING)
            ahead = bisect.bisect_left(self.order, (score, user_id))
            return QueueStatus(QueueState.WAITING, position=ahead + 1, ahead=ahead)
        return QueueStatus(self.gone.get(user_id, QueueState.NONE))


class MemoryWaitingRoomStore(WaitingRoomStore):
    def __init__(self) -> None:
        self._rooms: dict[str, _Room] | None = None
        self._claims: dict[tuple[str, str], int] = {}  # (event, task): claimed until

    async def on_startup(self) -> None:
        """Start with no rooms."""
        self._rooms = {}

    async def on_shutdown(self) -> None:
        """Forget every room."""
        self._rooms = None

    def _all(self) -> dict[str, _Room]:
        if self._rooms is None:
            raise WaitingRoomNotStarted("MemoryWaitingRoomStore used before on_startup()")
        return self._rooms

    def _room(self, event_id: str) -> _Room:
        """The event's room; an empty one (not stored) when nobody has joined."""
        return self._all().get(event_id) or _Room()

    async def join(
        self, event_id: str, user_id: str, now_ms: int, on_sale_at_ms: int | None
    ) -> QueueStatus:
        """Give the account a place (or return the one it has); see the module docstring."""
        room = self._all().setdefault(event_id, _Room())
        if room.opened_at_ms is None:
            room.opens_at_ms = now_ms if on_sale_at_ms is None else on_sale_at_ms
        is_open = room.is_open(now_ms)
        if user_id not in room.scores and user_id not in room.shopping:
            if is_open:
                room.arrivals += 1
                room.enqueue(user_id, TICKET_SPAN + room.arrivals)
            else:
                room.enqueue(user_id, secrets.randbits(TICKET_BITS))
            room.gone.pop(user_id, None)
        room.seen[user_id] = max(now_ms, room.seen.get(user_id, now_ms))
        return room.status(user_id, now_ms)

    async def status(self, event_id: str, user_id: str, now_ms: int) -> QueueStatus:
        """The account's place, without changing it (the call may open the room)."""
        return self._room(event_id).status(user_id, now_ms)

    async def leave(self, event_id: str, user_id: str) -> bool:
        """Drop a waiter or free a shopper's slot (state `left`); False if neither."""
        room = self._room(event_id)
        if room.shopping.pop(user_id, None) is None and not room.dequeue(user_id):
            return False
        room.drop(user_id, QueueState.LEFT)
        return True

    async def finish(self, event_id: str, user_id: str) -> bool:
        """Free a shopper's slot when they are done (state `left`); False if not shopping."""
        room = self._room(event_id)
        if room.shopping.pop(user_id, None) is None:
            return False
        room.drop(user_id, QueueState.LEFT)
        return True

    async def admit(
        self, event_id: str, now_ms: int, max_shoppers: int, shopper_ms: int, limit: int
    ) -> list[Admission]:
        """Admit up to `limit` waiters in order while fewer than `max_shoppers` shop."""
        room = self._room(event_id)
        if not room.is_open(now_ms):
            return []
        count = min(max_shoppers - len(room.shopping), limit, len(room.order))
        if count <= 0:
            return []
        # Never before the room's last admission (see WaitingRoomStore.admit).
        at = max(now_ms, room.last_admitted_at_ms or now_ms)
        until = at + shopper_ms
        admitted = [user_id for _, user_id in room.order[:count]]
        del room.order[:count]
        for user_id in admitted:
            del room.scores[user_id]
            room.shopping[user_id] = until
            # A new shopper gets the whole grace to show up.
            room.seen[user_id] = max(at, room.seen.get(user_id, at))
        room.admitted_total += count
        if room.first_admitted_at_ms is None:
            room.first_admitted_at_ms = at
        room.last_admitted_at_ms = at
        return [Admission(user_id, until) for user_id in admitted]

    async def expire_shoppers(self, event_id: str, now_ms: int) -> list[str]:
        """Free the slots whose window has ended (state `expired`); return those users."""
        room = self._room(event_id)
        ended = sorted((until, u) for u, until in room.shopping.items() if until <= now_ms)
        for _, user_id in ended:
            del room.shopping[user_id]
            room.drop(user_id, QueueState.EXPIRED)
        return [user_id for _, user_id in ended]

    async def touch(self, event_id: str, user_id: str, now_ms: int) -> bool:
        """Record that the account is present; False if it has no live place."""
        room = self._room(event_id)
        if user_id not in room.scores and user_id not in room.shopping:
            return False
        # Never backwards: heartbeats from app processes with slightly different clocks.
        room.seen[user_id] = max(now_ms, room.seen.get(user_id, now_ms))
        return True

    async def present(self, event_id: str, user_ids: list[str], now_ms: int) -> list[QueueStatus]:
        """`touch` each account and read its status, in the given order."""
        room = self._room(event_id)
        for user_id in user_ids:
            if user_id in room.scores or user_id in room.shopping:
                room.seen[user_id] = max(now_ms, room.seen.get(user_id, now_ms))
        return [room.status(user_id, now_ms) for user_id in user_ids]

    async def abandon(self, event_id: str, now_ms: int, grace_ms: int) -> Abandoned:
        """Drop waiters and free shoppers not seen for longer than `grace_ms` (state `left`)."""
        room = self._room(event_id)
        cutoff = now_ms - grace_ms
        stale = sorted((seen, u) for u, seen in room.seen.items() if seen < cutoff)
        gone = Abandoned()
        for _, user_id in stale:
            if room.shopping.pop(user_id, None) is not None:
                gone.shoppers.append(user_id)
            elif room.dequeue(user_id):
                gone.waiters.append(user_id)
            else:  # not in the room any more: nothing to free
                room.seen.pop(user_id)
                continue
            room.drop(user_id, QueueState.LEFT)
        return gone

    async def summary(self, event_id: str) -> RoomSummary:
        """The room's counters (read only: it does not open the room)."""
        room = self._room(event_id)
        return RoomSummary(
            waiting=len(room.order),
            shopping=len(room.shopping),
            admitted_total=room.admitted_total,
            opens_at_ms=room.opens_at_ms,
            opened_at_ms=room.opened_at_ms,
            first_admitted_at_ms=room.first_admitted_at_ms,
            last_admitted_at_ms=room.last_admitted_at_ms,
            born=room.born if event_id in self._all() else None,
        )

    async def dump(self, event_id: str) -> RoomDump | None:
        """A copy of the room (None if nobody has joined it in this store's state)."""
        room = self._all().get(event_id)
        if room is None:
            return None
        return RoomDump(
            born=room.born,
            opens_at_ms=room.opens_at_ms,
            opened_at_ms=room.opened_at_ms,
            arrivals=room.arrivals,
            admitted_total=room.admitted_total,
            first_admitted_at_ms=room.first_admitted_at_ms,
            last_admitted_at_ms=room.last_admitted_at_ms,
            queue=[(user_id, score) for score, user_id in room.order],
            shop=sorted(room.shopping.items(), key=lambda item: (item[1], item[0])),
        )

    async def restore(self, event_id: str, dump: RoomDump, now_ms: int) -> bool:
        """Bring a dump's places back after the store lost them (see the base class)."""
        room = self._all().setdefault(event_id, _Room())
        if room.born == dump.born:
            return False
        # Those who came first come first served since the loss go behind the restored.
        late = [(s, u) for s, u in room.order if s >= TICKET_SPAN]
        for score, user_id in late:
            room.dequeue(user_id)
            room.enqueue(user_id, score + dump.arrivals)
        room.arrivals += dump.arrivals
        for user_id, score in dump.queue:
            if user_id in room.shopping:
                continue
            room.dequeue(user_id)
            room.enqueue(user_id, score)
            room.gone.pop(user_id, None)
            room.seen[user_id] = now_ms
        for user_id, until in dump.shop:
            room.dequeue(user_id)
            room.shopping[user_id] = until
            room.gone.pop(user_id, None)
            room.seen[user_id] = now_ms
        room.opens_at_ms = dump.opens_at_ms
        if dump.opened_at_ms is not None:
            room.opened_at_ms = dump.opened_at_ms
        room.admitted_total += dump.admitted_total
        firsts = [t for t in (room.first_admitted_at_ms, dump.first_admitted_at_ms) if t]
        lasts = [t for t in (room.last_admitted_at_ms, dump.last_admitted_at_ms) if t]
        room.first_admitted_at_ms = min(firsts) if firsts else None
        room.last_admitted_at_ms = max(lasts) if lasts else None
        room.born = dump.born
        return True

    async def claim(self, event_id: str, task: str, now_ms: int, every_ms: int) -> bool:
        """One process shares this store: its claims are just spaced `every_ms` apart."""
        self._all()
        if now_ms < self._claims.get((event_id, task), now_ms):
            return False
        self._claims[(event_id, task)] = now_ms + every_ms
        return True

    async def clear(self, event_id: str) -> None:
        """Forget the room entirely (its event is over or deleted)."""
        self._all().pop(event_id, None)

    async def ping(self) -> None:
        """Always answers once started."""
        self._all()
