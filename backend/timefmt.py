"""Time formatting shared by the API and the live channel."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_from_ms(ms: int | None) -> str | None:
    """Epoch milliseconds as an ISO-8601 UTC string with milliseconds, or None."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
