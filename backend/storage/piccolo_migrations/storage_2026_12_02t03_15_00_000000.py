"""An index on seats by (event, holder): the per-user seat limit's count.

Every hold and booking counts the caller's booked seats and live holds on the event
(`SeatRepository.count_for_user`). Without this index PostgreSQL bitmap-scans the
event's seats and every booked seat in the database, a cost that grows as bookings
accumulate (README Performance, item 12).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T03:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index (event, holder) on seats"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="storage", description=DESCRIPTION)

    async def create() -> None:
        from piccolo.apps.migrations.auto.migration_manager import engine_finder

        engine = engine_finder()
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS bo_seat_event_holder ON "bo_seat" ("event", "holder")'
        )

    async def drop() -> None:
        from piccolo.apps.migrations.auto.migration_manager import engine_finder

        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS bo_seat_event_holder")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
