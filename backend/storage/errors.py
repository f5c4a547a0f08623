"""The storage's own errors: what callers above `storage/` may catch.

Driver exceptions (asyncpg, sqlite3) never leave `storage/`: a unique violation becomes
`DuplicateKey` where the storage knows which rule refused it, and the tuple
`UNAVAILABLE` names the exceptions that mean "the database is down or restarting", so
the wiring can map them to 503 without anyone above importing a driver.
"""

from __future__ import annotations

import sqlite3

import asyncpg


class StorageError(Exception):
    """Base of the storage's own errors."""


class DuplicateKey(StorageError):
    """A unique index refused a write (an active booking of a seat, an email, a key)."""


class MissingReference(StorageError):
    """A foreign key refused a write: the row it names is gone (an account removed)."""


# A connection-level failure: not a bug, not the client's fault; retry later.
UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, crashed
    asyncpg.exceptions.TooManyConnectionsError,
)


# Loggers of the database layer: at DEBUG they log SQL parameters (password hashes).
DRIVER_LOGGERS = ("aiosqlite", "asyncpg", "piccolo")


def is_duplicate(exc: BaseException) -> bool:
    """Whether a driver exception is a unique-index violation."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc).upper()


def is_missing_reference(exc: BaseException) -> bool:
    """Whether a driver exception is a foreign-key violation."""
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "FOREIGN KEY" in str(exc).upper()


def is_deadlock(exc: BaseException) -> bool:
    """Whether a driver exception is PostgreSQL aborting one of two transactions that
    waited on each other's row locks (the other went on; this one may be retried)."""
    return isinstance(exc, asyncpg.exceptions.DeadlockDetectedError)
