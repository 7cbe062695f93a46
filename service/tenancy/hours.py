"""Whether a designation is in force at a moment: inside its validity period and its opening hours."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")

OpeningHours = dict[str, list[list[str]]]


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def validate_opening_hours(hours: OpeningHours) -> OpeningHours:
    """Check weekday keys and HH:MM ranges (start < end, 24:00 allowed as an end); return them unchanged."""
    for day, ranges in hours.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        for pair in ranges:
            if len(pair) != 2 or not all(_HHMM.match(t) for t in pair):
                raise ValueError(f'{day}: each range is ["HH:MM", "HH:MM"]')
            if _minutes(pair[0]) >= _minutes(pair[1]):
                raise ValueError(f"{day}: range {pair[0]}–{pair[1]} ends before it starts")
    return hours


def in_force(
    *, valid_from: dt.date, valid_until: dt.date, opening_hours: OpeningHours, at: dt.datetime, tz: ZoneInfo
) -> bool:
    """Whether `at` lies inside [valid_from, valid_until] and an opening-hours range, in local time `tz`."""
    local = at.astimezone(tz)
    if not valid_from <= local.date() <= valid_until:
        return False
    minute = local.hour * 60 + local.minute
    return any(
        _minutes(start) <= minute < _minutes(end)
        for start, end in opening_hours.get(WEEKDAYS[local.weekday()], [])
    )


ALWAYS_OPEN: OpeningHours = {day: [["00:00", "24:00"]] for day in WEEKDAYS}
