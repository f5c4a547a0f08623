from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from backend.accounts import HASHER
from backend.storage.tables import User
from tests.conftest import PASSWORD, Api
from tests.support.services import TEST_SECRET, unique_name


async def test_signup_signin_me(api: Api) -> None:
    client = api.client
    created = await client.post(
        "/signup", json={"email": "  Ada@Example.COM ", "password": "s3cret-pass"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["email"] == "ada@example.com"  # normalised
    assert set(body) == {"id", "email", "createdAt"}

    signed = await client.post(
        "/signin", json={"email": "ADA@example.com", "password": "s3cret-pass"}
    )
    assert signed.status_code == 200
    token = signed.json()
    assert token["tokenType"] == "Bearer" and 0 < token["expiresIn"] <= 3600

    me = await client.get("/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert me.status_code == 200 and me.json()["id"] == body["id"]


async def test_the_fast_user_factory_makes_what_signup_and_signin_make(api: Api) -> None:
    """`api.user()` skips argon2 per user; what it makes must not differ from the real
    thing: a row whose hash checks the password, and the token /signin would issue."""
    fast = await api.user()
    real = await api.user(via_http=True)
    rows = await api.db(User.select().where(User.id.is_in([fast["id"], real["id"]])))
    by_id = {str(row["id"]): row for row in rows}
    assert HASHER.verify(by_id[fast["id"]]["password_hash"], PASSWORD)
    assert (
        by_id[fast["id"]]["password_hash"].split("$")[:4]
        == (
            by_id[real["id"]]["password_hash"].split("$")[:4]  # algorithm, version, parameters
        )
    )
    # The token: same header, same claims, same lifetime, accepted the same way.
    tokens = {name: who["token"] for name, who in (("fast", fast), ("real", real))}
    headers = {name: jwt.get_unverified_header(t) for name, t in tokens.items()}
    assert headers["fast"] == headers["real"]
    claims = {name: jwt.decode(t, TEST_SECRET, algorithms=["HS256"]) for name, t in tokens.items()}
    assert set(claims["fast"]) == set(claims["real"])
    assert claims["fast"]["sub"] == fast["id"]
    lifetimes = {name: c["exp"] - c["iat"] for name, c in claims.items()}
    assert abs(lifetimes["fast"] - lifetimes["real"]) <= 1, lifetimes
    for who in (fast, real):
        me = await api.client.get("/me", headers=who["headers"])
        assert me.status_code == 200 and me.json()["email"] == who["email"]
    # And the precomputed hash is a real one: the fast user can sign in over HTTP.
    signed = await api.client.post("/signin", json={"email": fast["email"], "password": PASSWORD})
    assert signed.status_code == 200, signed.text


async def test_password_is_hashed_with_argon2id_at_owasp_minimum(api: Api) -> None:
    user = await api.user(via_http=True)
    row = await api.db(User.select(User.password_hash).where(User.id == user["id"]).first())
    assert row is not None
    assert row["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_email_taken_is_409(api: Api) -> None:
    user = await api.user(via_http=True)
    again = await api.client.post(
        "/signup", json={"email": user["email"].upper(), "password": "whatever123"}
    )
    assert again.status_code == 409
    assert again.json() == {
        "success": False,
        "message": "an account with this email already exists",
        "code": "email_taken",
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"email": "not-an-email", "password": "long enough"}, "email"),
        ({"email": "a@b.co", "password": "short"}, "at least 8"),
        ({"email": "a@b.co"}, "password"),
        ({"email": 5, "password": "long enough"}, "email"),
    ],
)
async def test_bad_signup_is_400_with_a_message(
    api: Api, body: dict[str, Any], fragment: str
) -> None:
    response = await api.client.post("/signup", json=body)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert fragment in response.json()["message"]


async def test_unknown_email_and_wrong_password_get_the_same_401(api: Api) -> None:
    user = await api.user(via_http=True)
    wrong = await api.client.post(
        "/signin", json={"email": user["email"], "password": "wrong password"}
    )
    unknown = await api.client.post(
        "/signin", json={"email": "nobody@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def _hs512(**claims: Any) -> str:
    # The right key with another algorithm must still be refused (HS256 is pinned).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns the key is short for HS512
        return jwt.encode(claims, TEST_SECRET, algorithm="HS512")


def _token(**claims: Any) -> str:
    return jwt.encode(claims, TEST_SECRET, algorithm="HS256")


async def test_tokens_are_checked(api: Api) -> None:
    user = await api.user()
    now = datetime.now(UTC)
    bad_tokens = {
        "expired": _token(sub=user["id"], exp=now - timedelta(seconds=5)),
        "no exp": _token(sub=user["id"]),
        "no sub": _token(exp=now + timedelta(minutes=5)),
        "wrong key": jwt.encode(
            {"sub": user["id"], "exp": now + timedelta(minutes=5)}, "k" * 40, algorithm="HS256"
        ),
        "alg none": jwt.encode(
            {"sub": user["id"], "exp": now + timedelta(minutes=5)}, None, algorithm="none"
        ),
        "HS512": _hs512(sub=user["id"], exp=now + timedelta(minutes=5)),
        "garbage": "not.a.token",
    }
    for name, token in bad_tokens.items():
        response = await api.client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["success"] is False
    assert (await api.client.get("/me")).status_code == 401
    good = _token(sub=user["id"], exp=now + timedelta(minutes=5), iat=now)
    assert (
        await api.client.get("/me", headers={"Authorization": f"Bearer {good}"})
    ).status_code == 200


async def test_no_response_carries_the_password_or_its_hash(api: Api) -> None:
    password = "a very particular password"
    user = await api.user(password=password, via_http=True)
    row = await api.db(User.select(User.password_hash).where(User.id == user["id"]).first())
    assert row is not None
    texts = [
        (await api.client.get("/me", headers=user["headers"])).text,
        (
            await api.client.post("/signin", json={"email": user["email"], "password": password})
        ).text,
        (
            await api.client.post("/signup", json={"email": user["email"], "password": password})
        ).text,
    ]
    for text in texts:
        assert password not in text
        assert row["password_hash"] not in text
        assert "argon2" not in text


async def test_signin_is_throttled_per_account_with_retry_after(settings: Any) -> None:
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from backend.app import create_app

    # A private Redis prefix: other tests' sign-ins must not count toward this window.
    tight = replace(
        settings, signin_attempts=3, signin_window_seconds=30, redis_prefix=unique_name("botestthr")
    )
    async with AsyncTestClient(app=create_app(tight)) as client:
        email = f"throttle-{time.time_ns()}@example.com"
        await client.post("/signup", json={"email": email, "password": "password123"})
        codes = [
            (
                await client.post("/signin", json={"email": email, "password": "nope-nope"})
            ).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        limited = await client.post("/signin", json={"email": email, "password": "password123"})
        assert limited.status_code == 429
        # Seconds until the window lets this account try again: within the window, and
        # the same in the header (for clients and proxies) as in the body.
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= tight.signin_window_seconds
        assert limited.json()["retryAfter"] == retry_after
        assert limited.json()["code"] == "throttled"


async def test_unknown_email_still_pays_for_one_hash_check(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both sign-in failures run argon2 once, so their timing does not tell them apart."""
    from backend import accounts

    user = await api.user(via_http=True)
    await api.client.post("/signin", json={"email": "warm-up@example.com", "password": "whatever1"})
    calls: list[str] = []
    real = accounts.HASHER

    class Counting:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, hash_: str, password: str) -> bool:
            calls.append(password)
            return real.verify(hash_, password)

    monkeypatch.setattr(accounts, "HASHER", Counting())
    await api.client.post(
        "/signin", json={"email": "nobody-here@example.com", "password": "guess-one"}
    )
    await api.client.post("/signin", json={"email": user["email"], "password": "guess-two"})
    assert calls == ["guess-one", "guess-two"]


async def test_logs_never_carry_the_password(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    secret = "log-canary-password-123"
    caplog.set_level("DEBUG")
    email = f"logs-{time.time_ns()}@example.com"
    await api.client.post("/signup", json={"email": email, "password": secret})
    await api.client.post("/signin", json={"email": email, "password": secret + "x"})
    await api.client.post("/signin", json={"email": email, "password": secret})
    await api.client.post("/signup", json={"email": email, "password": secret})
    assert secret not in caplog.text
    assert "$argon2" not in caplog.text


async def test_over_the_seat_limit_is_refused(api: Api) -> None:
    owner = await api.user()
    rows = [{"label": f"R{i}", "seats": 1000} for i in range(101)]
    response = await api.client.post(
        "/events",
        json={"name": "Too big", "layout": {"sections": [{"name": "S", "rows": rows}]}},
        headers=owner["headers"],
    )
    assert response.status_code == 400 and "100000" in response.json()["message"]


async def test_a_token_whose_account_is_gone_is_refused_everywhere(api: Api) -> None:
    """Holds succeeded, bookings and POST /events answered 500 (services) or a misleading
    409 (embedded) for a valid token of a removed account (issue 11, item 8)."""
    owner, ghost = await api.user(), await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    await api.db(User.delete().where(User.id == ghost["id"]))
    attempts = [
        ("POST", f"/events/{event['id']}/holds", {"seatIds": [seat]}),
        ("POST", f"/events/{event['id']}/holds", {"count": 2}),
        ("POST", f"/events/{event['id']}/bookings", {"seatIds": [seat]}),
        ("POST", "/book", {"seatId": seat}),
        ("POST", "/events", {"name": "Ghost night", "seats": ["A1"]}),
        ("GET", "/bookings", None),
        ("GET", "/me", None),
    ]
    for method, path, body in attempts:
        response = await api.client.request(method, path, json=body, headers=ghost["headers"])
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["code"] == "not_authenticated"
    assert all(s["status"] == "available" for s in (await api.seats(event["id"])).values())
