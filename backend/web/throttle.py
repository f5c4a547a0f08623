"""Sign-in / sign-up throttling on a Litestar store shared by all workers.

Fixed windows per account and per client address. The store is Redis in services mode
(so every worker and instance counts together) and in-memory in embedded mode.
"""

from __future__ import annotations

import hashlib

from litestar.stores.base import Store

from backend.errors import Throttled


class Throttle:
    def __init__(self, store: Store, limit: int, window_seconds: int) -> None:
        self.store = store
        self.limit = limit
        self.window = window_seconds

    async def hit(self, scope: str, subject: str, limit: int | None = None) -> None:
        """Count one attempt; raise Throttled once the window's limit is spent."""
        # Hash the subject so emails and addresses are not stored as keys in clear.
        key = f"{scope}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"
        cap = limit or self.limit
        raw = await self.store.get(key)
        count = int(raw) if raw else 0
        if count >= cap:
            retry = await self.store.expires_in(key) or self.window
            raise Throttled("too many attempts; try again later", retry_after=max(1, int(retry)))
        remaining = await self.store.expires_in(key) if raw else None
        await self.store.set(key, str(count + 1), expires_in=remaining or self.window)
