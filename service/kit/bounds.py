"""Bounds of the integers and dates the API takes: inside them no arithmetic, time zone or database column overflows.

Python's integers and dates are wider than what the hub can store or compute with: 2**63 does not fit a BIGINT,
and 9999-12-31 plus a day (or 0001-01-01 moved to UTC from +09:00) is past the calendar's end. Input is bounded at
the schema, so such a value is a 422 that names the field, never a 500 from deep inside.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_SEQ = 2**63 - 1  # the largest BIGINT (PostgreSQL) / INTEGER (SQLite) value
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999
EARLIEST_DATE = dt.date(EARLIEST_YEAR, 1, 1)
LATEST_DATE = dt.date(LATEST_YEAR, 12, 31)


def within_years(value: dt.datetime) -> dt.datetime:
    """The timestamp, if it falls in the years the hub accepts (ValueError otherwise: a 422 at the schema)."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must fall in the years {EARLIEST_YEAR}–{LATEST_YEAR}")
    return value


Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
"""A sequence number (audit chain, event feed) as a client may send it back."""
ApiDate = Annotated[dt.date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]
"""A calendar date sent by a client (export periods)."""
ApiDateTime = Annotated[dt.datetime, AfterValidator(within_years)]
"""A timestamp sent by a client (mail dispatch and tracking)."""
