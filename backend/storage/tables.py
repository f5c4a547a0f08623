"""Piccolo tables: the database is the truth for seats, holds and bookings.

A hold is a seat-row state (`status = 'held'`, `holder`, `held_until` from the database
clock). Every change bumps `version`, which clients use to order live updates and which
doubles as a fencing token. The `active_seat` unique column on bookings is the guard that
makes a second active booking of one seat impossible, whatever the locks did.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.column_types import UUID
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.seats import BookingStatus, IdempotencyState, SeatStatus


class User(Table, tablename="bo_user"):
    id = UUID(primary_key=True)
    email = Varchar(length=320, unique=True, index=True)
    password_hash = Varchar(length=255, secret=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Event(Table, tablename="bo_event"):
    id = UUID(primary_key=True)
    name = Varchar(length=200)
    venue = Varchar(length=200, null=True, default=None)
    starts_at = Timestamptz(null=True, default=None)
    organiser = ForeignKey(User, on_delete=OnDelete.restrict, index=True)
    hold_seconds = Integer(default=600)
    max_seats_per_user = Integer(default=10)
    currency = Varchar(length=3, default="GBP")
    categories = JSON(default=[])
    width = Float(default=0.0)
    height = Float(default=0.0)
    # The stage's rectangle {x, y, width, height} in seat pitches, for a venue whose
    # sections are placed around it (issue 14, item 4); null: drawn above the seats.
    stage = JSON(null=True, default=None)
    is_demo = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    # The on-sale (issue 12): nobody but the organiser holds or books before
    # `on_sale_at`; with `waiting_room` on, only shoppers the room admitted do. The
    # room's places live in the waiting-room store; only its configuration lives here.
    on_sale_at = Timestamptz(null=True, default=None)
    waiting_room = Boolean(default=False)
    max_shoppers = Integer(default=200)
    shopper_seconds = Integer(default=600)
    # Being created (issue 11, item 6): a large event's seats go in over many short
    # transactions, and until the last one publishes it, no read shows it to anyone.
    draft = Boolean(default=False)
    # Cancelled by its organiser (issue 15, item 6): nothing is held or booked after
    # `cancelled_at`; every booking was cancelled and every hold released with it.
    cancelled_at = Timestamptz(null=True, default=None)
    cancel_reason = Varchar(length=500, null=True, default=None)


class WaitingRoomSnapshot(Table, tablename="bo_waiting_room_snapshot"):
    """The last copy of an event's waiting-room places (issue 12): what comes back into
    the waiting-room store if it loses them (Redis restarted without persistence, the
    embedded process restarted). `born` names the store state it was taken from."""

    event = ForeignKey(Event, on_delete=OnDelete.cascade, unique=True)
    born = BigInt()
    taken_at_ms = BigInt()
    places = JSON(default={})


class EventCreation(Table, tablename="bo_event_creation"):
    """One event an organiser created, and its seats: what the per-organiser daily quota
    counts (issue 11, item 6). It outlives the event, so deleting an event does not give
    its quota back; rows older than the quota's window are pruned as the organiser
    creates more."""

    organiser = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    event = UUID()
    seats = Integer()
    created_at_ms = BigInt()


class Seat(Table, tablename="bo_seat"):
    id = UUID(primary_key=True)
    event = ForeignKey(Event, on_delete=OnDelete.cascade, index=True)
    label = Varchar(length=32)
    section = Varchar(length=64, default="")
    row = Varchar(length=16, default="")
    number = Integer(default=0)
    category = Varchar(length=64, default="")
    accessible = Boolean(default=False)
    x = Float(default=0.0)
    y = Float(default=0.0)
    status = Varchar(length=16, default=SeatStatus.AVAILABLE.value, index=True)
    holder = UUID(null=True, default=None)
    held_since_ms = BigInt(null=True, default=None)
    # Epoch milliseconds from the database clock: compares the same way on SQLite and
    # PostgreSQL, and no process's clock decides when a hold ends.
    held_until_ms = BigInt(null=True, default=None, index=True)
    version = BigInt(default=1)
    # (event, label) is unique: a unique index made by a raw migration, because
    # Piccolo's Unique constraint is added with ALTER TABLE, which SQLite lacks.


class Order(Table, tablename="bo_order"):
    """One booking request that booked seats (issue 15, item 1): a short reference a
    buyer can read out, its event, its buyer and what it cost. `total` is the sum of
    its active bookings' prices, in the event's currency's minor units; cancelling a
    booking takes its price off in the same transaction."""

    id = UUID(primary_key=True)
    reference = Varchar(length=16, unique=True)
    event = ForeignKey(Event, on_delete=OnDelete.restrict, index=True)
    user = ForeignKey(User, on_delete=OnDelete.restrict, index=True)
    currency = Varchar(length=3, default="GBP")
    total = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class Booking(Table, tablename="bo_booking"):
    id = UUID(primary_key=True)
    seat = ForeignKey(Seat, on_delete=OnDelete.restrict, index=True)
    event = ForeignKey(Event, on_delete=OnDelete.restrict, index=True)
    user = ForeignKey(User, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=16, default=BookingStatus.ACTIVE.value)
    # Equal to `seat` while the booking is active, NULL once cancelled. Unique, and NULLs
    # never collide, so this is a portable "one active booking per seat" index: the
    # database, not the lock, is what refuses a second booking.
    active_seat = UUID(null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    cancelled_at = Timestamptz(null=True, default=None)
    # Its order (NULL for bookings made before orders existed) and its price in minor
    # units, copied from the seat's category when it was made: a later price change
    # never rewrites what a buyer paid.
    order_id = UUID(null=True, default=None, index=True)
    price = Integer(default=0)
    # At the door (issue 15, item 3): set once, by compare-and-set on NULL, so two scans
    # of one ticket at the same moment admit one person. A checked-in booking is not
    # cancelled any more.
    checked_in_at = Timestamptz(null=True, default=None)
    checked_in_by = UUID(null=True, default=None)


class EventStaff(Table, tablename="bo_event_staff"):
    """Door staff of an event (issue 15, item 3): accounts the organiser added by email,
    who may check tickets in. The id is derived from (event, user), so adding someone
    twice is one row."""

    id = UUID(primary_key=True)
    event = ForeignKey(Event, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow())


class SeatLog(Table, tablename="bo_seat_log"):
    """Every seat change (issue 15, item 4): held, extended, released, expired, booked,
    cancelled, checked in; by whom (NULL: the system) and for which order, written in
    the change's own transaction. `id` orders the log and is its cursor."""

    id = BigSerial(primary_key=True)
    event = ForeignKey(Event, on_delete=OnDelete.cascade, index=True)
    seat = UUID()
    action = Varchar(length=16)
    actor = UUID(null=True, default=None)
    order_id = UUID(null=True, default=None)
    at_ms = BigInt()


class IdempotencyKey(Table, tablename="bo_idempotency_key"):
    id = UUID(primary_key=True)
    user = ForeignKey(User, on_delete=OnDelete.cascade)
    key = Varchar(length=255)
    request_hash = Varchar(length=64)
    # in_flight while the first request runs; done once its response is stored.
    state = Varchar(length=16, default=IdempotencyState.IN_FLIGHT.value)
    owner_token = Varchar(length=64)
    lease_until_ms = BigInt(default=0)
    response_status = Integer(null=True, default=None)
    response_body = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # (user, key) is unique: see the raw migration, as for seat labels.
