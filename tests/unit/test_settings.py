from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from backend.settings import ConfigError, Mode, load_settings

ROOT = Path(__file__).resolve().parents[2]
PG = "postgresql://postgres@127.0.0.1:5432/x"
REDIS = "redis://127.0.0.1:6379/0"
STRONG = "s" * 48


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET",
        "WORKERS",
        "PORT",
        "HOST",
        "ALLOWED_ORIGINS",
        "FORWARDED_ALLOW_IPS",
        "LIVE_COMMIT_STAMPS",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_embedded_by_default_with_a_kept_random_secret(tmp_path: Path) -> None:
    first = load_settings()
    assert first.mode is Mode.EMBEDDED and first.port == 8000 and first.host == "127.0.0.1"
    assert len(first.jwt_secret) >= 32
    assert load_settings().jwt_secret == first.jwt_secret  # survives a restart
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0


def test_services_mode_needs_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("REDIS_URL", REDIS)
    for weak in ["", "secret", "your-secret-key", "short"]:
        monkeypatch.setenv("JWT_SECRET", weak)
        with pytest.raises(ConfigError, match="JWT_SECRET"):
            load_settings()
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("WORKERS", "3")
    settings = load_settings()
    assert settings.mode is Mode.SERVICES and settings.workers == 3


def test_trusted_proxies_are_loopback_unless_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().forwarded_allow_ips == ("127.0.0.1",)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.5, 172.16.0.0/12,::1")
    assert load_settings().forwarded_allow_ips == ("10.0.0.5", "172.16.0.0/12", "::1")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    assert load_settings().forwarded_allow_ips == ("*",)


def test_live_commit_stamps_are_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().live_commit_stamps is False
    monkeypatch.setenv("LIVE_COMMIT_STAMPS", "1")  # what the benchmark sets
    assert load_settings().live_commit_stamps is True
    monkeypatch.setenv("LIVE_COMMIT_STAMPS", "0")
    assert load_settings().live_commit_stamps is False


def test_idle_sockets_heartbeat_well_inside_the_browsers_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The seat map treats 25 s without a message as a lost connection (frontend/live.js):
    # a heartbeat every 10 s lets two go missing before a healthy socket looks dead.
    monkeypatch.delenv("WS_HEARTBEAT_SECONDS", raising=False)
    assert load_settings().ws_heartbeat_seconds == 10
    monkeypatch.setenv("WS_HEARTBEAT_SECONDS", "5")
    assert load_settings().ws_heartbeat_seconds == 5


def test_metrics_are_open_unless_a_metrics_token_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().metrics_token is None
    monkeypatch.setenv("METRICS_TOKEN", "a-scraper-token-0123456789")
    assert load_settings().metrics_token == "a-scraper-token-0123456789"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"DATABASE_URL": PG}, "both"),
        ({"REDIS_URL": REDIS}, "both"),
        ({"DATABASE_URL": "mysql://x", "REDIS_URL": REDIS}, "postgresql"),
        ({"WORKERS": "2"}, "embedded mode runs one process"),
        ({"PORT": "http"}, "PORT must be an integer"),
        ({"PORT": "70000"}, "PORT must be between"),
        ({"FORWARDED_ALLOW_IPS": "nginx"}, "FORWARDED_ALLOW_IPS must be \\* or"),
        ({"FORWARDED_ALLOW_IPS": "10.0.0.1/8"}, "got '10.0.0.1/8'"),  # host bits set
        ({"FORWARDED_ALLOW_IPS": "*,10.0.0.1"}, "got '\\*'"),  # * trusts all, or list them
        ({"LIVE_COMMIT_STAMPS": "sometimes"}, "LIVE_COMMIT_STAMPS must be true or false"),
        ({"LIVE_YIELD_MS": "-1"}, "LIVE_YIELD_MS must be between 0 and 5000"),
        ({"LIVE_YIELD_MS": "1s"}, "LIVE_YIELD_MS must be an integer"),
        ({"WS_DEFLATE": "gzip"}, "WS_DEFLATE must be true or false"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16"),
        ({"METRICS_TOKEN": "has a space in it, long enough"}, "no spaces"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fragment: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=fragment):
        load_settings()


def test_serve_refuses_to_start_with_a_clear_message(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": PG,
        "REDIS_URL": REDIS,
        "JWT_SECRET": "secret",
    }
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "JWT_SECRET" in result.stderr


WAITING_ROOM_ENV = (
    "WAITING_ROOM_INTERVAL_MS",
    "WAITING_ROOM_GRACE_SECONDS",
    "WAITING_ROOM_SLOW_MS",
    "WAITING_ROOM_JOINS_PER_ADDRESS",
)


def test_waiting_room_settings_have_defaults_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WAITING_ROOM_ENV:
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (
        settings.waiting_room_interval_ms,
        settings.waiting_room_grace_seconds,
        settings.waiting_room_slow_ms,
        settings.waiting_room_joins_per_address,
    ) == (250, 60, 300, 120)
    for name, value in zip(WAITING_ROOM_ENV, ("100", "30", "450", "20000"), strict=True):
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.waiting_room_slow_ms == 450
    assert settings.waiting_room_joins_per_address == 20_000
    monkeypatch.setenv("WAITING_ROOM_GRACE_SECONDS", "1")  # under a few heartbeats
    with pytest.raises(ConfigError, match="WAITING_ROOM_GRACE_SECONDS must be between 5"):
        load_settings()


def test_creation_quotas_have_generous_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EVENTS_PER_USER_PER_DAY", "SEATS_PER_USER_PER_DAY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.events_per_user_per_day, settings.seats_per_user_per_day) == (50, 200_000)
    monkeypatch.setenv("EVENTS_PER_USER_PER_DAY", "0")  # no limit
    monkeypatch.setenv("SEATS_PER_USER_PER_DAY", "5000")
    settings = load_settings()
    assert (settings.events_per_user_per_day, settings.seats_per_user_per_day) == (0, 5000)
    monkeypatch.setenv("SEATS_PER_USER_PER_DAY", "-1")
    with pytest.raises(ConfigError, match="SEATS_PER_USER_PER_DAY must be between 0"):
        load_settings()


def test_bookings_go_before_fan_out_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIVE_YIELD_MS", "LIVE_SALE_SENDS_PER_SECOND"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.live_yield_ms, settings.live_sale_sends_per_second) == (1500, 5000)
    monkeypatch.setenv("LIVE_YIELD_MS", "0")
    monkeypatch.setenv("LIVE_SALE_SENDS_PER_SECOND", "2000")
    settings = load_settings()
    assert (settings.live_yield_ms, settings.live_sale_sends_per_second) == (0, 2000)
    monkeypatch.setenv("LIVE_SALE_SENDS_PER_SECOND", "0")
    with pytest.raises(ConfigError, match="LIVE_SALE_SENDS_PER_SECOND must be between 100"):
        load_settings()


def test_websocket_compression_is_on_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli import uvicorn_options

    assert load_settings().ws_deflate is True
    assert uvicorn_options(load_settings())["ws_per_message_deflate"] is True
    monkeypatch.setenv("WS_DEFLATE", "0")
    assert load_settings().ws_deflate is False
    assert uvicorn_options(load_settings())["ws_per_message_deflate"] is False
