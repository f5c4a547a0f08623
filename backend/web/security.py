"""Security headers on every response (pages, JSON, static files)."""

from __future__ import annotations

from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    # 'self' covers the page's own ws:// and wss:// origin (CSP Level 3); a bare ws: or
    # wss: would let a script open a socket to any host.
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: the same headers on every HTTP response, including the ones the
    router makes itself (404 for an unknown path, 405), which no route middleware sees."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", []))
        present = {bytes(name).lower() for name, _ in headers}
        headers.extend(h for h in HEADERS if h[0] not in present)
        message["headers"] = headers
