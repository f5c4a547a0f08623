"""create_app(settings): wiring only. create_served_app(): the factory `boxoffice serve`
gives uvicorn, the same app with its process's garbage collector tuned once started."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.security.jwt import JWTAuth, Token
from litestar.static_files import create_static_files_router
from litestar.stores.registry import StoreRegistry
from litestar.template.config import TemplateConfig

from backend.booking.gcgate import FullCollectionGate
from backend.live.websocket import event_socket
from backend.observability.collector import tune_collector
from backend.observability.logs import logging_config, quiet_loggers
from backend.observability.metrics import metrics_endpoint
from backend.observability.requestid import request_context
from backend.services import Services
from backend.settings import Settings, get_settings
from backend.storage import DRIVER_LOGGERS, UNAVAILABLE
from backend.tokens import ALGORITHM, REQUIRED_CLAIMS, MemoToken
from backend.web.accounts import AccountController
from backend.web.bookings import BookingController
from backend.web.deps import dependencies
from backend.web.door import DoorController
from backend.web.errors import exception_handlers
from backend.web.events import EventController
from backend.web.health import health, ready
from backend.web.openapi import openapi_config
from backend.web.orders import OrderController
from backend.web.pages import PageController
from backend.web.queue import QueueController
from backend.web.reports import ReportController
from backend.web.security import add_security_headers
from backend.web.strictbody import strict_json_body
from backend.web.throttle import Throttle

ROOT = Path(__file__).resolve().parent.parent
QUEUE_JOIN_WINDOW_SECONDS = 60
# Token refreshes per account a minute (web/accounts.py): an open page refreshes once per
# token lifetime (at most every 45 s), shared by its tabs; more is a loop or a script.
TOKEN_REFRESHES_PER_MINUTE = 6


def create_served_app() -> Litestar:
    """`boxoffice serve`'s app: one per worker process, which it owns, so it may tune
    that process's collector (tests build many apps in one process and do not)."""
    return create_app(tune_gc=True)


def create_app(settings: Settings | None = None, *, tune_gc: bool = False) -> Litestar:
    settings = settings or get_settings()
    quiet_loggers(DRIVER_LOGGERS)
    services = Services(settings)
    stores = StoreRegistry({"throttle": services.throttle_store})
    throttle = Throttle(
        services.throttle_store,  # the store registered above
        settings.signin_attempts,
        settings.signin_window_seconds,
        on_unavailable=services.metrics.throttle_unavailable.inc,
    )
    # Waiting-room joins per address, a minute (web/queue.py), on the same store.
    queue_throttle = Throttle(
        services.throttle_store,
        settings.waiting_room_joins_per_address,
        QUEUE_JOIN_WINDOW_SECONDS,
        on_unavailable=services.metrics.throttle_unavailable.inc,
    )
    refresh_throttle = Throttle(
        services.throttle_store,
        TOKEN_REFRESHES_PER_MINUTE,
        60,
        on_unavailable=services.metrics.throttle_unavailable.inc,
    )
    jwt_auth = _jwt_auth(settings)

    # Full collections wait while holds and bookings are served (collector.py).
    gc_gate = FullCollectionGate(services.booking.latency.last_at, settings.gc_young_threshold)

    async def tune() -> None:  # last: what start-up made is frozen with the modules
        tune_collector(settings.gc_young_threshold, services.metrics.observe_gc_pause)
        if settings.gc_young_threshold > 0:
            await gc_gate.on_startup()

    return Litestar(
        route_handlers=[
            AccountController,
            EventController,
            QueueController,
            BookingController,
            OrderController,
            DoorController,
            ReportController,
            PageController,
            health,
            ready,
            metrics_endpoint,
            event_socket,
            *_static_files(),
        ],
        dependencies=dependencies(),
        exception_handlers=exception_handlers(unavailable=UNAVAILABLE),
        on_app_init=[jwt_auth.on_app_init],
        on_startup=[services.on_startup, *([tune] if tune_gc else [])],
        on_shutdown=[*([gc_gate.on_shutdown] if tune_gc else []), services.on_shutdown],
        stores=stores,
        middleware=[request_context(services.metrics, services.shutdown)],
        before_send=[add_security_headers],
        before_request=strict_json_body,
        state=State(
            {
                **services.state(),
                "throttle": throttle,
                "queue_throttle": queue_throttle,
                "refresh_throttle": refresh_throttle,
                "jwt_auth": jwt_auth,
            }
        ),
        template_config=TemplateConfig(directory=ROOT / "templates", engine=JinjaTemplateEngine),
        openapi_config=openapi_config(),
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


async def _user_from_token(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Any:
    # The HS256 signature vouches for the subject: no database read per request (it
    # was a sixth of the CPU of a booking). GET /me still reads the account.
    try:
        return {"id": str(uuid.UUID(token.sub))}
    except ValueError:
        return None


def _jwt_auth(settings: Settings) -> JWTAuth[Any, MemoToken]:
    return JWTAuth[Any, MemoToken](
        retrieve_user_handler=_user_from_token,
        token_cls=MemoToken,
        token_secret=settings.jwt_secret,
        algorithm=ALGORITHM,
        require_claims=list(REQUIRED_CLAIMS),
        default_token_expiration=timedelta(seconds=settings.jwt_lifetime_seconds),
        # Pages are shells that fetch with the token; static files are public.
        exclude=["^/schema", "^/static/", "^/js/", "^/$", "^/e/", "^/account/", "^/my/"],
    )


def _static_files() -> list[Router]:
    """CSS and icons under /static, the seat map's ES modules under /js; both public."""
    return [
        create_static_files_router(
            path=path,
            directories=[ROOT / folder],
            opt={"exclude_from_auth": True},
            include_in_schema=False,
            name=name,
        )
        for path, folder, name in (("/static", "static", "static"), ("/js", "frontend", "js"))
    ]
