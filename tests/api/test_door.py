"""Tickets and the door (issue 15, items 2 and 3), both modes, over HTTP.

Every active booking of an order has a ticket: a signed code (and that code as a QR
code). At the door the organiser, or door staff the organiser added by email, scans a
code: the first scan admits (200, the seat and its buyer), a second is refused with
when, a cancelled ticket is refused, anything that is not one of this event's tickets
is not found, and two scans of one ticket at the same moment admit exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from typing import Any

from backend.tickets import TicketSigner
from tests.conftest import Api

CODE = re.compile(r"^[A-Z2-7]{4}(-[A-Z2-7]{4}){8}-[A-Z2-7]{3}$")  # 39 characters, grouped
LAYOUT = {
    "categories": [
        {"id": "standard", "name": "Standard", "colour": "#2563eb", "price": 2500},
        {"id": "premium", "name": "Premium", "colour": "#db2777", "price": 4000},
    ],
    "sections": [
        {
            "name": "Stalls",
            "category": "standard",
            "rows": [{"label": "C", "seats": 6, "category": "premium"}, {"label": "D", "seats": 6}],
        }
    ],
}


async def sold(
    api: Api, labels: list[str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An event (its organiser), a buyer, and the buyer's order of `labels` with tickets."""
    organiser, buyer = await api.user(), await api.user()
    event = await api.event(organiser, layout=LAYOUT)
    event["organiser"] = organiser
    ids = {s["label"]: s["id"] for s in event["seats"]}
    booked = await api.client.post(
        f"/events/{event['id']}/bookings",
        json={"seatIds": [ids[label] for label in labels]},
        headers=buyer["headers"],
    )
    assert booked.status_code == 201, booked.text
    return event, buyer, await order(api, buyer, booked.json()["order"]["id"])


async def order(api: Api, buyer: dict[str, Any], order_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/orders/{order_id}", headers=buyer["headers"])
    assert response.status_code == 200, response.text
    return dict(response.json()["order"])


def ticket_of(an_order: dict[str, Any], label: str) -> str:
    (booking,) = [b for b in an_order["bookings"] if b["seat"]["label"] == label]
    return str(booking["ticket"]["code"])


async def scan(api: Api, who: dict[str, Any], event: dict[str, Any], code: Any) -> Any:
    return await api.client.post(
        f"/events/{event['id']}/checkins", json={"code": code}, headers=who["headers"]
    )


async def counts(api: Api, who: dict[str, Any], event: dict[str, Any]) -> tuple[int, int]:
    response = await api.client.get(f"/events/{event['id']}/checkins", headers=who["headers"])
    assert response.status_code == 200, response.text
    return response.json()["checkedIn"], response.json()["booked"]


# ---------------------------------------------------------------------------- tickets


def test_a_code_names_its_booking_and_nothing_else_verifies() -> None:
    signer, other = TicketSigner("s" * 48), TicketSigner("t" * 48)
    booking = str(uuid.uuid4())
    code = signer.code(booking)
    assert len(code) == 39 and set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert signer.booking_of(code) == booking
    # As people type it at a door: lower case, grouped, spaces.
    typed = " ".join(code[i : i + 4] for i in range(0, 39, 4)).lower()
    assert signer.booking_of(typed) == booking
    assert signer.booking_of("-".join(code[i : i + 4] for i in range(0, 39, 4))) == booking
    # Another deployment's key, any single character changed, or too short/long: no.
    assert other.booking_of(code) is None
    for i in range(len(code)):
        changed = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
        assert signer.booking_of(changed) is None, i
    assert signer.booking_of(code[:-1]) is None and signer.booking_of(code + "A") is None
    assert signer.booking_of("") is None and signer.booking_of("x" * 10_000) is None
    # A code made for another booking id with the right shape but a guessed tag: no.
    forged = base64.b32encode(uuid.UUID(booking).bytes + b"\0" * 8).decode().rstrip("=")
    assert signer.booking_of(forged) is None


async def test_each_active_booking_of_an_order_has_its_own_ticket(api: Api) -> None:
    _, buyer, an_order = await sold(api, ["C1", "C2", "D1"])
    tickets = {b["seat"]["label"]: b["ticket"] for b in an_order["bookings"]}
    assert set(tickets) == {"C1", "C2", "D1"}
    assert all(CODE.match(t["code"]) for t in tickets.values()), tickets
    assert len({t["code"] for t in tickets.values()}) == 3
    assert all(t["qr"].startswith("data:image/svg+xml") for t in tickets.values())
    # Stable: the same code each time the order is read.
    again = await order(api, buyer, an_order["id"])
    assert {b["seat"]["label"]: b["ticket"]["code"] for b in again["bookings"]} == {
        label: t["code"] for label, t in tickets.items()
    }
    # A cancelled booking has no ticket; the list of orders carries none (it is light).
    c2 = next(b for b in an_order["bookings"] if b["seat"]["label"] == "C2")
    cancelled = await api.client.delete(f"/bookings/{c2['id']}", headers=buyer["headers"])
    assert cancelled.status_code == 200
    after = await order(api, buyer, an_order["id"])
    assert {b["seat"]["label"] for b in after["bookings"] if "ticket" in b} == {"C1", "D1"}
    listed = (await api.client.get("/orders", headers=buyer["headers"])).json()["orders"]
    assert all("ticket" not in b for o in listed for b in o["bookings"])


# ---------------------------------------------------------------------------- the door


async def test_first_scan_admits_a_second_is_refused_with_when(api: Api) -> None:
    event, buyer, an_order = await sold(api, ["C3", "D2"])
    organiser = event["organiser"]
    assert await counts(api, organiser, event) == (0, 2)
    code = ticket_of(an_order, "C3")

    first = await scan(api, organiser, event, code)
    assert first.status_code == 200, first.text
    body = first.json()
    ticket = body["ticket"]
    assert ticket["seat"] == "Stalls, row C, seat 3 (Premium)"
    assert ticket["seatLabel"] == "C3"
    assert ticket["holder"] == buyer["email"]
    assert ticket["orderReference"] == an_order["reference"]
    assert ticket["checkedInAt"]
    assert (body["checkedIn"], body["booked"]) == (1, 2)

    second = await scan(api, organiser, event, code.lower().replace("-", " "))
    assert second.status_code == 409, second.text
    refused = second.json()
    assert refused["code"] == "already_checked_in"
    assert refused["checkedInAt"] == ticket["checkedInAt"]
    assert (refused["seat"], refused["holder"]) == (ticket["seat"], buyer["email"])
    assert await counts(api, organiser, event) == (1, 2)

    # The buyer sees when their ticket was used.
    seen = await order(api, buyer, an_order["id"])
    assert {b["seat"]["label"]: b.get("checkedInAt") for b in seen["bookings"]} == {
        "C3": ticket["checkedInAt"],
        "D2": None,
    }


async def test_two_scans_of_one_ticket_at_the_same_moment_admit_once(api: Api) -> None:
    event, _, an_order = await sold(api, ["D3"])
    code = ticket_of(an_order, "D3")
    responses = await asyncio.gather(
        *(scan(api, event["organiser"], event, code) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 7, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_checked_in"}
    assert await counts(api, event["organiser"], event) == (1, 1)


async def test_a_cancelled_ticket_is_refused_and_a_used_one_cannot_be_cancelled(
    api: Api,
) -> None:
    event, buyer, an_order = await sold(api, ["C4", "D4"])
    organiser = event["organiser"]
    by_label = {b["seat"]["label"]: b for b in an_order["bookings"]}

    cancelled = await api.client.delete(
        f"/bookings/{by_label['C4']['id']}", headers=buyer["headers"]
    )
    assert cancelled.status_code == 200
    refused = await scan(api, organiser, event, by_label["C4"]["ticket"]["code"])
    assert refused.status_code == 409 and refused.json()["code"] == "cancelled", refused.text
    assert refused.json()["seat"] == "Stalls, row C, seat 4 (Premium)"

    assert (await scan(api, organiser, event, by_label["D4"]["ticket"]["code"])).status_code == 200
    used = await api.client.delete(f"/bookings/{by_label['D4']['id']}", headers=buyer["headers"])
    assert used.status_code == 409 and used.json()["code"] == "checked_in", used.text
    # Nothing changed: the booking stands, the seat is booked, the order keeps its total.
    after = await order(api, buyer, an_order["id"])
    assert after["total"] == 2500
    assert next(b for b in after["bookings"] if b["id"] == by_label["D4"]["id"])["status"] == (
        "active"
    )
    assert (await api.seats(event["id"]))[by_label["D4"]["seatId"]]["status"] == "booked"


async def test_anything_but_one_of_this_events_tickets_is_not_found(api: Api) -> None:
    event, _, an_order = await sold(api, ["C5"])
    other_event, _, other_order = await sold(api, ["C5"])
    organiser = event["organiser"]
    real = ticket_of(an_order, "C5")
    forged = real[:-1] + ("A" if real[-1] != "A" else "B")
    for code in [forged, "BX-7K3Q-92MH", "hello", "A" * 39]:
        response = await scan(api, organiser, event, code)
        assert response.status_code == 404, (code, response.text)
        assert response.json()["code"] == "ticket_not_found"
    # Another event's ticket, at this event's door: not found, and not checked in there.
    elsewhere = await scan(api, organiser, event, ticket_of(other_order, "C5"))
    assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "ticket_not_found"
    assert await counts(api, other_event["organiser"], other_event) == (0, 1)
    assert await counts(api, organiser, event) == (0, 1)


async def test_bad_scans_are_clear_400s_and_change_nothing(api: Api) -> None:
    event, _, an_order = await sold(api, ["C6"])
    organiser = event["organiser"]
    url = f"/events/{event['id']}/checkins"
    for body in [{}, {"code": 12}, {"code": ""}, {"code": "x" * 101}, {"code": "A\x00B"}, []]:
        response = await api.client.post(url, json=body, headers=organiser["headers"])
        assert response.status_code == 400, (body, response.text)
        assert response.json()["message"]
    bad_id = await api.client.post(
        "/events/not-a-uuid/checkins", json={"code": "x"}, headers=organiser["headers"]
    )
    assert bad_id.status_code == 400
    unknown = await api.client.post(
        f"/events/{uuid.uuid4()}/checkins", json={"code": "x"}, headers=organiser["headers"]
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert await counts(api, organiser, event) == (0, 1)
    assert (await scan(api, organiser, event, ticket_of(an_order, "C6"))).status_code == 200


async def test_only_the_organiser_and_door_staff_scan(api: Api) -> None:
    event, buyer, an_order = await sold(api, ["D5", "D6"])
    organiser = event["organiser"]
    staff, stranger = await api.user(), await api.user()
    url = f"/events/{event['id']}/staff"
    code = ticket_of(an_order, "D5")

    # Strangers, the buyer themself and anonymous callers cannot scan or count.
    for who in [stranger, buyer]:
        refused = await scan(api, who, event, code)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        listed = await api.client.get(f"/events/{event['id']}/checkins", headers=who["headers"])
        assert listed.status_code == 403
    anonymous = await api.client.post(f"/events/{event['id']}/checkins", json={"code": code})
    assert anonymous.status_code == 401

    # The organiser adds door staff by email (again: the same row, 200).
    added = await api.client.post(url, json={"email": staff["email"]}, headers=organiser["headers"])
    assert added.status_code == 201, added.text
    assert added.json()["staff"]["userId"] == staff["id"]
    twice = await api.client.post(
        url, json={"email": staff["email"].upper()}, headers=organiser["headers"]
    )
    assert twice.status_code == 200
    listed = await api.client.get(url, headers=organiser["headers"])
    assert [s["email"] for s in listed.json()["staff"]] == [staff["email"]]

    admitted = await scan(api, staff, event, code)
    assert admitted.status_code == 200 and admitted.json()["ticket"]["seatLabel"] == "D5"
    assert await counts(api, staff, event) == (1, 2)

    # Staff scan; they do not manage staff. Nor does anyone but the organiser.
    for who in [staff, stranger]:
        meddling = await api.client.post(
            url, json={"email": stranger["email"]}, headers=who["headers"]
        )
        assert meddling.status_code == 403
        assert (await api.client.get(url, headers=who["headers"])).status_code == 403

    unknown = await api.client.post(
        url, json={"email": "nobody-at-all@example.com"}, headers=organiser["headers"]
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "account_not_found"
    myself = await api.client.post(
        url, json={"email": organiser["email"]}, headers=organiser["headers"]
    )
    assert myself.status_code == 400

    # Taken off the staff, they scan no more.
    removed = await api.client.delete(f"{url}/{staff['id']}", headers=organiser["headers"])
    assert removed.status_code == 200 and removed.json()["staff"] == []
    assert (await scan(api, staff, event, ticket_of(an_order, "D6"))).status_code == 403
    gone = await api.client.delete(f"{url}/{staff['id']}", headers=organiser["headers"])
    assert gone.status_code == 404


def _signed_in(ws: Any, who: dict[str, Any]) -> None:
    """Sign the socket in and read up to its fresh snapshot."""
    ws.send_json({"type": "auth", "token": who["token"]})
    while ws.receive_json(timeout=5)["type"] != "auth":
        pass
    while ws.receive_json(timeout=5)["type"] != "snapshot":
        pass


def _until(ws: Any, wanted: Any) -> list[dict[str, Any]]:
    """Every message up to and including the first for which `wanted` is true."""
    seen = []
    while True:
        message = ws.receive_json(timeout=5)
        seen.append(message)
        if wanted(message):
            return seen


async def test_a_check_in_reaches_the_organisers_and_staffs_sockets_and_nobody_elses(
    api: Api,
) -> None:
    """Check-ins change no seat, so the count goes out on its own over the event's
    socket: to the organiser and door staff, live, and to no one else."""
    event, buyer, an_order = await sold(api, ["C1", "C2", "D1"])
    organiser, staff = event["organiser"], await api.user()
    added = await api.client.post(
        f"/events/{event['id']}/staff", json={"email": staff["email"]}, headers=organiser["headers"]
    )
    assert added.status_code == 201, added.text
    url = f"/ws/events/{event['id']}"
    with (
        await api.client.websocket_connect(url) as at_desk,
        await api.client.websocket_connect(url) as at_door,
        await api.client.websocket_connect(url) as shopper,
        await api.client.websocket_connect(url) as anonymous,
    ):
        for ws, who in ((at_desk, organiser), (at_door, staff), (shopper, buyer)):
            _signed_in(ws, who)
        assert anonymous.receive_json(timeout=5)["type"] == "snapshot"

        admitted = await scan(api, staff, event, ticket_of(an_order, "C1"))
        assert admitted.status_code == 200, admitted.text
        told = {"type": "door", "eventId": event["id"], "checkedIn": 1, "booked": 3}
        for ws in (at_desk, at_door):
            assert _until(ws, lambda m: m["type"] == "door")[-1] == told

        # Two seat changes after the check-in: had the buyer's or the anonymous socket
        # been told, the count would have come before the second change.
        free = [s["id"] for s in event["seats"] if s["label"] in ("D5", "D6")]
        for seat in free:
            held = await api.client.post(
                f"/events/{event['id']}/holds", json={"seatIds": [seat]}, headers=buyer["headers"]
            )
            assert held.status_code == 201, held.text
        for ws in (shopper, anonymous):
            seen = _until(
                ws,
                lambda m: m["type"] == "seats" and free[1] in {c["id"] for c in m["changes"]},
            )
            assert all(m["type"] != "door" for m in seen), seen
