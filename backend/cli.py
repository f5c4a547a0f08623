"""`boxoffice` command: serve, migrate, demo.

`serve` checks that nothing listens on HOST:PORT, migrates, loads the demo event the
first time and starts uvicorn with WORKERS processes (more than one: each on its own
socket, backend/serving.py). Several instances may start at once against one
PostgreSQL: migrations and demo data run under an advisory lock.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from backend.storage.migrations import UNREACHABLE as DATABASE_UNREACHABLE
from backend.storage.migrations import run_migrations, startup_lock

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("boxoffice.cli")
APP = "backend.app:create_served_app"
T = TypeVar("T")

__all__ = ["main", "migrate", "run_migrations"]


async def migrate(settings: Any) -> None:
    async with startup_lock(settings):
        await run_migrations(settings)


async def load_demo(settings: Any) -> list[str]:
    """Create the demo organiser and events once; the ids of the events created."""
    from backend.demo import ensure_demo_event

    async with startup_lock(settings):
        return await ensure_demo_event(settings)


def serve(settings: Any) -> None:
    import uvicorn

    from backend.serving import check_port_free

    try:
        check_port_free(settings.host, settings.port)
    except OSError as exc:
        print(
            f"boxoffice: cannot listen on {settings.host}:{settings.port}: "
            f"{exc.strerror or exc} (is another server running there?)",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    _database_step(settings, migrate(settings))
    if settings.demo:
        for created in _database_step(settings, load_demo(settings)):
            print(
                f"boxoffice: demo event created: http://{settings.host}:{settings.port}/e/{created}"
            )
    mode = settings.mode.value
    print(
        f"boxoffice: {mode} mode, {settings.workers} worker(s), "
        f"http://{settings.host}:{settings.port}",
        flush=True,
    )
    options = uvicorn_options(settings)
    if settings.workers > 1:
        from backend.serving import serve as serve_workers

        serve_workers(APP, **options)
    else:
        uvicorn.run(APP, **options)


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """Everything `serve` passes to uvicorn besides the app."""
    from backend.observability.logs import uvicorn_log_config

    return {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "ws_max_size": 64 * 1024,
        # permessage-deflate as FramingWebSocketProtocol negotiates it: without context
        # takeover, so a batch is compressed once for every socket (uvicorn's own offer
        # compressed it again for each socket, which halved a sale beside 1,000 watchers).
        "ws_per_message_deflate": settings.ws_deflate,
        # uvicorn's websockets-sansio protocol plus direct frame writes for live fan-out
        # (backend/live/frames.py); the app falls back to plain ASGI sends without it.
        "ws": "backend.live.frames:FramingWebSocketProtocol",
        "ws_ping_interval": 20,
        "ws_ping_timeout": 20,
        # Idle connections outlive the proxy's and the clients' reuse of them (uvicorn's
        # own default, 5 s, closed them under nginx's upstream keepalive: see Settings).
        "timeout_keep_alive": settings.keep_alive_seconds,
        "backlog": settings.listen_backlog,
        "timeout_graceful_shutdown": 10,
        "proxy_headers": True,
        "forwarded_allow_ips": list(settings.forwarded_allow_ips),
        "log_level": settings.log_level,
        "log_config": uvicorn_log_config(settings.log_format),
        "access_log": False,  # the app writes access lines itself, with the request id
        "app_dir": str(ROOT),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="boxoffice", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="migrate, load the demo event once, and serve")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("demo", help="create the demo event if it does not exist")
    args = parser.parse_args(argv)

    from backend.settings import ConfigError, get_settings

    try:
        settings = get_settings()
    except ConfigError as exc:
        print(f"boxoffice: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        _database_step(settings, migrate(settings))
        print("boxoffice: migrations applied")
    elif args.command == "demo":
        created = _database_step(settings, load_demo(settings))
        for event_id in created:
            print(f"boxoffice: demo event {event_id}")
        if not created:
            print("boxoffice: demo events exist")


def _database_step(settings: Any, step: Coroutine[Any, Any, T]) -> T:
    """Run a start-up step; if the database cannot be used, say which one and exit 2."""
    try:
        return asyncio.run(step)
    except DATABASE_UNREACHABLE as exc:
        where = _database_where(settings)
        print(f"boxoffice: cannot use the database at {where}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _database_where(settings: Any) -> str:
    if not settings.database_url:
        return str(settings.sqlite_path)
    from urllib.parse import urlsplit

    url = urlsplit(settings.database_url)  # never print the password
    return f"{url.hostname}:{url.port or 5432}{url.path} (DATABASE_URL)"


if __name__ == "__main__":
    main()
