"""docker-compose.yml: PostgreSQL, Redis, two app replicas and nginx; it validates.

No container engine runs here: `docker-compose config` (Debian's docker-compose) checks
the file, and the structure is checked directly, so a broken edit fails here even where
the tool is missing. The same topology runs with real processes in test_nginx.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.services import IN_CI

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRET = "compose-test-secret-" + "y" * 32


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_services_and_wiring() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "app1", "app2", "nginx"}
    for name in ("app1", "app2"):
        app = services[name]
        assert app["build"]["dockerfile"] == "deploy/Dockerfile"
        env = app["environment"]
        assert (
            env["DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["DATABASE_URL"]
        )
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert "JWT_SECRET" in env and "ports" not in app
        assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert app["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "healthcheck" in app
    assert services["app1"] == services["app2"], "the replicas must be interchangeable"
    nginx = services["nginx"]
    assert any(v.startswith("./deploy/nginx.conf:") for v in nginx["volumes"])
    assert [s for s, spec in services.items() if "ports" in spec] == ["nginx"]
    # The apps trust X-Forwarded-For from nginx's fixed address only, not from anyone.
    proxy_address = nginx["networks"]["default"]["ipv4_address"]
    assert services["app1"]["environment"]["FORWARDED_ALLOW_IPS"] == proxy_address
    assert (ROOT / "deploy" / "Dockerfile").read_text().count("backend.cli") >= 1


def test_nginx_config_proxies_websockets_to_both_replicas() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server app1:8000" in conf and "server app2:8000" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert "proxy_set_header Host $http_host;" in conf  # the same-origin check needs the port
    # nginx sets the client address (never appends to a client's own header), and it is
    # the one proxy the apps trust.
    assert "$proxy_add_x_forwarded_for" not in conf
    assert conf.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2
    assert "location ^~ /metrics {" in conf
    directives = [
        line.split()[0]
        for line in conf.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert not {"ip_hash", "hash", "sticky"} & set(directives)  # no sticky sessions needed


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found:
        return found
    reason = "docker-compose is not installed (apt-get install -y docker-compose)"
    if IN_CI:
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE), "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docker_compose_config_validates() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"} | {"JWT_SECRET": SECRET}
    result = _config(env)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == {"postgres", "redis", "app1", "app2", "nginx"}
    assert rendered["services"]["app1"]["environment"]["JWT_SECRET"] == SECRET


def test_docker_compose_refuses_to_run_without_a_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    result = _config(env)
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr
