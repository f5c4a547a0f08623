"""An event's waiting room over HTTP (issue 12): join, status, leave; the organiser's summary."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from backend.booking.queue import QueueView, RoomReport, WaitingRooms
from backend.timefmt import iso_from_ms
from backend.web.deps import QueueDesk, current_user_id, parse_id
from backend.web.schemas import Out


class QueueOut(Out):
    """A place: `position` and `ahead` are null in the pre-queue (the draw is revealed at
    `onSaleAt`) and for anyone not waiting; `etaSeconds` is null while the admission
    rate is unknown; `admittedUntil` only for a shopper."""

    event_id: str
    state: str
    position: int | None
    ahead: int | None
    eta_seconds: int | None
    admitted_until: str | None = None


class QueueSummaryOut(Out):
    event_id: str
    enabled: bool
    max_shoppers: int
    shopper_seconds: int
    waiting: int
    shopping: int
    admitted_total: int
    admissions_per_minute: float | None
    opens_at: str | None
    opened_at: str | None


def queue_out(event_id: str, view: QueueView) -> QueueOut:
    return QueueOut(
        event_id=event_id,
        state=view.state.value,
        position=view.position,
        ahead=view.ahead,
        eta_seconds=view.eta_seconds,
        admitted_until=iso_from_ms(view.admitted_until_ms),
    )


def summary_out(event_id: str, report: RoomReport) -> QueueSummaryOut:
    return QueueSummaryOut(
        event_id=event_id,
        enabled=report.enabled,
        max_shoppers=report.max_shoppers,
        shopper_seconds=report.shopper_seconds,
        waiting=report.waiting,
        shopping=report.shopping,
        admitted_total=report.admitted_total,
        admissions_per_minute=report.admissions_per_minute,
        opens_at=iso_from_ms(report.opens_at_ms),
        opened_at=iso_from_ms(report.opened_at_ms),
    )


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class QueueController(Controller):
    path = "/events"
    tags = ["waiting room"]

    @post("/{event_id:str}/queue", status_code=HTTP_200_OK)
    async def join(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        queue_desk: NamedDependency[QueueDesk],
    ) -> QueueOut:
        """Join the event's waiting room; joining again (any tab, any device) returns the
        same place. 409 `no_waiting_room` if the event has none; 429 when throttled."""
        eid = parse_id(event_id, "event id")
        rooms, throttle = queue_desk
        # Per address: one place per account already makes repeats harmless; this is
        # against one machine minting accounts to take many places.
        await throttle.hit("queue-join-ip", _address(request))
        return queue_out(eid, await rooms.join(current_user_id(request), eid))

    @get("/{event_id:str}/queue")
    async def status(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        rooms: NamedDependency[WaitingRooms],
    ) -> QueueOut:
        """The caller's place (`state: none` if they never joined). Polling it keeps the
        place: a place not seen for WAITING_ROOM_GRACE_SECONDS is given up."""
        eid = parse_id(event_id, "event id")
        return queue_out(eid, await rooms.status(current_user_id(request), eid))

    @delete("/{event_id:str}/queue", status_code=HTTP_200_OK)
    async def leave(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        rooms: NamedDependency[WaitingRooms],
    ) -> QueueOut:
        """Leave the room: a waiter's place, or a shopper's slot (state `left`)."""
        eid = parse_id(event_id, "event id")
        return queue_out(eid, await rooms.leave(current_user_id(request), eid))

    @get("/{event_id:str}/queue/summary")
    async def summary(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        rooms: NamedDependency[WaitingRooms],
    ) -> QueueSummaryOut:
        """The room's length, shoppers, admissions so far and per minute (organiser only)."""
        eid = parse_id(event_id, "event id")
        return summary_out(eid, await rooms.report(current_user_id(request), eid))
