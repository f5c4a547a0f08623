"""create_app(settings): wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.security.jwt import JWTAuth, Token
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from backend.accounts import AccountService
from backend.booking.events import EventService
from backend.booking.service import BookingService
from backend.errors import exception_handlers
from backend.live.channel import MemorySeatChannel, RedisSeatChannel, SeatChannel
from backend.live.hub import LiveHub
from backend.live.metered import MeteredChannel, MeteredPublisher
from backend.live.websocket import event_socket
from backend.locks import MemorySeatLockStore, RedisSeatLockStore, SeatLockStore
from backend.observability.logs import logging_config, quiet_driver_loggers
from backend.observability.metrics import Metrics, metrics_endpoint
from backend.observability.requestid import request_context
from backend.observability.shutdown import Shutdown
from backend.settings import Mode, Settings, get_settings
from backend.storage import db
from backend.web.accounts import AccountController
from backend.web.bookings import BookingController
from backend.web.deps import ALGORITHM, REQUIRED_CLAIMS, MemoToken, dependencies
from backend.web.events import EventController
from backend.web.health import health, ready
from backend.web.idempotency import Idempotency
from backend.web.pages import PageController
from backend.web.security import add_security_headers
from backend.web.throttle import Throttle

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("boxoffice")


def _backends(settings: Settings) -> tuple[SeatLockStore, SeatChannel, Store]:
    if settings.mode is Mode.SERVICES:
        assert settings.redis_url is not None
        return (
            RedisSeatLockStore(settings.redis_url, settings.redis_prefix),
            RedisSeatChannel(settings.redis_url, settings.redis_prefix),
            RedisStore.with_client(
                url=settings.redis_url, namespace=f"{settings.redis_prefix}-throttle"
            ),
        )
    return MemorySeatLockStore(), MemorySeatChannel(), MemoryStore()


async def _sweep_expired_holds(
    booking: BookingService, interval: float, stop: asyncio.Event
) -> None:
    """Every process sweeps; the database's conditional update gives each expiry to one.

    It stops between sweeps, never inside one: cancelling a task while it opens a Piccolo
    transaction would leak the pooled connection, still inside BEGIN.
    """
    while not stop.is_set():
        try:
            await booking.release_expired_holds()
        except Exception as exc:
            log.warning("expiring holds failed (will retry): %s", exc)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


SHUTDOWN_STEP_SECONDS = 5.0


async def _bounded(name: str, step: Any, seconds: float = SHUTDOWN_STEP_SECONDS) -> None:
    """Run one shutdown step; log (never raise) if it fails or overruns."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.warning("shutdown: %s did not stop within %.0f s; abandoned", name, seconds)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("shutdown: %s failed: %r", name, task.exception())


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    quiet_driver_loggers()
    engine = db.make_engine(settings)
    db.bind_tables(engine)
    locks, raw_channel, store = _backends(settings)
    metrics = Metrics()
    shutdown = Shutdown()
    channel = MeteredChannel(raw_channel, metrics)
    hub = LiveHub(
        channel,
        batch_ms=settings.live_batch_ms,
        backlog=settings.ws_backlog,
        sends_per_second=settings.live_sends_per_second,
        commit_stamps=settings.live_commit_stamps,
    )
    metrics.watch_hub(hub)
    accounts = AccountService(hash_concurrency=settings.argon2_concurrency)
    events = EventService(engine)
    booking = BookingService(
        engine,
        locks,
        MeteredPublisher(hub, metrics),
        lock_ttl_ms=settings.lock_ttl_ms,
        unsafe_disable_guard=settings.unsafe_disable_guard,
    )
    if settings.unsafe_disable_guard:
        log.critical("BOXOFFICE_UNSAFE_DISABLE_GUARD is on: seats CAN be sold twice (test only)")

    async def retrieve_user(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Any:
        # The HS256 signature vouches for the subject: no database read per request (it
        # was a sixth of the CPU of a booking). GET /me still reads the account.
        try:
            return {"id": str(uuid.UUID(token.sub))}
        except ValueError:
            return None

    jwt_auth = JWTAuth[Any, MemoToken](
        retrieve_user_handler=retrieve_user,
        token_cls=MemoToken,
        token_secret=settings.jwt_secret,
        algorithm=ALGORITHM,
        require_claims=list(REQUIRED_CLAIMS),
        default_token_expiration=timedelta(seconds=settings.jwt_lifetime_seconds),
        # Pages are shells that fetch with the token; static files are public.
        exclude=["^/schema", "^/static/", "^/js/", "^/$", "^/e/", "^/account/", "^/my/"],
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db.bind_tables(engine)
        await db.start(engine, settings.db_pool_max)
        await locks.on_startup()
        await channel.on_startup()
        await hub.on_startup()
        stop = asyncio.Event()
        sweeper = asyncio.create_task(
            _sweep_expired_holds(booking, settings.expiry_interval, stop), name="hold-sweeper"
        )
        shutdown.install()  # SIGTERM: close websockets with 1001 first, then uvicorn's own
        try:
            yield
        finally:
            shutdown.uninstall()
            stop.set()
            try:
                await asyncio.wait_for(sweeper, 10)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("hold sweeper did not stop in time")
            # Every step is bounded: a backend that does not answer must not hold the
            # process (or a test run) hostage at exit.
            await _bounded("live hub", hub.on_shutdown())
            await _bounded("live channel", channel.on_shutdown())
            await _bounded("lock store", locks.on_shutdown())
            await _bounded("throttle store", store.__aexit__(None, None, None))
            await _bounded("database pool", db.stop(engine), seconds=15)

    static = [
        create_static_files_router(
            path="/static",
            directories=[ROOT / "static"],
            opt={"exclude_from_auth": True},
            include_in_schema=False,
            name="static",
        ),
        create_static_files_router(
            path="/js",
            directories=[ROOT / "frontend"],
            opt={"exclude_from_auth": True},
            include_in_schema=False,
            name="js",
        ),
    ]
    state = State(
        {
            "settings": settings,
            "engine": engine,
            "locks": locks,
            "channel": channel,
            "hub": hub,
            "accounts": accounts,
            "events": events,
            "booking": booking,
            "idempotency": Idempotency(engine, lease_ms=settings.idempotency_lease_ms),
            "throttle": Throttle(store, settings.signin_attempts, settings.signin_window_seconds),
            "jwt_auth": jwt_auth,
            "metrics": metrics,
        }
    )
    return Litestar(
        route_handlers=[
            AccountController,
            EventController,
            BookingController,
            PageController,
            health,
            ready,
            metrics_endpoint,
            event_socket,
            *static,
        ],
        dependencies=dependencies(),
        exception_handlers=exception_handlers(),
        on_app_init=[jwt_auth.on_app_init],
        lifespan=[lifespan],
        middleware=[request_context(metrics, shutdown)],
        before_send=[add_security_headers],
        state=state,
        template_config=TemplateConfig(directory=ROOT / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(title="Boxoffice", version="0.1.0", path="/schema"),
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=2048, gzip_compress_level=5
        ),
        cors_config=(
            CORSConfig(allow_origins=list(settings.allowed_origins))
            if settings.allowed_origins
            else None
        ),
        allowed_hosts=(
            AllowedHostsConfig(allowed_hosts=list(settings.allowed_hosts))
            if settings.allowed_hosts
            else None
        ),
        logging_config=logging_config(settings.log_format, settings.log_level),
    )
