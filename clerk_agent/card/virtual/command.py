"""Command APDUs as the virtual cards receive them: parsing (ISO 7816-3 cases 1-4) and answers with a status word.

One parser for every virtual card (the My Number Card, its management applet and the ID documents), so that they
agree on what a well-formed command is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Apdu:
    """A parsed command APDU (short or extended)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None


def parse_apdu(raw: bytes) -> Apdu | None:
    """ISO 7816-3 cases 1-4, short and extended; None when the lengths do not add up."""
    if len(raw) < 4:
        return None
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return Apdu(cla, ins, p1, p2, b"", None)
    if len(body) == 1:
        return Apdu(cla, ins, p1, p2, b"", body[0] or 256)
    if body[0] == 0 and len(body) >= 3:
        if len(body) == 3:
            return Apdu(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or 65536)
        lc = int.from_bytes(body[1:3], "big")
        rest = body[3:]
        if len(rest) == lc:
            return Apdu(cla, ins, p1, p2, bytes(rest), None)
        if len(rest) == lc + 2:
            return Apdu(cla, ins, p1, p2, bytes(rest[:lc]), int.from_bytes(rest[lc:], "big") or 65536)
        return None
    lc = body[0]
    rest = body[1:]
    if len(rest) == lc:
        return Apdu(cla, ins, p1, p2, bytes(rest), None)
    if len(rest) == lc + 1:
        return Apdu(cla, ins, p1, p2, bytes(rest[:lc]), rest[lc] or 256)
    return None


def sw(status: int, data: bytes = b"") -> bytes:
    """Response data followed by the status word."""
    return data + status.to_bytes(2, "big")
