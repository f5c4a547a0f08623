"""Idempotency-Key for the booking POSTs.

The first request with a key claims it (`in_flight`, with a lease); its response is
stored in the same transaction as its bookings, so "committed" and "the key remembers
the response" are one fact. A retry gets the stored response; the same key with another
body is a 422; a key still in flight is a 409. If the first request's process died, its
lease runs out and a retry takes the key over; the owner token fences the old one out.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from piccolo.engine.base import Engine

from backend.errors import Conflict, IdempotencyInFlight, IdempotencyMismatch, InvalidInput
from backend.storage.db import now_ms, write_transaction
from backend.storage.tables import IdempotencyKey

LEASE_MS = 30_000
MAX_KEY = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: str


@dataclass(frozen=True)
class Ticket:
    user_id: str
    key: str
    token: str


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


class Idempotency:
    def __init__(self, engine: Engine[Any], lease_ms: int = LEASE_MS) -> None:
        self.engine = engine
        self.lease_ms = lease_ms

    async def begin(self, user_id: str, key: str, digest: str) -> Replay | Ticket:
        if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
            raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY} printable characters")
        token = secrets.token_hex(16)
        for _ in range(3):
            async with write_transaction(self.engine):
                now = await now_ms(self.engine)
                row = (
                    await IdempotencyKey.select()
                    .where((IdempotencyKey.user == user_id) & (IdempotencyKey.key == key))
                    .first()
                )
                if row is None:
                    try:
                        await IdempotencyKey.insert(
                            IdempotencyKey(
                                id=uuid.uuid4(),
                                user=user_id,
                                key=key,
                                request_hash=digest,
                                state="in_flight",
                                owner_token=token,
                                lease_until_ms=now + self.lease_ms,
                            )
                        )
                    except (asyncpg.UniqueViolationError, sqlite3.IntegrityError):
                        continue  # another request claimed it first: read it again
                    return Ticket(user_id, key, token)
                if row["request_hash"] != digest:
                    raise IdempotencyMismatch(
                        "this Idempotency-Key was used with a different request body"
                    )
                if row["state"] == "done":
                    return Replay(int(row["response_status"]), row["response_body"])
                if row["lease_until_ms"] > now:
                    raise IdempotencyInFlight(
                        "a request with this Idempotency-Key is still in progress; retry shortly"
                    )
                # The first request's process died mid-way: take the key over.
                taken = (
                    await IdempotencyKey.update(
                        {
                            IdempotencyKey.owner_token: token,
                            IdempotencyKey.lease_until_ms: now + self.lease_ms,
                        }
                    )
                    .where(
                        (IdempotencyKey.id == row["id"])
                        & (IdempotencyKey.owner_token == row["owner_token"])
                        & (IdempotencyKey.state == "in_flight")
                    )
                    .returning(IdempotencyKey.id)
                )
                if taken:
                    return Ticket(user_id, key, token)
        raise IdempotencyInFlight("this Idempotency-Key is contended; retry shortly")

    async def finish(self, ticket: Ticket, status: int, body: str) -> None:
        """Store the response; run inside the booking's transaction."""
        done = (
            await IdempotencyKey.update(
                {
                    IdempotencyKey.state: "done",
                    IdempotencyKey.response_status: status,
                    IdempotencyKey.response_body: body,
                }
            )
            .where(
                (IdempotencyKey.user == ticket.user_id)
                & (IdempotencyKey.key == ticket.key)
                & (IdempotencyKey.owner_token == ticket.token)
                & (IdempotencyKey.state == "in_flight")
            )
            .returning(IdempotencyKey.id)
        )
        if not done:
            # A retry took the key over while this request stalled: this one must not
            # commit, or the key's stored answer and the bookings would disagree.
            raise Conflict("this request's Idempotency-Key was taken over by a retry")

    async def abandon(self, ticket: Ticket) -> None:
        """Forget an unfinished claim so a retry runs afresh (the request failed)."""
        async with write_transaction(self.engine):
            await IdempotencyKey.delete().where(
                (IdempotencyKey.user == ticket.user_id)
                & (IdempotencyKey.key == ticket.key)
                & (IdempotencyKey.owner_token == ticket.token)
                & (IdempotencyKey.state == "in_flight")
            )
