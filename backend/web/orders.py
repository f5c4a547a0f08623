"""The caller's orders (issue 15, item 1): `GET /orders`, `GET /orders/{id}`.

An order is one booking request that booked seats (`POST /events/{id}/bookings`
answers with it). Only its buyer sees it: anyone else gets the same 404 as for an
order that does not exist. `GET /orders/{id}` carries each active booking's ticket
(item 2): its code and the code as a QR code.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from backend.booking.door import DoorService
from backend.booking.service import BookingService
from backend.seats import BookingStatus
from backend.web.deps import current_user_id, parse_id
from backend.web.door import ticket_out
from backend.web.schemas import OneOrderOut, OrdersOut, order_out


class OrderController(Controller):
    path = "/orders"
    tags = ["orders"]

    @get("/")
    async def my_orders(
        self, request: Request[Any, Any, Any], booking: NamedDependency[BookingService]
    ) -> OrdersOut:
        """The caller's orders, newest first, each with its bookings (cancelled ones
        too; `total` counts the active ones)."""
        records = await booking.list_orders(current_user_id(request))
        return OrdersOut(success=True, orders=[order_out(r.order, r.bookings) for r in records])

    @get("/{order_id:str}")
    async def one_order(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[str],
        booking: NamedDependency[BookingService],
        door: NamedDependency[DoorService],
    ) -> OneOrderOut:
        """One of the caller's orders with its bookings, each active one with its
        ticket (`ticket.code`, `ticket.qr`); 404 for anyone else's."""
        oid = parse_id(order_id, "order id")
        record = await booking.get_order(current_user_id(request), oid)
        tickets = {
            b.id: ticket_out(door.ticket_code(b.id))
            for b in record.bookings
            if b.status == BookingStatus.ACTIVE.value
        }
        return OneOrderOut(success=True, order=order_out(record.order, record.bookings, tickets))
