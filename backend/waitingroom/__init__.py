"""The waiting room's state: fair places, bounded admission, reaping (issue 12)."""

from backend.waitingroom.base import (
    Abandoned,
    Admission,
    QueueState,
    QueueStatus,
    RoomDump,
    RoomSummary,
    WaitingRoomNotStarted,
    WaitingRoomStore,
)
from backend.waitingroom.memory import MemoryWaitingRoomStore
from backend.waitingroom.redis import RedisWaitingRoomStore

__all__ = [
    "Abandoned",
    "Admission",
    "MemoryWaitingRoomStore",
    "QueueState",
    "QueueStatus",
    "RedisWaitingRoomStore",
    "RoomDump",
    "RoomSummary",
    "WaitingRoomNotStarted",
    "WaitingRoomStore",
]
