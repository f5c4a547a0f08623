"""Ticket codes (issue 15, item 2): one per booked seat, unguessable and checked offline.

A code is the booking's id and a MAC of it, in base32:

    base32(booking id (16 bytes) + HMAC-SHA256(ticket key, version + booking id)[:8])

39 characters from A-Z and 2-7, shown in groups of four. The ticket key is derived from
JWT_SECRET, so every process of a deployment (and a door device given the key) verifies
a code without the database: a forged or mistyped one is refused before any lookup, and
nobody without the key can make one (a 64-bit tag: 2^-64 per guess). Codes are not
stored; the booking row says whether the ticket is still good (cancelled, checked in).

Reading is forgiving, as people type codes at a door: case, spaces and dashes are
ignored, and 0, 1 and 8 (not in the alphabet) read as O, I and B.

Hand-written (hmac, base64 from the standard library) because a signed JWT would make a
QR code three times as dense for the same guarantee.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

VERSION = b"bo-ticket-1"
TAG_BYTES = 8
CODE_CHARS = 39  # base32 of 24 bytes, unpadded
MAX_INPUT = 100  # longer input is not a code, however it is spaced
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


class TicketSigner:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"boxoffice ticket key", hashlib.sha256).digest()

    def _tag(self, booking: bytes) -> bytes:
        return hmac.new(self._key, VERSION + booking, hashlib.sha256).digest()[:TAG_BYTES]

    def code(self, booking_id: str) -> str:
        """The booking's ticket code (ungrouped)."""
        raw = uuid.UUID(booking_id).bytes
        return base64.b32encode(raw + self._tag(raw)).decode().rstrip("=")

    def booking_of(self, code: str) -> str | None:
        """The booking id a code was made for; None for anything that is not a code this
        deployment made (malformed, mistyped, forged)."""
        if not isinstance(code, str) or len(code) > MAX_INPUT:
            return None
        cleaned = "".join(c for c in code.upper() if c not in " -\t\n").translate(_LOOKALIKES)
        if len(cleaned) != CODE_CHARS:
            return None
        try:
            raw = base64.b32decode(cleaned + "=")
        except ValueError:  # binascii.Error: a character outside the alphabet
            return None
        booking, tag = raw[:16], raw[16:]
        # The last character carries 2 bits and 3 unused ones, which decoding ignores:
        # only the one spelling this module writes is a code (no look-alike variants).
        canonical = base64.b32encode(raw).decode().rstrip("=") == cleaned
        if not canonical or not hmac.compare_digest(tag, self._tag(booking)):
            return None
        return str(uuid.UUID(bytes=booking))


def grouped(code: str) -> str:
    """`ABCD-EFGH-…`: easier to read out and to type."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
