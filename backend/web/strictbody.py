"""JSON bodies are decoded strictly: a number sent as a string is a 400 (issue 11, item 13).

Litestar converts every handler argument with msgspec's `strict=False`, so that a query
string's "3" can become an int; it does the same to JSON bodies, where it quietly turns
`"maxSeatsPerUser": "3"` into 3 and `"holdSeconds": "1e2"` into 100, and there is no
setting for it. JSON has types, and a client that sends the wrong one has a bug it
should hear about: this hook (the app's `before_request`, which runs before the
arguments are parsed) decodes the body once more, strictly, against the handler's body
type. Bodies that are not JSON, too deep or otherwise unreadable are left to Litestar's
own decoding and its errors, as before.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    field = request.route_handler.parsed_data_field
    if field is None:
        return
    raw = await request.body()
    if not raw:
        return
    try:
        msgspec.json.decode(raw, type=field.annotation, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationException(extra=[{"message": _camel(str(exc))}]) from None
    except (msgspec.DecodeError, RecursionError):
        return  # not JSON, or nested too deep: Litestar's decoding answers it


def _camel(message: str) -> str:
    """msgspec says where with `$.field`; our 400s name the field as the API spells it."""
    return message.replace("- at `$.", "at `").replace("`$.", "`")
