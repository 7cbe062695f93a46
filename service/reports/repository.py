"""Every query of the reports: state entries, connection metrics, designations and the offices' names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.cases.models import Case, CaseStateEntry
from service.reports.figures import READ_STATES, Entry
from service.signaling.models import ConnectionMetric
from service.tenancy.models import Designation, Municipality, PostOffice


async def entries(
    session: AsyncSession, *, since: dt.datetime, end: dt.datetime, municipality_code: str | None
) -> list[Entry]:
    """State entries a report reads, entered in [since, end), in time order (all municipalities when None)."""
    query = (
        select(
            CaseStateEntry.case_id,
            CaseStateEntry.entered_at,
            Case.municipality_code,
            Case.post_office_id,
            Case.procedure,
            CaseStateEntry.state,
            CaseStateEntry.action,
            CaseStateEntry.reason_code,
        )
        .join(Case, Case.id == CaseStateEntry.case_id)
        .where(
            CaseStateEntry.entered_at >= since,
            CaseStateEntry.entered_at < end,
            CaseStateEntry.state.in_([str(s) for s in READ_STATES]),
        )
        .order_by(CaseStateEntry.entered_at, CaseStateEntry.id)
    )
    if municipality_code is not None:
        query = query.where(Case.municipality_code == municipality_code)
    rows = await session.execute(query)
    return [Entry(*row) for row in rows]


async def call_setup_ms(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime, municipality_code: str
) -> list[float]:
    """Offer → first remote frame of the calls the officer's side measured, started in [start, end)."""
    rows = await session.scalars(
        select(ConnectionMetric.first_frame_ms).where(
            ConnectionMetric.municipality_code == municipality_code,
            ConnectionMetric.side == "officer",
            ConnectionMetric.started_at >= start,
            ConnectionMetric.started_at < end,
            ConnectionMetric.first_frame_ms.is_not(None),
        )
    )
    return [float(v) for v in rows if v is not None]


async def designations(
    session: AsyncSession, *, until_after: dt.date, municipality_code: str | None
) -> Sequence[Designation]:
    """Designations still valid on or after `until_after` (in force then, or planned to start later)."""
    query = select(Designation).where(Designation.valid_until >= until_after)
    if municipality_code is not None:
        query = query.where(Designation.municipality_code == municipality_code)
    return (await session.scalars(query.order_by(Designation.valid_from, Designation.id))).all()


async def offices(session: AsyncSession, ids: set[str]) -> dict[str, PostOffice]:
    if not ids:
        return {}
    rows = await session.scalars(select(PostOffice).where(PostOffice.id.in_(sorted(ids))))
    return {office.id: office for office in rows}


async def municipalities(session: AsyncSession, codes: set[str]) -> dict[str, Municipality]:
    if not codes:
        return {}
    rows = await session.scalars(select(Municipality).where(Municipality.code.in_(sorted(codes))))
    return {m.code: m for m in rows}


async def first_activity(session: AsyncSession, *, municipality_code: str | None) -> dt.datetime | None:
    """When the earliest case was opened (of one municipality, or anywhere)."""
    query = select(func.min(Case.created_at))
    if municipality_code is not None:
        query = query.where(Case.municipality_code == municipality_code)
    value: dt.datetime | None = await session.scalar(query)
    return value
