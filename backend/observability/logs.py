"""Structured logs: one formatter for the app's logs and uvicorn's, `text` or `json`.

`text` (the default): level, time, logger, message, [request id]. `json`: one object
per line with ts, level, logger, message, request_id, the access line's fields and exc.
"""

from __future__ import annotations

import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.logging import LoggingConfig

from backend.observability.requestid import REQUEST_ID

_factory_installed = False


def _install_record_factory() -> None:
    """Stamp every log record with the request id when it is created.

    At creation, not at formatting: Litestar formats in a queue-listener thread, where
    the request's context variables are gone.
    """
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def quiet_loggers(names: tuple[str, ...]) -> None:
    """Keep these loggers at WARNING whatever the app's level (the database drivers'
    log SQL parameters at DEBUG, which would write password hashes to the log)."""
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)


# Control characters (C0, DEL, and the C1 range) in a logged field would let a client
# write forged lines into a text log (a `%0a` in a URL path): escaped as \n, \x1b ...
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _escape(char: re.Match[str]) -> str:
    return char.group().encode("unicode_escape").decode("ascii")


def one_line(text: str) -> str:
    """`text` with every control character escaped: it stays one log line."""
    return _CONTROL.sub(_escape, text)


class LogFormatter(logging.Formatter):
    """`text`: level, time, logger, message, [request id]; `json`: one object per line."""

    def __init__(self, json: bool = False) -> None:
        super().__init__()
        self.json = json

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        message = record.getMessage()
        if self.json:
            entry: dict[str, Any] = {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                    timespec="milliseconds"
                ),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
            }
            if request_id:
                entry["request_id"] = request_id
            for key in ("method", "path", "status", "duration_ms", "client"):
                if hasattr(record, key):
                    entry[key] = getattr(record, key)
            if record.exc_info:
                entry["exc"] = "".join(traceback.format_exception(*record.exc_info))[-4000:]
            return msgspec.json.encode(entry).decode()
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        text = f"{record.levelname} - {stamp} - {record.name} - {one_line(message)}"
        if request_id:
            text += f" [request_id={request_id}]"
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        return text


FORMATTER = f"{LogFormatter.__module__}.{LogFormatter.__qualname__}"


def logging_config(fmt: str = "text", level: str = "info") -> LoggingConfig:
    """Litestar's logging set-up with our formatter; access lines at `level` and up."""
    _install_record_factory()
    formatter = {"()": FORMATTER, "json": fmt == "json"}
    return LoggingConfig(
        formatters={"standard": formatter},
        loggers={"boxoffice.access": {"level": level.upper(), "propagate": True}},
        log_exceptions="debug",
    )


def uvicorn_log_config(fmt: str = "text") -> dict[str, Any]:
    """uvicorn's own loggers (start-up, errors) in the same format."""
    _install_record_factory()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"boxoffice": {"()": FORMATTER, "json": fmt == "json"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "boxoffice",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        },
    }
