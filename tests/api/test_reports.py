"""An event's report and CSV export (issue 15, item 5), both modes.

The report's figures are checked against the database's own rows; the CSV has one row
per booking, neutralises text a spreadsheet would run as a formula, and is streamed:
100,000 bookings go out while the server process grows by a fraction of the file.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.booking.reports import major_units, neutralised
from backend.settings import Settings
from backend.storage import make_storage
from backend.storage.tables import Booking, Seat, User
from bench.common import insert_accounts
from tests.conftest import PASSWORD, Api, password_hash
from tests.support.databases import mode_database
from tests.support.live_server import live_server

LAYOUT = {
    "categories": [
        {"id": "standard", "name": "Standard", "colour": "#2563eb", "price": 2500},
        {"id": "premium", "name": "@SUM(1+1)", "colour": "#db2777", "price": 4000},
    ],
    "sections": [
        {
            "name": "Stalls",
            "category": "standard",
            "rows": [{"label": "A", "seats": 4, "category": "premium"}, {"label": "B", "seats": 4}],
        },
        {"name": "=HYPERLINK(1)", "category": "standard", "rows": [{"label": "C", "seats": 4}]},
    ],
}


async def scenario(api: Api) -> dict[str, Any]:
    """Bookings by two buyers (one cancelled, one checked in) and a live hold."""
    organiser, first, second = await api.user(), await api.user(), await api.user()
    event = await api.event(organiser, layout=LAYOUT)
    eid = event["id"]
    seat = {(s["section"], f"{s['row']}{s['number']}"): s["id"] for s in event["seats"]}
    booked = await api.client.post(
        f"/events/{eid}/bookings",
        json={"seatIds": [seat["Stalls", "A1"], seat["Stalls", "B1"], seat["=HYPERLINK(1)", "C1"]]},
        headers=first["headers"],
    )
    assert booked.status_code == 201, booked.text
    again = await api.client.post(
        f"/events/{eid}/bookings",
        json={"seatIds": [seat["Stalls", "A2"]]},
        headers=second["headers"],
    )
    assert again.status_code == 201, again.text
    b1 = next(b for b in booked.json()["bookings"] if b["seat"]["label"] == "Stalls-B1")
    assert (
        await api.client.delete(f"/bookings/{b1['id']}", headers=first["headers"])
    ).status_code == 200
    order = (
        await api.client.get(f"/orders/{booked.json()['order']['id']}", headers=first["headers"])
    ).json()
    a1 = next(b for b in order["order"]["bookings"] if b["seat"]["label"] == "Stalls-A1")
    scanned = await api.client.post(
        f"/events/{eid}/checkins", json={"code": a1["ticket"]["code"]}, headers=organiser["headers"]
    )
    assert scanned.status_code == 200, scanned.text
    held = await api.client.post(
        f"/events/{eid}/holds", json={"seatIds": [seat["Stalls", "B2"]]}, headers=second["headers"]
    )
    assert held.status_code == 201
    return {"event": event, "organiser": organiser, "first": first, "second": second}


async def test_the_report_matches_the_database(api: Api) -> None:
    s = await scenario(api)
    eid, organiser = s["event"]["id"], s["organiser"]
    response = await api.client.get(f"/events/{eid}/report", headers=organiser["headers"])
    assert response.status_code == 200, response.text
    report = response.json()

    seats = await api.db(Seat.select().where(Seat.event == eid))
    bookings = await api.db(Booking.select().where(Booking.event == eid))
    active = [b for b in bookings if b["status"] == "active"]
    by_seat = {str(x["id"]): x for x in seats}
    status = Counter(x["status"] for x in seats)
    assert report["seats"] == {
        "total": len(seats),
        "available": status["available"],
        "held": status["held"],
        "booked": status["booked"],
        "revenue": sum(b["price"] for b in active),
        "checkedIn": sum(b["checked_in_at"] is not None for b in active),
    }
    assert (report["seats"]["booked"], report["seats"]["held"], report["seats"]["revenue"]) == (
        3,
        1,
        4000 + 2500 + 4000,
    )
    for key, field in (("byCategory", "category"), ("bySection", "section")):
        for tally in report[key]:
            name = tally["id"] if key == "byCategory" else tally["name"]
            mine = [x for x in seats if x[field] == name]
            sold = [b for b in active if by_seat[str(b["seat"])][field] == name]
            assert tally["total"] == len(mine), (key, name)
            assert tally["booked"] == sum(x["status"] == "booked" for x in mine), (key, name)
            assert tally["held"] == sum(x["status"] == "held" for x in mine), (key, name)
            assert tally["revenue"] == sum(b["price"] for b in sold), (key, name)
            assert tally["checkedIn"] == sum(b["checked_in_at"] is not None for b in sold)
    premium = next(c for c in report["byCategory"] if c["id"] == "premium")
    assert (premium["name"], premium["price"], premium["booked"]) == ("@SUM(1+1)", 4000, 2)
    assert report["bookings"] == {"active": 3, "cancelled": 1}
    assert report["orders"] == 2
    assert sum(m["bookings"] for m in report["perMinute"]) == 3
    assert sum(m["revenue"] for m in report["perMinute"]) == report["seats"]["revenue"]
    assert all(m["minute"].endswith(":00Z") for m in report["perMinute"])
    assert "waitingRoom" not in report

    # With a waiting room, its figures come along.
    patched = await api.client.patch(
        f"/events/{eid}",
        json={"waitingRoom": {"enabled": True, "maxShoppers": 5}},
        headers=organiser["headers"],
    )
    assert patched.status_code == 200, patched.text
    room = (await api.client.get(f"/events/{eid}/report", headers=organiser["headers"])).json()
    assert room["waitingRoom"]["enabled"] is True and room["waitingRoom"]["maxShoppers"] == 5


async def test_only_the_organiser_reads_the_report(api: Api) -> None:
    s = await scenario(api)
    eid = s["event"]["id"]
    for path in (f"/events/{eid}/report", f"/events/{eid}/report.csv"):
        for who in (s["first"], await api.user()):
            refused = await api.client.get(path, headers=who["headers"])
            assert refused.status_code == 403 and refused.json()["code"] == "forbidden", path
        assert (await api.client.get(path)).status_code == 401
        missing = await api.client.get(
            path.replace(eid, str(uuid.uuid4())), headers=s["organiser"]["headers"]
        )
        assert missing.status_code == 404
        bad = await api.client.get(path.replace(eid, "nope"), headers=s["organiser"]["headers"])
        assert bad.status_code == 400


async def test_the_csv_has_a_row_per_booking_and_runs_no_formulas(api: Api) -> None:
    s = await scenario(api)
    eid, first = s["event"]["id"], s["first"]
    # A buyer whose email a spreadsheet would run.
    sneaky_id, sneaky_email = uuid.uuid4(), f"=cmd|'/c calc'!A{uuid.uuid4().hex[:6]}@example.com"
    await api.db(
        User.insert(User(id=sneaky_id, email=sneaky_email, password_hash=password_hash(PASSWORD)))
    )
    token = api.client.app.state.jwt_auth.create_token(identifier=str(sneaky_id))
    seat = next(x for x in s["event"]["seats"] if (x["row"], x["number"]) == ("C", 2))
    booked = await api.client.post(
        f"/events/{eid}/bookings",
        json={"seatIds": [seat["id"]]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert booked.status_code == 201, booked.text

    response = await api.client.get(f"/events/{eid}/report.csv", headers=s["organiser"]["headers"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5  # four active bookings and the cancelled one
    by_label = {(r["section"], r["row"] + r["number"]): r for r in rows}
    a1 = by_label["Stalls", "A1"]
    assert a1["seat"] == "Stalls-A1"
    assert a1["category"] == "'@SUM(1+1)" and a1["price"] == "40.00" and a1["currency"] == "GBP"
    assert a1["status"] == "active" and a1["buyer_email"] == first["email"]
    assert a1["checked_in_at"] and a1["order_reference"].startswith("BX-")
    assert (a1["row"], a1["number"]) == ("A", "1")
    assert by_label["Stalls", "B1"]["status"] == "cancelled"
    c2 = by_label["'=HYPERLINK(1)", "C2"]
    assert c2["seat"] == "'=HYPERLINK(1)-C2"
    assert c2["buyer_email"] == "'" + sneaky_email
    # No cell starts a formula.
    assert not [c for r in rows for c in r.values() if c[:1] in ("=", "+", "-", "@")]
    # Booked-at order, oldest first.
    assert [r["booked_at"] for r in rows] == sorted(r["booked_at"] for r in rows)


def test_cells_and_prices() -> None:
    assert neutralised("=1+2") == "'=1+2" and neutralised("-3") == "'-3"
    assert neutralised("+x") == "'+x" and neutralised("@x") == "'@x"
    assert neutralised("\tx") == "'\tx" and neutralised("plain") == "plain"
    assert neutralised(-3) == -3
    assert major_units(2500, "GBP") == "25.00" and major_units(5, "EUR") == "0.05"
    assert major_units(2500, "JPY") == "2500" and major_units(1234, "KWD") == "1.234"


# ------------------------------------------------------------ 100,000 bookings, streamed

EXPORT_ROWS = 100_000
GROWTH_BOUND = 40 * 1024 * 1024  # the file: ~11 MB; its rows read whole: +68-104 MB


@pytest.fixture(params=["embedded", "services"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with mode_database(request.param, tmp_path) as settings:
        yield settings


async def insert_bookings(settings: Settings, event: dict[str, Any], buyer: str) -> None:
    """EXPORT_ROWS bookings straight into the database: cancelled ones on the event's
    seats (a cancelled booking leaves its seat free, so a seat can have many), one
    minute's worth each 10,000."""
    seats = [s["id"] for s in event["seats"]]
    start = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        (
            uuid.uuid4(),
            uuid.UUID(seats[i % len(seats)]),
            uuid.UUID(event["id"]),
            uuid.UUID(buyer),
            "cancelled",
            None,
            start + timedelta(milliseconds=6 * i),
            start + timedelta(milliseconds=6 * i + 1),
            None,
            2500,
        )
        for i in range(EXPORT_ROWS)
    ]
    columns = [
        "id", "seat", "event", "user", "status", "active_seat",
        "created_at", "cancelled_at", "order_id", "price",
    ]  # fmt: skip
    storage = make_storage(settings)
    await storage.on_startup()
    try:
        async with storage.transaction():
            await storage.database.insert_rows("bo_booking", columns, rows)
    finally:
        await storage.on_shutdown()


def clear_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def memory(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


@pytest.mark.live
async def test_a_hundred_thousand_rows_stream_in_bounded_memory(database: Settings) -> None:
    organiser, buyer = await insert_accounts(database, 2, f"export-{uuid.uuid4().hex[:6]}")
    with live_server(database) as server:
        auth = {"Authorization": f"Bearer {organiser.token}"}
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            created = await client.post(
                "/events", json={"name": "Export", "layout": LAYOUT}, headers=auth
            )
            assert created.status_code == 201, created.text
            event = created.json()
            await insert_bookings(database, event, buyer.id)
            url = f"/events/{event['id']}/report.csv"
            # Warm up (imports, first queries), then measure one export from its start.
            assert (
                await client.get(f"/events/{event['id']}/report", headers=auth)
            ).status_code == 200
            clear_peak(server.process.pid)
            before = memory(server.process.pid)["VmRSS"]
            size, lines, first = 0, 0, b""
            async with client.stream("GET", url, headers=auth) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
                    if len(first) < 4096:
                        first += chunk[:4096]
            grown = memory(server.process.pid)["VmHWM"] - before
    assert lines == EXPORT_ROWS + 1, lines
    header, row, *_ = first.decode().splitlines()
    assert header.startswith("order_reference,seat,section,row,number,category,price")
    assert ",25.00,GBP,cancelled," in row
    assert size > 10 * 1024 * 1024, size
    assert grown < GROWTH_BOUND, (
        f"the server grew by {grown / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
    )
