"""Waiting-room snapshots: the last copy of each room's places (issue 12).

The places live in the waiting-room store (Redis, or memory in embedded mode); this is
their copy in the database, written every few seconds while a room is busy and read back
if the store loses them (see `backend/booking/queue.py`, `WaitingRooms.safeguard`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from backend.storage.database import Database
from backend.storage.tables import WaitingRoomSnapshot as Snapshot


class RoomSnapshotRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def save(self, event_id: str, born: int, taken_at_ms: int, places: Any) -> None:
        """Keep `places` (JSON-encodable, or a `str` already JSON text) as the event's
        snapshot, replacing the last one."""
        data = places if isinstance(places, str) else msgspec.json.encode(places).decode()
        async with self.db.transaction():
            await Snapshot.insert(
                Snapshot(event=event_id, born=born, taken_at_ms=taken_at_ms, places=data)
            ).on_conflict(
                target=Snapshot.event,
                action="DO UPDATE",
                values=[Snapshot.born, Snapshot.taken_at_ms, Snapshot.places],
            )

    async def born(self, event_id: str) -> int | None:
        """Which store state the event's snapshot was taken from; None without one."""
        row = await Snapshot.select(Snapshot.born).where(Snapshot.event == event_id).first()
        return None if row is None else int(row["born"])

    async def get(self, event_id: str) -> tuple[int, Any] | None:
        """The event's snapshot: (when it was taken, places), or None."""
        row = (
            await Snapshot.select(Snapshot.taken_at_ms, Snapshot.places)
            .where(Snapshot.event == event_id)
            .first()
        )
        if row is None:
            return None
        places = row["places"]
        return int(row["taken_at_ms"]), msgspec.json.decode(places) if isinstance(
            places, str
        ) else places
