"""Turn an event's seat description into placed seats (every seat gets x, y).

Three inputs: the seed's flat list of labels (`["A1", "A2", "B1"]`, parsed into rows and
numbers where possible), the layout form (sections → rows → seat count, categories
with names, colours and prices, accessible seats) and a pretix seating plan (zones →
rows → seats with positions, categories by name). Pure functions, no I/O.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.errors import InvalidInput

MAX_SEATS = 100_000
MAX_LABEL = 32
DEFAULT_CATEGORY = {"id": "standard", "name": "Standard", "colour": "#2563eb", "price": 0}
SECTION_GAP = 2.0
_LABEL_RE = re.compile(r"^([A-Za-z]{1,4})[\s-]?(\d{1,5})$")
# Placing 100,000 seats is ~0.5 s of Python. Run in a thread, it would hold the GIL for
# 5 ms at a time (the switch interval) whenever the event loop wants it back after a
# socket call, so a hold of ~100 socket calls waited 1.6 s; a caller's `pause` (the web
# layer's releases the GIL) every PAUSE_EVERY seats hands it back within ~0.2 ms.
PAUSE_EVERY = 100
Pause = Callable[[], object]


@dataclass(frozen=True)
class PlacedSeat:
    label: str
    section: str
    row: str
    number: int
    category: str
    accessible: bool
    x: float
    y: float


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    colour: str
    price: int

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "colour": self.colour, "price": self.price}


@dataclass(frozen=True)
class RowSpec:
    label: str
    seats: int
    category: str | None = None
    accessible: tuple[int, ...] = ()


@dataclass(frozen=True)
class SectionSpec:
    """A section: its rows front to back. Placed (issue 14, item 4) when `x`, `y` are
    given: its front row's centre sits there, the section turned by `rotation` degrees
    (clockwise, 0: facing up the map, towards a stage above it), and with `curve` its
    rows are concentric arcs around a point `curve` seat pitches in front of the front
    row (a bowl around the stage). Otherwise sections stack front to back, as always."""

    name: str
    rows: tuple[RowSpec, ...]
    category: str | None = None
    x: float | None = None
    y: float | None = None
    rotation: float = 0.0
    curve: float | None = None

    @property
    def placed(self) -> bool:
        return self.x is not None and self.y is not None


@dataclass(frozen=True)
class Stage:
    """Where the stage (or pitch, or ring) is drawn, in seat pitches."""

    x: float
    y: float
    width: float
    height: float

    def as_dict(self) -> dict[str, float]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}


@dataclass
class Layout:
    seats: list[PlacedSeat] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    stage: Stage | None = None


def _row_sort_key(row: str) -> tuple[int, str]:
    # "A" < "Z" < "AA": shorter labels first, as venues letter their rows.
    return (len(row), row.upper())


def from_labels(labels: list[str], pause: Pause | None = None) -> Layout:
    """The seed form: parse "A12" into row A, seat 12; anything else goes in a last row.
    `pause` is called every PAUSE_EVERY seats (see `Pause`)."""
    if not labels:
        raise InvalidInput("seats must list at least one seat label")
    if len(labels) > MAX_SEATS:
        raise InvalidInput(f"an event has at most {MAX_SEATS} seats, got {len(labels)}")
    seen: set[str] = set()
    places: dict[tuple[str, int], str] = {}  # (row, number) -> the label that took it
    rows: dict[str, list[tuple[int, str]]] = defaultdict(list)
    loose: list[str] = []
    for n, raw in enumerate(labels):
        if pause is not None and not n % PAUSE_EVERY:
            pause()
        label = raw.strip()
        if not label or len(label) > MAX_LABEL:
            raise InvalidInput(f"seat labels must be 1 to {MAX_LABEL} characters, got {raw!r}")
        if label.upper() in seen:
            raise InvalidInput(f"seat label {label!r} appears more than once")
        seen.add(label.upper())
        match = _LABEL_RE.match(label)
        if match:
            row, number = match.group(1), int(match.group(2))
            # "A1", "A01", "A-1" and "A 1" all read row A, seat 1: one seat, one label.
            first = places.setdefault((row.upper(), number), label)
            if first != label:
                raise InvalidInput(
                    f"seat labels {first!r} and {label!r} name the same seat "
                    f"(row {row}, seat {number}); keep one of them"
                )
            rows[row].append((number, label))
        else:
            loose.append(label)

    layout = Layout(categories=[Category(**DEFAULT_CATEGORY)])  # type: ignore[arg-type]
    ordered = sorted(rows, key=_row_sort_key)
    widest = max([len(rows[r]) for r in ordered] + [len(loose)])
    y = 0.0
    for row in ordered:
        members = sorted(rows[row])
        offset = (widest - len(members)) / 2
        for index, (number, label) in enumerate(members):
            layout.seats.append(
                PlacedSeat(label, "", row, number, "standard", False, offset + index, y)
            )
            if pause is not None and not len(layout.seats) % PAUSE_EVERY:
                pause()
        y += 1
    if loose:
        offset = (widest - len(loose)) / 2
        for index, label in enumerate(loose):
            layout.seats.append(
                PlacedSeat(label, "", "", index + 1, "standard", False, offset + index, y)
            )
            if pause is not None and not len(layout.seats) % PAUSE_EVERY:
                pause()
        y += 1
    layout.width = float(widest)
    layout.height = y
    return layout


def from_sections(
    sections: list[SectionSpec],
    categories: list[Category],
    pause: Pause | None = None,
    stage: Stage | None = None,
) -> Layout:
    """The layout form: sections stacked front to back, each row centred, or each placed
    where it says (`SectionSpec`), with a stage where given. `pause` is called every
    PAUSE_EVERY seats (see `Pause`)."""
    if not sections:
        raise InvalidInput("layout.sections must list at least one section")
    placed = [s.placed for s in sections]
    half = [s.name for s in sections if (s.x is None) != (s.y is None)]
    if half:
        raise InvalidInput(f"section {half[0]!r} has one of x and y: give both, or neither")
    loose = [s.name for s in sections if not s.placed and (s.rotation or s.curve is not None)]
    if loose:
        raise InvalidInput(
            f"section {loose[0]!r} has a rotation or curve but no position: "
            "rotation and curve go with placed sections (give x and y)"
        )
    if any(placed) and not all(placed):
        raise InvalidInput(
            "either every section has a position (x and y) or none has: "
            + ", ".join(repr(s.name) for s in sections if not s.placed)
            + " has none"
        )
    if stage is not None and not all(placed):
        raise InvalidInput("a stage goes with placed sections (give each section x and y)")
    if all(placed) and stage is None:
        # Where the front is: what best available picks nearest, what the map draws.
        raise InvalidInput("placed sections need a stage (layout.stage: x, y, width, height)")
    cats = categories or [Category(**DEFAULT_CATEGORY)]  # type: ignore[arg-type]
    known = {c.id for c in cats}
    if len(known) != len(cats):
        raise InvalidInput("category ids must be unique")
    total = sum(row.seats for section in sections for row in section.rows)
    if total == 0:
        raise InvalidInput("the layout has no seats")
    if total > MAX_SEATS:
        raise InvalidInput(f"an event has at most {MAX_SEATS} seats, got {total}")
    names = [s.name for s in sections]
    if len({n.upper() for n in names}) != len(names):
        raise InvalidInput("section names must be unique")
    prefix_labels = len(sections) > 1
    widest = max(row.seats for section in sections for row in section.rows)
    layout = Layout(categories=list(cats))
    seen: set[str] = set()
    y = 0.0
    for section in sections:
        if any(not r.label.strip() for r in section.rows):
            raise InvalidInput(f"row labels must not be blank (section {section.name!r})")
        row_labels = [r.label.upper() for r in section.rows]
        if len(set(row_labels)) != len(row_labels):
            raise InvalidInput(f"row labels repeat in section {section.name!r}")
        for row in section.rows:
            category = row.category or section.category or cats[0].id
            if category not in known:
                raise InvalidInput(
                    f"row {row.label!r} uses category {category!r}, which is not in "
                    f"layout.categories ({', '.join(sorted(known))})"
                )
            bad = [n for n in row.accessible if not 1 <= n <= row.seats]
            if bad:
                raise InvalidInput(
                    f"row {row.label!r} has {row.seats} seats; accessible seat numbers "
                    f"must be within 1..{row.seats}, got {bad}"
                )
            accessible = set(row.accessible)
            offset = (widest - row.seats) / 2
            # "R1" + "11" and "R11" + "1" would both read "R111": a row label ending in a
            # digit takes a hyphen before the seat number.
            joiner = "-" if row.label[-1:].isdigit() else ""
            for n in range(1, row.seats + 1):
                label = f"{row.label}{joiner}{n}"
                if prefix_labels:
                    label = f"{section.name}-{label}"
                if len(label) > MAX_LABEL:
                    raise InvalidInput(f"seat label {label!r} is over {MAX_LABEL} characters")
                if label.upper() in seen:
                    raise InvalidInput(f"seat label {label!r} would appear twice in this layout")
                seen.add(label.upper())
                layout.seats.append(
                    PlacedSeat(
                        label,
                        section.name,
                        row.label,
                        n,
                        category,
                        n in accessible,
                        offset + n - 1,
                        y,
                    )
                )
                if pause is not None and not len(layout.seats) % PAUSE_EVERY:
                    pause()
            y += 1
        y += SECTION_GAP
    layout.width = float(widest)
    layout.height = y - SECTION_GAP
    if all(placed):
        _place(layout, sections, stage, pause)
    return layout


def _place(
    layout: Layout, sections: list[SectionSpec], stage: Stage | None, pause: Pause | None
) -> None:
    """Move each section's seats (laid out stacked, centred on `widest`) to where the
    section says: its front row's centre at (x, y), curved and turned; then shift the
    whole venue, stage included, to start at (0, 0), and refuse seats that overlap."""
    by_section: dict[str, SectionSpec] = {s.name: s for s in sections}
    row_index: dict[tuple[str, str], int] = {
        (s.name, r.label): i for s in sections for i, r in enumerate(s.rows)
    }
    row_seats: dict[tuple[str, str], int] = {
        (s.name, r.label): r.seats for s in sections for r in s.rows
    }
    xs: list[float] = []
    ys: list[float] = []
    for n, seat in enumerate(layout.seats):
        if pause is not None and not n % PAUSE_EVERY:
            pause()
        spec = by_section[seat.section]
        r = row_index[(seat.section, seat.row)]
        along = seat.number - 1 - (row_seats[(seat.section, seat.row)] - 1) / 2
        if spec.curve is not None:
            radius = spec.curve + r
            angle = along / radius  # one pitch of arc between neighbours
            # The arc's centre is `curve` in front (up the map) of the front row's middle.
            lx, ly = radius * math.sin(angle), radius * math.cos(angle) - spec.curve
        else:
            lx, ly = along, float(r)
        turn = math.radians(spec.rotation)
        xs.append(lx * math.cos(turn) - ly * math.sin(turn) + (spec.x or 0.0))
        ys.append(lx * math.sin(turn) + ly * math.cos(turn) + (spec.y or 0.0))
    edges_x = xs + ([stage.x, stage.x + stage.width] if stage else [])
    edges_y = ys + ([stage.y, stage.y + stage.height] if stage else [])
    dx, dy = -min(edges_x), -min(edges_y)
    layout.seats = [
        dataclasses.replace(seat, x=round(x + dx, 3), y=round(y + dy, 3))
        for seat, x, y in zip(layout.seats, xs, ys, strict=True)
    ]
    layout.width = round(max(edges_x) + dx + 1, 3)
    layout.height = round(max(edges_y) + dy + 1, 3)
    if stage is not None:
        layout.stage = Stage(
            round(stage.x + dx, 3), round(stage.y + dy, 3), stage.width, stage.height
        )
        _refuse_seats_on(layout.stage, layout.seats)
    _refuse_overlaps(layout.seats, pause)


# Seat pitches between two seats' centres; less and their circles (0.8 wide) and the
# map's repaint boxes would overlap (a curve's chords and a turned row stay above it).
MIN_SEAT_GAP = 0.85


def _refuse_seats_on(stage: Stage, seats: list[PlacedSeat]) -> None:
    for seat in seats:
        if (
            stage.x - 0.4 < seat.x < stage.x + stage.width + 0.4
            and stage.y - 0.4 < seat.y < stage.y + stage.height + 0.4
        ):
            raise InvalidInput(
                f"seat {seat.label!r} is on the stage: move its section or the stage"
            )


def _refuse_overlaps(seats: list[PlacedSeat], pause: Pause | None = None) -> None:
    """InvalidInput naming two seats whose centres are under MIN_SEAT_GAP apart (sections
    placed on top of each other, or a curve too tight for its rows). A grid of cells one
    gap wide: each seat is compared with the seats of its own and neighbouring cells."""
    cells: dict[tuple[int, int], list[PlacedSeat]] = defaultdict(list)
    for n, seat in enumerate(seats):
        if pause is not None and not n % PAUSE_EVERY:
            pause()
        cx, cy = int(seat.x // MIN_SEAT_GAP), int(seat.y // MIN_SEAT_GAP)
        for ox, oy in itertools.product((-1, 0, 1), repeat=2):
            for other in cells.get((cx + ox, cy + oy), ()):
                if math.hypot(seat.x - other.x, seat.y - other.y) < MIN_SEAT_GAP:
                    raise InvalidInput(
                        f"seats {other.label!r} and {seat.label!r} overlap: move or turn "
                        "their sections apart, or give a curve a larger radius"
                    )
        cells[(cx, cy)].append(seat)


# ------------------------------------------------------------------ pretix seating plans

PRETIX_PITCH_PX = 25.0  # a seat's pitch when no row has two seats (pretix's radius is 10)
MIN_PITCH_PX = 1.0
MAX_SECTION = 64  # bo_seat.section
PRETIX_COLOURS = ("#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2")
_HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_CATEGORY_ID = re.compile(r"[^A-Za-z0-9_-]+")
_LEADING_NUMBER = re.compile(r"^\d{1,9}")


def _pretix_categories(plan: dict[str, Any], prices: dict[str, int]) -> dict[str, Category]:
    """pretix's categories by name, as Boxoffice categories: an id made from the name,
    its colour (or one of ours), the price the organiser gave it."""
    names = [str(c["name"]) for c in plan["categories"]]
    if len(set(names)) != len(names):
        raise InvalidInput("seatingPlan.categories names must be unique")
    unknown = sorted(set(prices) - set(names))
    if unknown:
        raise InvalidInput(f"prices names categories the plan does not have: {unknown}")
    found: dict[str, Category] = {}
    ids: set[str] = set()
    for i, category in enumerate(plan["categories"]):
        name = str(category["name"])
        base = _CATEGORY_ID.sub("-", name).strip("-")[:56] or "category"
        cid, n = base, 1
        while cid.lower() in ids:
            n += 1
            cid = f"{base}-{n}"
        ids.add(cid.lower())
        colour = str(category.get("color") or "")
        if not _HEX_COLOUR.match(colour):
            colour = PRETIX_COLOURS[i % len(PRETIX_COLOURS)]
        found[name] = Category(cid, name, colour, int(prices.get(name, 0)))
    return found


def _pretix_pitch(rows: list[list[tuple[float, float]]]) -> float:
    """The plan's seat pitch in its pixels: the median distance between neighbouring
    seats of a row (the seat map draws a seat one unit wide)."""
    gaps = sorted(
        ((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5
        for seats in rows
        for a, b in itertools.pairwise(seats)
    )
    gaps = [g for g in gaps if g > 0]
    # A pitch under a pixel is no plan pretix's editor draws (its seats have a 10 px
    # radius); it would scale positions past what a float holds.
    return max(gaps[len(gaps) // 2], MIN_PITCH_PX) if gaps else PRETIX_PITCH_PX


def from_pretix(plan: dict[str, Any], prices: dict[str, int], pause: Pause | None = None) -> Layout:
    """A pretix seating plan (its editor's JSON, pretix's published schema): zones of
    rows of seats, each seat at zone + row + seat position, as pretix places them.

    Each seat's section is its zone's name, its row the row's `row_number`, its number
    the leading digits of its `seat_number` (else its place in the row), its label
    `row_number` + `seat_number` (hyphenated when the row ends in a digit), prefixed by
    the zone when the plan has several zones. Positions are scaled so one seat pitch is
    one unit (the seat map's scale) and the plan starts at 0, 0."""
    categories = _pretix_categories(plan, prices)
    zones = plan["zones"]
    total = sum(len(r["seats"]) for z in zones for r in z["rows"])
    if total == 0:
        raise InvalidInput("the seating plan has no seats")
    if total > MAX_SEATS:
        raise InvalidInput(f"an event has at most {MAX_SEATS} seats, got {total}")
    prefix = len(zones) > 1
    placed: list[tuple[str, str, str, int, str, float, float]] = []
    rows_px: list[list[tuple[float, float]]] = []
    seen: set[str] = set()
    for zi, zone in enumerate(zones):
        zone_name = str(zone.get("name") or "").strip() or f"Zone {zi + 1}"
        if len(zone_name) > MAX_SECTION:
            raise InvalidInput(
                f"zone names are at most {MAX_SECTION} characters (a seat's section): "
                f"{zone_name[:20]!r}…"
            )
        zx, zy = float(zone["position"]["x"]), float(zone["position"]["y"])
        for row in zone["rows"]:
            row_name = str(row["row_number"]).strip()
            if not row_name or len(row_name) > 16:
                raise InvalidInput(
                    f"row numbers must be 1 to 16 characters (zone {zone_name!r}: {row_name!r})"
                )
            position = row.get("position") or {"x": 0, "y": 0}
            rx, ry = zx + float(position["x"]), zy + float(position["y"])
            joiner = "-" if row_name[-1:].isdigit() else ""
            row_px: list[tuple[float, float]] = []
            for si, seat in enumerate(row["seats"]):
                number_text = str(seat["seat_number"]).strip()
                if seat["category"] not in categories:
                    raise InvalidInput(
                        f"seat {seat['seat_guid']!r} has category {seat['category']!r}, "
                        "which seatingPlan.categories does not list"
                    )
                label = f"{row_name}{joiner}{number_text}"
                if prefix:
                    label = f"{zone_name}-{label}"
                if not number_text or len(label) > MAX_LABEL:
                    raise InvalidInput(f"seat label {label!r} must be 1 to {MAX_LABEL} characters")
                if label.upper() in seen:
                    raise InvalidInput(f"seat label {label!r} would appear twice in this plan")
                seen.add(label.upper())
                digits = _LEADING_NUMBER.match(number_text)
                number = int(digits.group()) if digits else si + 1
                x = rx + float(seat["position"]["x"])
                y = ry + float(seat["position"]["y"])
                row_px.append((x, y))
                cid = categories[seat["category"]].id
                placed.append((label, zone_name, row_name, number, cid, x, y))
                if pause is not None and not len(placed) % PAUSE_EVERY:
                    pause()
            rows_px.append(row_px)
    pitch = _pretix_pitch(rows_px)
    left = min(p[5] for p in placed)
    top = min(p[6] for p in placed)
    layout = Layout(categories=list(categories.values()))
    for label, section, row_name, number, cid, x, y in placed:
        layout.seats.append(
            PlacedSeat(
                label,
                section,
                row_name,
                number,
                cid,
                False,
                round((x - left) / pitch, 3),
                round((y - top) / pitch, 3),
            )
        )
    layout.width = max(s.x for s in layout.seats) + 1
    layout.height = max(s.y for s in layout.seats) + 1
    return layout
