"""The fan-out bench's sale table: each watched sale beside the same sale alone."""

from __future__ import annotations

import json
from typing import Any

from bench.fanout_peers import sale_table
from bench.summary import write_summary


def _sale(rate: float, hold_p99: float) -> dict[str, Any]:
    return {
        "kind": "sale",
        "bookings_per_s": rate,
        "latency": {
            "hold": {"p50_ms": 10.0, "p99_ms": hold_p99},
            "book": {"p50_ms": 5.0, "p99_ms": 8.0},
        },
        "server_errors_5xx": 0,
    }


def test_each_watched_sale_is_set_beside_the_sale_alone_at_its_count() -> None:
    unwatched = [
        {"watchers": 1000, "feed": _sale(200.0, 50.0)},
        {"watchers": 10000, "feed": _sale(190.0, 60.0)},
    ]
    runs = [
        {"server": "boxoffice", "watchers": 1000, "feed": _sale(180.0, 70.0)},
        {"server": "ws", "watchers": 1000, "feed": _sale(190.0, 65.0)},
        {"server": "boxoffice", "watchers": 10000, "feed": _sale(76.0, 900.0)},
        {"server": "ws", "watchers": 10000, "feed": {"kind": "publish"}},  # no sale: no line
    ]

    rows = [line.split(" | ") for line in sale_table(runs, unwatched).splitlines()[2:]]

    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("| 1,000", "nobody watching", "200.0", "1.00"),
        ("| 1,000", "boxoffice", "180.0", "0.90"),
        ("| 1,000", "ws", "190.0", "0.95"),
        ("| 10,000", "nobody watching", "190.0", "1.00"),
        ("| 10,000", "boxoffice", "76.0", "0.40"),
    ]
    assert rows[4][4] == "10.0 / 900.0 ms"
    assert rows[4][5] == "5.0 / 8.0 ms"


def test_the_summary_holds_the_watched_sale_to_80_percent_of_itself_alone(tmp_path: Any) -> None:
    def turn(server: str, rate: float) -> dict[str, Any]:
        return {
            "server": server,
            "watchers": 10000,
            "feed": _sale(rate, 900.0),
            "commit_to_socket_ms": {"p50": 300, "p99": 700},
            "messages_per_s": 14000,
            "bytes_per_s": 1e8,
            "server_rss_mib": {"before_watchers": 260, "watchers_connected": 660},
            "fell_behind": 0,
            "fell_behind_detail": {},
        }

    fanout = {
        "feed": "sale",
        "runs": [turn("boxoffice", 110.0), turn("ws", 140.0)],
        "unwatched": [{"watchers": 10000, "feed": _sale(220.0, 60.0)}],
    }
    (tmp_path / "fanout.json").write_text(json.dumps(fanout))

    text = write_summary(tmp_path, {"date": "today", "cores": 2, "python": "3.11"}).read_text()

    kept = [line for line in text.splitlines() if "of the same sale alone" in line]
    assert kept == [
        "| Fan-out, boxoffice, 10000 watchers, the sale | the sale's bookings/s, of the same "
        "sale alone | 110.0 of 220.0 (0.50) | ≥ 0.8: **missed** |",
        "| Fan-out, ws, 10000 watchers, the sale | the sale's bookings/s, of the same sale "
        "alone | 140.0 of 220.0 (0.64) |  |",
    ]
