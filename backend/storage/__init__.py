"""The database behind one interface: `Storage` (see storage.py)."""

from backend.storage.errors import UNAVAILABLE, DuplicateKey, StorageError
from backend.storage.storage import Storage, make_storage

__all__ = ["UNAVAILABLE", "DuplicateKey", "Storage", "StorageError", "make_storage"]
