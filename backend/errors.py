"""Domain errors and their one mapping to HTTP.

The booking rules raise these; `exception_handlers()` turns them (and Litestar's own
validation errors) into `{"success": false, "message", "code"}` bodies.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_423_LOCKED,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

log = logging.getLogger("boxoffice.errors")


class ConfigError(Exception):
    """Bad configuration: the process must not start."""


class BoxofficeError(Exception):
    """Base of every error a client can cause; each maps to one HTTP status."""

    status_code = HTTP_400_BAD_REQUEST
    code = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"success": False, "message": self.message, "code": self.code, **self.extra}


class InvalidInput(BoxofficeError):
    code = "invalid_input"


class NotAuthenticated(BoxofficeError):
    status_code = HTTP_401_UNAUTHORIZED
    code = "not_authenticated"


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"


class Forbidden(BoxofficeError):
    status_code = HTTP_403_FORBIDDEN
    code = "forbidden"


class NotFound(BoxofficeError):
    status_code = HTTP_404_NOT_FOUND
    code = "not_found"


class Conflict(BoxofficeError):
    status_code = HTTP_409_CONFLICT
    code = "conflict"


class EmailTaken(Conflict):
    code = "email_taken"


class SeatsBooked(Conflict):
    code = "seat_booked"


class NoAdjacentSeats(Conflict):
    code = "no_adjacent_seats"


class SeatLimitExceeded(Conflict):
    code = "seat_limit"


class EventHasBookings(Conflict):
    code = "event_has_bookings"


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"


class IdempotencyMismatch(BoxofficeError):
    status_code = HTTP_422_UNPROCESSABLE_ENTITY
    code = "idempotency_key_reused"


class SeatsLocked(BoxofficeError):
    """Held or being booked by someone else: the seed's 423."""

    status_code = HTTP_423_LOCKED
    code = "seat_held"


class Throttled(BoxofficeError):
    status_code = HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _domain_error(_: Request[Any, Any, Any], exc: BoxofficeError) -> Response[Any]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
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


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    details = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for item in details:
        if isinstance(item, dict):
            key = item.get("key")
            msg = item.get("message", "")
            parts.append(f"{key}: {msg}" if key else str(msg))
    message = "; ".join(parts) or exc.detail or "invalid request"
    if message.startswith("Validation failed for"):
        message = "invalid request body"
    return _json(
        HTTP_400_BAD_REQUEST,
        {"success": False, "message": message, "code": "invalid_input"},
    )


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    body = {
        "success": False,
        "message": exc.detail or "error",
        "code": _HTTP_CODES.get(status, "error"),
    }
    return _json(status, body, headers)


# The database (or the network to it) is down or restarting: not a bug, and not the
# client's fault. 503 with Retry-After tells clients and proxies to come back; a booking
# whose outcome is unknown is retried safely under its Idempotency-Key.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, crashed
    asyncpg.exceptions.TooManyConnectionsError,
)


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


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Never echo internals (or a hash) to the client; the traceback goes to the log.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR,
        {"success": False, "message": "internal error", "code": "internal_error"},
    )


def exception_handlers() -> dict[type[Exception] | int, Any]:
    """The one table mapping errors to HTTP responses."""
    return {
        BoxofficeError: _domain_error,
        ValidationException: _validation_error,
        HTTPException: _http_error,
        HTTP_500_INTERNAL_SERVER_ERROR: _unexpected,
        **{error: _unavailable for error in DATABASE_UNAVAILABLE},
    }
