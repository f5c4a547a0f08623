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


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# Past the recursion limit of the decoder on a request's thread (found at ~1,000).
DEEP = 5000


async def test_deeply_nested_json_is_a_400_on_every_json_endpoint(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    seat = event["seats"][0]["id"]
    before = await api.seats(event["id"])
    targets = [
        ("POST", "/signup", None),
        ("POST", "/signin", None),
        ("POST", "/events", owner),
        ("PATCH", f"/events/{event['id']}", owner),
        ("POST", f"/events/{event['id']}/holds", owner),
        ("DELETE", f"/events/{event['id']}/holds", owner),
        ("POST", f"/events/{event['id']}/bookings", owner),
        ("POST", "/book", owner),
    ]
    bodies = [
        _deep(DEEP),  # the whole body
        b'{"email":' + _deep(DEEP) + b',"password":"x"}',  # a known field
        b'{"unknown":' + _deep(DEEP) + b',"seatIds":["' + seat.encode() + b'"]}',  # skipped
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,  # objects, not arrays
    ]
    seen: set[str] = set()
    for method, path, who in targets:
        for body in bodies:
            headers = {"Content-Type": "application/json", **(who["headers"] if who else {})}
            response = await api.client.request(method, path, content=body, headers=headers)
            assert response.status_code == 400, (method, path, body[:12], response.text)
            payload = response.json()
            assert payload["code"] == "invalid_input"
            # Said as what is wrong: too deep, or (a typed decoder that stops at the
            # first level) the wrong shape.
            assert "nested too deeply" in payload["message"] or "Expected" in payload["message"]
            seen.add(payload["message"])
    assert "request body is nested too deeply" in seen
    assert await api.seats(event["id"]) == before


CONTROL = ["\u0000", "\u0007", "\u001b", "\u007f", "\t", "\n"]


async def test_control_characters_in_text_fields_are_a_400_and_change_nothing(api: Api) -> None:
    """PostgreSQL refuses NUL in text (it was a 500 in services mode, even on the
    unauthenticated /signin and /signup) and SQLite stored it: both modes now say 400."""
    owner = await api.user()
    event = await api.event(owner)
    before = await api.seats(event["id"])
    events_before = len((await api.client.get("/events")).json()["events"])
    layout = {"sections": [{"name": "Stalls", "rows": [{"label": "A", "seats": 2}]}]}
    for char in CONTROL:
        bad = f"a{char}b"
        attempts = [
            ("POST", "/signup", {"email": f"x{bad}@example.com", "password": "long enough pw"}),
            ("POST", "/signup", {"email": "ok-ctrl@example.com", "password": f"long {bad} pw"}),
            ("POST", "/signin", {"email": f"x{bad}@example.com", "password": "long enough pw"}),
            ("POST", "/events", {"name": bad, "seats": ["A1"]}),
            ("POST", "/events", {"name": "ok", "venue": bad, "seats": ["A1"]}),
            ("POST", "/events", {"name": "ok", "seats": ["A1", f"A{bad}"]}),
            (
                "POST",
                "/events",
                {"name": "ok", "layout": {**layout, "categories": [{"id": "std", "name": bad}]}},
            ),
            (
                "POST",
                "/events",
                {
                    "name": "ok",
                    "layout": {
                        "sections": [{"name": f"S{bad}", "rows": [{"label": "A", "seats": 2}]}]
                    },
                },
            ),
            (
                "POST",
                "/events",
                {
                    "name": "ok",
                    "layout": {
                        "sections": [{"name": "S", "rows": [{"label": f"A{bad}", "seats": 2}]}]
                    },
                },
            ),
            ("PATCH", f"/events/{event['id']}", {"name": bad}),
            ("PATCH", f"/events/{event['id']}", {"venue": bad}),
        ]
        for method, path, body in attempts:
            response = await api.client.request(method, path, json=body, headers=owner["headers"])
            assert response.status_code == 400, (method, path, body, response.text)
            payload = response.json()
            assert payload["code"] == "invalid_input"
            assert "control characters" in payload["message"], payload
            assert "regex" not in payload["message"]  # plain words, not the pattern
    assert await api.seats(event["id"]) == before
    assert len((await api.client.get("/events")).json()["events"]) == events_before
    signin = await api.client.post(
        "/signin", json={"email": "ok-ctrl@example.com", "password": "long enough pw"}
    )
    assert signin.status_code == 401  # the sign-up with a control character made nobody


async def test_sockets_only_to_our_origin_and_one_charset_on_metrics(api: Api) -> None:
    """The CSP allowed websockets to any host (`ws: wss:`); /metrics said its charset
    twice (issue 11, item 14)."""
    csp = (await api.client.get("/")).headers["content-security-policy"]
    connect = next(d for d in csp.split(";") if d.strip().startswith("connect-src"))
    assert connect.split() == ["connect-src", "'self'"]
    content_type = (await api.client.get("/metrics")).headers["content-type"]
    assert content_type.count("charset") == 1, content_type
    assert content_type.startswith("text/plain; version=")


async def test_metrics_need_the_metrics_token_when_one_is_set(settings: Any) -> None:
    """Anyone reaching the app port could read /metrics (issue 11, item 9): with
    METRICS_TOKEN set, only a scraper that sends it can."""
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from backend.app import create_app

    token = "scrape-" + "k" * 24
    async with AsyncTestClient(app=create_app(replace(settings, metrics_token=token))) as c:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-wrong"},
            {"Authorization": token},
        ):
            refused = await c.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert "boxoffice_" not in refused.text
            assert refused.headers["www-authenticate"].startswith("Bearer")
        allowed = await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and "boxoffice_http_requests_total" in allowed.text
