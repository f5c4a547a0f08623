"""`?encoding=compact` says exactly what the plain snapshot says, in both run modes."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Api


def decode_compact(message: dict[str, Any], order: list[str]) -> dict[str, dict[str, Any]]:
    """The compact snapshot as plain seats, using the map order of GET /events/{id}."""
    assert message["encoding"] == "compact" and message["count"] == len(order)
    letters = {"a": "available", "h": "held", "b": "booked"}
    versions = [int(v) for v in message["version"].split(",")]
    seats: dict[str, dict[str, Any]] = {}
    for i, seat_id in enumerate(order):
        seat: dict[str, Any] = {"status": letters[message["status"][i]], "version": versions[i]}
        if str(i) in message["heldUntil"]:
            seat["heldUntil"] = message["heldUntil"][str(i)]
        if i in message["mine"]:
            seat["mine"] = True
        seats[seat_id] = seat
    return seats


async def snapshots(
    client: AsyncTestClient[Any], event_id: str, token: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain, compact) snapshots for a signed-in socket."""
    result = []
    for query in ("", "?encoding=compact"):
        with await client.websocket_connect(f"/ws/events/{event_id}{query}") as ws:
            assert ws.receive_json(timeout=3)["type"] == "snapshot"
            ws.send_json({"type": "auth", "token": token})
            assert ws.receive_json(timeout=3)["type"] == "auth"
            result.append(ws.receive_json(timeout=3))
    return result[0], result[1]


async def test_compact_snapshot_matches_the_plain_one(api: Api) -> None:
    owner, me = await api.user(), await api.user()
    event = await api.event(owner)
    seats = [s["id"] for s in event["seats"]]
    path = f"/events/{event['id']}"
    await api.client.post(f"{path}/holds", json={"seatIds": seats[:2]}, headers=me["headers"])
    await api.client.post(f"{path}/bookings", json={"seatIds": seats[5:7]}, headers=me["headers"])
    await api.client.post(f"{path}/holds", json={"seatIds": seats[10:12]}, headers=owner["headers"])
    await api.client.post(
        f"{path}/bookings", json={"seatIds": seats[20:21]}, headers=owner["headers"]
    )

    plain, compact = await snapshots(api.client, event["id"], me["token"])
    order = [s["id"] for s in (await api.client.get(path)).json()["seats"]]
    expected = {s.pop("id"): s for s in plain["seats"]}
    decoded = decode_compact(compact, order)
    assert decoded == expected
    assert sum(1 for s in decoded.values() if s.get("mine")) == 4
    assert {s["status"] for s in decoded.values()} == {"available", "held", "booked"}
