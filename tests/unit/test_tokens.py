"""The verified-token memo: it may save work, never change an answer."""

from __future__ import annotations

import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from litestar.exceptions import NotAuthorizedException

from backend.tokens import ALGORITHM, REQUIRED_CLAIMS, MemoToken, decode_user_id

SECRET = "s" * 40
OTHER = "o" * 40


def _token(secret: str = SECRET, lifetime: float = 60, sub: str | None = None) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": sub or str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(seconds=lifetime),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@pytest.fixture(autouse=True)
def _empty_memo() -> None:
    MemoToken._memo.clear()


def _decode(encoded: str, secret: str = SECRET) -> MemoToken:
    return MemoToken.decode(encoded, secret, ALGORITHM, require_claims=REQUIRED_CLAIMS)


def test_a_verified_token_is_remembered_and_answers_the_same() -> None:
    encoded = _token()
    first = _decode(encoded)
    again = _decode(encoded)
    assert again is first  # served from the memo
    assert again.sub == first.sub
    assert len(MemoToken._memo) == 1


def test_the_memo_does_not_vouch_for_a_token_under_another_secret() -> None:
    encoded = _token()
    _decode(encoded)
    with pytest.raises(NotAuthorizedException):
        _decode(encoded, OTHER)
    assert decode_user_id(encoded, OTHER) is None


def test_failures_are_not_remembered() -> None:
    forged = _token(secret=OTHER)
    for _ in range(2):
        with pytest.raises(NotAuthorizedException):
            _decode(forged)
    assert MemoToken._memo == {}


def test_a_remembered_token_stops_working_when_it_expires() -> None:
    encoded = _token(lifetime=1.2)
    user = decode_user_id(encoded, SECRET)
    assert user is not None
    assert decode_user_id(encoded, SECRET) == user
    # Time is the behaviour: the token must lapse on the wall clock, which PyJWT and the
    # memo both read. Its exp is whole seconds (at most now + 1.2 s), so 1.5 s is past it.
    time.sleep(1.5)
    with pytest.raises(NotAuthorizedException):
        _decode(encoded)
    assert decode_user_id(encoded, SECRET) is None


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MemoToken, "MEMO_SIZE", 3)
    tokens = [_token() for _ in range(5)]
    for encoded in tokens:
        _decode(encoded)
    assert len(MemoToken._memo) == 3
    remembered = {key[0] for key in MemoToken._memo}
    assert remembered == set(tokens[2:])  # the oldest went first


def _signed(key: str | None, algorithm: str) -> str:
    claims = {"sub": str(uuid.uuid4()), "exp": datetime.now(UTC) + timedelta(seconds=60)}
    with warnings.catch_warnings():  # PyJWT warns of a 40-byte key for HS512
        warnings.simplefilter("ignore")
        return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.parametrize(
    "forge",
    [
        lambda: _token(secret=OTHER),  # another secret
        lambda: _signed(SECRET, "HS512"),  # the same secret, another algorithm
        lambda: _signed(None, "none"),  # unsigned
        lambda: _token()[:-4] + "AAAA",  # a signature changed
        lambda: _token(lifetime=-5),  # expired
    ],
    ids=["other-secret", "hs512", "alg-none", "bad-signature", "expired"],
)
def test_forged_or_expired_tokens_are_refused(forge: Any) -> None:
    """Whatever the memo saves, these are refused, and not remembered."""
    with pytest.raises(NotAuthorizedException):
        _decode(forge())
    assert MemoToken._memo == {}
