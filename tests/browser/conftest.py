"""Browser tests: a real server process, the system Chromium, Playwright's sync API.

One server per session (`python -m backend.cli serve` on a free port with its own
data folder, no demo event); every test makes its own users and events through
the JSON API, so tests do not depend on each other's seats.

Set ``BOXOFFICE_TEST_BASE_URL`` to drive an already-running server instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import MODES
from tests.support.databases import services_database
from tests.support.services import require_services

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AUTH_KEY = "boxoffice.auth"  # localStorage key, see frontend/auth.js
PASSWORD = "correct horse battery"
# Each server's JWT secret, by URL: tests that need a token of an unusual life mint it.
SECRETS: dict[str, str] = {}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = (
        f"!!! BROWSER TESTS NOT RUN: {CHROMIUM} is missing. Install it with "
        "`apt-get install -y chromium` (Playwright's own browser download is not used)."
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="package", params=MODES)
def base_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Start the app in one run mode and yield its URL; stop it afterwards. Every
    browser test runs against both: the embedded app (one process), and the services
    app (PostgreSQL + Redis, two workers, so the seat map's live updates cross
    processes through Redis)."""
    _require_chromium()
    existing = os.environ.get("BOXOFFICE_TEST_BASE_URL")
    if existing:
        yield existing.rstrip("/")
        return
    data_dir = tmp_path_factory.mktemp(f"boxoffice-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "services":
            require_services()
            settings = stack.enter_context(services_database(data_dir / "services"))
            assert settings.database_url and settings.redis_url
            mode_env = {
                "DATABASE_URL": settings.database_url,
                "REDIS_URL": settings.redis_url,
                "REDIS_PREFIX": settings.redis_prefix,
                "JWT_SECRET": settings.jwt_secret,
                "WORKERS": "2",
            }
        else:
            mode_env = {}
        yield from _serve(data_dir, mode_env)


def _serve(data_dir: Path, mode_env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "BOXOFFICE_DEMO": "0",
        # The suite signs up and in dozens of accounts a minute from one address; the
        # throttle has its own tests (tests/api/test_throttle.py), so it is raised here
        # rather than having every module ration its accounts.
        "SIGNIN_ATTEMPTS": "100",
    }
    # Only the mode's own configuration: never let a developer's environment leak in.
    for name in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "JWT_SECRET", "WORKERS"):
        env.pop(name, None)
    env.update(mode_env)
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server not healthy after 60 s:\n{log_path.read_text(errors='replace')}"
                )
            time.sleep(0.2)
        # The embedded mode made its secret in its data folder on start-up.
        SECRETS[url] = mode_env.get("JWT_SECRET") or (data_dir / "jwt_secret").read_text().strip()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# ---------------------------------------------------------------- JSON API


@dataclass
class User:
    email: str
    password: str
    token: str
    id: str


@dataclass
class Api:
    """Just enough of the JSON API to set up a scenario."""

    base_url: str
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, timeout=60)

    def new_user(self, prefix: str = "user") -> User:
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"
        r = self.client.post("/signup", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = self.client.post("/signin", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return User(email=email, password=PASSWORD, token=r.json()["token"], id=user_id)

    def create_event(self, organiser: User, **body: Any) -> dict[str, Any]:
        body.setdefault("name", f"Test event {uuid.uuid4().hex[:6]}")
        r = self.client.post(
            "/events", json=body, headers={"Authorization": f"Bearer {organiser.token}"}
        )
        assert r.status_code == 201, r.text
        if "seats" not in r.json():  # over 1,000 seats: the 201 links to the event
            r = self.client.get(r.headers["location"])
            assert r.status_code == 200, r.text
        return dict(r.json())

    def small_event(
        self, organiser: User, rows: str = "ABCD", seats: int = 8, **extra: Any
    ) -> dict[str, Any]:
        layout = {
            "categories": [
                {"id": "standard", "name": "Standard", "colour": "#2563eb", "price": 2500},
                {"id": "premium", "name": "Premium", "colour": "#db2777", "price": 4000},
            ],
            "sections": [
                {
                    "name": "Stalls",
                    "category": "standard",
                    "rows": [
                        {"label": r, "seats": seats, **({"category": "premium"} if i == 0 else {})}
                        for i, r in enumerate(rows)
                    ],
                }
            ],
        }
        return self.create_event(organiser, layout=layout, **extra)

    def hold(self, user: User, event_id: str, seat_ids: list[str]) -> httpx.Response:
        return self.client.post(
            f"/events/{event_id}/holds",
            json={"seatIds": seat_ids},
            headers={"Authorization": f"Bearer {user.token}"},
        )

    def book(self, user: User, event_id: str, seat_ids: list[str]) -> httpx.Response:
        return self.client.post(
            f"/events/{event_id}/bookings",
            json={"seatIds": seat_ids},
            headers={"Authorization": f"Bearer {user.token}", "Idempotency-Key": str(uuid.uuid4())},
        )

    @staticmethod
    def seat_id(event: dict[str, Any], label: str) -> str:
        for seat in event["seats"]:
            if seat["label"] == label:
                return str(seat["id"])
        raise KeyError(label)


@pytest.fixture(scope="package")
def mint_token(base_url: str) -> Callable[..., str]:
    """`mint_token(user, lifetime=…, age=0)`: a token for `user` as the server signs them
    (HS256, its secret, `sub`, `iat`, `exp`), `age` seconds old, ending `lifetime` seconds
    after it was issued: a test need not wait an hour for one to run out."""
    secret = SECRETS.get(base_url)
    if secret is None:
        pytest.skip("the server's JWT secret is unknown (BOXOFFICE_TEST_BASE_URL)")

    def mint(user: User, lifetime: float, age: float = 0) -> str:
        issued = time.time() - age
        claims = {"sub": user.id, "iat": int(issued), "exp": int(issued + lifetime)}
        return str(jwt.encode(claims, secret, algorithm="HS256"))

    return mint


@pytest.fixture(scope="package")
def api(base_url: str) -> Iterator[Api]:
    a = Api(base_url)
    yield a
    a.client.close()


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="package")
def browser(base_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class ConsoleWatch:
    """Collects page errors and console errors (CSP violations show up here)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []

    def allow(self, pattern: str) -> None:
        """Expect console errors matching this regex (e.g. a deliberate 404)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def attach(self, page: Any) -> Any:
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

        def on_console(msg: Any) -> None:
            if msg.type == "error":
                self.errors.append(f"console: {msg.text}")

        page.on("console", on_console)
        return page


@pytest.fixture
def console() -> Iterator[ConsoleWatch]:
    watch = ConsoleWatch()
    yield watch
    unexpected = watch.unexpected()
    assert unexpected == [], "errors in the browser console:\n" + "\n".join(unexpected)


# A signed-in context's token, put in localStorage before the first page of the app's
# origin runs its scripts, once per context (the marker stays in the context's
# localStorage, shared by its tabs): afterwards the page owns it, as a browser's
# storage is the page's. Playwright's `storage_state` does the same but loads the origin
# in a page of its own to seed it: 300 ms a context here against 12-20 ms without
# (2026-12-03), and the browser tests make a few hundred contexts.
# `seed` is [origin, key, value], prepended as JSON by `new_context`.
SIGNED_IN = """((seed) => {
    const [origin, key, value] = seed;
    if (location.origin !== origin) return;  // about:blank and other origins
    try {
        if (localStorage.getItem("boxoffice.test.seeded") === null) {
            localStorage.setItem(key, value);
            localStorage.setItem("boxoffice.test.seeded", "1");
        }
    } catch (e) {}  // a document with no storage of its own
})"""


@pytest.fixture
def new_context(browser: Any, base_url: str, console: ConsoleWatch) -> Iterator[Callable[..., Any]]:
    """Make a browser context, optionally signed in as `user` (token put in localStorage)."""
    made: list[Any] = []

    def make(user: User | None = None, **options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        ctx = browser.new_context(base_url=base_url, **options)
        if user is not None:
            value = json.dumps(
                {
                    "token": user.token,
                    "expiresAt": int(time.time() * 1000) + 3_600_000,
                    "email": user.email,
                    "userId": user.id,
                }
            )
            ctx.add_init_script(f"{SIGNED_IN}({json.dumps([base_url, AUTH_KEY, value])});")
        ctx.set_default_timeout(15_000)
        ctx.on("page", console.attach)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        with contextlib.suppress(Exception):
            ctx.close()


# ------------------------------------------------------------ page helpers


def open_event(page: Any, event_id: str) -> None:
    """Open a seat map and wait until it is drawn and live."""
    page.goto(f"/e/{event_id}")
    page.wait_for_function("() => window.boxoffice && window.boxoffice.seatCount > 0")
    page.evaluate("() => window.boxoffice.ready")
    page.wait_for_selector("[data-testid=ws-indicator][data-ws-state=live]")


def seat_state(page: Any, sid: str) -> dict[str, Any]:
    return dict(page.evaluate("(id) => window.boxoffice.seatState(id)", sid))


def wait_seat(
    page: Any, sid: str, status: str, mine: bool | None = None, timeout: float = 5000
) -> None:
    page.wait_for_function(
        """([id, status, mine]) => {
            const s = window.boxoffice.seatState(id);
            return s && s.status === status && (mine === null || s.mine === mine);
        }""",
        arg=[sid, status, mine],
        timeout=timeout,
        # Poll on a timer, not on animation frames: a background tab gets no frames.
        polling=50,
    )


def click_seat(page: Any, sid: str) -> None:
    point = page.evaluate("(id) => window.boxoffice.seatPoint(id)", sid)
    assert point, f"seat {sid} is not on the map"
    page.mouse.click(point["x"], point["y"])


def tab_to(page: Any, testid: str, limit: int = 60) -> None:
    """Press Tab until the element with this data-testid has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "(t) => document.activeElement && document.activeElement.dataset.testid === t", testid
        ):
            return
    raise AssertionError(f"Tab never reached [data-testid={testid}]")


@pytest.fixture(scope="package")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def ui() -> SimpleNamespace:
    """The page helpers above, as a fixture (test modules never import conftest)."""
    return SimpleNamespace(
        open_event=open_event,
        seat_state=seat_state,
        wait_seat=wait_seat,
        click_seat=click_seat,
        tab_to=tab_to,
    )
