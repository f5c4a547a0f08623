"""The one mapping of errors to HTTP responses: `{"success": false, "message", "code"}`."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from backend.errors import BoxofficeError
from backend.observability.requestid import record_unrouted
from backend.web.pages import not_found_page

log = logging.getLogger("boxoffice.errors")


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _domain_error(request: Request[Any, Any, Any], exc: BoxofficeError) -> Response[Any]:
    if exc.status_code == HTTP_404_NOT_FOUND and (page := not_found_page(request)) is not None:
        return page  # a page's unknown event (web/pages.py)
    # Throttled and Unavailable say when to come back.
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _json(exc.status_code, exc.body(), headers)


_HTTP_CODES = {
    HTTP_400_BAD_REQUEST: "invalid_input",
    HTTP_401_UNAUTHORIZED: "not_authenticated",
    HTTP_403_FORBIDDEN: "forbidden",
    HTTP_404_NOT_FOUND: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def _words(message: str) -> str:
    # msgspec's words for a failed PLAIN pattern (web/schemas.py) quote the regex.
    if "matching regex" in message and "x00-" in message and "x1f" in message:
        return "must be text without control characters"
    return message


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    details = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for item in details:
        if isinstance(item, dict):
            key = item.get("key")
            msg = _words(str(item.get("message", "")))
            parts.append(f"{key}: {msg}" if key else msg)
    message = "; ".join(parts) or exc.detail or "invalid request"
    if message.startswith("Validation failed for"):
        message = "invalid request body"
    return _json(
        HTTP_400_BAD_REQUEST,
        {"success": False, "message": message, "code": "invalid_input"},
    )


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    # The router's 404/405 and the auth middleware's 401 never reach the route's
    # middleware: give them their access line, request count and request id here.
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        request_id = record_unrouted(metrics, request.scope, status)
        if request_id is not None:
            headers["X-Request-ID"] = request_id
    if status == HTTP_404_NOT_FOUND and (page := not_found_page(request)) is not None:
        page.headers.update(headers)
        return page  # a browser asking for a page that is not there (web/pages.py)
    body = {
        "success": False,
        "message": exc.detail or "error",
        "code": _HTTP_CODES.get(status, "error"),
    }
    return _json(status, body, headers)


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc,
    )
    return _json(
        HTTP_503_SERVICE_UNAVAILABLE,
        {"success": False, "message": "temporarily unavailable; try again", "code": "unavailable"},
        {"Retry-After": "1"},
    )


def _too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """msgspec decodes nested JSON recursively: a body nested past the recursion limit
    (about 1,000 levels on a request's thread) is the client's doing, not a bug. Any other
    RecursionError still is one."""
    if "deserializing" not in str(exc):
        return _unexpected(request, exc)
    return _json(
        HTTP_400_BAD_REQUEST,
        {
            "success": False,
            "message": "request body is nested too deeply",
            "code": "invalid_input",
        },
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Never echo internals (or a hash) to the client; the traceback goes to the log.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR,
        {"success": False, "message": "internal error", "code": "internal_error"},
    )


def exception_handlers(
    unavailable: tuple[type[Exception], ...] = (),
) -> dict[type[Exception] | int, Any]:
    """The one table mapping errors to HTTP responses. `unavailable`: the exceptions that
    mean the database (or the network to it) is down or restarting (the storage's
    `UNAVAILABLE`, passed in by the wiring): not a bug, and not the client's fault. 503
    with Retry-After tells clients and proxies to come back; a booking whose outcome is
    unknown is retried safely under its Idempotency-Key."""
    return {
        BoxofficeError: _domain_error,
        ValidationException: _validation_error,
        RecursionError: _too_deep,
        HTTPException: _http_error,
        HTTP_500_INTERNAL_SERVER_ERROR: _unexpected,
        **{error: _unavailable for error in unavailable},
    }
