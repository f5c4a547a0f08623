"""What every scenario shares: databases, accounts, tokens, servers, figures, JSON output."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "bench-password-123"  # noqa: S105 (the bench accounts' published password)


# ------------------------------------------------------------------ figures


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_summary(values_ms: Sequence[float]) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {
        "count": len(values_ms),
        "p50_ms": r(percentile(values_ms, 50)),
        "p95_ms": r(percentile(values_ms, 95)),
        "p99_ms": r(percentile(values_ms, 99)),
        "max_ms": r(max(values_ms) if values_ms else None),
    }


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    psql = shutil.which("psql")
    if psql is not None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            out = subprocess.run(  # noqa: S603 (our own argv list, no shell)
                [psql, "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            info["postgresql"] = out.stdout.strip()
    return info


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2, default=str) + "\n")
    print(f"  -> {path.relative_to(ROOT)}", flush=True)
    return path


def say(text: str) -> None:
    print(text, flush=True)


# ------------------------------------------------------------ process stats


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (reads /proc; Linux only)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_mib(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def cpu_seconds(pids: Sequence[int], reaped: bool = False) -> float:
    """User + system CPU time of these processes so far; with `reaped`, also that of their
    children that have ended and been waited for (a database backend that disconnected)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            if reaped:
                total += int(fields[13]) + int(fields[14])
    return total / tick


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in {"postgres", "postmaster"}:
                    pids.append(int(entry.name))
    return pids


def named_pids(*names: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in names:
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds used by groups of processes between `start()` and `stop()`.

    Each group is a function listing its pids, asked at both ends. A group's figure is the
    change in its total, counting each process's own time and its ended children's: so a
    process started in between counts from zero, and one that ended in between (a database
    backend whose client disconnected) still counts, in its parent's total, instead of
    taking its whole past out of the figure.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.before: dict[str, float] = {}
        self.wall = 0.0

    def start(self) -> None:
        self.wall = time.monotonic()
        self.before = {name: cpu_seconds(pids(), reaped=True) for name, pids in self.groups.items()}

    def stop(self) -> dict[str, Any]:
        wall = time.monotonic() - self.wall
        used = {
            name: round(max(0.0, cpu_seconds(pids(), reaped=True) - self.before[name]), 2)
            for name, pids in self.groups.items()
        }
        return {
            "wall_s": round(wall, 2),
            "cpu_s": used,
            "cores_busy": {k: round(v / wall, 2) for k, v in used.items()} if wall else {},
            "loadavg_1m": os.getloadavg()[0],
        }


# ---------------------------------------------------------------- accounts


@functools.cache
def password_hash() -> str:
    """One real argon2id hash (the app's parameters), shared by every bench account and
    computed once per process (the tests insert accounts one at a time)."""
    from backend.accounts import HASHER

    return HASHER.hash(PASSWORD)


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def mint_token(user_id: str, settings: Settings) -> str:
    """The same HS256 JWT `POST /signin` returns (Litestar's Token, same claims and lifetime)."""
    from litestar.security.jwt import Token

    exp = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.jwt_lifetime_seconds)
    return Token(sub=user_id, exp=exp).encode(settings.jwt_secret, "HS256")


async def insert_accounts(settings: Settings, count: int, tag: str) -> list[Account]:
    """`count` users inserted straight into the database with one precomputed argon2 hash."""
    digest = password_hash()
    rows = [
        (uuid.uuid4(), f"{tag}-{i}@bench.example", digest, dt.datetime.now(dt.UTC))
        for i in range(count)
    ]
    if settings.database_url:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.copy_records_to_table(
                "bo_user", records=rows, columns=["id", "email", "password_hash", "created_at"]
            )
        finally:
            await conn.close()
    else:
        with contextlib.closing(sqlite3.connect(settings.sqlite_path, timeout=30)) as conn:
            conn.executemany(
                "INSERT INTO bo_user (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
                [(str(a), b, c, d.isoformat()) for a, b, c, d in rows],
            )
            conn.commit()
    return [Account(str(r[0]), r[1], mint_token(str(r[0]), settings)) for r in rows]


async def sign_in(client: httpx.AsyncClient, email: str) -> tuple[str, float]:
    """A real `POST /signin`; returns the token and the latency in ms."""
    started = time.perf_counter()
    response = await client.post("/signin", json={"email": email, "password": PASSWORD})
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return response.json()["token"], elapsed


def layout_for(seats: int, per_row: int = 50) -> dict[str, Any]:
    """A layout of `seats` seats in sections of up to 50 rows of `per_row` seats."""
    rows_needed = -(-seats // per_row)
    sections = []
    row_no = 0
    while row_no < rows_needed:
        rows = []
        for _ in range(min(50, rows_needed - row_no)):
            in_row = min(per_row, seats - row_no * per_row)
            rows.append({"label": f"R{row_no % 50 + 1}", "seats": in_row})
            row_no += 1
        sections.append({"name": f"S{len(sections) + 1}", "rows": rows})
    return {
        "categories": [{"id": "std", "name": "Standard", "colour": "#2563eb", "price": 5000}],
        "sections": [{**s, "category": "std"} for s in sections],
    }


async def create_event(
    base_url: str, organiser: Account, seats: int, name: str, max_per_user: int = 10
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
        response = await client.post(
            "/events",
            json={"name": name, "layout": layout_for(seats), "maxSeatsPerUser": max_per_user},
            headers=organiser.headers,
        )
        response.raise_for_status()
        if "seats" in response.json():
            return response.json()
        # Over 1,000 seats the 201 has no seats: read them from its Location.
        read = await client.get(response.headers["location"], headers=organiser.headers)
        read.raise_for_status()
        return read.json()


# ----------------------------------------------------------------- servers


@contextlib.contextmanager
def database(mode: str, tmp: Path) -> Iterator[Settings]:
    """A fresh migrated database for one scenario: PostgreSQL + Redis, or SQLite."""
    sys.path.insert(0, str(ROOT))
    from tests.support.databases import embedded_database, services_database

    tmp.mkdir(parents=True, exist_ok=True)
    if mode == "services":
        with services_database(tmp) as settings:
            yield replace(settings, db_pool_max=int(os.environ.get("BENCH_DB_POOL", "20")))
    else:
        with embedded_database(tmp) as settings:
            yield settings


def server_pids(process: subprocess.Popen[bytes]) -> list[int]:
    return process_tree(process.pid)


async def wait_http(url: str, seconds: float = 60) -> None:
    """Poll `url` until it answers below 500; RuntimeError after `seconds`."""
    try:
        async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(seconds):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code < 500:
                        return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise RuntimeError(f"{url} did not answer within {seconds}s") from None
