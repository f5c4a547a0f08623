"""The access log: one line per request, always, and never a forged one (issue 11, items 11, 12)."""

from __future__ import annotations

import logging
from typing import Any

from backend.observability.logs import LogFormatter
from tests.conftest import Api


class Lines(logging.Handler):
    """Formats what it receives as the text log would and keeps the output."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(LogFormatter(json=False))
        self.out: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.out.append(self.format(record))


def test_control_characters_in_a_message_are_escaped() -> None:
    record = logging.LogRecord("boxoffice.access", logging.INFO, __file__, 1, "%s", None, None)
    record.args = ("GET /a\nINFO - 2026-01-01 00:00:00 - boxoffice - forged\r\x1b[2J\x85",)
    text = LogFormatter(json=False).format(record)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text and "\x85" not in text
    assert text.endswith("GET /a\\nINFO - 2026-01-01 00:00:00 - boxoffice - forged\\r\\x1b[2J\\x85")


async def test_a_newline_in_a_url_path_stays_in_its_access_line(api: Api) -> None:
    lines = Lines()
    logger = logging.getLogger("boxoffice.access")
    logger.addHandler(lines)
    try:
        forged = "/events/%0aINFO%20-%20forged%20admin%20login"
        response = await api.client.get(forged)
        assert response.status_code in (400, 404)
        event = await api.event(await api.user())
        await api.client.get(f"/events/{event['id']}%0d%0aINFO - forged")
    finally:
        logger.removeHandler(lines)
    logged: list[Any] = [line for line in lines.out if "forged" in line]
    assert logged, lines.out
    for line in logged:
        assert "\n" not in line and "\r" not in line
        assert line.startswith("INFO - ")
        assert "\\n" in line  # the newline, escaped


async def test_401_404_and_405_are_logged_and_counted(api: Api) -> None:
    """They are made before the route's middleware runs (router, auth middleware), and
    left no access line, no request count and no request id (issue 11, item 12)."""
    lines = Lines()
    logger = logging.getLogger("boxoffice.access")
    logger.addHandler(lines)
    try:
        cases = [("GET", "/no-such-page", 404), ("DELETE", "/events", 405), ("GET", "/me", 401)]
        for method, path, status in cases:
            response = await api.client.request(method, path)
            assert response.status_code == status
            request_id = response.headers["x-request-id"]
            [line] = [x for x in lines.out if f"{method} {path} {status}" in x]
            assert f"[request_id={request_id}]" in line
    finally:
        logger.removeHandler(lines)
    metrics = (await api.client.get("/metrics")).text
    assert 'method="GET",route="unmatched",status="404"' in metrics
    assert 'method="DELETE",route="unmatched",status="405"' in metrics or (
        'method="DELETE",route="/events",status="405"' in metrics
    )
    assert 'status="401"' in metrics
