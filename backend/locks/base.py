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

    async def acquire_each(
        self, event_id: str, groups: Sequence[Sequence[str]], token: str, ttl_ms: int
    ) -> list[list[str]]:
        """`acquire` for each group of seats in order, all or none per group, under one
        token (a write batch, backend/booking/batch.py): the seat ids already locked, per
        group (empty: that group's locks are now the token's). The groups must not share
        seats. This default takes them one call at a time; Redis does it in one script."""
        return [await self.acquire(event_id, group, token, ttl_ms) for group in groups]

    @abstractmethod
    async def release(self, event_id: str, seat_ids: Sequence[str], token: str) -> int:
        """Delete the locks `token` still owns; return how many were deleted."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the backend does not answer."""
