"""ICAO Doc 9303 check digits (part 3 §4.9) and the TD3 line length (part 4), shared by the hub and the counter.

The hub checks a chip's DG1 with them (service/idchips/mrz.py); the counter derives the BAC key from the MRZ fields
(clerk_agent/card/idchips/sm.py) and validates what OCR read from the data page (clerk_agent/card/idchips/ocr.py).
One implementation, so a fix reaches all three.
"""

from __future__ import annotations

from typing import Final

TD3_LINE: Final = 44
_WEIGHTS: Final = (7, 3, 1)


class MrzError(ValueError):
    """Not a TD3 MRZ, or a character that no MRZ holds."""


def char_value(char: str) -> int:
    """A character's value for check digits: digits as such, A–Z 10–35, the filler `<` 0."""
    if "0" <= char <= "9":
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise MrzError(f"not an MRZ character: {char!r}")


def check_digit(field: str) -> str:
    """The check digit of `field` (weights 7, 3, 1 repeating, modulo 10)."""
    return str(sum(char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)
