"""Events, holds and the event-scoped booking endpoint."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any, TypeVar, cast
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from backend.booking.best import BestFilter
from backend.booking.events import EventService
from backend.booking.layout import (
    Category,
    RowSpec,
    SectionSpec,
    Stage,
    from_labels,
    from_pretix,
    from_sections,
)
from backend.booking.onsale import RoomConfig
from backend.booking.service import BookingService
from backend.errors import InvalidInput
from backend.seats import seat_out
from backend.timefmt import iso, iso_from_ms
from backend.web.bookings import book_idempotently
from backend.web.deps import BookingDesk, current_user_id, parse_id
from backend.web.schemas import (
    BookIn,
    BookingsOut,
    EventCancelIn,
    EventCancelOut,
    EventIn,
    EventListOut,
    EventOut,
    EventPatchIn,
    HoldIn,
    HoldOut,
    ReleaseIn,
    ReleaseOut,
    booking_out,
    event_json,
    event_out,
    event_summary_out,
    event_without_seats_out,
    order_out,
)

PUBLIC = {"exclude_from_auth": True}
# The 201 of `POST /events` lists every seat up to this many (the seed's form and the
# small events its clients make); a larger event's would be megabytes (19.5 MB for
# 100,000 seats), so it has the event and its counts, and a Location to read it from.
SEATS_IN_CREATED_BODY = 1_000


def unique_ids(ids: list[UUID], field: str = "seatIds") -> list[str]:
    seen: list[str] = []
    for value in ids:
        text = str(value)
        if text in seen:
            raise InvalidInput(f"{field} lists seat {text} more than once")
        seen.append(text)
    return seen


B = TypeVar("B")


async def optional_body(request: Request[Any, Any, Any], kind: type[B]) -> B | None:
    """The request's JSON body as `kind`, or None when it has none: a DELETE and an
    empty POST may come without one, which Litestar's `data` parameter cannot say."""
    body = await request.body()
    if not body.strip():
        return None
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:  # ValidationError is one too
        raise InvalidInput(f"invalid request body: {exc}") from None


def _layout(data: JSONBody[EventIn]) -> Any:
    """The event's placed seats; run in a thread (`create_event`), handing the GIL back
    to the event loop every few seats (`time.sleep(0)` releases it)."""
    given = [x is not None for x in (data.seats, data.layout, data.seating_plan)]
    if sum(given) != 1:
        raise InvalidInput(
            "give one of seats (a list of labels), layout or seatingPlan (a pretix plan)"
        )
    if data.prices is not None and data.seating_plan is None:
        raise InvalidInput("prices go with a seatingPlan (a layout's categories carry theirs)")
    pause = functools.partial(time.sleep, 0)
    if data.seats is not None:
        return from_labels(data.seats, pause)
    if data.seating_plan is not None:
        plan = msgspec.to_builtins(data.seating_plan)
        return from_pretix(plan, data.prices or {}, pause)
    assert data.layout is not None
    sections = [
        SectionSpec(
            name=s.name.strip(),
            category=s.category,
            x=s.x,
            y=s.y,
            rotation=s.rotation,
            curve=s.curve,
            rows=tuple(
                RowSpec(
                    label=r.label.strip(),
                    seats=r.seats,
                    category=r.category,
                    accessible=tuple(r.accessible),
                )
                for r in s.rows
            ),
        )
        for s in data.layout.sections
    ]
    categories = [Category(c.id, c.name, c.colour, c.price) for c in data.layout.categories]
    drawn = data.layout.stage
    stage = None if drawn is None else Stage(drawn.x, drawn.y, drawn.width, drawn.height)
    return from_sections(sections, categories, pause, stage)


class EventController(Controller):
    path = "/events"
    tags = ["events"]

    @post("/", status_code=HTTP_201_CREATED)
    async def create_event(
        self,
        data: JSONBody[EventIn],
        user_id: NamedDependency[str],
        events: NamedDependency[EventService],
    ) -> Response[EventOut]:
        """Create an event from seat labels, a layout or a pretix seating plan (with
        `prices` by category name); the caller becomes its organiser.
        Up to SEATS_IN_CREATED_BODY seats the 201 has every seat; a larger event's has
        none (GET its `Location` for them)."""
        # Placing 100,000 seats is ~0.5 s of Python (seconds on a busy machine): in a
        # thread, so the event loop keeps answering everyone else meanwhile.
        layout = await asyncio.to_thread(_layout, data)
        event_id = await events.create(
            user_id,
            data.name.strip() or "Untitled",
            layout,
            venue=data.venue,
            starts_at=data.starts_at,
            hold_seconds=data.hold_seconds,
            max_seats_per_user=data.max_seats_per_user,
            currency=data.currency,
            on_sale_at=data.on_sale_at,
            waiting_room=(
                None
                if data.waiting_room is None
                else RoomConfig(
                    enabled=data.waiting_room.enabled,
                    max_shoppers=data.waiting_room.max_shoppers,
                    shopper_seconds=data.waiting_room.shopper_seconds,
                )
            ),
        )
        headers = {"Location": f"/events/{event_id}"}
        if len(layout.seats) > SEATS_IN_CREATED_BODY:
            out = event_without_seats_out(*await events.summary(event_id))
        else:
            event, seats, now = await events.detail(event_id)
            out = event_out(event, seats, now, user_id)
        return Response(out, status_code=HTTP_201_CREATED, headers=headers)

    @get("/", opt=PUBLIC)
    async def list_events(self, events: NamedDependency[EventService]) -> EventListOut:
        """Every event with live seat counts."""
        return EventListOut(events=[event_summary_out(e, c) for e, c in await events.list_all()])

    @get("/{event_id:str}", opt=PUBLIC)
    async def get_event(
        self,
        event_id: FromPath[str],
        events: NamedDependency[EventService],
        maybe_user_id: NamedDependency[str | None],
    ) -> Response[EventOut]:
        """The event with every seat's live status; `mine` marks the caller's own seats."""
        eid = parse_id(event_id, "event id")
        # The storage writes the seats' JSON (on PostgreSQL the database does: a
        # 100,000-seat venue is ~2x faster); it says exactly what `seat_out` would.
        built = await events.detail_json(eid, maybe_user_id)
        body = Response(content=event_json(*built), media_type="application/json")
        return cast("Response[EventOut]", body)  # the bytes are an encoded EventOut

    @patch("/{event_id:str}")
    async def update_event(
        self,
        event_id: FromPath[str],
        data: JSONBody[EventPatchIn],
        user_id: NamedDependency[str],
        events: NamedDependency[EventService],
    ) -> EventOut:
        """Change an event's name, venue, time, hold time, seat limit, on-sale time or
        waiting room (organiser only; only the fields given change)."""
        eid = parse_id(event_id, "event id")
        room = data.waiting_room
        room_fields: tuple[tuple[str, Any], ...] = ()
        if not isinstance(room, msgspec.UnsetType):
            room_fields = (
                ("waiting_room", room.enabled),
                ("max_shoppers", room.max_shoppers),
                ("shopper_seconds", room.shopper_seconds),
            )
        changes = {
            field: value
            for field, value in (
                ("name", data.name),
                ("venue", data.venue),
                ("starts_at", data.starts_at),
                ("hold_seconds", data.hold_seconds),
                ("max_seats_per_user", data.max_seats_per_user),
                ("on_sale_at", data.on_sale_at),
                *room_fields,
            )
            if value is not msgspec.UNSET
        }
        await events.update(user_id, eid, changes)
        event, seats, now = await events.detail(eid)
        return event_out(event, seats, now, user_id)

    @post("/{event_id:str}/cancel", status_code=HTTP_200_OK)
    async def cancel_event(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        user_id: NamedDependency[str],
        events: NamedDependency[EventService],
    ) -> EventCancelOut:
        """Cancel an event (organiser only): every booking is cancelled, every hold
        released, nothing more is held or booked (409 `event_cancelled`), and every open
        seat map is told. The body `{"reason"}` is optional; cancelling again answers
        the first cancellation and changes nothing."""
        eid = parse_id(event_id, "event id")
        data = await optional_body(request, EventCancelIn)  # none: no reason
        reason = data.reason if data else None
        done = await events.cancel(user_id, eid, reason.strip() or None if reason else None)
        return EventCancelOut(
            event_id=eid,
            cancelled_at=iso(done.cancelled_at) or "",
            cancel_reason=done.reason,
            bookings_cancelled=done.bookings,
            holds_released=done.holds,
        )

    @delete("/{event_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_event(
        self,
        event_id: FromPath[str],
        user_id: NamedDependency[str],
        events: NamedDependency[EventService],
    ) -> None:
        """Delete an event (organiser only; 409 while it has active bookings)."""
        await events.delete(user_id, parse_id(event_id, "event id"))

    @post("/{event_id:str}/holds", status_code=HTTP_201_CREATED)
    async def hold(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        data: JSONBody[HoldIn],
        booking: NamedDependency[BookingService],
    ) -> HoldOut:
        """Hold seats by id (all or nothing) or the best `count` adjacent free seats."""
        # The flash sale's hot path: one injected dependency, the caller read straight
        # off the request (two or more dependencies cost a task group per request).
        user_id = current_user_id(request)
        eid = parse_id(event_id, "event id")
        if (data.seat_ids is None) == (data.count is None):
            raise InvalidInput("give either seatIds or count")
        low, high = data.min_price, data.max_price
        if low is not None and high is not None and low > high:
            raise InvalidInput("minPrice is above maxPrice")
        if data.seat_ids is not None:
            if any(
                f is not None
                for f in (
                    data.category,
                    data.section,
                    data.accessible,
                    data.max_price,
                    data.min_price,
                )
            ):
                raise InvalidInput(
                    "category, section, accessible, minPrice and maxPrice go with count, "
                    "not with seatIds"
                )
            result = await booking.hold_seats(user_id, eid, unique_ids(data.seat_ids))
        else:
            assert data.count is not None
            result = await booking.hold_best(
                user_id,
                eid,
                data.count,
                data.category,
                BestFilter(data.section, data.accessible, data.max_price, data.min_price),
            )
        return HoldOut(
            event_id=result.event_id,
            expires_at=iso_from_ms(result.expires_at_ms) or "",
            seats=[seat_out(s, result.expires_at_ms - 1, user_id) for s in result.seats],
        )

    @delete("/{event_id:str}/holds", status_code=HTTP_200_OK)
    async def release(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        booking: NamedDependency[BookingService],
    ) -> ReleaseOut:
        """Release the caller's holds on this event (all, or `seatIds`)."""
        # The caller's id from the request, as in `hold`: a second dependency would cost
        # an anyio task group per request (`BookingDesk`).
        user_id = current_user_id(request)
        eid = parse_id(event_id, "event id")
        data = await optional_body(request, ReleaseIn)
        seat_ids = None
        if data is not None and data.seat_ids is not None:
            seat_ids = unique_ids(data.seat_ids)
        released = await booking.release_holds(user_id, eid, seat_ids)
        return ReleaseOut(event_id=eid, released=released)

    @post("/{event_id:str}/bookings", status_code=HTTP_201_CREATED)
    async def book(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        data: JSONBody[BookIn],
        desk: NamedDependency[BookingDesk],
    ) -> Response[Any]:
        """Book seats the caller holds (or free seats), all or nothing. Honours Idempotency-Key."""
        user_id = current_user_id(request)  # as in `hold`
        booking, idempotency = desk
        eid = parse_id(event_id, "event id")
        seat_ids = unique_ids(data.seat_ids)

        def render(records: list[Any]) -> bytes:
            order = records[0].order if records else None
            return msgspec.json.encode(
                BookingsOut(
                    success=True,
                    bookings=[booking_out(r) for r in records],
                    order=None if order is None else order_out(order),
                )
            )

        return await book_idempotently(
            request,
            user_id,
            idempotency,
            lambda hook: booking.book_seats(user_id, eid, seat_ids, on_commit=hook),
            render,
        )
