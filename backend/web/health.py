"""GET /health (liveness) and GET /ready (database and Redis answer)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from backend.web.schemas import HealthOut

PUBLIC = {"exclude_from_auth": True}


@get("/health", opt=PUBLIC, tags=["health"])
async def health() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@get("/ready", opt=PUBLIC, tags=["health"])
async def ready(request: Request[Any, Any, Any]) -> Response[HealthOut]:
    """503 unless the database, the lock store and the live channel all answer."""
    state = request.app.state
    checks: dict[str, str] = {}
    probes: list[tuple[str, Any]] = [
        ("database", state.storage.ping),
        ("locks", state.locks.ping),
        ("channel", state.channel.ping),
    ]
    for name, probe in probes:
        try:
            await probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"down: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return Response(
        HealthOut(status="ok" if healthy else "unavailable", checks=checks),
        status_code=200 if healthy else 503,
    )
