"""The demo event `make run` shows on a fresh machine: a small theatre, three categories."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.booking.events import EventService
from backend.booking.layout import Category, RowSpec, SectionSpec, from_sections
from backend.storage import make_storage

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
    storage = make_storage(settings)
    await storage.on_startup()
    try:
        if await storage.events.demo_exists():
            return None
        organiser_id = await storage.users.id_of(DEMO_ORGANISER)
        if organiser_id is None:
            # Nobody can sign in as the demo organiser: its hash matches no password.
            organiser = await storage.users.create(DEMO_ORGANISER, "!" + secrets.token_hex(16))
            organiser_id = str(organiser["id"])
        starts = datetime.now(UTC).replace(hour=19, minute=30, second=0, microsecond=0) + timedelta(
            days=14
        )
        return await EventService(storage).create(
            organiser_id,
            "Boxoffice Demo: The Flash Sale Symphony",
            demo_layout(),
            venue="Demo Hall",
            starts_at=starts,
            hold_seconds=300,
            max_seats_per_user=8,
            is_demo=True,
        )
    finally:
        await storage.on_shutdown()
