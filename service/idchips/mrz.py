"""The machine-readable zone of a TD3 passport (ICAO Doc 9303 part 4) and its check digits (part 3 §4.9)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.wire.mrz import TD3_LINE, MrzError, char_value, check_digit

__all__ = ["TD3_LINE", "MrzError", "Td3", "char_value", "check_digit", "parse_td3", "yymmdd"]


def yymmdd(text: str, *, future: bool, today: dt.date) -> dt.date:
    """A YYMMDD date; birth dates are never in the future, expiry dates always in this century."""
    year = 2000 + int(text[:2])
    if not future and year > today.year:
        year -= 100
    return dt.date(year, int(text[2:4]), int(text[4:6]))


@dataclass(frozen=True)
class Td3:
    """The fields of a passport's MRZ, as printed (filler `<` kept in the raw fields)."""

    document_code: str
    issuer: str
    primary_name: str
    secondary_name: str
    document_number: str
    nationality: str
    birth: str
    sex: str
    expiry: str
    optional: str
    check_digits_ok: bool

    @property
    def name(self) -> str:
        """`PRIMARY SECONDARY` as the MRZ spells it (Latin capitals)."""
        return f"{self.primary_name} {self.secondary_name}".strip()


def parse_td3(text: str) -> Td3:
    """Parse the 88 characters of DG1's 5F1F; check digits are verified, not trusted."""
    if len(text) != 2 * TD3_LINE or not text.startswith("P"):
        raise MrzError(f"not a TD3 MRZ ({len(text)} characters)")
    line1, line2 = text[:TD3_LINE], text[TD3_LINE:]
    names = line1[5:].rstrip("<").split("<<", 1)
    number, birth, expiry, optional = line2[0:9], line2[13:19], line2[21:27], line2[28:42]
    digits_ok = (
        check_digit(number) == line2[9]
        and check_digit(birth) == line2[19]
        and check_digit(expiry) == line2[27]
        and (check_digit(optional) == line2[42] or (line2[42] == "<" and optional.strip("<") == ""))
        and check_digit(line2[0:10] + line2[13:20] + line2[21:43]) == line2[43]
    )
    return Td3(
        document_code=line1[0:2].rstrip("<"),
        issuer=line1[2:5],
        primary_name=names[0].replace("<", " ").strip(),
        secondary_name=(names[1] if len(names) > 1 else "").replace("<", " ").strip(),
        document_number=number.rstrip("<"),
        nationality=line2[10:13],
        birth=birth,
        sex=line2[20],
        expiry=expiry,
        optional=optional,
        check_digits_ok=digits_ok,
    )
