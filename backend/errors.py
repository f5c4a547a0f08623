"""Domain errors: what the booking rules and accounts raise.

Each carries its HTTP status and code; `backend/web/errors.py` is their one mapping to
HTTP responses. This module imports nothing of the project, so any layer may raise them
(except `storage/` and `locks/`, which have errors of their own).
"""

from __future__ import annotations

from typing import Any

from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_423_LOCKED,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)


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


class NotOnSale(Forbidden):
    """Before the event's `onSaleAt` (the body carries it)."""

    code = "not_on_sale"


class NotAdmitted(Forbidden):
    """The event's waiting room has not admitted the caller (the body carries their place)."""

    code = "not_admitted"


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


class EventHasHolds(Conflict):
    code = "event_has_holds"


class EventCancelled(Conflict):
    """The event was cancelled by its organiser: nothing is held, booked or changed on
    it any more (the body says when)."""

    code = "event_cancelled"


class AlreadyCheckedIn(Conflict):
    """A ticket scanned a second time (the body says when it was first)."""

    code = "already_checked_in"


class TicketCancelled(Conflict):
    """A ticket whose booking was cancelled."""

    code = "cancelled"


class CheckedIn(Conflict):
    """Cancelling a booking whose ticket has been used at the door."""

    code = "checked_in"


class TicketNotFound(NotFound):
    """Not a ticket of this event: unknown, mistyped, forged or another event's."""

    code = "ticket_not_found"


class AccountNotFound(NotFound):
    """No account with that email (adding door staff)."""

    code = "account_not_found"


class NoWaitingRoom(Conflict):
    code = "no_waiting_room"


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


class QuotaExceeded(BoxofficeError):
    """Over the per-organiser daily quota of events or seats created: nothing was
    created; `retry_after` says when this request would fit."""

    status_code = HTTP_429_TOO_MANY_REQUESTS
    code = "quota_exceeded"

    def __init__(self, message: str, retry_after: int, **extra: Any) -> None:
        super().__init__(message, retryAfter=retry_after, **extra)
        self.retry_after = retry_after


class Unavailable(BoxofficeError):
    """A backend the request needs (the waiting room's store) does not answer: retry."""

    status_code = HTTP_503_SERVICE_UNAVAILABLE
    code = "unavailable"
    retry_after = 1
