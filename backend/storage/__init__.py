"""The database behind one interface: `Storage` (see storage.py)."""

from backend.storage.errors import DRIVER_LOGGERS, UNAVAILABLE, DuplicateKey, StorageError
from backend.storage.storage import Storage, make_storage

__all__ = [
    "DRIVER_LOGGERS",
    "UNAVAILABLE",
    "DuplicateKey",
    "Storage",
    "StorageError",
    "make_storage",
]
