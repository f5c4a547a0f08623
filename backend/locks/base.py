"""The seat-lock store interface.

A lock is short (seconds) and owned by a random token. `acquire` takes every requested
seat's lock or none; `release` deletes only the locks still owned by the token, so a
late release after expiry never removes the next owner's lock. Locks turn a stampede on
one hot seat into one database write and many fast 423s; they are never the last line
of defence (the database's compare-and-set and unique index are).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class LockStoreNotStarted(RuntimeError):
    """Raised when a lock store is used before `on_startup`."""


class SeatLockStore(ABC):
    """Per-seat, all-or-nothing, token-owned locks with a TTL."""

    @abstractmethod
    async def on_startup(self) -> None:
        """Open connections; called once before use."""

    @abstractmethod
    async def on_shutdown(self) -> None:
        """Close connections."""

    @abstractmethod
    async def acquire(
        self, event_id: str, seat_ids: Sequence[str], token: str, ttl_ms: int
    ) -> list[str]:
        """Lock all seats for `token`, or none; return the seat ids that were already locked."""

    @abstractmethod
    async def release(self, event_id: str, seat_ids: Sequence[str], token: str) -> int:
        """Delete the locks `token` still owns; return how many were deleted."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the backend does not answer."""
