"""The demo event `make run` shows on a fresh machine: a small theatre, three categories."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.booking.events import EventService
from backend.booking.layout import Category, RowSpec, SectionSpec, from_sections
from backend.storage import db
from backend.storage.tables import Event, User

DEMO_ORGANISER = "demo-organiser@boxoffice.invalid"


def demo_layout() -> Any:
    categories = [
        Category("premium", "Premium", "#b91c1c", 6500),
        Category("standard", "Standard", "#1d4ed8", 4000),
        Category("balcony", "Balcony", "#047857", 2500),
    ]
    stalls = tuple(
        RowSpec(
            label=row,
            seats=18 + 2 * min(i, 5),
            category="premium" if i < 3 else "standard",
            accessible=(1, 2) if row == "A" else (),
        )
        for i, row in enumerate("ABCDEFGHJKLM")
    )
    balcony = tuple(RowSpec(label=row, seats=26, category="balcony") for row in "NPQRS")
    return from_sections(
        [SectionSpec("Stalls", stalls), SectionSpec("Balcony", balcony)], categories
    )


async def ensure_demo_event(settings: Any) -> str | None:
    engine = db.make_engine(settings)
    db.bind_tables(engine)
    await db.start(engine, 2)
    try:
        if await Event.exists().where(Event.is_demo == True):  # noqa: E712 (Piccolo query)
            return None
        organiser = await User.select(User.id).where(User.email == DEMO_ORGANISER).first()
        if organiser is None:
            organiser_id = uuid.uuid4()
            # Nobody can sign in as the demo organiser: its hash matches no password.
            await User.insert(
                User(
                    id=organiser_id, email=DEMO_ORGANISER, password_hash="!" + secrets.token_hex(16)
                )
            )
        else:
            organiser_id = organiser["id"]
        starts = datetime.now(UTC).replace(hour=19, minute=30, second=0, microsecond=0) + timedelta(
            days=14
        )
        return await EventService(engine).create(
            str(organiser_id),
            "Boxoffice Demo: The Flash Sale Symphony",
            demo_layout(),
            venue="Demo Hall",
            starts_at=starts,
            hold_seconds=300,
            max_seats_per_user=8,
            is_demo=True,
        )
    finally:
        await db.stop(engine)
