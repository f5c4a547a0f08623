"""The markdown summary of the latest results (bench/results/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _ok(flag: bool | None) -> str:
    return "—" if flag is None else ("met" if flag else "**missed**")


def _mb(n: float | None) -> str:
    return "?" if n is None else f"{n / 1e6:.2f} MB"


def _server_cpu(run: dict[str, Any]) -> Any:
    """A run's server-side CPU milliseconds per booking, or "?" when not measured."""
    return run.get("cpu_ms_per_booking", {}).get("server_side", "?")


def _p(lat: dict[str, Any] | None) -> str:
    if not lat or not lat.get("count"):
        return "-"
    return f"{lat['p50_ms']} / {lat.get('p95_ms')} / {lat['p99_ms']} ms"


def _onsale_rows(data: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """The waiting room's on-sale (bench/onsale.py) and the flash sale without a room."""
    if not data or "room" not in data:
        return []
    r = data["room"]
    tag = (
        f"On-sale, waiting room ({data['workers']} workers, N={data['seats']}, "
        f"M={data['buyers']}, maxShoppers {r['config']['max_shoppers']}, {data['clients']})"
    )
    adm, shop, fair, fifo, law = (
        r["admitted"],
        r["shoppers"],
        r["fairness"],
        r["fifo_after_start"],
        r["littles_law"],
    )
    told = r["queue_message_ms"]
    audit = r["audit"]
    rho, band = fair["spearman_join_vs_admission"], fair["band_95"]
    twice = adm["twice_by_clients"] + max(0, adm["twice_by_server"])
    rows = [
        (
            tag,
            "time to sell out (from onSaleAt)",
            f"{r['time_to_sell_out_s']} s"
            if r["sold_out"]
            else f"not sold out ({r['seats_booked']} seats booked)",
            "",
        ),
        *(
            (
                tag,
                f"admitted buyers' {e} p50 / p95 / p99",
                _p(r["latency"].get(e)),
                "p99 < 300 ms: "
                + _ok(
                    r["latency"].get(e, {}).get("p99_ms") is not None
                    and r["latency"][e]["p99_ms"] < 300
                ),
            )
            for e in ("hold", "book")
        ),
        (
            tag,
            "queue message, admission to client p50 / p99",
            f"socket {told['socket']['p50_ms']} / {told['socket']['p99_ms']} ms, "
            f"polling {told['poll']['p50_ms']} / {told['poll']['p99_ms']} ms",
            "",
        ),
        (
            tag,
            "admitted",
            f"{adm['buyers']} buyers (server admittedTotal {adm['server_total']}, "
            f"{adm['lost_unseen']} places lost unseen); twice "
            f"{adm['twice_by_clients']} by the clients, {adm['twice_by_server']} by the count",
            "0 twice: " + _ok(twice == 0),
        ),
        (
            tag,
            "shoppers at once",
            f"at most {shop['max_sampled']} in {shop['samples']} samples "
            f"(longest gap {shop.get('longest_gap_s')} s)",
            f"≤ {shop['max_shoppers']}: "
            + _ok(shop["max_sampled"] is not None and shop["max_sampled"] <= shop["max_shoppers"]),
        ),
        (
            tag,
            "fairness: join vs admission order, pre-queue (Spearman)",
            f"{rho} over {fair['pre_queue_admitted']} buyers (a fair draw: within ±{band})",
            "≈ 0: " + _ok(None if rho is None or band is None else abs(rho) <= 2 * band),
        ),
        (
            tag,
            "FIFO after the opening",
            f"{fifo['joiners_admitted']} joiners: {fifo['admitted_out_of_join_order']} out of "
            f"order, {fifo['admitted_before_a_pre_queue_joiner']} ahead of the pre-queue",
            "exact: " + _ok(fifo["exact"] and fifo["joiners_admitted"] > 0),
        ),
        (
            tag,
            "Little's law",
            f"W {law['time_in_shop_s']} s in the shop: maxShoppers / W = "
            f"{law['predicted_admissions_per_s']}/s; measured {law['admissions_per_s']}/s, "
            f"{law['mean_shopping_sampled']} shopping on average",
            "",
        ),
        (tag, "5xx", str(r["server_errors_5xx"]), "0: " + _ok(r["server_errors_5xx"] == 0)),
        (
            tag,
            "audit",
            f"double bookings {audit['double_bookings']}, booking rows "
            f"{audit['active_booking_rows']} = booked seats {audit['booked_seats']}, "
            f"2xx without row {audit['acknowledged_without_row']}, "
            f"rows without 2xx {audit['rows_without_2xx']}",
            "0 double: " + _ok(audit["double_bookings"] == 0),
        ),
    ]
    flat = data.get("flash")
    if flat:
        tag = f"Flash sale without a room (same N, M; {data['workers']} workers)"
        ratio = data.get("ratios", {})
        rows += [
            (tag, "time to sell out", f"{flat['sale_seconds']} s ({flat['bookings']} booked)", ""),
            *(
                (tag, f"{e} p50 / p95 / p99", _p(flat["latency"].get(e)), "")
                for e in ("hold", "book")
            ),
            (
                tag,
                "no room ÷ room",
                f"hold p99 {ratio.get('hold_p99')}, book p99 {ratio.get('book_p99')}, "
                f"time to sell out {ratio.get('time_to_sell_out')}",
                "",
            ),
            (
                tag,
                "audit",
                f"double bookings {flat['audit']['double_bookings']}",
                "0 double: " + _ok(flat["audit"]["double_bookings"] == 0),
            ),
        ]
    return rows


def write_summary(results: Path, info: dict[str, Any]) -> Path:
    rows: list[tuple[str, str, str, str]] = []
    for mode in ("services", "embedded"):
        data = _load(results, f"flash_{mode}")
        if not data:
            continue
        box = data["boxoffice"]
        workers = f"{data['workers']} worker{'s' if data['workers'] > 1 else ''}"
        tag = f"Flash sale, {mode} ({workers}, N={data['seats']}, M={data['buyers']})"
        rows.append(
            (
                tag,
                "bookings/s",
                f"{box['bookings_per_s']} ({box['bookings']} booked in {box['sale_seconds']} s)"
                + (
                    f"; rounds {box['rounds_bookings_per_s']}"
                    if len(box.get("rounds_bookings_per_s", [])) > 1
                    else ""
                )
                + f"; server CPU {_server_cpu(box)} ms/booking",
                "",
            )
        )
        for endpoint, lat in box["latency"].items():
            rows.append(
                (
                    tag,
                    f"{endpoint} p50 / p95 / p99",
                    f"{lat['p50_ms']} / {lat['p95_ms']} / {lat['p99_ms']} ms",
                    "p99 < 300 ms: " + _ok(lat["p99_ms"] is not None and lat["p99_ms"] < 300),
                )
            )
        rows.append(
            (
                tag,
                "status counts",
                ", ".join(
                    f"{e}: " + " ".join(f"{k}×{v}" for k, v in c.items())  # noqa: RUF001 (a multiplication sign)
                    for e, c in box["status_counts"].items()
                ),
                "",
            )
        )
        rows.append(
            (tag, "5xx", str(box["server_errors_5xx"]), "0: " + _ok(box["server_errors_5xx"] == 0))
        )
        audit = box["audit"]
        rows.append(
            (
                tag,
                "audit",
                f"double bookings {audit['double_bookings']}, "
                f"2xx without row {audit['acknowledged_without_row']}, "
                f"rows without 2xx {audit['rows_without_2xx']}, "
                f"seat/booking mismatches {audit['seat_booking_mismatches']}",
                "0 double: " + _ok(audit["double_bookings"] == 0),
            )
        )
        if audit.get("bookings_per_commit") is not None:
            rows.append(
                (
                    tag,
                    "bookings per committing transaction (mean batch size)",
                    str(audit["bookings_per_commit"]),
                    "",
                )
            )
        if "bare" in data:
            bare, pg, r = data["bare"], data["pgbench"], data["ratios"]
            rows.append(
                (
                    tag,
                    "bare Litestar + asyncpg handler",
                    f"{bare['bookings_per_s']} bookings/s "
                    f"(rounds {bare['rounds_bookings_per_s']}); "
                    f"p99 hold {bare['latency']['hold']['p99_ms']} ms; "
                    f"server CPU {_server_cpu(bare)} ms/booking",
                    "",
                )
            )
            rows.append(
                (
                    tag,
                    "pgbench (same statements)",
                    f"{pg['bookings_per_s']} bookings/s ({pg.get('clients')} clients)",
                    "",
                )
            )
            rows.append(
                (
                    tag,
                    "Boxoffice ÷ bare",
                    f"{r['boxoffice_over_bare']} (per round {r['boxoffice_over_bare_per_round']}; "
                    f"by server CPU per booking {r['cpu_per_booking_bare_over_boxoffice']})",
                    "≥ 0.8: "
                    + _ok(r["boxoffice_over_bare"] is not None and r["boxoffice_over_bare"] >= 0.8),
                )
            )
            rows.append((tag, "Boxoffice ÷ pgbench", str(r["boxoffice_over_pgbench"]), ""))
    fan = _load(results, "fanout")
    if fan:
        for run in fan["runs"]:
            server = run.get("server", "boxoffice")
            during = "the sale" if fan.get("feed", "sale") == "sale" else "published changes"
            tag = f"Fan-out, {server}, {run['watchers']} watchers, {during}"
            lat = run["commit_to_socket_ms"]
            target = (
                "p99 < 250 ms: " + _ok(lat["p99"] is not None and lat["p99"] < 250)
                if run["watchers"] >= 10000
                else ""
            )
            rows.append(
                (tag, "commit-to-socket p50 / p99", f"{lat['p50']} / {lat['p99']} ms", target)
            )
            rows.append(
                (
                    tag,
                    "messages/s, bytes/s",
                    f"{run['messages_per_s']} msg/s, {_mb(run['bytes_per_s'])}/s",
                    "",
                )
            )
            rss = run["server_rss_mib"]
            rows.append(
                (
                    tag,
                    "server RSS (all processes)",
                    f"{rss['before_watchers']} → {rss['watchers_connected']} MiB connected, "
                    f"peak {rss.get('peak_during_feed', rss.get('peak_during_sale'))} MiB",
                    "",
                )
            )
            rows.append(
                (tag, "fell behind", f"{run['fell_behind']} ({run['fell_behind_detail']})", "")
            )
            alone = next(
                (u["feed"] for u in fan.get("unwatched", []) if u["watchers"] == run["watchers"]),
                None,
            )
            sale = run.get("feed") or {}
            if alone and sale.get("kind") == "sale" and alone["bookings_per_s"]:
                kept = sale["bookings_per_s"] / alone["bookings_per_s"]
                rows.append(
                    (
                        tag,
                        "the sale's bookings/s, of the same sale alone",
                        f"{sale['bookings_per_s']} of {alone['bookings_per_s']} ({kept:.2f})",
                        "≥ 0.8: " + _ok(kept >= 0.8)
                        if server == "boxoffice" and run["watchers"] >= 10000
                        else "",
                    )
                )
    huge = _load(results, "huge")
    if huge:
        tag = f"Huge venue ({huge['seats']} seats)"
        g = huge["get_event"]
        rows.append(
            (
                tag,
                "GET /events/{id}",
                f"plain {g['plain']['ms_median']} ms, {_mb(g['plain']['wire_bytes'])}; "
                f"gzip {g['gzip']['ms_median']} ms, {_mb(g['gzip']['wire_bytes'])}",
                "",
            )
        )
        for label, snap in huge["snapshot"].items():
            if not isinstance(snap, dict):
                continue
            ok = snap["ms_median"] < 150 and snap["wire_bytes"] < 1.5e6
            rows.append(
                (
                    tag,
                    f"websocket snapshot ({label})",
                    f"{snap['ms_median']} ms, {_mb(snap['wire_bytes'])} on the wire",
                    "< 150 ms, < 1.5 MB: " + _ok(ok),
                )
            )
        b = huge.get("browser") or {}
        if b and "skipped" not in b:
            rows.append(
                (
                    tag,
                    "browser first paint of the map",
                    f"{b['first_map_paint_ms']} ms (map draw {b['full_draw_ms']} ms)",
                    "< 1.5 s: " + _ok(b["first_map_paint_ms"] < 1500),
                )
            )
            f = b["frames_under_changes"]
            ch = b.get("changes") or {}
            rows.append(
                (
                    tag,
                    f"frames at {ch.get('changes_per_s', '?')} changes/s",
                    f"p50 {f.get('frame_ms_p50')} ms, p95 {f.get('frame_ms_p95')} ms, "
                    f"max {f.get('frame_ms_max')} ms, "
                    f"dropped {f.get('dropped_frames')} of {f.get('frames')}",
                    "no dropped frames: " + _ok(f.get("dropped_frames") == 0),
                )
            )
    rows += _onsale_rows(_load(results, "onsale"))
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info.get('cpu', '?')}, "
        f"{info.get('memory_gib', '?')} GiB), PostgreSQL {info.get('postgresql', '?')}, "
        f"Python {info['python']}.",
        "",
        "| scenario | figure | measured | target |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    # The peer comparisons keep their own tables (bench/book.py, bench/fanout_peers.py).
    book = _load(results, "book") or {}
    fan = fan or {}
    for title, table in (
        ("The seed's `POST /book` load and a hot seat, taking turns:", book.get("table")),
        (f"Live fan-out ({fan.get('feed', 'sale')} feed), taking turns:", fan.get("table")),
        ("The sale under watch against the same sale alone, taking turns:", fan.get("sale_table")),
    ):
        if table:
            lines += ["", title, "", table]
    path = results / "summary.md"
    results.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
