"""Test-owned processes: app servers, Redis, a PostgreSQL cluster, nginx.

Everything listens on loopback, on free ports, and is stopped by the object that started
it (by its own process id or process group, never by name). Each class can be stopped
and started again on the same port, which is what the fault scenarios need.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from backend.cli import run_migrations
from backend.settings import Settings
from tests.support.live_server import free_port, server_env, stop_group, wait_ready

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def _wait_port(port: int, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


# --------------------------------------------------------------------- app


class AppProcess:
    """`python -m backend.cli serve` in its own process group, restartable on its port."""

    def __init__(
        self, settings: Settings, name: str, log_dir: Path, workers: int = 1, **env: str
    ) -> None:
        self.settings = settings
        self.name = name
        self.log_dir = log_dir
        self.workers = workers
        self.env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"app-{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"app {self.name} is not running"
        return self.process.pid

    def start(self, timeout: float = 60) -> None:
        self.starts += 1
        log_file = self.log_path.open("ab")
        log_file.write(f"\n===== start {self.starts} =====\n".encode())
        log_file.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve"],
            cwd=ROOT,
            env=server_env(self.settings, self.port, self.workers, **self.env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        wait_ready(self.url, self.process, self.log_path, timeout)

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (the server itself when WORKERS=1)."""
        if self.workers == 1:
            return [self.pid]
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        # uvicorn's supervisor also has a resource tracker child; workers run the server.
        return [p for p in pids if "multiprocessing.resource_tracker" not in _cmdline(p)]

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole group: no shutdown code runs."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        os.killpg(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.pid, signal.SIGCONT)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM the group (graceful), then SIGKILL what is left; the exit code."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        return stop_group(process, timeout)

    def restart(self) -> None:
        if self.process is not None:
            self.kill()
        self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_healthy(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s")


# ------------------------------------------------------------------- redis


class RedisServer:
    """A private `redis-server` on a free loopback port; nothing kept on disk."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own argv list, no shell)
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _wait_port(self.port, 10)

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def flushall(self) -> None:
        from redis import Redis

        client = Redis.from_url(self.url, socket_timeout=5)
        try:
            client.flushall()
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
            self.process = None


# ---------------------------------------------------------------- postgres


def _pg_user() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: run the test cluster as `postgres` then."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


class PostgresCluster:
    """A private PostgreSQL cluster (initdb + pg_ctl) on a free port, fsync on."""

    def __init__(self, workdir: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bo-pg-", dir=workdir))
        self.data = self.root / "data"
        self.port = free_port()
        self.ids = _pg_user()
        if self.ids is not None:
            os.chown(self.root, *self.ids)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self.ids is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(  # noqa: S603 (our own argv list, no shell)
            command, check=check, capture_output=True, text=True, timeout=120
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=on -c synchronous_commit=on -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "pg.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


async def create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def database_on_cluster(base: Settings, cluster: PostgresCluster, name: str) -> Iterator[Settings]:
    """A migrated database on a test-owned cluster, with `base`'s other settings."""
    url = asyncio.run(create_database(cluster.admin_url, name))
    settings = replace(base, database_url=url)
    asyncio.run(run_migrations(settings))
    yield settings


# ------------------------------------------------------------------- nginx


NGINX_CONF = """\
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{body}
}}
"""


class Nginx:
    """nginx in the foreground with a config written from `deploy/nginx.conf`'s server block."""

    def __init__(self, workdir: Path, upstreams: list[str]) -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="bo-nginx-", dir=workdir))
        self.port = free_port()
        self.upstreams = upstreams
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        from chaos.nginx import http_block

        body = http_block(self.upstreams, listen=f"127.0.0.1:{self.port}")
        user = "user root;" if os.geteuid() == 0 else ""
        return NGINX_CONF.format(user=user, prefix=self.prefix, body=body)

    def start(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx is not installed (apt-get install -y nginx-light)")
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config())
        test = subprocess.run(  # noqa: S603 (our own argv list, no shell)
            [binary, "-t", "-c", str(conf), "-p", str(self.prefix)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if test.returncode != 0:
            raise RuntimeError(f"nginx config rejected:\n{test.stderr}")
        log = (self.prefix / "stdout.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own argv list, no shell)
            [binary, "-c", str(conf), "-p", str(self.prefix), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _wait_port(self.port, 10)

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            self.process = None

    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""
