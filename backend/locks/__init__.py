"""Seat locks: the first, fast layer in front of the database (DESIGN §5)."""

from backend.locks.base import SeatLockStore
from backend.locks.memory import MemorySeatLockStore
from backend.locks.redis import RedisSeatLockStore

__all__ = ["MemorySeatLockStore", "RedisSeatLockStore", "SeatLockStore"]
