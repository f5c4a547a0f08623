"""POST /token/refresh: a valid token for a fresh one, never a dead one, a handful a minute."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest

from backend.app import TOKEN_REFRESHES_PER_MINUTE
from backend.settings import Settings
from backend.storage.tables import User
from tests.conftest import Api
from tests.support.tokens import pyjwt_decodes


def _mint(settings: Settings, user_id: str, *, iat: float, exp: float, secret: str = "") -> str:
    claims = {"sub": user_id, "iat": int(iat), "exp": int(exp)}
    return jwt.encode(claims, secret or settings.jwt_secret, algorithm="HS256")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_is_exchanged_for_a_fresh_one_shaped_like_signin(
    api: Api, settings: Settings
) -> None:
    user = await api.user(via_http=True)
    signin = await api.client.post(
        "/signin", json={"email": user["email"], "password": "correct horse battery"}
    )
    now = time.time()
    old = _mint(settings, user["id"], iat=now - 50, exp=now + 10)  # ten seconds left

    response = await api.client.post("/token/refresh", headers=_bearer(old))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == set(signin.json()) == {"token", "tokenType", "expiresIn"}
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == settings.jwt_lifetime_seconds
    claims = jwt.decode(body["token"], settings.jwt_secret, algorithms=["HS256"])
    assert claims["sub"] == user["id"]
    assert claims["exp"] >= int(now) + settings.jwt_lifetime_seconds - 5
    me = await api.client.get("/me", headers=_bearer(body["token"]))
    assert me.status_code == 200 and me.json()["id"] == user["id"]


@pytest.mark.parametrize("what", ["expired", "forged", "none", "not a jwt"])
async def test_a_dead_token_is_not_brought_back(api: Api, settings: Settings, what: str) -> None:
    user = await api.user()
    now = time.time()
    headers = {
        "expired": _bearer(_mint(settings, user["id"], iat=now - 120, exp=now - 2)),
        "forged": _bearer(_mint(settings, user["id"], iat=now, exp=now + 600, secret="x" * 40)),
        "none": {},
        "not a jwt": _bearer("abc.def.ghi"),
    }[what]

    response = await api.client.post("/token/refresh", headers=headers)

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "not_authenticated"
    assert "token" not in response.json()


async def test_an_account_that_no_longer_exists_gets_no_token(api: Api) -> None:
    user = await api.user()
    await api.db(User.delete().where(User.id == uuid.UUID(user["id"])))

    response = await api.client.post("/token/refresh", headers=user["headers"])

    assert response.status_code == 401, response.text
    assert response.json() == {
        "success": False,
        "message": "this account no longer exists",
        "code": "not_authenticated",
    }


async def test_refreshes_are_limited_per_account(api: Api) -> None:
    user, other = await api.user(), await api.user()
    token = user["token"]
    for _ in range(TOKEN_REFRESHES_PER_MINUTE):
        response = await api.client.post("/token/refresh", headers=_bearer(token))
        assert response.status_code == 200, response.text
        token = response.json()["token"]  # a fresh token is still the same account

    refused = await api.client.post("/token/refresh", headers=_bearer(token))

    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["retryAfter"] == int(refused.headers["Retry-After"])
    # The old token still works for everything else, and other accounts are not affected.
    assert (await api.client.get("/me", headers=_bearer(token))).status_code == 200
    assert (await api.client.post("/token/refresh", headers=other["headers"])).status_code == 200


def test_the_refresh_is_in_the_openapi_document(api: Any) -> None:
    schema = api.client.app.openapi_schema.to_schema()
    assert "post" in schema["paths"]["/token/refresh"]


async def test_signed_in_tokens_are_verified_without_pyjwt_and_forgeries_by_it(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app checks its own tokens' HMAC itself (backend/tokens.py: PyJWT's first
    verification of each was up to a sixth of a worker in the watched sale); anything
    else, a forgery included, is still PyJWT's to refuse."""
    user = await api.user(via_http=True)  # the token sign-in issued
    seen = pyjwt_decodes(monkeypatch)
    me = await api.client.get("/me", headers=user["headers"])
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    assert seen == []

    now = time.time()
    forged = _mint(settings, user["id"], iat=now, exp=now + 600, secret="x" * 40)
    refused = await api.client.get("/me", headers=_bearer(forged))
    assert refused.status_code == 401, refused.text
    assert seen == [forged]
