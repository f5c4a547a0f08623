"""Which tokens reached PyJWT: the app verifies its own tokens itself (backend/tokens.py)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest


def pyjwt_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens passed to `jwt.decode` from now on (each still decoded by it), in order."""
    seen: list[str] = []
    real = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("jwt") or args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    return seen
