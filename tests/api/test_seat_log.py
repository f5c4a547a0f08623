"""The seats' status-change log (issue 15, item 4), both modes.

Every seat change is a line: held, extended, released, expired, booked, cancelled,
checked in; with its time, seat, actor (a user, or null for the system) and order;
written in the change's own transaction, so a booking that rolls back leaves no line.
`GET /events/{id}/log?after=&limit=` is the organiser's, cursor-paginated; lines past
SEAT_LOG_DAYS are pruned.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from backend.storage import DuplicateKey, LogEntry
from tests.conftest import Api
from tests.support.waiting import eventually


async def read_log(api: Api, event: dict[str, Any], who: dict[str, Any], **params: Any) -> Any:
    response = await api.client.get(
        f"/events/{event['id']}/log", params=params, headers=who["headers"]
    )
    assert response.status_code == 200, response.text
    return response.json()


class Log:
    """The lines since the last look, as (seat label, action, actor, order)."""

    def __init__(self, api: Api, event: dict[str, Any], organiser: dict[str, Any]) -> None:
        self.api, self.event, self.organiser, self.after = api, event, organiser, 0

    async def new(self) -> set[tuple[str, str, str | None, str | None]]:
        body = await read_log(self.api, self.event, self.organiser, after=self.after, limit=1000)
        if body["entries"]:
            self.after = body["entries"][-1]["id"]
        assert all(e["at"] for e in body["entries"])
        return {(e["seatLabel"], e["action"], e["actorId"], e["orderId"]) for e in body["entries"]}


@pytest.fixture(params=["batched", "alone"])
def path(request: pytest.FixtureRequest, api: Api, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each write through the group commit, and each as its own transaction."""
    if request.param == "alone":
        monkeypatch.setattr(api.client.app.state.booking, "batcher", None)
    return str(request.param)


async def test_every_change_is_a_line_with_its_actor_and_order(api: Api, path: str) -> None:
    organiser, buyer = await api.user(), await api.user()
    event = await api.event(organiser, seats=["A1", "A2", "A3", "B1"])
    eid, me = event["id"], buyer["id"]
    seat = {s["label"]: s["id"] for s in event["seats"]}
    log = Log(api, event, organiser)
    headers = buyer["headers"]

    async def post(path: str, body: dict[str, Any]) -> Any:
        response = await api.client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    await post(f"/events/{eid}/holds", {"seatIds": [seat["A1"], seat["A2"]]})
    assert await log.new() == {("A1", "held", me, None), ("A2", "held", me, None)}
    # A new seat re-holds the cart: the others are extended.
    await post(f"/events/{eid}/holds", {"seatIds": [seat["A3"]]})
    assert await log.new() == {
        ("A3", "held", me, None),
        ("A1", "extended", me, None),
        ("A2", "extended", me, None),
    }
    released = await api.client.request(
        "DELETE", f"/events/{eid}/holds", json={"seatIds": [seat["A3"]]}, headers=headers
    )
    assert released.status_code == 200
    assert await log.new() == {("A3", "released", me, None)}

    booked = await post(f"/events/{eid}/bookings", {"seatIds": [seat["A1"], seat["A2"]]})
    order = booked["order"]["id"]
    assert await log.new() == {("A1", "booked", me, order), ("A2", "booked", me, order)}
    a1 = next(b for b in booked["bookings"] if b["seat"]["label"] == "A1")
    assert (await api.client.delete(f"/bookings/{a1['id']}", headers=headers)).status_code == 200
    assert await log.new() == {("A1", "cancelled", me, order)}

    tickets = (await api.client.get(f"/orders/{order}", headers=headers)).json()["order"]
    a2 = next(b for b in tickets["bookings"] if b["seat"]["label"] == "A2")
    scanned = await api.client.post(
        f"/events/{eid}/checkins",
        json={"code": a2["ticket"]["code"]},
        headers=organiser["headers"],
    )
    assert scanned.status_code == 200
    assert await log.new() == {("A2", "checked_in", organiser["id"], order)}

    # A hold that runs out is the system's doing.
    await api.client.patch(f"/events/{eid}", json={"holdSeconds": 1}, headers=organiser["headers"])
    await post(f"/events/{eid}/holds", {"seatIds": [seat["B1"]]})
    assert await log.new() == {("B1", "held", me, None)}
    expired: set[Any] = set()

    async def expiry_logged() -> bool:
        expired.update(await log.new())
        return bool(expired)

    await eventually(expiry_logged, what="the hold's expiry in the log", timeout=10)
    assert expired == {("B1", "expired", None, None)}


async def test_a_rolled_back_booking_leaves_no_line(
    api: Api, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    organiser, buyer = await api.user(), await api.user()
    event = await api.event(organiser, seats=["A1", "A2"])
    seat = {s["label"]: s["id"] for s in event["seats"]}
    log = Log(api, event, organiser)
    held = await api.client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat["A1"]]}, headers=buyer["headers"]
    )
    assert held.status_code == 201
    assert await log.new() == {("A1", "held", buyer["id"], None)}

    # The bookings' insert fails after the seat's row and its log line were written in
    # the same transaction: both roll back.
    async def refuse(*_: Any, **__: Any) -> Any:
        raise DuplicateKey("booking")

    storage = api.client.app.state.storage
    monkeypatch.setattr(storage.bookings, "insert", refuse)
    monkeypatch.setattr(storage.bookings, "insert_many", refuse)
    # The line is written (before the bookings' insert, on the path alone, which a failed
    # batch falls back to) and then rolled back with everything else.
    written: list[str] = []
    record = storage.seat_log.record

    async def spy(entries: Any) -> None:
        written.extend(e.action for e in entries)
        await record(entries)

    monkeypatch.setattr(storage.seat_log, "record", spy)
    refused = await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": [seat["A1"]]}, headers=buyer["headers"]
    )
    assert refused.status_code == 409, refused.text
    assert "booked" in written
    assert await log.new() == set()
    assert (await api.seats(event["id"]))[seat["A1"]]["status"] == "held"


async def test_the_log_is_the_organisers_and_pages_by_cursor(api: Api) -> None:
    organiser, buyer = await api.user(), await api.user()
    event = await api.event(organiser, seats=["A1", "A2", "A3", "A4", "A5"])
    ids = [s["id"] for s in event["seats"]]
    for sid in ids:  # five lines, one hold each (each re-holds the cart: more lines)
        response = await api.client.post(
            f"/events/{event['id']}/holds", json={"seatIds": [sid]}, headers=buyer["headers"]
        )
        assert response.status_code == 201
    whole = await read_log(api, event, organiser, limit=1000)
    assert whole["next"] is None and len(whole["entries"]) >= 5
    pages, after = [], 0
    while True:
        page = await read_log(api, event, organiser, after=after, limit=2)
        pages.append(page["entries"])
        assert len(page["entries"]) <= 2
        if page["next"] is None:
            break
        after = page["next"]
    assert [e for p in pages for e in p] == whole["entries"]
    assert [e["id"] for e in whole["entries"]] == sorted(e["id"] for e in whole["entries"])
    # The latest lines (a dashboard's recent activity): the log's tail, oldest first.
    tail = await read_log(api, event, organiser, limit=3, latest="true")
    assert tail["entries"] == whole["entries"][-3:] and tail["next"] is None
    assert {e["actorEmail"] for e in whole["entries"]} == {buyer["email"]}

    url = f"/events/{event['id']}/log"
    for who in (buyer, await api.user()):
        refused = await api.client.get(url, headers=who["headers"])
        assert refused.status_code == 403
    assert (await api.client.get(url)).status_code == 401
    for params in (
        {"limit": 0},
        {"limit": 1001},
        {"after": -1},
        {"after": "x"},
        {"limit": "2.5"},
        {"after": 2**63},
        {"after": 2**64 + 1},
    ):
        bad = await api.client.get(url, params=params, headers=organiser["headers"])
        assert bad.status_code == 400, (params, bad.text)


async def test_lines_past_the_retention_are_pruned(api: Api) -> None:
    organiser, buyer = await api.user(), await api.user()
    event = await api.event(organiser, seats=["A1", "A2"])
    seat = event["seats"][0]["id"]
    held = await api.client.post(
        f"/events/{event['id']}/holds", json={"seatIds": [seat]}, headers=buyer["headers"]
    )
    assert held.status_code == 201
    storage = api.client.app.state.storage
    reports = api.client.app.state.reports
    old = int(time.time() * 1000) - 3 * 86_400_000

    async def write_old_line() -> None:
        async with storage.transaction():
            await storage.seat_log.record([LogEntry(event["id"], seat, "held", None, None, old)])

    await api.run(write_old_line)
    assert len((await read_log(api, event, organiser))["entries"]) == 2
    reports.log_days = 0  # forever: nothing goes
    assert await api.run(reports.prune_seat_log) == 0
    reports.log_days = 2
    assert await api.run(reports.prune_seat_log) >= 1
    (left,) = (await read_log(api, event, organiser))["entries"]
    assert (left["action"], left["actorId"]) == ("held", buyer["id"])
