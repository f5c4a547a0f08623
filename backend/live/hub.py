"""The per-process hub between the seat-change channel and this process's websockets.

* `publish` (called by the booking service after commit) encodes changes once and puts
  them on the channel; it never raises: a lost publish is healed by resync, never by
  failing a committed booking.
* `run` reads the channel, gathers the changes for an event over a short window, and
  encodes one message per batch, plus one variant per signed-in user who owns a changed
  seat (so `mine` is right in all of that user's tabs), never one per socket.
* Each watcher's backlog is capped; past the cap its queue is dropped and it gets a
  fresh snapshot instead, so a socket that never reads cannot grow memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec

from backend.booking.records import SeatChange
from backend.live.channel import RESYNC, SeatChannel
from backend.timefmt import iso_from_ms

log = logging.getLogger("boxoffice.live")


@dataclass(eq=False)
class Watcher:
    """One websocket's view of one event."""

    event_id: str
    user_id: str | None
    cap: int
    queue: deque[bytes] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    needs_snapshot: bool = True
    overflows: int = 0

    def push(self, data: bytes) -> None:
        if len(self.queue) >= self.cap:
            # Too far behind: what it missed is replaced by a snapshot.
            self.queue.clear()
            self.needs_snapshot = True
            self.overflows += 1
        self.queue.append(data)
        self.wake.set()

    def resync(self) -> None:
        self.queue.clear()
        self.needs_snapshot = True
        self.wake.set()


def public_seat(change: dict[str, Any], user_id: str | None) -> dict[str, Any]:
    seat: dict[str, Any] = {"id": change["id"], "status": change["status"], "version": change["version"]}
    if change.get("heldUntil") is not None:
        seat["heldUntil"] = change["heldUntil"]
    if user_id is not None and change.get("holder") == user_id:
        seat["mine"] = True
    return seat


class LiveHub:
    def __init__(self, channel: SeatChannel, batch_ms: int = 25, backlog: int = 256) -> None:
        self.channel = channel
        self.batch_seconds = batch_ms / 1000
        self.backlog = backlog
        self.watchers: dict[str, set[Watcher]] = {}
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.delivered = 0

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
            log.warning("publish to live channel failed (watchers resync later): %s", exc)

    # -------------------------------------------------------------- watchers

    def watch(self, event_id: str, user_id: str | None) -> Watcher:
        watcher = Watcher(event_id=event_id, user_id=user_id, cap=self.backlog)
        self.watchers.setdefault(event_id, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        group = self.watchers.get(watcher.event_id)
        if group is None:
            return
        group.discard(watcher)
        if not group:
            # The last watcher of this event left: keep no per-event state behind.
            del self.watchers[watcher.event_id]
            self._pending.pop(watcher.event_id, None)

    def watcher_count(self) -> int:
        return sum(len(group) for group in self.watchers.values())

    # --------------------------------------------------------------- reading

    async def on_startup(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def on_shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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
        for group in self.watchers.values():
            for watcher in group:
                watcher.resync()

    def _gather(self, event_id: str, data: bytes) -> None:
        try:
            message = msgspec.json.decode(data)
        except msgspec.DecodeError:
            log.warning("undecodable live message on event %s", event_id)
            return
        first = event_id not in self._pending
        pending = self._pending.setdefault(event_id, {})
        for change in message.get("changes", []):
            current = pending.get(change["id"])
            if current is None or change["version"] > current["version"]:
                pending[change["id"]] = change
        if first:
            loop = asyncio.get_running_loop()
            if self.batch_seconds > 0:
                loop.call_later(self.batch_seconds, self._flush, event_id)
            else:
                loop.call_soon(self._flush, event_id)

    def _flush(self, event_id: str) -> None:
        pending = self._pending.pop(event_id, None)
        group = self.watchers.get(event_id)
        if not pending or not group:
            return
        changes = list(pending.values())
        public = msgspec.json.encode(
            {"type": "seats", "changes": [public_seat(c, None) for c in changes]}
        )
        owners = {c["holder"] for c in changes if c.get("holder")}
        variants: dict[str, bytes] = {}
        for watcher in group:
            data = public
            if watcher.user_id is not None and watcher.user_id in owners:
                data = variants.get(watcher.user_id) or variants.setdefault(
                    watcher.user_id,
                    msgspec.json.encode(
                        {"type": "seats", "changes": [public_seat(c, watcher.user_id) for c in changes]}
                    ),
                )
            watcher.push(data)
        self.delivered += len(group)

