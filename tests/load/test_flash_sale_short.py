"""The flash sale, short: real server processes (services mode, 2 workers), real HTTP,
buyers racing for few seats, then the double-booking audit from the database.

`make bench` runs the full version (bench/flash_sale.py) with the ceilings beside it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import flash_sale
from bench.common import create_event, insert_accounts
from tests.support.databases import services_database
from tests.support.live_server import live_server
from tests.support.services import require_services

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

SEATS = 60
BUYERS = 150


def test_short_flash_sale_sells_each_seat_once_and_every_201_is_a_row(tmp_path: Path) -> None:
    require_services()
    with services_database(tmp_path) as settings:
        organiser, *_ = asyncio.run(insert_accounts(settings, 1, "organiser"))
        buyers = asyncio.run(insert_accounts(settings, BUYERS, "buyer"))
        with live_server(settings, workers=2) as server:
            event = asyncio.run(create_event(server.url, organiser, SEATS, "Short sale"))
            seat_ids = [s["id"] for s in event["seats"]]
            result = flash_sale.run_load(
                server.url,
                event["id"],
                seat_ids,
                buyers,
                processes=1,
                retries=6,
                deadline_s=40,
            )
        audit = asyncio.run(flash_sale.audit(settings, event["id"], result.pop("_bookings")))

    print(
        f"\nshort flash sale: {result['bookings']} bookings, {result['bookings_per_s']}/s, "
        f"status {result['status_counts']}, audit {audit}"
    )
    assert audit["double_bookings"] == 0
    assert audit["acknowledged_without_row"] == 0
    assert audit["acknowledged_with_wrong_row"] == 0
    assert audit["rows_without_2xx"] == 0
    assert audit["seat_booking_mismatches"] == 0
    assert result["server_errors_5xx"] == 0, result["status_counts"]
    assert result["transport_errors"] == {}
    # More buyers than seats, each retrying: the sale sells out.
    assert result["bookings"] == SEATS == audit["active_booking_rows"]
    assert set(result["status_counts"]["hold"]) <= {"201", "409", "423"}
