"""The seat log's indexes (raw SQL that both SQLite and PostgreSQL accept): (event, id)
for reading an event's log by cursor and its latest lines, at_ms for pruning."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-03T01:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes on bo_seat_log (event, id) and (at_ms)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="storage", description=DESCRIPTION)

    async def create() -> None:
        from piccolo.apps.migrations.auto.migration_manager import engine_finder

        engine = engine_finder()
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS bo_seat_log_event_id ON "bo_seat_log" ("event", "id")'
        )
        await engine.run_ddl('CREATE INDEX IF NOT EXISTS bo_seat_log_at ON "bo_seat_log" ("at_ms")')

    async def drop() -> None:
        from piccolo.apps.migrations.auto.migration_manager import engine_finder

        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS bo_seat_log_event_id")
        await engine.run_ddl("DROP INDEX IF EXISTS bo_seat_log_at")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
