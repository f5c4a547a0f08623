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
from litestar.security.jwt import Token

from backend.tokens import ALGORITHM, REQUIRED_CLAIMS, MemoToken, decode_user_id
from tests.support.tokens import pyjwt_decodes

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


# --- the app's own tokens are checked without PyJWT; every other is PyJWT's to decide


def _claims_token(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    return jwt.encode(claims, SECRET, algorithm=ALGORITHM, headers=header)


def _issued(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"exp": now + 60, "sub": str(uuid.uuid4()), "iat": now}
    claims["extras"] = {}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _outcome(decode: Any, encoded: str) -> Any:
    try:
        token = decode(encoded, SECRET, ALGORITHM, require_claims=REQUIRED_CLAIMS)
    except NotAuthorizedException:
        return "refused"
    return (token.sub, token.exp, token.iat, token.extras)


def _corpus() -> list[str]:
    valid = Token(sub=str(uuid.uuid4()), exp=datetime.now(UTC) + timedelta(minutes=5)).encode(
        SECRET, ALGORITHM
    )
    head, body, signature = valid.split(".")
    tokens = [
        valid,
        _token(),  # PyJWT's own encoding of datetimes, no extras
        _claims_token(_issued(iat=None)),
        _claims_token(_issued(), {"kid": "k1"}),  # another header: PyJWT decides
        _claims_token(_issued(), {"typ": "JWS"}),
        _claims_token(_issued(), {"crit": ["exp"]}),
        _claims_token(_issued(exp=str(int(time.time()) + 60))),
        _claims_token(_issued(exp=time.time() + 60.5)),
        _claims_token(_issued(exp=True)),
        _claims_token(_issued(exp=int(time.time()) - 1)),
        _claims_token(_issued(iat=int(time.time()) + 60)),
        _claims_token(_issued(iat="0")),
        _claims_token(_issued(sub=None)),
        _claims_token(_issued(sub=42)),
        _claims_token(_issued(sub="")),
        _claims_token(_issued(extras={"role": "organiser"})),
        _claims_token(_issued(aud="someone")),
        _claims_token(_issued(nbf=int(time.time()) + 60)),
        jwt.encode(_issued(), OTHER, algorithm=ALGORITHM),
        _signed(SECRET, "HS512"),
        _signed(None, "none"),
        f"{head}.{body}",
        f"{head}.{body}.{signature}.{signature}",
        f"{head}.{body}.{signature}=",
        f"{head}.{body}.{signature} ",
        f"{head}=.{body}.{signature}",
        f" {valid}",
        valid[:-1] + "é",
        "",
        "...",
    ]
    # The signature's last character carries 2 spare bits: the same bytes, spelt otherwise.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    tokens += [f"{head}.{body}.{signature[:-1]}{alphabet[last ^ n]}" for n in (1, 2, 3)]
    # Every character of the valid token changed, one at a time.
    for i, char in enumerate(valid):
        swap = "B" if char == "A" else "A"
        tokens.append(valid[:i] + swap + valid[i + 1 :])
    return tokens


def test_every_token_gets_the_answer_pyjwt_gives() -> None:
    """The app's own check may only save work: over forged, expired, malformed and
    unusual tokens, MemoToken accepts exactly what Litestar's Token (PyJWT) accepts,
    with the same claims."""
    corpus = _corpus()
    outcomes = []
    for encoded in corpus:
        MemoToken._memo.clear()
        ours, theirs = _outcome(MemoToken.decode, encoded), _outcome(Token.decode, encoded)
        assert ours == theirs, encoded
        outcomes.append(ours)
    accepted = sum(1 for o in outcomes if o != "refused")
    assert 3 <= accepted < len(corpus) - 100  # both kinds are really in the corpus


def test_the_apps_own_tokens_are_checked_without_pyjwt(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = pyjwt_decodes(monkeypatch)
    issued = Token(sub=str(uuid.uuid4()), exp=datetime.now(UTC) + timedelta(minutes=5))
    own = issued.encode(SECRET, ALGORITHM)
    assert decode_user_id(own, SECRET) == issued.sub
    assert calls == []
    unusual = _claims_token(_issued(), {"kid": "k1"})  # valid, but not of our shape
    assert decode_user_id(unusual, SECRET) is not None
    forged = own[:-2] + ("AA" if own[-2:] != "AA" else "BB")
    assert decode_user_id(forged, SECRET) is None
    assert calls == [unusual, forged]  # PyJWT decided both
