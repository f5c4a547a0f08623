"""Idempotency-Key for the booking POSTs: the rules.

The first request with a key claims it (in flight, with a lease); its response is
stored in the same transaction as its bookings, so "committed" and "the key remembers
the response" are one fact. A retry gets the stored response; the same key with another
body is a 422; a key still in flight is a 409. If the first request's process died, its
lease runs out and a retry takes the key over; the owner token fences the old one out.
The rows are `storage/idempotency.py`'s.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from backend.errors import Conflict, IdempotencyInFlight, IdempotencyMismatch, InvalidInput
from backend.seats import IdempotencyState
from backend.storage import Storage

LEASE_MS = 30_000
MAX_KEY = 255
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Replay:
    """The stored answer of an earlier request with the same key and body."""

    status: int
    body: str


@dataclass(frozen=True)
class Ticket:
    """This request's claim on a key."""

    user_id: str
    key: str
    token: str


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


class Idempotency:
    def __init__(self, storage: Storage, lease_ms: int = LEASE_MS) -> None:
        self.storage = storage
        self.keys = storage.idempotency
        self.lease_ms = lease_ms

    async def begin(self, user_id: str, key: str, digest: str) -> Replay | Ticket:
        """Claim the key for this request, or return the answer it already has."""
        if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
            raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY} printable characters")
        token = secrets.token_hex(16)
        for _ in range(CLAIM_ATTEMPTS):
            async with self.storage.transaction():
                now = await self.storage.now_ms()
                row = await self.keys.find(user_id, key)
                if row is None:
                    if await self.keys.claim(user_id, key, digest, token, now + self.lease_ms):
                        return Ticket(user_id, key, token)
                    continue  # another request claimed it first: read it again
                if row["request_hash"] != digest:
                    raise IdempotencyMismatch(
                        "this Idempotency-Key was used with a different request body"
                    )
                if row["state"] == IdempotencyState.DONE:
                    return Replay(int(row["response_status"]), row["response_body"])
                if row["lease_until_ms"] > now:
                    raise IdempotencyInFlight(
                        "a request with this Idempotency-Key is still in progress; retry shortly"
                    )
                # The first request's process died mid-way: take the key over.
                if await self.keys.take_over(
                    row["id"], row["owner_token"], token, now + self.lease_ms
                ):
                    return Ticket(user_id, key, token)
        raise IdempotencyInFlight("this Idempotency-Key is contended; retry shortly")

    async def finish(self, ticket: Ticket, status: int, body: str) -> None:
        """Store the response; run inside the booking's transaction."""
        if not await self.keys.answer(ticket.user_id, ticket.key, ticket.token, status, body):
            # A retry took the key over while this request stalled: this one must not
            # commit, or the key's stored answer and the bookings would disagree.
            raise Conflict("this request's Idempotency-Key was taken over by a retry")

    async def abandon(self, ticket: Ticket) -> None:
        """Forget an unfinished claim so a retry runs afresh (the request failed)."""
        await self.keys.forget(ticket.user_id, ticket.key, ticket.token)
