"""The Piccolo app holding Boxoffice's tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.storage.tables import (
    Booking,
    Event,
    EventCreation,
    EventStaff,
    IdempotencyKey,
    Order,
    Seat,
    SeatLog,
    User,
    WaitingRoomSnapshot,
)

APP_CONFIG = AppConfig(
    app_name="storage",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        User,
        Event,
        Seat,
        Order,
        Booking,
        IdempotencyKey,
        WaitingRoomSnapshot,
        EventCreation,
        EventStaff,
        SeatLog,
    ],
    migration_dependencies=[],
    commands=[],
)
