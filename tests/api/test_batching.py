"""The group commit (backend/booking/batch.py), on both run modes, over HTTP.

A batch is made for real: a first request is held at the start of its transaction (a
gate on the batch's account lock), the requests under test queue behind it in a known
order, and the gate opens; they then go as one batch, which the batcher's counts prove.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.support.locks import lock_owner
from tests.support.waiting import eventually

BASE = "http://testserver.local"
Call = tuple[str, dict[str, Any], list[str], dict[str, str]]  # kind, user, seat labels, headers


class Gate:
    """Holds the first batch at its lock call (before its transaction, which on SQLite
    would hold the one writer the next requests' idempotency records need) until opened."""

    def __init__(
        self, api: Api, monkeypatch: pytest.MonkeyPatch, at: tuple[Any, str] | None = None
    ) -> None:
        self.booking = api.client.app.state.booking
        self.entered = False
        self.open: asyncio.Event | None = None
        owner, name = at or (self.booking.locks, "acquire_each")
        original = getattr(owner, name)

        async def gated(*args: Any) -> Any:
            if self.open is not None and not self.entered:
                self.entered = True
                await self.open.wait()
            return await original(*args)

        monkeypatch.setattr(owner, name, gated)

    def waiting(self, event_id: str) -> int:
        return len(self.booking.batcher._waiting.get(event_id, []))


def _asgi(app: Any) -> httpx.AsyncClient:
    """A client on the app's own loop, through ASGI: the test client serves one request
    at a time (its transport blocks on the app's loop), so concurrent ones go this way."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


def _url(kind: str, event_id: str) -> str:
    return f"/events/{event_id}/{'bookings' if kind == 'book' else 'holds'}"


EVERYTHING = ["*"]  # a release's labels: all the user's holds on the event


def _request(client: Any, event: dict[str, Any], call: Call) -> Any:
    """The call's request on `client` (the test client or an ASGI httpx client)."""
    kind, user, labels, headers = call
    body = None if labels == EVERYTHING else {"seatIds": _ids(event, labels)}
    return client.request(
        "DELETE" if kind == "release" else "POST",
        _url(kind, event["id"]),
        json=body,
        headers={**user["headers"], **headers},
    )


def _ids(event: dict[str, Any], labels: list[str]) -> list[str]:
    by_label = {s["label"]: s["id"] for s in event["seats"]}
    return [by_label[label] for label in labels]


async def _send(api: Api, event: dict[str, Any], call: Call) -> Any:
    return await _request(api.client, event, call)


async def _as_one_batch(
    api: Api, gate: Gate, event: dict[str, Any], blocker: dict[str, Any], calls: list[Call]
) -> list[Any]:
    """Send `calls` so that they queue, in order, behind a gated first batch (a hold of
    seat C10 by `blocker`), then let them go; their responses, in order.

    The test client serves one request at a time (its transport blocks on the app's
    loop), so the concurrent requests are made on the app's own loop, through ASGI."""
    app = api.client.app
    stats = gate.booking.batcher.stats

    async def scenario() -> tuple[list[httpx.Response], int, int]:
        gate.open = asyncio.Event()
        async with _asgi(app) as http:

            async def send(call: Call) -> httpx.Response:
                response: httpx.Response = await _request(http, event, call)
                return response

            first = asyncio.ensure_future(send(("hold", blocker, ["C10"], {})))
            await eventually(lambda: gate.entered, what="the first batch to reach its lock call")
            batches_before = stats.batches
            tasks = []
            for n, call in enumerate(calls, start=1):
                tasks.append(asyncio.ensure_future(send(call)))
                await eventually(
                    lambda n=n: gate.waiting(event["id"]) == n,
                    what=f"request {n} to queue in order",
                )
            gate.open.set()
            assert (await first).status_code == 201
            responses = await asyncio.gather(*tasks)
            return list(responses), batches_before, stats.batches

    responses, before, after = await api.run(scenario)
    # The first batch, then the queued requests as one (more only for overlaps).
    assert after >= before + 1 and stats.largest >= 2
    return responses


def _shape(response: Any, event: dict[str, Any]) -> tuple[int, Any]:
    """Status and body with what differs between two events (ids, times) named by label."""
    labels = {s["id"]: s["label"] for s in event["seats"]}

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: clean(v)
                for k, v in value.items()
                if k
                not in {
                    *("heldUntil", "expiresAt", "createdAt", "requestId", "eventId"),
                    *("orderId", "reference"),  # an order's, new each time
                }
                and not (k == "id" and v not in labels)
            }
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str):
            text = value
            for seat_id, label in labels.items():
                text = text.replace(seat_id, label)
            return text.replace(event["id"], "EVENT")
        return value

    return response.status_code, clean(response.json())


@pytest.fixture
def gate(api: Api, monkeypatch: pytest.MonkeyPatch) -> Gate:
    return Gate(api, monkeypatch)


async def test_overlapping_requests_in_a_batch_resolve_in_arrival_order_all_or_none(
    api: Api, gate: Gate
) -> None:
    owner, a, b, c, blocker = [await api.user() for _ in range(5)]
    event = await api.event(owner)
    responses = await _as_one_batch(
        api,
        gate,
        event,
        blocker,
        [
            ("hold", a, ["A1", "A2"], {}),
            ("hold", b, ["A2", "A3"], {}),  # overlaps a: after it, refused whole
            ("hold", c, ["A3"], {}),  # overlaps b: after b, so A3 is still free
            ("book", a, ["A1"], {}),  # a's own hold from the same batch
        ],
    )
    assert [r.status_code for r in responses] == [201, 423, 201, 201]
    assert [s["id"] for s in responses[1].json()["seats"]] == _ids(event, ["A2"])
    seats = {s["label"]: s for s in (await api.seats(event["id"])).values()}
    assert seats["A1"]["status"] == "booked"
    assert seats["A2"]["status"] == "held"
    assert seats["A3"]["status"] == "held"
    mine = await api.seats(event["id"], c)
    assert mine[_ids(event, ["A3"])[0]].get("mine") is True
    metrics = (await api.client.get("/metrics")).text
    stats = api.client.app.state.booking.batcher.stats
    assert f"boxoffice_write_batches_total {float(stats.batches)}" in metrics
    assert f"boxoffice_write_batch_requests_total {float(stats.requests)}" in metrics
    assert stats.requests > stats.batches  # some batch held more than one request


async def test_a_request_alone_and_in_a_batch_gets_the_same_answer(
    api: Api, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same requests against two identical events: one at a time with batching off,
    then as one batch. Failures (booked, held by another, over the limit, too many seats,
    an unknown seat) leave their neighbours' answers exactly as alone."""
    owner, a, b, c, d, blocker = [await api.user() for _ in range(6)]
    events = [await api.event(owner, maxSeatsPerUser=3) for _ in range(2)]
    for event in events:  # the state both start from: B1 booked by d, B2 held by d
        assert (await _send(api, event, ("book", d, ["B1"], {}))).status_code == 201
        assert (await _send(api, event, ("hold", d, ["B2"], {}))).status_code == 201
    calls: list[Call] = [
        ("hold", a, ["A1", "A2"], {}),
        ("book", b, ["B1"], {}),  # booked: 409
        ("hold", c, ["B2"], {}),  # held by d: 423
        ("hold", c, ["A4", "A5", "A6", "A7"], {}),  # more than 3 at once
        ("hold", a, ["A8", "A9"], {}),  # a would have 4: over the limit
        ("book", c, ["A3"], {}),
        ("book", d, ["B2"], {}),  # d books its own hold
        ("hold", b, ["A10"], {}),
        ("release", a, ["A2"], {}),
        ("hold", c, ["A2"], {}),  # after a's release of it
        ("release", d, EVERYTHING, {}),
        ("release", c, ["B9"], {}),  # a seat c does not hold: nothing released
    ]
    booking = api.client.app.state.booking
    batcher = booking.batcher
    monkeypatch.setattr(booking, "batcher", None)
    alone = [_shape(await _send(api, events[0], call), events[0]) for call in calls]
    monkeypatch.setattr(booking, "batcher", batcher)
    batched = await _as_one_batch(api, gate, events[1], blocker, calls)
    assert [_shape(r, events[1]) for r in batched] == alone
    statuses = [201, 409, 423, 409, 409, 201, 201, 201, 200, 201, 200, 200]
    assert [status for status, _ in alone] == statuses
    state = [
        {s["label"]: (s["status"], s.get("mine")) for s in (await api.seats(e["id"], c)).values()}
        for e in events
    ]
    state[1].pop("C10")  # the gate's own hold
    state[0].pop("C10")
    assert state[0] == state[1]


async def test_idempotent_bookings_in_one_batch_each_keep_their_own_answer(
    api: Api, gate: Gate
) -> None:
    owner, a, b, blocker = [await api.user() for _ in range(4)]
    event = await api.event(owner)
    keyed: Callable[[str], dict[str, str]] = lambda key: {"Idempotency-Key": key}  # noqa: E731
    calls: list[Call] = [
        ("book", a, ["A1"], keyed("k1")),
        ("book", b, ["A2"], keyed("k2")),
        ("book", a, ["A3"], keyed("k3")),
        ("book", b, ["A1"], keyed("k4")),  # overlaps k1: after it, refused, not stored
    ]
    first = await _as_one_batch(api, gate, event, blocker, calls)
    assert [r.status_code for r in first] == [201, 201, 201, 409]
    replays = [await _send(api, event, call) for call in calls[:3]]
    for original, replay in zip(first, replays, strict=False):
        assert replay.status_code == original.status_code
        assert replay.headers.get("idempotent-replayed") == "true"
        assert replay.json() == original.json()
    bookings = {
        who["id"]: (await api.client.get("/bookings", headers=who["headers"])).json()["bookings"]
        for who in (a, b)
    }
    assert len(bookings[a["id"]]) == 2 and len(bookings[b["id"]]) == 1  # no replay booked again


async def test_a_seat_the_batch_in_flight_has_locked_is_refused_at_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request for a seat whose lock the event's batch in flight holds gets the 423 the
    lock would give it alone, without waiting for that batch (a hot seat's stampede)."""
    owner, a, b = [await api.user() for _ in range(3)]
    event = await api.event(owner)
    gate = Gate(api, monkeypatch, at=(api.client.app.state.booking.seats, "lock_users"))
    app = api.client.app

    async def scenario() -> tuple[int, int, int]:
        gate.open = asyncio.Event()
        async with _asgi(app) as http:
            url = _url("hold", event["id"])
            body = {"seatIds": _ids(event, ["A1"])}
            first = asyncio.ensure_future(http.post(url, json=body, headers=a["headers"]))
            await eventually(lambda: gate.entered, what="the first batch inside its transaction")
            second = await http.post(url, json=body, headers=b["headers"])  # gate still shut
            other = asyncio.ensure_future(
                http.post(url, json={"seatIds": _ids(event, ["A2"])}, headers=b["headers"])
            )
            await eventually(lambda: gate.waiting(event["id"]) == 1, what="A2's hold to queue")
            gate.open.set()
            return (await first).status_code, second.status_code, (await other).status_code

    first, second, other = await api.run(scenario)
    assert (first, second, other) == (201, 423, 201)


async def test_a_release_in_a_batch_frees_its_seats_for_the_requests_after_it(
    api: Api, gate: Gate
) -> None:
    """Releases go through the batch too: what comes after a release in the same batch
    sees it (arrival order), for another buyer's seat and for the buyer's own limit."""
    owner, a, b, blocker = [await api.user() for _ in range(4)]
    event = await api.event(owner, maxSeatsPerUser=3)
    assert (await _send(api, event, ("hold", a, ["A1", "A4", "A5"], {}))).status_code == 201
    assert (await _send(api, event, ("hold", b, ["B1", "B2"], {}))).status_code == 201
    responses = await _as_one_batch(
        api,
        gate,
        event,
        blocker,
        [
            ("release", a, ["A1"], {}),
            ("hold", b, ["A1"], {}),  # A1 is a's until the release before it
            ("release", b, EVERYTHING, {}),  # after b's hold of A1: B1, B2 and A1
            ("hold", a, ["A2"], {}),  # a's fourth seat, but A1 went before it
        ],
    )
    assert [r.status_code for r in responses] == [200, 201, 200, 201]
    assert responses[0].json()["released"] == _ids(event, ["A1"])
    assert sorted(responses[2].json()["released"]) == sorted(_ids(event, ["B1", "B2", "A1"]))
    seats = {s["label"]: s for s in (await api.seats(event["id"])).values()}
    assert seats["A2"]["status"] == "held"
    assert seats["A1"]["status"] == seats["B1"]["status"] == "available"


async def test_carts_in_a_batch_end_together_and_answer_as_alone(
    api: Api, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hold re-holds its buyer's whole cart to one end (issue 14): in a batch as alone,
    with the same answers (versions included: each re-held seat is written as often),
    and a buyer's request after their hold waits for the next batch."""
    owner, a, b, c, blocker = [await api.user() for _ in range(5)]
    events = [await api.event(owner, maxSeatsPerUser=4) for _ in range(2)]
    for event in events:  # a holds A1 and A2, b holds B1
        assert (await _send(api, event, ("hold", a, ["A1", "A2"], {}))).status_code == 201
        assert (await _send(api, event, ("hold", b, ["B1"], {}))).status_code == 201
    calls: list[Call] = [
        ("hold", a, ["A3"], {}),  # re-holds A1 and A2 to A3's end
        ("book", a, ["A1"], {}),  # after a's hold: the next batch
        ("hold", b, ["B2"], {}),  # re-holds B1
        ("hold", a, ["A4"], {}),
        ("release", a, ["A2"], {}),
        ("hold", c, ["A2"], {}),
        ("hold", c, ["B1"], {}),  # b's: 423
        ("hold", b, ["A3"], {}),  # a's: 423
    ]
    booking = api.client.app.state.booking
    batcher = booking.batcher
    monkeypatch.setattr(booking, "batcher", None)
    alone = [_shape(await _send(api, events[0], call), events[0]) for call in calls]
    monkeypatch.setattr(booking, "batcher", batcher)
    batched = await _as_one_batch(api, gate, events[1], blocker, calls)
    assert [_shape(r, events[1]) for r in batched] == alone
    assert [status for status, _ in alone] == [201, 201, 201, 201, 200, 201, 423, 423]
    assert batcher.stats.run_alone == 0  # decided by the batches, not by falling back
    for event in events:
        seats = {s["label"]: s for s in (await api.seats(event["id"])).values()}
        assert seats["A1"]["status"] == "booked"
        assert seats["A3"]["heldUntil"] == seats["A4"]["heldUntil"]  # a's cart
        assert seats["B1"]["heldUntil"] == seats["B2"]["heldUntil"]  # b's cart
        assert seats["A2"]["status"] == "held"  # c's
    state = [
        {
            s["label"]: (s["status"], s.get("mine"), s["version"])
            for s in (await api.seats(e["id"], a)).values()
        }
        for e in events
    ]
    state[1].pop("C10")  # the gate's own hold
    state[0].pop("C10")
    assert state[0] == state[1]


async def test_each_booking_in_a_batch_is_its_own_order(api: Api, gate: Gate) -> None:
    """One order per request, made in the batch's transaction (issue 15, item 1); a
    request the batch refuses makes none."""
    owner, a, b, blocker = [await api.user() for _ in range(4)]
    event = await api.event(owner)
    calls: list[Call] = [
        ("book", a, ["A1", "A2"], {}),
        ("book", b, ["A3"], {}),
        ("book", a, ["B1"], {}),
        ("book", b, ["A2"], {}),  # after the first: booked, refused
    ]
    responses = await _as_one_batch(api, gate, event, blocker, calls)
    assert [r.status_code for r in responses] == [201, 201, 201, 409]
    orders = [r.json()["order"] for r in responses[:3]]
    assert len({o["id"] for o in orders}) == len({o["reference"] for o in orders}) == 3
    for response, order in zip(responses, orders, strict=False):
        assert {x["orderId"] for x in response.json()["bookings"]} == {order["id"]}
    listed = {
        who["id"]: (await api.client.get("/orders", headers=who["headers"])).json()["orders"]
        for who in (a, b)
    }
    assert sorted(len(o["bookings"]) for o in listed[a["id"]]) == [1, 2]
    assert [len(o["bookings"]) for o in listed[b["id"]]] == [1]  # not the refused one


# ------------------------------------------------ a lock cannot turn a holder away
#
# Best available picks from a read that can be a batch old: on two app processes, a
# shopper's probe may lock a seat someone held a moment ago on the other process,
# before its own transaction finds it held and it picks again. That lock must not turn
# the holder's own booking away (it did: 423 "being booked"): nobody else can take a
# seat from its live holder, so the seats a request's read shows its buyer holding take
# no lock (the transaction's row locks and compare-and-set still order the writes), and
# a booking waits for an in-flight hold's batch instead of taking its 423.

FOREIGN = "another-process-probe"


@pytest.mark.parametrize("batching", [True, False], ids=["batched", "alone"])
async def test_a_lock_on_a_seat_its_buyer_holds_does_not_turn_the_buyer_away(
    api: Api, monkeypatch: pytest.MonkeyPatch, batching: bool
) -> None:
    owner, a, b = [await api.user() for _ in range(3)]
    event = await api.event(owner)
    assert (await _send(api, event, ("hold", a, ["A1"], {}))).status_code == 201
    locks = api.client.app.state.locks
    # Another process's stale probe holds the locks of a's A1 and of the free A2.
    assert (
        await api.run(locks.acquire, event["id"], _ids(event, ["A1", "A2"]), FOREIGN, 60_000) == []
    )
    booking = api.client.app.state.booking
    if not batching:
        monkeypatch.setattr(booking, "batcher", None)

    # a's own seat: re-held (its cart gets more time) and booked, lock or not.
    assert (await _send(api, event, ("hold", a, ["A1"], {}))).status_code == 201
    booked = await _send(api, event, ("book", a, ["A1"], {}))
    assert booked.status_code == 201, booked.text
    # All or none: a's request naming a locked free seat as well is still turned away.
    both = await _send(api, event, ("hold", a, ["A3", "A2"], {}))
    assert both.status_code == 423 and both.json()["code"] == "seat_held", both.text
    # The lock still does its job for everyone else's free seat.
    for kind in ("hold", "book"):
        refused = await _send(api, event, (kind, b, ["A2"], {}))
        assert refused.status_code == 423, refused.text
        assert "being booked" in refused.json()["message"]
    seats = {s["label"]: s for s in (await api.seats(event["id"])).values()}
    assert seats["A1"]["status"] == "booked"
    assert seats["A2"]["status"] == seats["A3"]["status"] == "available"
    # Nobody took or gave back the probe's locks.
    for label in ("A1", "A2"):
        assert await api.run(lock_owner, locks, event["id"], _ids(event, [label])[0]) == FOREIGN


async def test_a_booking_waits_for_a_hold_batch_in_flight_on_its_seat(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race inside one process: b's hold read A1 free, a held A1 on the other
    process before b's batch locked it, and a's booking of A1 arrives while b's batch
    (about to be refused) is in its transaction. a's booking waits for that batch and
    is decided by the next one's read, instead of the 423 a hold would get there."""
    owner, a, b = [await api.user() for _ in range(3)]
    event = await api.event(owner)
    booking = api.client.app.state.booking
    before_lock = Gate(api, monkeypatch)
    in_transaction = Gate(api, monkeypatch, at=(booking.seats, "lock_users"))
    app = api.client.app
    a1 = _ids(event, ["A1"])

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        before_lock.open = asyncio.Event()
        async with _asgi(app) as http:
            url = _url("hold", event["id"])
            probe = asyncio.ensure_future(
                http.post(url, json={"seatIds": a1}, headers=b["headers"])
            )
            await eventually(lambda: before_lock.entered, what="b's batch to read A1 free")
            await booking.hold_alone(a["id"], event["id"], a1)  # the other process
            in_transaction.open = asyncio.Event()
            before_lock.open.set()
            await eventually(lambda: in_transaction.entered, what="b's batch to lock A1")
            book = asyncio.ensure_future(
                http.post(_url("book", event["id"]), json={"seatIds": a1}, headers=a["headers"])
            )
            await eventually(
                lambda: before_lock.waiting(event["id"]) == 1, what="a's booking to wait"
            )
            in_transaction.open.set()
            return await probe, await book

    probe, book = await api.run(scenario)
    assert probe.status_code == 423 and "someone else" in probe.json()["message"], probe.text
    assert book.status_code == 201, book.text
    seats = {s["label"]: s for s in (await api.seats(event["id"])).values()}
    assert seats["A1"]["status"] == "booked"


async def test_a_seat_its_holder_is_booking_in_flight_is_refused_at_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder's booking takes no lock on its own seat, but the batch in flight still
    answers another buyer's hold of that seat 423 at once, without waiting for it."""
    owner, a, b = [await api.user() for _ in range(3)]
    event = await api.event(owner)
    assert (await _send(api, event, ("hold", a, ["A1"], {}))).status_code == 201
    gate = Gate(api, monkeypatch, at=(api.client.app.state.booking.seats, "lock_users"))
    app = api.client.app

    async def scenario() -> tuple[bool, int, int]:
        gate.open = asyncio.Event()
        async with _asgi(app) as http:
            body = {"seatIds": _ids(event, ["A1"])}
            book = asyncio.ensure_future(
                http.post(_url("book", event["id"]), json=body, headers=a["headers"])
            )
            await eventually(lambda: gate.entered, what="a's booking inside its transaction")
            hold = asyncio.ensure_future(
                http.post(_url("hold", event["id"]), json=body, headers=b["headers"])
            )
            await eventually(
                lambda: hold.done() or gate.waiting(event["id"]) > 0,
                what="b's hold to be answered or to queue",
            )
            answered_at_once = hold.done()
            gate.open.set()
            return answered_at_once, (await book).status_code, (await hold).status_code

    assert await api.run(scenario) == (True, 201, 423)
