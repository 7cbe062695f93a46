"""Municipality codes, office codes and opening hours."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service.tenancy.codes import is_valid_municipality_code, is_valid_office_code
from service.tenancy.hours import in_force, validate_opening_hours

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize("code", ["131016", "011002", "452025", "271004", "999997"])
def test_valid_municipality_codes(code: str) -> None:
    assert is_valid_municipality_code(code)


@pytest.mark.parametrize("code", ["131017", "13101", "1310166", "13101a", "", "011003"])
def test_invalid_municipality_codes(code: str) -> None:
    assert not is_valid_municipality_code(code)


def test_remainder_zero_and_one_map_to_last_digit() -> None:
    # 99990: 9*6+9*5+9*4+9*3+0 = 162, 162 % 11 = 8 → 3; pick digits that hit remainders 0 and 1 explicitly.
    assert is_valid_municipality_code("000001")  # sum 0 → remainder 0 → 11 → 1
    assert is_valid_municipality_code("000060")  # 6*2=12 → remainder 1 → 10 → 0


def test_office_code() -> None:
    assert is_valid_office_code("99101")
    assert not is_valid_office_code("9910")
    assert not is_valid_office_code("abcde")


HOURS = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "24:00"]]}


def _at(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso).replace(tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-30T09:00", True),  # Monday, opening minute
        ("2026-11-30T08:59", False),
        ("2026-11-30T12:30", False),  # lunch break
        ("2026-11-30T16:59", True),
        ("2026-11-30T17:00", False),  # closing minute is outside
        ("2026-12-05T23:59", True),  # Saturday until 24:00
        ("2026-12-01T10:00", False),  # Tuesday: closed
        ("2027-01-04T10:00", False),  # Monday after the period
    ],
)
def test_in_force(moment: str, expected: bool) -> None:
    assert (
        in_force(
            valid_from=dt.date(2026, 11, 1),
            valid_until=dt.date(2026, 12, 31),
            opening_hours=HOURS,
            at=_at(moment),
            tz=TOKYO,
        )
        is expected
    )


def test_in_force_uses_local_time_not_utc() -> None:
    # 00:30 UTC Monday is 09:30 in Tokyo.
    utc = dt.datetime(2026, 11, 30, 0, 30, tzinfo=dt.UTC)
    assert in_force(
        valid_from=dt.date(2026, 11, 1),
        valid_until=dt.date(2026, 12, 31),
        opening_hours=HOURS,
        at=utc,
        tz=TOKYO,
    )


@pytest.mark.parametrize(
    "hours",
    [
        {"monday": [["09:00", "17:00"]]},
        {"mon": [["17:00", "09:00"]]},
        {"mon": [["9:00", "17:00"]]},
        {"mon": [["09:00"]]},
        {"mon": [["24:00", "24:00"]]},
    ],
)
def test_bad_opening_hours(hours: dict[str, list[list[str]]]) -> None:
    with pytest.raises(ValueError, match=r"."):
        validate_opening_hours(hours)
