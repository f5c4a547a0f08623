"""Accounts' rows. The password hash leaves this module only through `credentials`."""

from __future__ import annotations

import uuid
from typing import Any

from backend.storage.database import Database
from backend.storage.tables import User

PUBLIC = (User.id, User.email, User.created_at)


class UserRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def create(self, email: str, password_hash: str) -> dict[str, Any]:
        """Insert a user; `DuplicateKey` if the email is taken (the unique index decides
        when two sign-ups race)."""
        async with self.db.constraints("an account with this email exists"):
            rows = await User.insert(
                User(id=uuid.uuid4(), email=email, password_hash=password_hash)
            ).returning(*PUBLIC)
        return rows[0]

    async def email_taken(self, email: str) -> bool:
        return bool(await User.exists().where(User.email == email))

    async def credentials(self, email: str) -> dict[str, Any] | None:
        """The user with this email and their password hash, or None."""
        return await User.select(*PUBLIC, User.password_hash).where(User.email == email).first()

    async def get(self, user_id: str) -> dict[str, Any] | None:
        """The user (never the hash), or None."""
        return await User.select(*PUBLIC).where(User.id == user_id).first()

    async def id_of(self, email: str) -> str | None:
        row = await User.select(User.id).where(User.email == email).first()
        return None if row is None else str(row["id"])
