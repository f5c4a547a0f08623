"""The door over HTTP (issue 15, item 3), and tickets as QR codes (item 2).

`POST /events/{id}/checkins {"code"}` checks a ticket in (the organiser or the event's
door staff); `GET /events/{id}/checkins` is the door's count. The organiser adds door
staff by email: `POST /events/{id}/staff {"email"}`, `GET`, `DELETE …/staff/{userId}`.
"""

from __future__ import annotations

import functools
from typing import Any

import segno
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.booking.door import Admission, DoorService, seat_in_words
from backend.timefmt import iso
from backend.web.deps import current_user_id, parse_id
from backend.web.schemas import (
    CheckinIn,
    CheckinOut,
    CheckinTicketOut,
    DoorCountsOut,
    OneStaffOut,
    StaffIn,
    StaffListOut,
    TicketOut,
    staff_out,
)


@functools.lru_cache(maxsize=4096)
def ticket_out(code: str) -> TicketOut:
    """The ticket with its QR code: an SVG `data:` URI (the page's CSP allows `data:`
    images, and no request carries the code anywhere else). The QR holds the code
    without its dashes, in QR's alphanumeric mode (A-Z, 2-7 all fit), error correction
    M (a creased or dimly lit phone screen still scans). Made by segno; codes never
    change, so each is drawn once per process."""
    qr = segno.make_qr(code.replace("-", ""), error="m")
    return TicketOut(code=code, qr=qr.svg_data_uri(scale=1, border=4, dark="#000", light="#fff"))


def admission_out(admission: Admission) -> CheckinOut:
    booking = admission.booking
    return CheckinOut(
        success=True,
        ticket=CheckinTicketOut(
            booking_id=str(booking["id"]),
            seat_id=str(admission.seat["id"]),
            seat_label=str(admission.seat["label"]),
            seat=seat_in_words(admission.seat, admission.event),
            holder=admission.holder_email,
            order_reference=admission.order_reference,
            checked_in_at=iso(booking["checked_in_at"]),
        ),
        checked_in=admission.checked_in,
        booked=admission.booked,
    )


class DoorController(Controller):
    path = "/events/{event_id:str}"
    tags = ["door"]

    @post("/checkins", status_code=HTTP_200_OK)
    async def check_in(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        data: JSONBody[CheckinIn],
        door: NamedDependency[DoorService],
    ) -> CheckinOut:
        """Check a ticket in (the organiser or door staff). 200 the first time, with the
        seat and its buyer; 409 `already_checked_in` (with `checkedInAt`) after that;
        409 `cancelled` for a cancelled booking; 404 `ticket_not_found` for a code that
        is not one of this event's tickets (mistyped, forged, another event's)."""
        eid = parse_id(event_id, "event id")
        return admission_out(await door.check_in(current_user_id(request), eid, data.code))

    @get("/checkins")
    async def door_counts(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        door: NamedDependency[DoorService],
    ) -> DoorCountsOut:
        """How many of the event's booked seats have been checked in (organiser, staff)."""
        eid = parse_id(event_id, "event id")
        checked_in, booked = await door.counts(current_user_id(request), eid)
        return DoorCountsOut(success=True, checked_in=checked_in, booked=booked)

    @post("/staff")
    async def add_staff(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        data: JSONBody[StaffIn],
        door: NamedDependency[DoorService],
    ) -> Response[OneStaffOut]:
        """Add an account, by its email, to the event's door staff (organiser only):
        201, or 200 if it already was; 404 `account_not_found` for an unknown email."""
        eid = parse_id(event_id, "event id")
        row, created = await door.add_staff(current_user_id(request), eid, data.email)
        return Response(
            OneStaffOut(success=True, staff=staff_out(row)),
            status_code=HTTP_201_CREATED if created else HTTP_200_OK,
        )

    @get("/staff")
    async def list_staff(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        door: NamedDependency[DoorService],
    ) -> StaffListOut:
        """The event's door staff (organiser only)."""
        eid = parse_id(event_id, "event id")
        rows = await door.staff(current_user_id(request), eid)
        return StaffListOut(success=True, staff=[staff_out(r) for r in rows])

    @delete("/staff/{member_id:str}", status_code=HTTP_200_OK)
    async def remove_staff(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        member_id: FromPath[str],
        door: NamedDependency[DoorService],
    ) -> StaffListOut:
        """Take an account off the event's door staff (organiser only); the staff left."""
        eid = parse_id(event_id, "event id")
        member = parse_id(member_id, "user id")
        rows = await door.remove_staff(current_user_id(request), eid, member)
        return StaffListOut(success=True, staff=[staff_out(r) for r in rows])
