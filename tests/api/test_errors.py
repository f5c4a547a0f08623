"""Bad input gets a clear 4xx with a message and changes nothing; never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

ZERO = "00000000-0000-4000-8000-000000000000"


def cases(event: str, seat: str) -> list[tuple[str, str, Any, int]]:
    return [
        ("POST", f"/events/{event}/holds", b"{not json", 400),
        ("POST", f"/events/{event}/holds", b"", 400),
        ("POST", f"/events/{event}/holds", [], 400),
        ("POST", f"/events/{event}/holds", {"seatIds": []}, 400),
        ("POST", f"/events/{event}/holds", {"seatIds": "abc"}, 400),
        ("POST", f"/events/{event}/holds", {"seatIds": ["not-a-uuid"]}, 400),
        ("POST", f"/events/{event}/holds", {"seatIds": [seat, seat]}, 400),
        ("POST", f"/events/{event}/holds", {"seatIds": [ZERO]}, 404),
        ("POST", f"/events/{event}/holds", {"count": 0}, 400),
        ("POST", f"/events/{event}/holds", {"count": "two"}, 400),
        ("POST", f"/events/{event}/holds", {"seatIds": [seat], "count": 2}, 400),
        ("POST", f"/events/{event}/holds", {}, 400),
        ("POST", f"/events/{ZERO}/holds", {"seatIds": [seat]}, 404),
        ("POST", "/events/nope/holds", {"seatIds": [seat]}, 400),
        ("DELETE", f"/events/{event}/holds", b"[", 400),
        ("DELETE", f"/events/{event}/holds", {"seatIds": ["x"]}, 400),
        ("POST", f"/events/{event}/bookings", {"seatIds": None}, 400),
        ("POST", f"/events/{event}/bookings", {"seatIds": [seat, seat]}, 400),
        ("POST", f"/events/{event}/bookings", {"seatIds": [ZERO]}, 404),
        ("POST", f"/events/{event}/bookings", {"seatIds": [1, 2]}, 400),
        ("POST", "/book", {"seatId": None}, 400),
        ("POST", "/book", {"seatId": "A1"}, 400),
        ("POST", "/book", {"seatId": ZERO}, 404),
        ("POST", "/book", {}, 400),
        ("DELETE", "/bookings/not-a-uuid", None, 400),
        ("PATCH", f"/events/{event}", {"holdSeconds": "long"}, 400),
        ("PATCH", f"/events/{event}", {"name": ""}, 400),
        ("POST", "/events", {"name": "x", "layout": {"sections": "nope"}}, 400),
        (
            "POST",
            "/events",
            {
                "name": "x",
                "layout": {"sections": [{"name": "S", "rows": [{"label": "A", "seats": -1}]}]},
            },
            400,
        ),
        ("POST", "/signup", b"\xff\xfe", 400),
        ("POST", "/signin", {"email": [], "password": {}}, 400),
    ]


async def test_bad_input_gets_a_clear_4xx_and_changes_nothing(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    before = await api.seats(event["id"])
    for method, path, body, status in cases(event["id"], seat):
        kwargs: dict[str, Any] = {"headers": owner["headers"]}
        if isinstance(body, bytes):
            kwargs["content"] = body
            kwargs["headers"] = {**owner["headers"], "Content-Type": "application/json"}
        elif body is not None:
            kwargs["json"] = body
        response = await api.client.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, body, response.text)
        payload = response.json()
        assert payload["success"] is False and payload["message"] and payload["code"], payload
    assert await api.seats(event["id"]) == before


@pytest.mark.parametrize("path", ["/me", "/bookings"])
async def test_missing_token_is_401_json(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 401
    assert response.json()["success"] is False and response.json()["code"] == "not_authenticated"


async def test_unknown_route_is_404_json(api: Api) -> None:
    response = await api.client.get("/no/such/thing", headers={"Accept": "application/json"})
    assert response.status_code == 404


async def test_health_ready_and_schema(api: Api) -> None:
    assert (await api.client.get("/health")).json() == {"status": "ok"}
    ready = await api.client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "locks": "ok", "channel": "ok"}
    schema = (await api.client.get("/schema/openapi.json")).json()
    for path in ["/signup", "/signin", "/events", "/events/{event_id}/holds", "/book", "/bookings"]:
        assert path in schema["paths"], path


async def test_security_headers_on_json_and_pages(api: Api) -> None:
    for path in ["/events", "/"]:
        response = await api.client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
