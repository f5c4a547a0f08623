"""Configuration, read once from the environment (and an optional `.env` file).

Two run modes share one code path (DESIGN §1):

* embedded (default): SQLite file in DATA_DIR, in-process seat locks and seat channel;
* services: DATABASE_URL=postgresql://… and REDIS_URL=redis://…, any number of processes.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from dotenv import load_dotenv


class ConfigError(Exception):
    """Bad configuration: the process must not start."""


class Mode(StrEnum):
    EMBEDDED = "embedded"
    SERVICES = "services"


MIN_SECRET_LENGTH = 32
WEAK_SECRETS = frozenset({"", "secret", "changeme", "your-secret-key", "change-me"})


@dataclass(frozen=True)
class Settings:
    mode: Mode
    database_url: str | None
    redis_url: str | None
    redis_prefix: str
    jwt_secret: str
    jwt_lifetime_seconds: int
    host: str
    port: int
    workers: int
    data_dir: Path
    allowed_origins: tuple[str, ...]
    allowed_hosts: tuple[str, ...]
    demo: bool
    expiry_interval: float
    lock_ttl_ms: int
    live_batch_ms: int
    live_sends_per_second: int
    ws_backlog: int
    ws_heartbeat_seconds: float
    db_pool_max: int
    argon2_concurrency: int
    signin_attempts: int
    signin_window_seconds: int
    idempotency_lease_ms: int = 30_000
    log_format: str = "text"
    log_level: str = "info"
    ws_max_per_user: int = 20
    # Test-only negative control (chaos tests): books without the compare-and-set
    # condition and without the unique active-seat value, so the history checker must
    # catch double bookings. Refused unless BOXOFFICE_TESTING=1 is set too.
    unsafe_disable_guard: bool = False
    # Proxies whose X-Forwarded-For uvicorn trusts (per-address throttling behind nginx).
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)
    # Each live `seats` message also carries its oldest change's commit time (benchmarks).
    live_commit_stamps: bool = False
    # Bearer token that GET /metrics requires when set (scrapers send it).
    metrics_token: str | None = None
    # A websocket whose send buffer stays over its high-water mark this long is closed.
    ws_stall_seconds: int = 10
    # permessage-deflate on websockets, without context takeover (backend/live/frames.py).
    ws_deflate: bool = True
    # Anonymous websockets per client address per process (signed-in: ws_max_per_user).
    ws_max_anonymous_per_address: int = 50
    # Group commit of one event's holds and bookings (backend/booking/batch.py); off
    # only to measure what it gains.
    write_batching: bool = True
    # Bookings before fan-out (backend/live/hub.py): while this process writes bookings,
    # an event's shoppers' batch waits for them until this process's sends to them stay
    # under this budget a second (shoppers / budget seconds), at most LIVE_YIELD_MS
    # (LIVE_YIELD_MS=0: never).
    live_sale_sends_per_second: float = 5_000
    live_yield_ms: int = 1_500
    # How long uvicorn keeps an idle HTTP connection open. Longer than any proxy's or
    # client's reuse of it (nginx's upstream keepalive_timeout is 60 s): the side that
    # closes an idle connection first races the other side's next request on it, and a
    # POST lost that way comes back as a 502 from nginx or a read error to the client.
    keep_alive_seconds: int = 75
    # The listening socket's accept queue (uvicorn's default is 2,048; the kernel caps
    # it at net.core.somaxconn). A connection that finds it full is dropped and its
    # client retries after 1 s, then 3 s: a burst of new connections beyond it waits
    # seconds, not milliseconds.
    listen_backlog: int = 4096
    # The served process's garbage collector (backend/observability/collector.py): the
    # young generation's threshold once started; 0 keeps CPython's defaults.
    gc_young_threshold: int = 10_000
    # Log the event loop's stack when it has not run for this long (0: off); see
    # backend/observability/stalls.py.
    loop_stall_log_ms: int = 0
    # How long the seats' status-change log keeps a line (0: forever).
    seat_log_days: int = 365
    # Waiting rooms (issue 12): how often each process reaps and admits; how long a
    # place or a slot survives without any sign of its account (socket, poll, hold);
    # the booking path's p99 over which a room's shopping window shrinks (admission.py);
    # joins per address a minute.
    waiting_room_interval_ms: int = 250
    waiting_room_grace_seconds: int = 60
    waiting_room_slow_ms: int = 300
    waiting_room_joins_per_address: int = 120
    # What one organiser may create in a rolling 24 hours (issue 11, item 6); 0: no
    # limit. The demo event and the command line are exempt.
    events_per_user_per_day: int = 50
    seats_per_user_per_day: int = 200_000

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "boxoffice.sqlite"


@dataclass(frozen=True)
class DatabaseLocation:
    """Only where the database is: what Piccolo's own command line needs."""

    database_url: str | None
    data_dir: Path

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "boxoffice.sqlite"


def load_database_location() -> DatabaseLocation:
    """DATABASE_URL and DATA_DIR from the environment, checked by nothing else and
    creating nothing (unlike `load_settings`, which makes the embedded mode's secret):
    `piccolo_conf.py` imports this."""
    load_dotenv(override=False)
    return DatabaseLocation(
        database_url=os.environ.get("DATABASE_URL") or None,
        data_dir=Path(os.environ.get("DATA_DIR") or ".data").resolve(),
    )


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _proxies(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """`*` (trust every peer) or comma-separated IP addresses and networks.

    uvicorn takes anything else as a name that never matches a TCP peer, silently; a
    typo here would turn off per-address throttling behind the proxy.
    """
    items = _list(name) or default
    if items == ("*",):
        return items
    for item in items:
        try:
            if "/" in item:
                ipaddress.ip_network(item)
            else:
                ipaddress.ip_address(item)
        except ValueError:
            raise ConfigError(
                f"{name} must be * or comma-separated IP addresses or networks "
                f"(e.g. 127.0.0.1,10.0.0.0/8), got {item!r}"
            ) from None
    return items


def _embedded_secret(data_dir: Path) -> str:
    """Create a random secret once and keep it, so tokens survive a restart."""
    path = data_dir / "jwt_secret"
    try:
        secret = path.read_text().strip()
        if len(secret) >= MIN_SECRET_LENGTH:
            return secret
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(secret)
    tmp.chmod(0o600)
    # Two processes racing here both write a valid secret; the rename makes one win whole.
    os.replace(tmp, path)
    return path.read_text().strip()


def load_settings() -> Settings:
    """Build settings from the environment; raise ConfigError with a clear message."""
    location = load_database_location()
    database_url = location.database_url
    redis_url = os.environ.get("REDIS_URL") or None
    if database_url and not database_url.startswith(("postgres://", "postgresql://")):
        raise ConfigError(
            f"DATABASE_URL must be a postgresql:// URL (or unset for embedded SQLite), "
            f"got {database_url.split('://')[0]}://…"
        )
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must be a redis:// or rediss:// URL")
    if bool(database_url) != bool(redis_url):
        raise ConfigError(
            "services mode needs both DATABASE_URL (PostgreSQL) and REDIS_URL; "
            "set both, or neither for the embedded mode"
        )
    mode = Mode.SERVICES if database_url else Mode.EMBEDDED

    data_dir = location.data_dir
    workers = _int("WORKERS", 1, 1, 64)
    if mode is Mode.EMBEDDED and workers != 1:
        raise ConfigError(
            "the embedded mode runs one process (its locks and live channel are in-process); "
            "set DATABASE_URL and REDIS_URL for WORKERS > 1"
        )

    secret = os.environ.get("JWT_SECRET", "")
    if mode is Mode.SERVICES:
        if secret.lower() in WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"services mode refuses to start without a real JWT_SECRET "
                f"(at least {MIN_SECRET_LENGTH} random characters; "
                f"e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        if not secret:
            secret = _embedded_secret(data_dir)
        elif len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")

    unsafe_disable_guard = _flag("BOXOFFICE_UNSAFE_DISABLE_GUARD", False)
    if unsafe_disable_guard and not _flag("BOXOFFICE_TESTING", False):
        raise ConfigError(
            "BOXOFFICE_UNSAFE_DISABLE_GUARD turns off the double-booking guard and exists only "
            "for the chaos tests' negative control; it is refused unless BOXOFFICE_TESTING=1"
        )

    log_format = _choice("LOG_FORMAT", "text", ("text", "json"))
    log_level = _choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical"))

    port = _int("PORT", 8000, 1, 65535)
    host = os.environ.get("HOST") or "127.0.0.1"
    return Settings(
        mode=mode,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=os.environ.get("REDIS_PREFIX") or "bo",
        jwt_secret=secret,
        jwt_lifetime_seconds=_int("JWT_LIFETIME_SECONDS", 3600, 60, 3600),
        host=host,
        port=port,
        workers=workers,
        data_dir=data_dir,
        allowed_origins=_list("ALLOWED_ORIGINS"),
        allowed_hosts=_list("ALLOWED_HOSTS"),
        demo=_flag("BOXOFFICE_DEMO", True),
        expiry_interval=_int("EXPIRY_INTERVAL_MS", 250, 20, 10_000) / 1000,
        lock_ttl_ms=_int("LOCK_TTL_MS", 5000, 50, 60_000),
        live_batch_ms=_int("LIVE_BATCH_MS", 25, 0, 1000),
        live_sends_per_second=_int("LIVE_SENDS_PER_SECOND", 40_000, 100, 10_000_000),
        live_sale_sends_per_second=_int("LIVE_SALE_SENDS_PER_SECOND", 5_000, 100, 10_000_000),
        live_yield_ms=_int("LIVE_YIELD_MS", 1_500, 0, 5000),
        ws_backlog=_int("WS_BACKLOG", 256, 1, 100_000),
        ws_heartbeat_seconds=_int("WS_HEARTBEAT_SECONDS", 10, 1, 600),
        db_pool_max=_int("DB_POOL_MAX", 20, 1, 500),
        argon2_concurrency=_int("ARGON2_CONCURRENCY", 4, 1, 64),
        signin_attempts=_int("SIGNIN_ATTEMPTS", 10, 1, 100_000),
        signin_window_seconds=_int("SIGNIN_WINDOW_SECONDS", 60, 1, 86_400),
        idempotency_lease_ms=_int("IDEMPOTENCY_LEASE_MS", 30_000, 500, 600_000),
        unsafe_disable_guard=unsafe_disable_guard,
        write_batching=_flag("WRITE_BATCHING", True),
        keep_alive_seconds=_int("KEEP_ALIVE_SECONDS", 75, 1, 3600),
        listen_backlog=_int("LISTEN_BACKLOG", 4096, 64, 65_535),
        gc_young_threshold=_int("GC_YOUNG_THRESHOLD", 10_000, 0, 10_000_000),
        loop_stall_log_ms=_int("LOOP_STALL_LOG_MS", 0, 0, 600_000),
        seat_log_days=_int("SEAT_LOG_DAYS", 365, 0, 36_500),
        log_format=log_format,
        log_level=log_level,
        ws_max_per_user=_int("WS_MAX_PER_USER", 20, 1, 1000),
        forwarded_allow_ips=_proxies("FORWARDED_ALLOW_IPS", ("127.0.0.1",)),
        live_commit_stamps=_flag("LIVE_COMMIT_STAMPS", False),
        metrics_token=_metrics_token(),
        ws_stall_seconds=_int("WS_STALL_SECONDS", 10, 1, 600),
        ws_deflate=_flag("WS_DEFLATE", True),
        ws_max_anonymous_per_address=_int("WS_MAX_ANONYMOUS_PER_ADDRESS", 50, 1, 100_000),
        waiting_room_interval_ms=_int("WAITING_ROOM_INTERVAL_MS", 250, 20, 10_000),
        waiting_room_grace_seconds=_int("WAITING_ROOM_GRACE_SECONDS", 60, 5, 3600),
        waiting_room_slow_ms=_int("WAITING_ROOM_SLOW_MS", 300, 10, 60_000),
        waiting_room_joins_per_address=_int("WAITING_ROOM_JOINS_PER_ADDRESS", 120, 1, 10_000_000),
        events_per_user_per_day=_int("EVENTS_PER_USER_PER_DAY", 50, 0, 1_000_000),
        seats_per_user_per_day=_int("SEATS_PER_USER_PER_DAY", 200_000, 0, 1_000_000_000),
    )


def _metrics_token() -> str | None:
    token = os.environ.get("METRICS_TOKEN") or None
    if token is not None and (len(token) < 16 or not token.isprintable() or " " in token):
        raise ConfigError("METRICS_TOKEN must be at least 16 printable characters, no spaces")
    return token


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
