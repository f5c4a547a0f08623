"""Piccolo's entry point: the engine and the app registry, nothing else.

The engine follows DATABASE_URL (PostgreSQL) or falls back to the embedded SQLite file,
so `piccolo migrations forwards storage` works in both run modes.
"""

from piccolo.conf.apps import AppRegistry

from backend.settings import get_settings
from backend.storage.database import make_engine

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(apps=["backend.storage.piccolo_app"])
