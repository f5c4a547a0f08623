"""Request and response bodies (msgspec Structs, camelCase on the wire).

Unknown request fields are ignored, so a client cannot set what it does not own
(`organiserId`, `status`, `userId` …): only the fields named here are ever read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta, Struct

from backend.booking.layout import MAX_SEATS
from backend.booking.onsale import (
    DEFAULT_MAX_SHOPPERS,
    DEFAULT_SHOPPER_SECONDS,
    MAX_SHOPPER_SECONDS,
    MAX_SHOPPERS,
    MIN_SHOPPER_SECONDS,
)
from backend.booking.records import BookingRecord
from backend.seats import SeatOut, seat_out
from backend.timefmt import iso

# No control characters (C0 and DEL) in any text a client sends: PostgreSQL refuses NUL
# in text (a 500 in services mode while SQLite stored it), and none of them belongs in a
# name, a label, an email or a password. web/errors.py words the refusal.
PLAIN = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=PLAIN)]
ShortText = Annotated[str, Meta(max_length=200, pattern=PLAIN)]
SeatLabel = Annotated[str, Meta(min_length=1, max_length=32, pattern=PLAIN)]
SeatIds = Annotated[list[UUID], Meta(min_length=1, max_length=1000)]
Count = Annotated[int, Meta(ge=1, le=1000)]
HoldSeconds = Annotated[int, Meta(ge=1, le=7200)]
MaxSeats = Annotated[int, Meta(ge=1, le=MAX_SEATS)]
Colour = Annotated[str, Meta(pattern=r"^#[0-9A-Fa-f]{6}$")]
CategoryId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
# An instant: a time without a zone would mean a different moment on every server.
Instant = Annotated[datetime, Meta(tz=True)]
MaxShoppers = Annotated[int, Meta(ge=1, le=MAX_SHOPPERS)]
ShopperSeconds = Annotated[int, Meta(ge=MIN_SHOPPER_SECONDS, le=MAX_SHOPPER_SECONDS)]


class In(Struct, rename="camel", forbid_unknown_fields=False):
    """Base for request bodies."""


class Out(Struct, rename="camel", omit_defaults=True):
    """Base for response bodies."""


# ------------------------------------------------------------------ accounts


class CredentialsIn(In):
    email: Annotated[str, Meta(max_length=1000, pattern=PLAIN)]
    password: Annotated[str, Meta(max_length=4096, pattern=PLAIN)]


class UserOut(Out):
    id: str
    email: str
    created_at: str | None


class TokenOut(Out):
    token: str
    token_type: str
    expires_in: int


def user_out(row: dict[str, Any]) -> UserOut:
    return UserOut(id=str(row["id"]), email=row["email"], created_at=iso(row["created_at"]))


# ------------------------------------------------------------------- events


class CategoryIn(In):
    id: CategoryId
    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=PLAIN)]
    colour: Colour = "#2563eb"
    price: Annotated[int, Meta(ge=0, le=100_000_000)] = 0


class RowIn(In):
    label: Annotated[str, Meta(min_length=1, max_length=8, pattern=PLAIN)]
    seats: Annotated[int, Meta(ge=1, le=1000)]
    category: CategoryId | None = None
    accessible: Annotated[list[int], Meta(max_length=1000)] = []


# Where a venue's parts go, in seat pitches (issue 14, item 4): a 20,000-seat arena spans
# a few hundred; the bound keeps a typo from making a map a million pitches wide.
Coordinate = Annotated[float, Meta(ge=-5000, le=5000)]


class SectionIn(In):
    # Not starting with white space, and PLAIN.
    name: Annotated[
        str, Meta(min_length=1, max_length=24, pattern=r"^[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$")
    ]
    rows: Annotated[list[RowIn], Meta(min_length=1, max_length=1000)]
    category: CategoryId | None = None
    # Placed (all sections or none): the front row's centre, the turn in degrees
    # clockwise (0: facing up the map), and the radius of the front row's arc.
    x: Coordinate | None = None
    y: Coordinate | None = None
    rotation: Annotated[float, Meta(ge=-360, le=360)] = 0.0
    curve: Annotated[float, Meta(ge=2, le=2000)] | None = None


class StageIn(In):
    x: Coordinate
    y: Coordinate
    width: Annotated[float, Meta(gt=0, le=2000)]
    height: Annotated[float, Meta(gt=0, le=2000)]


class LayoutIn(In):
    sections: Annotated[list[SectionIn], Meta(min_length=1, max_length=100)]
    categories: Annotated[list[CategoryIn], Meta(max_length=50)] = []
    stage: StageIn | None = None


# A pretix seating plan (issue 15, item 7), as pretix's editor exports it: its schema,
# `src/pretix/static/seating/seating-plan.schema.json`, names fields in snake_case, so
# these keep pretix's names (no camelCase renaming). Fields Boxoffice does not use
# (uuids, areas, radius, start_direction, row_number_position …) are accepted and ignored.
PretixText = Annotated[str, Meta(max_length=200, pattern=PLAIN)]


class PretixIn(Struct, forbid_unknown_fields=False):
    """Base of a pretix plan's parts."""


class PretixPositionIn(PretixIn):
    x: Annotated[float, Meta(ge=-1e7, le=1e7)]
    y: Annotated[float, Meta(ge=-1e7, le=1e7)]


class PretixSeatIn(PretixIn):
    seat_guid: PretixText
    seat_number: PretixText
    position: PretixPositionIn
    category: PretixText


class PretixRowIn(PretixIn):
    row_number: PretixText
    seats: Annotated[list[PretixSeatIn], Meta(max_length=MAX_SEATS)]
    position: PretixPositionIn | None = None
    row_label: PretixText | None = None
    seat_label: PretixText | None = None


class PretixZoneIn(PretixIn):
    position: PretixPositionIn
    rows: Annotated[list[PretixRowIn], Meta(max_length=MAX_SEATS)]
    name: PretixText = ""


class PretixCategoryIn(PretixIn):
    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=PLAIN)]
    color: PretixText | None = None


class PretixPlanIn(PretixIn):
    name: PretixText
    zones: Annotated[list[PretixZoneIn], Meta(min_length=1, max_length=1000)]
    categories: Annotated[list[PretixCategoryIn], Meta(max_length=50)]


class WaitingRoomIn(In):
    enabled: bool = False
    max_shoppers: MaxShoppers = DEFAULT_MAX_SHOPPERS
    shopper_seconds: ShopperSeconds = DEFAULT_SHOPPER_SECONDS


class WaitingRoomPatchIn(In):
    """Only the fields given change."""

    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    max_shoppers: MaxShoppers | msgspec.UnsetType = msgspec.UNSET
    shopper_seconds: ShopperSeconds | msgspec.UnsetType = msgspec.UNSET


class EventIn(In):
    name: Name
    seats: Annotated[list[SeatLabel], Meta(min_length=1, max_length=MAX_SEATS)] | None = None
    layout: LayoutIn | None = None
    # Or a pretix seating plan, with each of its categories' price in minor units.
    seating_plan: PretixPlanIn | None = None
    prices: dict[str, Annotated[int, Meta(ge=0, le=100_000_000)]] | None = None
    venue: ShortText | None = None
    starts_at: datetime | None = None
    hold_seconds: HoldSeconds | None = None
    max_seats_per_user: MaxSeats | None = None
    currency: Currency = "GBP"
    on_sale_at: Instant | None = None
    waiting_room: WaitingRoomIn | None = None


class EventPatchIn(In):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    venue: ShortText | msgspec.UnsetType | None = msgspec.UNSET
    starts_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    hold_seconds: HoldSeconds | msgspec.UnsetType = msgspec.UNSET
    max_seats_per_user: MaxSeats | msgspec.UnsetType = msgspec.UNSET
    on_sale_at: Instant | msgspec.UnsetType | None = msgspec.UNSET
    waiting_room: WaitingRoomPatchIn | msgspec.UnsetType = msgspec.UNSET


class EventCancelIn(In):
    """Why the event is cancelled, shown to its buyers (optional)."""

    reason: Annotated[str, Meta(max_length=500, pattern=PLAIN)] | None = None


class EventCancelOut(Out):
    event_id: str
    cancelled_at: str
    cancel_reason: str | None
    bookings_cancelled: int  # by this call (0 when it was already cancelled)
    holds_released: int


class CountsOut(Out):
    total: int
    available: int
    held: int
    booked: int


class CategoryOut(Out):
    id: str
    name: str
    colour: str
    price: int


class StageOut(Out):
    x: float
    y: float
    width: float
    height: float


class WaitingRoomOut(Out):
    enabled: bool
    max_shoppers: int
    shopper_seconds: int


class EventSummaryOut(Out):
    id: str
    name: str
    venue: str | None
    starts_at: str | None
    currency: str
    organiser_id: str
    hold_seconds: int
    max_seats_per_user: int
    on_sale_at: str | None
    waiting_room: WaitingRoomOut
    cancelled_at: str | None
    cancel_reason: str | None
    counts: CountsOut


class EventOut(Out):
    id: str
    name: str
    venue: str | None
    starts_at: str | None
    currency: str
    organiser_id: str
    hold_seconds: int
    max_seats_per_user: int
    on_sale_at: str | None
    waiting_room: WaitingRoomOut
    cancelled_at: str | None
    cancel_reason: str | None
    categories: list[CategoryOut]
    width: float
    height: float
    stage: StageOut | None
    counts: CountsOut
    # Absent from the 201 of a large event (web/events.py: SEATS_IN_CREATED_BODY).
    seats: list[SeatOut] | msgspec.UnsetType = msgspec.UNSET


class EventListOut(Out):
    events: list[EventSummaryOut]


def counts_out(counts: dict[str, int]) -> CountsOut:
    return CountsOut(
        total=counts["total"],
        available=counts["available"],
        held=counts["held"],
        booked=counts["booked"],
    )


def waiting_room_out(event: dict[str, Any]) -> WaitingRoomOut:
    return WaitingRoomOut(
        enabled=bool(event["waiting_room"]),
        max_shoppers=int(event["max_shoppers"]),
        shopper_seconds=int(event["shopper_seconds"]),
    )


def event_summary_out(event: dict[str, Any], counts: dict[str, int]) -> EventSummaryOut:
    return EventSummaryOut(
        id=str(event["id"]),
        name=event["name"],
        venue=event["venue"],
        starts_at=iso(event["starts_at"]),
        currency=event["currency"],
        organiser_id=str(event["organiser"]),
        hold_seconds=event["hold_seconds"],
        max_seats_per_user=event["max_seats_per_user"],
        on_sale_at=iso(event["on_sale_at"]),
        waiting_room=waiting_room_out(event),
        cancelled_at=iso(event.get("cancelled_at")),
        cancel_reason=event.get("cancel_reason"),
        counts=counts_out(counts),
    )


def event_out(
    event: dict[str, Any], seats: Sequence[Mapping[str, Any]], now: int, user_id: str | None
) -> EventOut:
    out_seats = [seat_out(s, now, user_id) for s in seats]
    counts = {"total": len(out_seats), "available": 0, "held": 0, "booked": 0}
    for seat in out_seats:
        counts[seat.status] += 1
    return _event_out(event, counts, out_seats)


def event_without_seats_out(event: dict[str, Any], counts: dict[str, int]) -> EventOut:
    """The event and its seat counts, without its seats."""
    return _event_out(event, counts, msgspec.UNSET)


_NO_SEATS = b'"seats":[]'


def event_json(event: dict[str, Any], counts: dict[str, int], seats_json: str) -> bytes:
    """`event_out` encoded, with the seats already JSON (`EventService.detail_json`):
    the event is encoded with no seats and the seats' items are put into its empty list.
    Outside strings, where msgspec escapes every quote, `"seats":[]` occurs once."""
    body = msgspec.json.encode(_event_out(event, counts, []))
    at = body.rindex(_NO_SEATS) + len(_NO_SEATS) - 1
    return body[:at] + seats_json.encode() + body[at:]


def _event_out(
    event: dict[str, Any], counts: dict[str, int], seats: list[SeatOut] | msgspec.UnsetType
) -> EventOut:
    return EventOut(
        id=str(event["id"]),
        name=event["name"],
        venue=event["venue"],
        starts_at=iso(event["starts_at"]),
        currency=event["currency"],
        organiser_id=str(event["organiser"]),
        hold_seconds=event["hold_seconds"],
        max_seats_per_user=event["max_seats_per_user"],
        on_sale_at=iso(event["on_sale_at"]),
        waiting_room=waiting_room_out(event),
        cancelled_at=iso(event.get("cancelled_at")),
        cancel_reason=event.get("cancel_reason"),
        categories=[CategoryOut(**c) for c in event["categories"] or []],
        width=event["width"],
        height=event["height"],
        stage=StageOut(**event["stage"]) if event.get("stage") else None,
        counts=counts_out(counts),
        seats=seats,
    )


# ---------------------------------------------------------- holds, bookings


class HoldIn(In):
    seat_ids: SeatIds | None = None
    count: Count | None = None
    # Best available's filters (with `count` only).
    category: CategoryId | None = None
    section: Annotated[str, Meta(min_length=1, max_length=64, pattern=PLAIN)] | None = None
    accessible: bool | None = None  # true: wheelchair-accessible seats only
    max_price: Annotated[int, Meta(ge=0, le=100_000_000)] | None = None
    min_price: Annotated[int, Meta(ge=0, le=100_000_000)] | None = None


class ReleaseIn(In):
    seat_ids: SeatIds | None = None


class HoldOut(Out):
    event_id: str
    expires_at: str
    seats: list[SeatOut]


class ReleaseOut(Out):
    event_id: str
    released: list[str]


class BookIn(In):
    seat_ids: SeatIds


class SeedBookIn(In):
    seat_id: UUID


class BookedSeatOut(Out):
    id: str
    label: str
    section: str
    row: str
    number: int
    category: str
    category_name: str
    price: int


class BookedEventOut(Out):
    id: str
    name: str
    starts_at: str | None
    currency: str
    cancelled_at: str | None = None  # its organiser cancelled it (and so every booking)


class BookingOut(Out):
    id: str
    status: str
    seat_id: str
    event_id: str
    user_id: str
    created_at: str | None
    seat: BookedSeatOut
    event: BookedEventOut
    cancelled_at: str | None = None
    # What was paid (minor units, copied when booked; `seat.price` is today's price)
    # and the order it belongs to (null for bookings made before orders existed).
    price: int = 0
    order_id: str | None = None
    checked_in_at: str | None = None  # when its ticket was scanned at the door
    ticket: TicketOut | None = None  # on `GET /orders/{id}`, for an active booking


class TicketOut(Out):
    """A booked seat's ticket (issue 15, item 2): its code, grouped for reading, and
    the code as a QR code (an SVG `data:` URI made on the server)."""

    code: str
    qr: str


class OrderOut(Out):
    """An order (issue 15, item 1): one booking request that booked seats. `total` is
    its active bookings' prices; `bookings` (on `GET /orders…`) lists them all,
    cancelled ones included."""

    id: str
    reference: str
    event_id: str
    currency: str
    total: int
    created_at: str | None
    bookings: list[BookingOut] | None = None


class BookingsOut(Out):
    success: bool
    bookings: list[BookingOut]
    order: OrderOut | None = None  # POST /events/{id}/bookings: the order they make


class OrdersOut(Out):
    success: bool
    orders: list[OrderOut]


class OneOrderOut(Out):
    success: bool
    order: OrderOut


def order_out(
    order: Mapping[str, Any],
    bookings: Sequence[BookingRecord] | None = None,
    tickets: Mapping[str, TicketOut] | None = None,
) -> OrderOut:
    tickets = tickets or {}
    return OrderOut(
        id=str(order["id"]),
        reference=str(order["reference"]),
        event_id=str(order["event"]),
        currency=str(order["currency"]),
        total=int(order["total"]),
        created_at=iso(order["created_at"]),
        bookings=None
        if bookings is None
        else [booking_out(b, tickets.get(b.id)) for b in bookings],
    )


class OneBookingOut(Out):
    success: bool
    booking: BookingOut


def booking_out(record: BookingRecord, ticket: TicketOut | None = None) -> BookingOut:
    seat, event = record.seat, record.event
    categories = {c["id"]: c for c in event["categories"] or []}
    category = categories.get(seat["category"], {})
    return BookingOut(
        id=record.id,
        status=record.status,
        seat_id=str(seat["id"]),
        event_id=str(event["id"]),
        user_id=record.user_id,
        created_at=iso(record.created_at),
        cancelled_at=iso(record.cancelled_at),
        seat=BookedSeatOut(
            id=str(seat["id"]),
            label=seat["label"],
            section=seat["section"],
            row=seat["row"],
            number=seat["number"],
            category=seat["category"],
            category_name=str(category.get("name", seat["category"])),
            price=int(category.get("price", 0)),
        ),
        event=BookedEventOut(
            id=str(event["id"]),
            name=event["name"],
            starts_at=iso(event["starts_at"]),
            currency=event["currency"],
            cancelled_at=iso(event.get("cancelled_at")),
        ),
        price=record.price,
        order_id=record.order_id,
        checked_in_at=iso(record.checked_in_at),
        ticket=ticket,
    )


# ------------------------------------------------------------------ the door


class StaffIn(In):
    email: Annotated[str, Meta(min_length=1, max_length=320, pattern=PLAIN)]


class StaffOut(Out):
    user_id: str
    email: str
    added_at: str | None


class OneStaffOut(Out):
    success: bool
    staff: StaffOut


class StaffListOut(Out):
    success: bool
    staff: list[StaffOut]


def staff_out(row: Mapping[str, Any]) -> StaffOut:
    return StaffOut(
        user_id=str(row["user_id"]), email=str(row["email"]), added_at=iso(row["created_at"])
    )


class CheckinIn(In):
    # A code is 39 characters; people type it with dashes or spaces between groups.
    code: Annotated[str, Meta(min_length=1, max_length=100, pattern=PLAIN)]


class CheckinTicketOut(Out):
    booking_id: str
    seat_id: str
    seat_label: str
    seat: str  # in words: `Stalls, row C, seat 12 (Premium)`
    holder: str  # the buyer's email
    order_reference: str | None
    checked_in_at: str | None


class CheckinOut(Out):
    success: bool
    ticket: CheckinTicketOut
    checked_in: int
    booked: int


class DoorCountsOut(Out):
    success: bool
    checked_in: int
    booked: int


class HealthOut(Out):
    status: str
    checks: dict[str, str] = {}
