"""The seat map asks for the compact websocket snapshot and shows what the plain one would.

The page builds its map from GET /events/{id} and then applies the websocket snapshot.
To prove the snapshot itself is decoded (and not just the GET response shown), most
tests here blank the GET response's live fields: every seat free, version 0, nobody's.
Whatever the map shows afterwards came from the compact snapshot.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def people(api: Any) -> SimpleNamespace:
    """An organiser, me and them, shared by this module's tests (sign-ins are throttled
    per address, and the browser suite already signs in many); each test has its own event."""
    return SimpleNamespace(
        org=api.new_user("org"), me=api.new_user("me"), them=api.new_user("them")
    )


def blank_live_fields(page: Any, event_id: str) -> None:
    """Serve GET /events/{id} with every seat free, unversioned and nobody's."""

    def handle(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for seat in body["seats"]:
            seat.update(status="available", version=0, mine=False, heldUntil=None)
        route.fulfill(response=response, json=body)

    page.route(re.compile(rf"/events/{event_id}$"), handle)


def scenario(api: Any, people: SimpleNamespace) -> dict[str, Any]:
    """Me and someone else, each with a hold and a booking, on a fresh 32-seat event.

    Row A (reading order): A1 free, A2 held by me, A3 held by them, A4 booked by them,
    A5 booked by me; more of each further back so order mistakes show.
    """
    me, them = people.me, people.them
    event: dict[str, Any] = api.small_event(people.org)
    for user, action, labels in (
        (me, api.hold, ("A2", "C8")),
        (them, api.hold, ("A3", "D1")),
        (them, api.book, ("A4", "B7")),
        (me, api.book, ("A5", "D8")),
    ):
        r = action(user, event["id"], [api.seat_id(event, label) for label in labels])
        assert r.status_code in (200, 201), r.text
    return event


def truth(api: Any, event_id: str, user: Any) -> dict[str, dict[str, Any]]:
    """Every seat's live state as the plain JSON API tells `user`."""
    r = api.client.get(f"/events/{event_id}", headers={"Authorization": f"Bearer {user.token}"})
    assert r.status_code == 200, r.text
    return {
        s["id"]: {
            "status": s["status"],
            "mine": bool(s.get("mine")),
            "version": s["version"],
            "heldUntil": s.get("heldUntil"),
        }
        for s in r.json()["seats"]
    }


def shown(page: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Every seat's state as the page holds it."""
    states = page.evaluate("(ids) => ids.map((id) => window.boxoffice.seatState(id))", ids)
    return {s["id"]: {k: s[k] for k in ("status", "mine", "version", "heldUntil")} for s in states}


def wait_converged(page: Any, expected: dict[str, dict[str, Any]], timeout: float = 5000) -> None:
    page.wait_for_function(
        """(expected) => Object.entries(expected).every(([id, want]) => {
            const s = window.boxoffice.seatState(id);
            return s && s.status === want.status && s.mine === want.mine
                && s.version === want.version && s.heldUntil === want.heldUntil;
        })""",
        arg=expected,
        timeout=timeout,
        polling=50,
    )


def test_page_uses_the_compact_snapshot_and_shows_its_states(
    api: Any, people: SimpleNamespace, new_context: Any, ui: Any
) -> None:
    me, event = people.me, scenario(api, people)
    eid = event["id"]
    page = new_context(me).new_page()
    sockets: list[str] = []
    snapshots: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        sockets.append(ws.url)

        def on_frame(payload: Any) -> None:
            message = json.loads(payload)
            if message.get("type") == "snapshot":
                snapshots.append(message)

        ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    blank_live_fields(page, eid)
    ui.open_event(page, eid)

    expected = truth(api, eid, me)
    assert {s["status"] for s in expected.values()} == {"available", "held", "booked"}
    assert sum(s["mine"] for s in expected.values()) == 4
    # After auth the server repeats the snapshot with `mine`; the map converges on it.
    wait_converged(page, expected)
    assert shown(page, list(expected)) == expected

    assert sockets and all(url.endswith(f"/ws/events/{eid}?encoding=compact") for url in sockets)
    assert snapshots, "no snapshot frame seen"
    for message in snapshots:
        assert message["encoding"] == "compact" and "seats" not in message
        assert message["count"] == 32 and len(message["status"]) == 32
    assert snapshots[-1]["mine"], "the signed-in snapshot names my seats"

    # What a screen reader hears, walking row A from the first free seat.
    ui.tab_to(page, "seat-cursor")
    cursor = page.get_by_test_id("seat-cursor")
    expect(cursor).to_have_attribute("aria-label", re.compile(r"^Row A, seat 1, available, "))
    for name in (
        r"^Row A, seat 2, held by you, .+ left",
        r"^Row A, seat 3, held by someone else, free in .+ unless booked",
        r"^Row A, seat 4, booked, £40\.00",
        r"^Row A, seat 5, booked by you, £40\.00",
    ):
        page.keyboard.press("ArrowRight")
        expect(cursor).to_have_attribute("aria-label", re.compile(name))
    # And the tray lists my one hold (A2, £40) and my bookings.
    held = api.seat_id(event, "A2")
    expect(page.get_by_test_id("tray-item")).to_have_count(2)  # A2 and C8
    assert held in page.evaluate("window.boxoffice.myHeldSeatIds")


def test_reconnect_resyncs_from_the_compact_snapshot(
    api: Any, people: SimpleNamespace, new_context: Any, ui: Any
) -> None:
    """Changes lost with a dead socket arrive with the next (compact) snapshot."""
    me, them = people.me, people.them
    event = api.small_event(people.org)
    eid = event["id"]
    page = new_context(me).new_page()
    relays: list[Any] = []
    urls: list[str] = []
    frozen = {"on": False}

    def relay(ws: Any) -> None:
        urls.append(ws.url)
        server = ws.connect_to_server()
        server.on_message(lambda m: None if frozen["on"] else ws.send(m))
        ws.on_message(lambda m: server.send(m))
        relays.append(ws)

    page.route_web_socket(re.compile(r"/ws/events/"), relay)
    ui.open_event(page, eid)
    mine_b1 = api.seat_id(event, "B1")
    ui.click_seat(page, mine_b1)
    ui.wait_seat(page, mine_b1, "held", mine=True)

    # The socket goes deaf: every change below is lost on the way.
    frozen["on"] = True
    for user, action, label in (
        (them, api.hold, "C2"),
        (them, api.book, "C3"),
        (me, api.book, "B1"),  # my hold becomes my booking (a higher version)
        (me, api.hold, "D4"),
    ):
        r = action(user, eid, [api.seat_id(event, label)])
        assert r.status_code in (200, 201), r.text
    page.wait_for_timeout(300)
    assert ui.seat_state(page, api.seat_id(event, "C2"))["status"] == "available"  # behind

    # The socket dies; the page reconnects and the snapshot brings it all.
    frozen["on"] = False
    relays[-1].close()
    expected = truth(api, eid, me)
    wait_converged(page, expected, timeout=10_000)
    assert shown(page, list(expected)) == expected
    assert len(urls) >= 2 and all(url.endswith("?encoding=compact") for url in urls)
    expect(page.get_by_test_id("ws-indicator")).to_have_attribute("data-ws-state", "live")


def test_compact_snapshot_that_does_not_fit_falls_back_to_plain(
    api: Any, people: SimpleNamespace, new_context: Any, ui: Any
) -> None:
    """A compact snapshot for another seat count is refused whole; plain takes over."""
    me, event = people.me, scenario(api, people)
    eid = event["id"]
    page = new_context(me).new_page()
    urls: list[str] = []

    def relay(ws: Any) -> None:
        urls.append(ws.url)
        server = ws.connect_to_server()

        def forward(m: Any) -> None:
            message = json.loads(m)
            if message.get("type") == "snapshot" and message.get("encoding") == "compact":
                # One seat too many: indices could no longer be trusted to be this map's.
                message["count"] += 1
                message["status"] += "b"
                message["version"] += ",1"
                m = json.dumps(message)
            ws.send(m)

        server.on_message(forward)
        ws.on_message(lambda m: server.send(m))

    page.route_web_socket(re.compile(r"/ws/events/"), relay)
    blank_live_fields(page, eid)
    ui.open_event(page, eid)

    expected = truth(api, eid, me)
    wait_converged(page, expected)
    assert shown(page, list(expected)) == expected
    assert urls[0].endswith("?encoding=compact")
    assert not urls[-1].endswith("?encoding=compact"), urls


# The store's own rules, run in the page against the real module.
STORE_CHECK = """async () => {
    const { SeatStore } = await import("/js/seatstore.js");
    const seat = (id, x) => ({ id, label: id, x, y: 0, status: "available", version: 5 });
    const fresh = () => new SeatStore([seat("s0", 0), seat("s1", 1), seat("s2", 2), seat("s3", 3)]);
    const until = "2030-01-02T03:04:05.678Z";
    const compact = {
        type: "snapshot", encoding: "compact", count: 4, status: "ahbh",
        version: "4,5,6,7", heldUntil: { "1": until, "3": until }, mine: [1, 2],
    };
    const plain = [
        { id: "s0", status: "available", version: 4 },
        { id: "s1", status: "held", version: 5, heldUntil: until, mine: true },
        { id: "s2", status: "booked", version: 6, mine: true },
        { id: "s3", status: "held", version: 7, heldUntil: until },
    ];
    const a = fresh(), b = fresh();
    a.setLocal("s0", "booked", true); // a local booking, shown at version 5
    b.setLocal("s0", "booked", true);
    const dirtyCompact = a.applySnapshot(compact);
    const dirtyPlain = b.applySnapshot(plain);
    const states = (s) => [0, 1, 2, 3].map((i) => s.seatState(i));
    let refused = null;
    const before = JSON.stringify(states(a));
    try {
        a.applySnapshot({ ...compact, count: 5, status: "ahbha", version: "9,9,9,9,9", mine: [] });
    } catch (err) {
        refused = err.name;
    }
    let badVersion = null;
    try {
        a.applySnapshot({ ...compact, version: "9,x,9,9", mine: [] });
    } catch (err) {
        badVersion = err.name;
    }
    return {
        compact: states(a), plain: states(b), dirtyCompact, dirtyPlain, refused, badVersion,
        unchanged: JSON.stringify(states(a)) === before,
    };
}"""


def test_store_applies_compact_exactly_as_plain(new_context: Any) -> None:
    page = new_context().new_page()
    page.goto("/")
    result = page.evaluate(STORE_CHECK)
    assert result["compact"] == result["plain"]
    assert result["dirtyCompact"] == result["dirtyPlain"] == [1, 2, 3]
    s0, s1, s2, s3 = result["compact"]
    # Version 4 is older than the 5 shown: the local booking survives the snapshot.
    assert (s0["status"], s0["mine"], s0["version"]) == ("booked", True, 5)
    # Equal version applies (it refreshes `mine`); newer ones apply.
    assert (s1["status"], s1["mine"], s1["heldUntil"], s1["version"]) == (
        "held",
        True,
        "2030-01-02T03:04:05.678Z",
        5,
    )
    assert (s2["status"], s2["mine"], s2["heldUntil"]) == ("booked", True, None)
    assert (s3["status"], s3["mine"], s3["heldUntil"]) == (
        "held",
        False,
        "2030-01-02T03:04:05.678Z",
    )
    # A snapshot that cannot be this map's is refused whole, changing nothing.
    assert result["refused"] == "RangeError" and result["badVersion"] == "RangeError"
    assert result["unchanged"]
