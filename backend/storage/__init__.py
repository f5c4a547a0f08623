"""The database behind one interface: `Storage` (see storage.py)."""

from backend.storage.bookings import NewBooking
from backend.storage.errors import (
    DRIVER_LOGGERS,
    UNAVAILABLE,
    DuplicateKey,
    MissingReference,
    StorageError,
    is_deadlock,
)
from backend.storage.seatlog import LogEntry
from backend.storage.storage import Storage, make_storage

__all__ = [
    "DRIVER_LOGGERS",
    "UNAVAILABLE",
    "DuplicateKey",
    "LogEntry",
    "MissingReference",
    "NewBooking",
    "Storage",
    "StorageError",
    "is_deadlock",
    "make_storage",
]
