"""The seat map's socket is compressed (Chromium offers permessage-deflate; the server
takes it without context takeover, backend/live/frames.py) and the map follows the
compressed batches."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_the_seat_map_reads_compressed_batches(api: Any, new_context: Any, ui: Any) -> None:
    organiser, holder = api.new_user("org"), api.new_user("holder")
    event = api.small_event(organiser)
    seats = [api.seat_id(event, label) for label in ("C1", "C2", "C3", "C4", "C5", "C6")]

    page = new_context().new_page()
    handshakes: list[dict[str, str]] = []
    cdp = page.context.new_cdp_session(page)
    cdp.on(
        "Network.webSocketHandshakeResponseReceived",
        lambda event: handshakes.append(
            {k.lower(): v for k, v in event["response"]["headers"].items()}
        ),
    )
    cdp.send("Network.enable")
    ui.open_event(page, event["id"])

    [headers] = [h for h in handshakes if "sec-websocket-extensions" in h]
    params = [p.strip() for p in headers["sec-websocket-extensions"].split(";")]
    assert params[0] == "permessage-deflate"
    assert {"server_no_context_takeover", "client_no_context_takeover"} <= set(params)

    # Six seats' changes make a batch well over the size that goes compressed.
    assert api.hold(holder, event["id"], seats).status_code == 201
    for seat in seats:
        ui.wait_seat(page, seat, "held", mine=False)
