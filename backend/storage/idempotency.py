"""Idempotency-Key rows: claims with a lease and an owner token, and stored answers.

The rules (what a retry gets, when a claim may be taken over) are in
`backend/booking/idempotency.py`; these are the compare-and-set writes they use.
"""

from __future__ import annotations

import uuid
from typing import Any

from backend.seats import IdempotencyState
from backend.storage.database import Database
from backend.storage.errors import DuplicateKey
from backend.storage.tables import IdempotencyKey as Key

IN_FLIGHT, DONE = IdempotencyState.IN_FLIGHT, IdempotencyState.DONE


class IdempotencyRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def find(self, user_id: str, key: str) -> dict[str, Any] | None:
        return await Key.select().where((Key.user == user_id) & (Key.key == key)).first()

    async def claim(self, user_id: str, key: str, digest: str, token: str, until_ms: int) -> bool:
        """Insert an in-flight claim; False if another request claimed the key first."""
        try:
            async with self.db.constraints("this key is claimed"):
                await Key.insert(
                    Key(
                        id=uuid.uuid4(),
                        user=user_id,
                        key=key,
                        request_hash=digest,
                        state=IN_FLIGHT.value,
                        owner_token=token,
                        lease_until_ms=until_ms,
                    )
                )
        except DuplicateKey:
            return False
        return True

    async def take_over(self, row_id: Any, old_token: str, token: str, until_ms: int) -> bool:
        """Move an in-flight claim whose lease ran out to a new owner (fencing the old)."""
        taken = (
            await Key.update({Key.owner_token: token, Key.lease_until_ms: until_ms})
            .where((Key.id == row_id) & (Key.owner_token == old_token) & (Key.state == IN_FLIGHT))
            .returning(Key.id)
        )
        return bool(taken)

    async def answer(self, user_id: str, key: str, token: str, status: int, body: str) -> bool:
        """Store the response of the claim `token` owns; False if it no longer owns it."""
        done = (
            await Key.update(
                {Key.state: DONE.value, Key.response_status: status, Key.response_body: body}
            )
            .where(
                (Key.user == user_id)
                & (Key.key == key)
                & (Key.owner_token == token)
                & (Key.state == IN_FLIGHT)
            )
            .returning(Key.id)
        )
        return bool(done)

    async def forget(self, user_id: str, key: str, token: str) -> None:
        """Delete the unfinished claim `token` owns."""
        async with self.db.transaction():
            await Key.delete().where(
                (Key.user == user_id)
                & (Key.key == key)
                & (Key.owner_token == token)
                & (Key.state == IN_FLIGHT)
            )
