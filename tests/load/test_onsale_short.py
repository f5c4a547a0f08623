"""The on-sale behind a waiting room, short: real server processes (services mode, 2
workers), buyers on the seat map's socket and a quarter polling, joining before the
opening and a few one after another after it; then the invariants, from the clients,
the organiser's sampled summary and the database. No timing is asserted.

`make bench onsale` runs the full version (bench/onsale.py) beside the flash sale.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import flash_sale, onsale
from bench.common import insert_accounts
from tests.support.databases import services_database
from tests.support.live_server import live_server
from tests.support.services import require_services

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]

SEATS = 24
BUYERS = 100
CONFIG = onsale.RoomConfig(
    max_shoppers=8,
    shopper_seconds=60,
    join_seconds=3,
    post_start_share=0.1,
    post_start_seconds=1.5,
    poll_share=0.25,
    processes=1,
    deadline_s=60,
    sample_s=0.05,
)


def test_short_onsale_admits_each_buyer_once_in_fair_order_and_sells_each_seat_once(
    tmp_path: Path,
) -> None:
    require_services()
    with services_database(tmp_path) as settings:
        organiser, *_ = asyncio.run(insert_accounts(settings, 1, "organiser"))
        buyers = asyncio.run(insert_accounts(settings, BUYERS, "buyer"))
        with live_server(settings, 2, None, **onsale.SERVER_ENV) as server:
            event = asyncio.run(onsale.create_event(server.url, organiser, SEATS, CONFIG, "Short"))
            result = onsale.run_room(server.url, event, organiser, buyers, CONFIG)
        audit = asyncio.run(flash_sale.audit(settings, event["id"], result.pop("_bookings")))

    print("\n" + "\n".join(onsale.report_lines(result)) + f"\n    audit {audit}")
    # Each seat sold once, every 201 a row and every row a 201.
    assert audit["double_bookings"] == 0
    assert audit["acknowledged_without_row"] == 0
    assert audit["acknowledged_with_wrong_row"] == 0
    assert audit["rows_without_2xx"] == 0
    assert audit["seat_booking_mismatches"] == 0
    assert audit["active_booking_rows"] == audit["booked_seats"] == SEATS
    # Everyone admitted, once: by the clients' messages and by the server's count.
    admitted = result["admitted"]
    assert admitted["never"] == 0, result["outcomes"]
    assert admitted["twice_by_clients"] == 0
    assert admitted["buyers"] == admitted["server_total"] == BUYERS
    # Never more shoppers than maxShoppers in any sample of the organiser's summary.
    shoppers = result["shoppers"]
    assert shoppers["samples"] > 20
    assert shoppers["max_sampled"] is not None
    assert shoppers["max_sampled"] <= CONFIG.max_shoppers
    # Joiners after the opening are admitted in their join order, after the pre-queue.
    fifo = result["fifo_after_start"]
    assert fifo["joiners_admitted"] == round(BUYERS * CONFIG.post_start_share)
    assert fifo["admitted_out_of_join_order"] == 0
    assert fifo["admitted_before_a_pre_queue_joiner"] == 0
    # Both kinds of client learnt of their admission; nothing failed on the server.
    assert result["queue_message_ms"]["socket"]["count"] > 0
    assert result["queue_message_ms"]["poll"]["count"] > 0
    assert result["server_errors_5xx"] == 0, result["status_counts"]
    assert result["sockets"]["failed"] == 0
