"""Composite unique indexes (raw SQL that both SQLite and PostgreSQL accept).

Piccolo's Unique constraint is applied with ALTER TABLE ... ADD CONSTRAINT, which SQLite
does not support; a unique index gives the same guarantee on both databases.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-24T05:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (event, label) on seats and (user, key) on idempotency keys"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="storage", description=DESCRIPTION)

    async def create() -> None:
        from piccolo.apps.migrations.auto.migration_manager import engine_finder

        engine = engine_finder()
        await engine.run_ddl(
            'CREATE UNIQUE INDEX IF NOT EXISTS bo_seat_event_label ON "bo_seat" ("event", "label")'
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS bo_idempotency_user_key "
            'ON "bo_idempotency_key" ("user", "key")'
        )
        # The sweeper's query: held seats ordered by end.
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS bo_seat_status_until ON "bo_seat" ("status", "held_until_ms")'
        )

    async def drop() -> None:
        from piccolo.apps.migrations.auto.migration_manager import engine_finder

        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS bo_seat_event_label")
        await engine.run_ddl("DROP INDEX IF EXISTS bo_idempotency_user_key")
        await engine.run_ddl("DROP INDEX IF EXISTS bo_seat_status_until")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
