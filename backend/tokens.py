"""Bearer tokens: HS256 JWTs whose subject is the user id, verified once per process.

Used by the HTTP auth (`backend/app.py`'s JWTAuth, `backend/web/deps.py`) and by the
websocket's sign-in message (`backend/live/websocket.py`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "sub")


class MemoToken(Token):
    """`Token` whose `decode` remembers the tokens it has verified, until they expire.

    A buyer sends the same bearer token with every request, and checking it (base64,
    HMAC, JSON, claim checks in PyJWT) was a tenth of the CPU of a hold in the flash sale
    profile. A token is immutable and signed, so a string already verified with the same
    secret and options verifies the same way until its `exp`: the memo returns it only
    while it is unexpired, keyed by everything `decode` checks. Failures are never
    remembered. The memo is per process and bounded (oldest entries go first).
    """

    MEMO_SIZE: ClassVar[int] = 8192
    _memo: ClassVar[dict[tuple[Any, ...], Any]] = {}

    @classmethod
    def decode(
        cls,
        encoded_token: str,
        secret: str,
        algorithm: str,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        require_claims: Sequence[str] | None = None,
        verify_exp: bool = True,
        verify_nbf: bool = True,
        strict_audience: bool = False,
    ) -> Self:
        key = (
            encoded_token,
            secret,
            algorithm,
            _frozen(audience),
            _frozen(issuer),
            _frozen(require_claims),
            verify_exp,
            verify_nbf,
            strict_audience,
        )
        memo = cls._memo
        token = memo.get(key)
        if token is not None and token.exp.timestamp() > time.time():
            return token  # type: ignore[no-any-return]
        token = super().decode(
            encoded_token,
            secret,
            algorithm,
            audience=audience,
            issuer=issuer,
            require_claims=require_claims,
            verify_exp=verify_exp,
            verify_nbf=verify_nbf,
            strict_audience=strict_audience,
        )
        memo.pop(key, None)
        if len(memo) >= cls.MEMO_SIZE:
            del memo[next(iter(memo))]
        memo[key] = token
        return token


def _frozen(value: str | Sequence[str] | None) -> Any:
    return value if value is None or isinstance(value, str) else tuple(value)


def decode_user_id(token: str, secret: str) -> str | None:
    """The user id in a valid token (HS256 only, exp and sub required), else None."""
    try:
        decoded = MemoToken.decode(token, secret, ALGORITHM, require_claims=REQUIRED_CLAIMS)
    except NotAuthorizedException:
        return None
    try:
        return str(uuid.UUID(decoded.sub))
    except ValueError:
        return None
