"""Clients that book, hold and cancel through the HTTP API and record a history.

Outcome rules (what the checker relies on):

* 2xx → `ok`;
* a definite refusal (400, 403, 404, 409 booked / limit, 422, 423 held by someone) →
  `fail`;
* a timeout, a dropped connection, a 5xx → `info` (unknown).

A booking carries an Idempotency-Key and is retried under the same key after an unknown
attempt and after transient refusals (423 "being booked", 409 "key in flight"), across
servers, until it gets a definite answer or its deadline passes. With the key, a definite
answer is the operation's answer: had an earlier attempt committed, the retry would have
got its stored response; had it not, the lease/owner token fences it out.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from chaos.db import User
from chaos.history import FAIL, INFO, OK, History

TRANSIENT = "transient"
UNSENT = "unsent"


@dataclass
class Attempt:
    outcome: str  # ok, fail, info, transient, unsent
    status: int | None
    code: str | None
    body: Any = None
    error: str | None = None


def classify(response: httpx.Response) -> Attempt:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    if 200 <= status < 300:
        return Attempt(OK, status, code, body)
    if status >= 500:
        return Attempt(INFO, status, code, body, error=f"HTTP {status}")
    if status == 409 and code == "idempotency_in_flight":
        return Attempt(TRANSIENT, status, code, body)
    if status == 423 and isinstance(body, dict):
        seats = body.get("seats") or []
        if seats and all(s.get("heldUntil") is None for s in seats):
            return Attempt(TRANSIENT, status, code, body)  # someone's seat lock: retry
    if status == 429:
        return Attempt(TRANSIENT, status, code, body)
    return Attempt(FAIL, status, code, body)


@dataclass
class Stats:
    attempts: int = 0
    retries: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def count(self, attempt: Attempt) -> None:
        key = str(attempt.status) if attempt.status is not None else "error"
        if attempt.code:
            key += f":{attempt.code}"
        self.by_status[key] = self.by_status.get(key, 0) + 1


class Client:
    """One simulated person: a user, a history process name and a list of servers."""

    def __init__(
        self,
        name: str,
        user: User,
        history: History,
        servers: Sequence[str],
        http: httpx.AsyncClient,
        stats: Stats,
        timeout: float = 5.0,
        start: int | None = None,
    ) -> None:
        self.name = name
        self.user = user
        self.history = history
        self.servers = list(servers)
        self.http = http
        self.stats = stats
        self.timeout = timeout
        first = random.randrange(len(self.servers)) if start is None else start
        self._next = itertools.count(first)
        self.last: dict[str, Any] = {}

    def _server(self) -> str:
        return self.servers[next(self._next) % len(self.servers)]

    async def _send(
        self, method: str, path: str, body: Any = None, key: str | None = None
    ) -> Attempt:
        headers = dict(self.user.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        self.stats.attempts += 1
        try:
            response = await self.http.request(
                method, self._server() + path, json=body, headers=headers, timeout=self.timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # No connection, so the request was never sent: nothing can have happened.
            attempt = Attempt(UNSENT, None, None, error=f"{type(exc).__name__}: {exc}"[:200])
        except httpx.HTTPError as exc:
            attempt = Attempt(INFO, None, None, error=f"{type(exc).__name__}: {exc}"[:200])
        else:
            attempt = classify(response)
        self.stats.count(attempt)
        return attempt

    # ------------------------------------------------------------ operations

    async def book(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        deadline: float = 20.0,
        retry_transient: bool = True,
        path: str | None = None,
    ) -> str:
        """Book seats all-or-nothing under a fresh Idempotency-Key; the op's outcome."""
        key = f"{self.name}-{uuid.uuid4().hex}"
        seats = [str(s) for s in seat_ids]
        value = {"user": self.user.id, "event": event_id, "seats": seats, "key": key}
        op = self.history.invoke(self.name, "book", value)
        seed = path == "/book"
        body: dict[str, Any] = {"seatId": seats[0]} if seed else {"seatIds": seats}
        url = "/book" if seed else f"/events/{event_id}/bookings"
        end = time.monotonic() + deadline
        delay = 0.05
        attempts: list[Attempt] = []
        while True:
            attempt = await self._send("POST", url, body, key)
            attempts.append(attempt)
            final = attempt.outcome in (OK, FAIL)
            retry = attempt.outcome in (INFO, UNSENT) or (
                attempt.outcome == TRANSIENT and retry_transient
            )
            if final or not retry or time.monotonic() + delay > end:
                break
            self.stats.retries += 1
            await asyncio.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 1.0)
        outcome = attempt.outcome
        if outcome == UNSENT:
            outcome = FAIL if not any(a.outcome == INFO for a in attempts) else INFO
        if outcome == TRANSIENT:
            # A 423 "being booked" refuses this attempt; a key still in flight leaves the
            # operation unknown.
            outcome = INFO if attempt.code == "idempotency_in_flight" else FAIL
        if outcome == FAIL and any(a.outcome == INFO for a in attempts):
            # An earlier attempt's fate is unknown (it may still be queued in a paused
            # process, before it ever claimed the key): only the final read can tell.
            outcome = INFO
        result: dict[str, Any] = {
            "status": attempt.status,
            "code": attempt.code,
            "attempts": len(attempts),
            "trace": [
                a.error[:40] if a.error and a.status is None else f"{a.status}:{a.code}"
                for a in attempts[-12:]
            ],
        }
        if outcome == OK:
            payload = attempt.body or {}
            bookings = payload.get("bookings") or [payload.get("booking")]
            result["bookings"] = [{"id": b["id"], "seat": b["seatId"]} for b in bookings if b]
        elif outcome == INFO:
            result["error"] = attempt.error or attempt.code
        self.history.complete(op, self.name, "book", outcome, result)
        self.last = result
        return outcome

    async def hold(self, event_id: str, seat_ids: Sequence[str]) -> str:
        seats = [str(s) for s in seat_ids]
        value = {"user": self.user.id, "event": event_id, "seats": seats}
        op = self.history.invoke(self.name, "hold", value)
        attempt = await self._send("POST", f"/events/{event_id}/holds", {"seatIds": seats})
        outcome = FAIL if attempt.outcome in (TRANSIENT, UNSENT) else attempt.outcome
        result = {"status": attempt.status, "code": attempt.code}
        if outcome == INFO:
            result["error"] = attempt.error
        self.history.complete(op, self.name, "hold", outcome, result)
        return outcome

    async def release(self, event_id: str) -> str:
        op = self.history.invoke(self.name, "release", {"user": self.user.id, "event": event_id})
        attempt = await self._send("DELETE", f"/events/{event_id}/holds")
        outcome = FAIL if attempt.outcome in (TRANSIENT, UNSENT) else attempt.outcome
        self.history.complete(op, self.name, "release", outcome, {"status": attempt.status})
        return outcome

    async def cancel(self, booking_id: str, deadline: float = 10.0) -> str:
        """Cancel is idempotent (cancelling twice answers 200), so it is simply retried."""
        op = self.history.invoke(self.name, "cancel", {"user": self.user.id, "booking": booking_id})
        end = time.monotonic() + deadline
        while True:
            attempt = await self._send("DELETE", f"/bookings/{booking_id}")
            if attempt.outcome in (OK, FAIL) or time.monotonic() > end:
                break
            await asyncio.sleep(0.1)
        outcome = FAIL if attempt.outcome in (TRANSIENT, UNSENT) else attempt.outcome
        self.history.complete(op, self.name, "cancel", outcome, {"status": attempt.status})
        return outcome


def http_client(connections: int = 300) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=10.0)
