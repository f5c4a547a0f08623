"""Bearer tokens: HS256 JWTs whose subject is the user id, verified once per process.

Used by the HTTP auth (`backend/app.py`'s JWTAuth, `backend/web/deps.py`) and by the
websocket's sign-in message (`backend/live/websocket.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import msgspec
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token
from litestar.security.jwt.token import JWTDecodeOptions

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "sub")

# The header and claims of the tokens this app issues (`Token.encode` through PyJWT): the
# only shape `_issued_payload` vouches for.
_HEADER_KEYS = frozenset({"alg", "typ"})
_CLAIM_KEYS = frozenset({"exp", "iat", "sub", "extras"})
# The options Litestar's `Token.decode` passes for the app's own calls (no audience or
# issuer, `exp` and `sub` required): the only ones `decode_payload` answers itself.
_APP_OPTIONS = {"verify_aud": False, "verify_iss": False, "require": list(REQUIRED_CLAIMS)}


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

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: JWTDecodeOptions | None = None,
    ) -> Any:
        """The payload of a token this app issued, checked here; any other goes to PyJWT.

        PyJWT 2.15 spends about 0.25 ms on a token's first verification (each segment's
        base64 checked a character at a time in Python, the HMAC secret parsed as JSON to
        refuse a JWK): 2,000 buyers' first requests were up to a sixth of a worker's
        samples in the watched flash sale's profile (README Performance item 29). PyJWT
        has no cheaper call, so the one shape we issue (an HS256 header; `exp`, `iat`,
        `sub` and `extras` claims) is verified here with `hmac`: the signature over the
        exact bytes received, then the expiry and the claims' types. This only ever
        accepts: a token not of that shape, or failing any check, is decided by PyJWT as
        before, so nothing PyJWT refuses is accepted here (the tests compare the two over
        forged, expired and malformed tokens)."""
        if (
            algorithms == [ALGORITHM]
            and issuer is None
            and audience is None
            and options == _APP_OPTIONS
        ):
            payload = _issued_payload(encoded_token, secret)
            if payload is not None:
                return payload
        return super().decode_payload(
            encoded_token, secret, algorithms, issuer=issuer, audience=audience, options=options
        )


def _unbase64url(segment: str) -> bytes | None:
    """A segment's bytes, if it is canonical unpadded base64url (else None)."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    # Lenient decoding skips stray characters and ignores spare bits: insist on the one
    # spelling of these bytes, so that no other string passes for this token.
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode():
        return None
    return raw


def _issued_payload(encoded_token: str, secret: str) -> dict[str, Any] | None:
    """The claims of `encoded_token` if it is an unexpired HS256 token of the shape this
    app issues, signed with `secret`; None for anything else (PyJWT then decides)."""
    parts = encoded_token.split(".")
    if len(parts) != 3 or not secret or not encoded_token.isascii():
        return None
    header_b64, payload_b64, signature_b64 = parts
    signature = _unbase64url(signature_b64)
    if signature is None:
        return None
    signing_input = f"{header_b64}.{payload_b64}".encode()
    expected = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        return None
    header_raw = _unbase64url(header_b64)
    payload_raw = _unbase64url(payload_b64)
    if header_raw is None or payload_raw is None:
        return None
    try:
        header = msgspec.json.decode(header_raw)
        payload = msgspec.json.decode(payload_raw)
    except msgspec.DecodeError:
        return None
    if (
        not isinstance(header, dict)
        or header.get("alg") != ALGORITHM
        or header.keys() - _HEADER_KEYS
        or header.get("typ", "JWT") != "JWT"
        or not isinstance(payload, dict)
        or payload.keys() - _CLAIM_KEYS
    ):
        return None
    # PyJWT's claim checks (Litestar's `Token` then refuses an `iat` in the future).
    exp, iat, sub = payload.get("exp"), payload.get("iat", 0), payload.get("sub")
    if (
        type(exp) is not int  # bool is an int; it is not a time
        or type(iat) is not int
        or not isinstance(sub, str)
        or not sub
        or exp <= time.time()
    ):
        return None
    return payload


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
