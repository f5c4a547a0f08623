"""Accounts: sign-up, sign-in and password hashing (argon2id).

Hashing is memory-hard by design (19 MiB a hash at OWASP's minimum), so it runs in a
worker thread behind a semaphore: a login flood queues instead of exhausting memory.
Unknown emails are verified against a dummy hash so both failures take the same time.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type

from backend.errors import EmailTaken, InvalidCredentials, InvalidInput
from backend.storage import DuplicateKey, Storage

# OWASP's minimum for argon2id: m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # bounds the work one request can ask for
MAX_EMAIL = 320
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
SIGNIN_FAILED = "Invalid email or password"


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL_RE.match(email):
        raise InvalidInput("email must be a valid email address")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD} characters")


class AccountService:
    def __init__(self, storage: Storage, hash_concurrency: int = 4) -> None:
        self.users = storage.users
        self._slots = anyio.CapacityLimiter(hash_concurrency)
        self._dummy_hash: str | None = None

    async def _hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(HASHER.hash, password, limiter=self._slots)

    async def _verify(self, password_hash: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return HASHER.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await anyio.to_thread.run_sync(verify, limiter=self._slots)

    async def sign_up(self, email: str, password: str) -> dict[str, Any]:
        email = normalise_email(email)
        check_password(password)
        if await self.users.email_taken(email):
            raise EmailTaken("an account with this email already exists")
        password_hash = await self._hash(password)
        try:
            return await self.users.create(email, password_hash)
        except DuplicateKey:
            # Two sign-ups raced past the check: the unique index decides.
            raise EmailTaken("an account with this email already exists") from None

    async def authenticate(self, email: str, password: str) -> dict[str, Any]:
        """The user for these credentials; the same error, and time, for every failure."""
        try:
            email = normalise_email(email)
        except InvalidInput:
            email = ""
        password = password[:MAX_PASSWORD]
        row = await self.users.credentials(email) if email else None
        if row is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash("not-a-real-password")
            await self._verify(self._dummy_hash, password)
            raise InvalidCredentials(SIGNIN_FAILED)
        if not await self._verify(row["password_hash"], password):
            raise InvalidCredentials(SIGNIN_FAILED)
        row.pop("password_hash")
        return row

    async def get(self, user_id: str) -> dict[str, Any] | None:
        try:
            uuid.UUID(user_id)
        except ValueError:
            return None
        return await self.users.get(user_id)
