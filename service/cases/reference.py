"""The 受付番号: a short reference a person can read over the phone, given by the hub when a case is created.

`12345-1202-007` = post office code (5 digits), the Tokyo month and day (MMDD), and the sequence of that office on
that day (three digits, more after 999). The case id (`case_…`) stays the key in URLs and APIs; the reference is
what screens, receipts and people use (docs/domain.md §B4.1). It holds no personal data.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.cases.models import CaseReferenceCounter


def format_reference(office_code: str, day: dt.date, seq: int) -> str:
    """`12345-1202-007`."""
    return f"{office_code}-{day:%m%d}-{seq:03d}"


async def _bump(session: AsyncSession, post_office_id: str, day: dt.date) -> int | None:
    # One UPDATE … RETURNING: PostgreSQL row-locks the counter until commit (a second creation waits, then reads
    # the new value); SQLite's BEGIN IMMEDIATE (service/db.py) serialises the writers the same way.
    bumped = await session.execute(
        update(CaseReferenceCounter)
        .where(CaseReferenceCounter.post_office_id == post_office_id, CaseReferenceCounter.day == day)
        .values(last_seq=CaseReferenceCounter.last_seq + 1)
        .returning(CaseReferenceCounter.last_seq)
        .execution_options(synchronize_session=False)
    )
    seq = bumped.scalar_one_or_none()
    return int(seq) if seq is not None else None


async def next_sequence(session: AsyncSession, *, post_office_id: str, day: dt.date) -> int:
    """The next sequence of the office's day, in the caller's transaction (rolled back with it)."""
    seq = await _bump(session, post_office_id, day)
    if seq is not None:
        return seq
    try:
        async with session.begin_nested():
            await session.execute(
                insert(CaseReferenceCounter).values(post_office_id=post_office_id, day=day, last_seq=1)
            )
        return 1
    except IntegrityError:
        # The day's first two cases at once: the other made the row, so this one counts on from it.
        seq = await _bump(session, post_office_id, day)
        if seq is None:  # pragma: no cover - the row exists: its insert is what failed ours
            raise
        return seq


async def assign(
    session: AsyncSession, *, post_office_id: str, office_code: str, at: dt.datetime, tz: ZoneInfo
) -> tuple[str, dt.date]:
    """(reference, Tokyo day) for a case created at `at` at the office."""
    day = at.astimezone(tz).date()
    seq = await next_sequence(session, post_office_id=post_office_id, day=day)
    return format_reference(office_code, day, seq), day
