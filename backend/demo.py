"""The demo events `make run` shows on a fresh machine: a small theatre with three
categories, and an arena of about 20,000 seats in the round (issue 14, item 4): two
bowls of curved sections around a central stage."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.booking.events import EventService
from backend.booking.layout import Category, RowSpec, SectionSpec, Stage, from_sections
from backend.storage import make_storage

DEMO_ORGANISER = "demo-organiser@boxoffice.invalid"
THEATRE = "Boxoffice Demo: The Flash Sale Symphony"
ARENA = "Boxoffice Demo: Arena in the Round"


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


# The arena: (first section's name, sections, front row's radius, rows, category by row).
LOWER_BOWL = (101, 12, 30.0, 20)
UPPER_BOWL = (201, 16, 54.0, 36)
AISLE_SHARE = 0.08  # of each section's arc left empty between it and the next


def arena_layout() -> Any:
    """About 20,000 seats in the round: a lower bowl of 12 sections and an upper bowl of
    16 around a 24 x 14 stage; each section's rows are arcs around the stage's centre,
    so each row fills its section's share of the circle less an aisle."""
    sections, categories, stage = arena_spec()
    return from_sections(sections, categories, stage=stage)


def arena_spec() -> tuple[list[SectionSpec], list[Category], Stage]:
    """The arena as a layout says it (what `POST /events`' layout form carries)."""
    categories = [
        Category("floor", "Lower bowl", "#b91c1c", 8900),
        Category("upper", "Upper bowl", "#1d4ed8", 5500),
        Category("rear", "Upper rear", "#047857", 3500),
    ]
    sections = []
    for first, count, radius, depth in (LOWER_BOWL, UPPER_BOWL):
        share = 2 * math.pi / count
        for k in range(count):
            turn = 360.0 * k / count  # clockwise from below the stage, each facing it
            rows = []
            for r in range(depth):
                seats = int((radius + r) * share * (1 - AISLE_SHARE))
                category = "floor" if first == 101 else "upper" if r < 18 else "rear"
                last = r == depth - 1
                accessible = (1, 2, seats - 1, seats) if first == 101 and last else ()
                rows.append(RowSpec(str(r + 1), seats, category, accessible))
            sections.append(
                SectionSpec(
                    str(first + k),
                    tuple(rows),
                    x=-radius * math.sin(math.radians(turn)),
                    y=radius * math.cos(math.radians(turn)),
                    rotation=turn,
                    curve=radius,
                )
            )
    return sections, categories, Stage(-12.0, -7.0, 24.0, 14.0)


async def ensure_demo_event(settings: Any) -> list[str]:
    """Create whichever demo event is missing (by name); the ids of those created."""
    storage = make_storage(settings)
    await storage.on_startup()
    try:
        have = await storage.events.demo_names()
        organiser_id = await storage.users.id_of(DEMO_ORGANISER)
        if organiser_id is None:
            # Nobody can sign in as the demo organiser: its hash matches no password.
            organiser = await storage.users.create(DEMO_ORGANISER, "!" + secrets.token_hex(16))
            organiser_id = str(organiser["id"])
        evening = datetime.now(UTC).replace(hour=19, minute=30, second=0, microsecond=0)
        demos = (
            (THEATRE, demo_layout, "Demo Hall", 14),
            (ARENA, arena_layout, "Demo Arena", 21),
        )
        created = []
        for name, layout, venue, days in demos:
            if name in have:
                continue
            created.append(
                await EventService(storage).create(
                    organiser_id,
                    name,
                    layout(),
                    venue=venue,
                    starts_at=evening + timedelta(days=days),
                    hold_seconds=300,
                    max_seats_per_user=8,
                    is_demo=True,
                )
            )
        return created
    finally:
        await storage.on_shutdown()
