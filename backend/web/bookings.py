"""The seed's POST /book, the caller's bookings, cancellation; the idempotent wrapper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from backend.booking.idempotency import Idempotency, Replay, request_hash
from backend.booking.records import BookingRecord
from backend.booking.service import BookingService
from backend.web.deps import BookingDesk, current_user_id, parse_id
from backend.web.schemas import BookingsOut, OneBookingOut, SeedBookIn, booking_out

Hook = Callable[[list[BookingRecord]], Awaitable[None]]


async def book_idempotently(
    request: Request[Any, Any, Any],
    user_id: NamedDependency[str],
    idempotency: NamedDependency[Idempotency],
    run: Callable[[Hook | None], Awaitable[list[BookingRecord]]],
    render: Callable[[list[BookingRecord]], bytes],
) -> Response[Any]:
    """Run a booking; with an Idempotency-Key, store its 201 in the same transaction."""
    key = request.headers.get("idempotency-key")
    if key is None:
        records = await run(None)
        return _json(HTTP_201_CREATED, render(records))
    digest = request_hash(request.method, request.url.path, await request.body())
    claim = await idempotency.begin(user_id, key, digest)
    if isinstance(claim, Replay):
        return _json(claim.status, claim.body.encode(), replayed=True)

    async def remember(records: list[BookingRecord]) -> None:
        await idempotency.finish(claim, HTTP_201_CREATED, render(records).decode())

    try:
        records = await run(remember)
    except BaseException:
        await idempotency.abandon(claim)
        raise
    return _json(HTTP_201_CREATED, render(records))


def _json(status: int, body: bytes, replayed: bool = False) -> Response[Any]:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(
        content=body, status_code=status, media_type="application/json", headers=headers
    )


class BookingController(Controller):
    tags = ["bookings"]

    @post("/book", status_code=HTTP_201_CREATED)
    async def book_one(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SeedBookIn],
        desk: NamedDependency[BookingDesk],
    ) -> Response[Any]:
        """The seed's single-seat booking: `{seatId}` → `{success: true, booking}`."""
        # One dependency and the caller read off the request, as `EventController.hold`.
        user_id = current_user_id(request)
        booking, idempotency = desk
        seat_id = str(data.seat_id)
        event_id = await booking.event_of_seat(seat_id)

        def render(records: list[BookingRecord]) -> bytes:
            return msgspec.json.encode(OneBookingOut(success=True, booking=booking_out(records[0])))

        return await book_idempotently(
            request,
            user_id,
            idempotency,
            lambda hook: booking.book_seats(user_id, event_id, [seat_id], on_commit=hook),
            render,
        )

    @get("/bookings")
    async def my_bookings(
        self, user_id: NamedDependency[str], booking: NamedDependency[BookingService]
    ) -> BookingsOut:
        """The caller's own bookings, newest first, with seat and event."""
        records = await booking.list_bookings(user_id)
        return BookingsOut(success=True, bookings=[booking_out(r) for r in records])

    @delete("/bookings/{booking_id:str}", status_code=200)
    async def cancel(
        self,
        booking_id: FromPath[str],
        user_id: NamedDependency[str],
        booking: NamedDependency[BookingService],
    ) -> OneBookingOut:
        """Cancel the caller's booking; the seat turns free for everyone, live."""
        record = await booking.cancel_booking(user_id, parse_id(booking_id, "booking id"))
        return OneBookingOut(success=True, booking=booking_out(record))
