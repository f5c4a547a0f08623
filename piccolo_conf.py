"""Piccolo's entry point: the engine and the app registry, nothing else.

The engine follows DATABASE_URL (PostgreSQL) or falls back to the embedded SQLite file,
so `piccolo migrations forwards storage` works in both run modes. Importing it reads
DATABASE_URL and DATA_DIR and nothing else: no folder, file or connection is made.
"""

from piccolo.conf.apps import AppRegistry

from backend.settings import load_database_location
from backend.storage.database import make_engine

DB = make_engine(load_database_location())

APP_REGISTRY = AppRegistry(apps=["backend.storage.piccolo_app"])
