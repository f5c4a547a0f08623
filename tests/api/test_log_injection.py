"""A client cannot write forged lines into the text log (issue 11, item 11)."""

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
