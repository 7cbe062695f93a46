"""Validation of the codes that identify tenants, and the procedure catalogue."""

from __future__ import annotations

import re

from service.wire.cases import Procedure

__all__ = ["Procedure", "is_valid_municipality_code", "is_valid_office_code", "municipality_check_digit"]

_MUNICIPALITY_CODE = re.compile(r"^[0-9]{6}$")
_OFFICE_CODE = re.compile(r"^[0-9]{5}$")


def municipality_check_digit(first_five: str) -> int:
    """Check digit of a 全国地方公共団体コード: weights 6..2, modulus 11, last digit of (11 - remainder)."""
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def is_valid_municipality_code(code: str) -> bool:
    """Whether `code` is six digits with a correct check digit (e.g. 131016 千代田区)."""
    if not _MUNICIPALITY_CODE.match(code):
        return False
    return municipality_check_digit(code[:5]) == int(code[5])


def is_valid_office_code(code: str) -> bool:
    """Whether `code` looks like a post office code (five digits)."""
    return bool(_OFFICE_CODE.match(code))
