"""POST /signup, POST /signin, POST /token/refresh, GET /me."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.security.jwt import JWTAuth
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.accounts import AccountService, normalise_email
from backend.errors import InvalidInput, NotAuthenticated
from backend.web.schemas import CredentialsIn, TokenOut, UserOut, user_out
from backend.web.throttle import Throttle

PUBLIC = {"exclude_from_auth": True}
# One address may try several accounts (a shared office, a NAT); one account may be
# tried from several addresses (a phone and a laptop) before it is shut for the window.
ADDRESS_FACTOR = 5


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _email_key(raw: str) -> str:
    try:
        return normalise_email(raw)
    except InvalidInput:
        return raw.strip().lower()[:320]


def _token_for(request: Request[Any, Any, Any], user_id: str) -> TokenOut:
    auth: JWTAuth[Any, Any] = request.app.state.jwt_auth
    lifetime = auth.default_token_expiration
    token = auth.create_token(identifier=user_id, token_expiration=lifetime)
    return TokenOut(
        token=token,
        token_type="Bearer",  # noqa: S106 (the scheme's name, not a secret)
        expires_in=int(lifetime.total_seconds()),
    )


class AccountController(Controller):
    tags = ["accounts"]

    @post("/signup", status_code=HTTP_201_CREATED, opt=PUBLIC)
    async def sign_up(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CredentialsIn],
        accounts: NamedDependency[AccountService],
        throttle: NamedDependency[Throttle],
    ) -> UserOut:
        """Create an account. 409 if the email is taken; 400 for a bad email or short password."""
        await throttle.hit("signup-ip", _client(request), throttle.limit * ADDRESS_FACTOR)
        await throttle.hit("signup-account", _email_key(data.email))
        return user_out(await accounts.sign_up(data.email, data.password))

    @post("/signin", status_code=HTTP_200_OK, opt=PUBLIC)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CredentialsIn],
        accounts: NamedDependency[AccountService],
        throttle: NamedDependency[Throttle],
    ) -> TokenOut:
        """Exchange credentials for a bearer token (HS256 JWT, one hour or less)."""
        address, email = _client(request), _email_key(data.email)
        await throttle.hit("signin-ip", address, throttle.limit * ADDRESS_FACTOR)
        # Failures per account: each attempt is counted before its password is checked
        # (so concurrent guesses cannot overrun the limit) and a correct password clears
        # the count. Per account *and* address, so a stranger's guesses from one address
        # cannot lock the owner out; per account alone at 5x, against guessing from many.
        here = f"{email}|{address}"
        await throttle.hit("signin-fail", here)
        await throttle.hit("signin-fail-account", email, throttle.limit * ADDRESS_FACTOR)
        user = await accounts.authenticate(data.email, data.password)
        await throttle.forget("signin-fail", here)
        await throttle.forget("signin-fail-account", email)
        return _token_for(request, str(user["id"]))

    @post("/token/refresh", status_code=HTTP_200_OK)
    async def refresh_token(
        self,
        request: Request[Any, Any, Any],
        user_id: NamedDependency[str],
        accounts: NamedDependency[AccountService],
        refresh_throttle: NamedDependency[Throttle],
    ) -> TokenOut:
        """Exchange a valid bearer token for a fresh one (the same answer as POST /signin).

        An open page calls it before its token runs out, so a buyer is not signed out in
        the middle of a purchase. The auth middleware has already refused an expired or
        forged token (401): a refresh never brings a dead token back. A handful a minute
        per account (429 past it), and the account must still exist (401)."""
        await refresh_throttle.hit("token-refresh", user_id)
        if await accounts.get(user_id) is None:
            raise NotAuthenticated("this account no longer exists")
        return _token_for(request, user_id)

    @get("/me")
    async def me(
        self, user_id: NamedDependency[str], accounts: NamedDependency[AccountService]
    ) -> UserOut:
        """The caller."""
        user = await accounts.get(user_id)
        if user is None:
            raise NotAuthenticated("this account no longer exists")
        return user_out(user)
