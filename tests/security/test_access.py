"""Security: tokens, other people's holds and bookings, mass assignment, hashes, hosts,
CORS and headers. In-process (both run modes); the live checks are in test_live.py.

tests/api covers the basic token checks (expired, wrong key, alg none, HS512), the
per-account sign-in throttle and hashes in the account responses; this file adds the
attacks on top of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.settings import Settings
from tests.conftest import Api
from tests.support.services import TEST_SECRET


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hmac_token(claims: dict[str, Any], key: bytes) -> str:
    """Key confusion: HS256 over the public key, as if the server trusted any `alg`."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def forged_tokens(user_id: str) -> dict[str, str]:
    soon = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    claims = {"sub": user_id, "exp": soon}
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    head, body, signature = good.split(".")
    return {
        "RS256 with a key of the attacker's": jwt.encode(claims, rsa_key, algorithm="RS256"),
        "HS256 keyed with a public key": _hmac_token(claims, public_pem),
        "alg None (capitalised), no signature": f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{body}.",
        "valid signature, claims swapped": f"{head}.{_b64({**claims, 'sub': str(uuid.uuid4())})}."
        f"{signature}",
        "signature stripped": f"{head}.{body}.",
        "nobody's id, well signed": jwt.encode(
            {**claims, "sub": str(uuid.uuid4())}, TEST_SECRET, algorithm="HS256"
        ),
        "sub is not an id": jwt.encode({**claims, "sub": "admin"}, TEST_SECRET, algorithm="HS256"),
    }


async def test_forged_tokens_are_refused(api: Api) -> None:
    user = await api.user()
    for name, token in forged_tokens(user["id"]).items():
        response = await api.client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
    # Only the Authorization header counts: never a token in the URL.
    token = user["token"]
    assert (await api.client.get(f"/me?token={token}")).status_code == 401
    assert (
        await api.client.get("/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200


async def test_nobody_reads_cancels_or_books_through_someone_elses_holds_or_bookings(
    api: Api,
) -> None:
    alice, mallory = await api.user(), await api.user()
    event = await api.event(alice)
    eid = event["id"]
    held, booked, free = (s["id"] for s in event["seats"][:3])
    assert (
        await api.client.post(
            f"/events/{eid}/holds", json={"seatIds": [held]}, headers=alice["headers"]
        )
    ).status_code == 201
    key = {"Idempotency-Key": "alice-key-1"}
    made = await api.client.post(
        f"/events/{eid}/bookings", json={"seatIds": [booked]}, headers={**alice["headers"], **key}
    )
    assert made.status_code == 201
    booking_id = made.json()["bookings"][0]["id"]

    m = mallory["headers"]
    # Cancel or see Alice's booking: refused, and it stays hers.
    assert (await api.client.delete(f"/bookings/{booking_id}", headers=m)).status_code in (403, 404)
    assert (await api.client.get("/bookings", headers=m)).json()["bookings"] == []
    # Book through Alice's hold (both endpoints): 423, nothing changes.
    assert (
        await api.client.post(f"/events/{eid}/bookings", json={"seatIds": [held]}, headers=m)
    ).status_code == 423
    assert (await api.client.post("/book", json={"seatId": held}, headers=m)).status_code == 423
    # Release Alice's hold: nothing of hers is released.
    released = await api.client.request(
        "DELETE", f"/events/{eid}/holds", json={"seatIds": [held]}, headers=m
    )
    assert released.status_code == 200 and released.json()["released"] == []
    # Replay Alice's idempotent booking with her key: keys are per user, no replay.
    replay = await api.client.post(
        f"/events/{eid}/bookings", json={"seatIds": [booked]}, headers={**m, **key}
    )
    assert replay.status_code == 409 and replay.headers.get("idempotent-replayed") is None
    # The event is Alice's to change.
    assert (
        await api.client.patch(f"/events/{eid}", json={"name": "mine now"}, headers=m)
    ).status_code == 403
    assert (await api.client.delete(f"/events/{eid}", headers=m)).status_code == 403

    mine = await api.seats(eid, alice)
    assert mine[held]["status"] == "held" and mine[held]["mine"] is True
    assert mine[booked]["status"] == "booked" and mine[booked]["mine"] is True
    assert mine[free]["status"] == "available"
    theirs = await api.seats(eid, mallory)
    assert "mine" not in theirs[held] and "mine" not in theirs[booked]
    bookings = (await api.client.get("/bookings", headers=alice["headers"])).json()["bookings"]
    assert [(b["id"], b["status"]) for b in bookings] == [(booking_id, "active")]


async def test_fields_a_client_does_not_own_cannot_be_set(api: Api) -> None:
    alice, mallory = await api.user(), await api.user()
    forced_id = str(uuid.uuid4())
    signup = await api.client.post(
        "/signup",
        json={
            "email": f"mass-{uuid.uuid4().hex[:8]}@example.com",
            "password": "correct horse battery",
            "id": forced_id,
            "passwordHash": "$argon2id$forged",
            "createdAt": "2000-01-01T00:00:00Z",
            "isAdmin": True,
        },
    )
    assert signup.status_code == 201
    assert signup.json()["id"] != forced_id and signup.json()["createdAt"] > "2001"
    assert set(signup.json()) == {"id", "email", "createdAt"}

    event = await api.client.post(
        "/events",
        json={
            "name": "Mine",
            "seats": ["A1", "A2"],
            "id": forced_id,
            "organiserId": mallory["id"],
            "counts": {"total": 99, "available": 0, "held": 0, "booked": 99},
        },
        headers=alice["headers"],
    )
    assert event.status_code == 201
    body = event.json()
    assert body["id"] != forced_id and body["organiserId"] == alice["id"]
    assert body["counts"] == {"total": 2, "available": 2, "held": 0, "booked": 0}
    eid, (s1, s2) = body["id"], [s["id"] for s in body["seats"]]

    patched = await api.client.patch(
        f"/events/{eid}", json={"organiserId": mallory["id"]}, headers=alice["headers"]
    )
    assert patched.status_code == 200 and patched.json()["organiserId"] == alice["id"]

    far = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    hold = await api.client.post(
        f"/events/{eid}/holds",
        json={
            "seatIds": [s1],
            "holder": mallory["id"],
            "heldUntil": far,
            "expiresAt": far,
        },
        headers=alice["headers"],
    )
    assert hold.status_code == 201
    assert hold.json()["expiresAt"] < (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    assert (await api.seats(eid, alice))[s1]["mine"] is True

    booking = await api.client.post(
        f"/events/{eid}/bookings",
        json={
            "seatIds": [s2],
            "userId": mallory["id"],
            "status": "cancelled",
            "id": forced_id,
        },
        headers=alice["headers"],
    )
    assert booking.status_code == 201
    made = booking.json()["bookings"][0]
    assert (made["userId"], made["status"]) == (alice["id"], "active") and made["id"] != forced_id
    assert (await api.client.get("/bookings", headers=mallory["headers"])).json()["bookings"] == []


async def test_no_response_or_schema_exposes_a_password_hash(api: Api) -> None:
    user = await api.user()
    event = await api.event(user)
    seat = event["seats"][0]["id"]
    await api.client.post(
        f"/events/{event['id']}/bookings", json={"seatIds": [seat]}, headers=user["headers"]
    )
    bodies = [
        (await api.client.get("/me", headers=user["headers"])).text,
        (await api.client.get("/bookings", headers=user["headers"])).text,
        (await api.client.get(f"/events/{event['id']}", headers=user["headers"])).text,
        (await api.client.get("/events")).text,
    ]
    for body in bodies:
        assert "$argon2" not in body and "password" not in body.lower()
    schema = (await api.client.get("/schema/openapi.json")).json()
    for name, component in schema["components"]["schemas"].items():
        properties = set(component.get("properties", {}))
        assert not {"passwordHash", "password_hash"} & properties, name
        if name.endswith("Out"):
            assert "password" not in properties, name


PAGES = [
    ("GET", "/"),
    ("GET", "/account/signin"),
    ("GET", "/account/signup"),
    ("GET", "/my/bookings"),
    ("GET", "/e/00000000-0000-4000-8000-000000000000"),
    ("GET", "/js/api.js"),
    ("GET", "/events"),
    ("GET", "/events/not-an-id"),
    ("GET", "/health"),
    ("GET", "/schema"),
    ("GET", "/no/such/page"),
    ("POST", "/health"),
    ("GET", "/me"),
]


@pytest.mark.parametrize(("method", "path"), PAGES)
async def test_security_headers_on_every_response(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path)
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, (path, csp)
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") == "no-referrer", path
    assert headers.get("x-frame-options") == "DENY", path


async def test_allowed_hosts_and_cors_come_from_configuration(settings: Settings) -> None:
    configured = replace(
        settings, allowed_hosts=("tickets.example",), allowed_origins=("https://shop.example",)
    )
    async with AsyncTestClient(app=create_app(configured), base_url="http://tickets.example") as c:
        assert (await c.get("/health")).status_code == 200
        assert (await c.get("/health", headers={"Host": "evil.example"})).status_code == 400
        simple = await c.get("/events", headers={"Origin": "https://shop.example"})
        assert simple.headers.get("access-control-allow-origin") == "https://shop.example"
        foreign = await c.get("/events", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers
        preflight = await c.options(
            "/events",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code in (200, 204)
        assert preflight.headers.get("access-control-allow-origin") == "https://shop.example"
        refused = await c.options(
            "/events",
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "POST",
            },
        )
        assert refused.headers.get("access-control-allow-origin") != "https://evil.example"
    # Without configuration: no cross-origin reads at all.
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        plain = await c.get("/events", headers={"Origin": "https://shop.example"})
        assert "access-control-allow-origin" not in plain.headers
