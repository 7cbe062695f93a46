"""The hub's clock; one place to read the time so tests can move it."""

from __future__ import annotations

import datetime as dt

_offset = dt.timedelta(0)


def now() -> dt.datetime:
    """The current time, tz-aware UTC."""
    return dt.datetime.now(dt.UTC) + _offset


def shift_for_tests(delta: dt.timedelta) -> None:
    """Move the clock (tests only)."""
    global _offset
    _offset += delta


def reset_for_tests() -> None:
    """Undo every shift (tests only)."""
    global _offset
    _offset = dt.timedelta(0)
