"""Every query of the signaling domain: the connection metrics of calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.signaling.models import ConnectionMetric


async def count_for_case(session: AsyncSession, case_id: str) -> int:
    """How many metric reports the case holds."""
    found = await session.scalar(
        select(func.count()).select_from(ConnectionMetric).where(ConnectionMetric.case_id == case_id)
    )
    return int(found or 0)


async def for_case(session: AsyncSession, case_id: str) -> Sequence[ConnectionMetric]:
    """The case's reports, oldest first."""
    rows = await session.scalars(
        select(ConnectionMetric)
        .where(ConnectionMetric.case_id == case_id)
        .order_by(ConnectionMetric.created_at, ConnectionMetric.id)
    )
    return rows.all()


async def for_municipality(
    session: AsyncSession, municipality_code: str, *, since: dt.datetime, side: str | None = None
) -> Sequence[ConnectionMetric]:
    """The municipality's reports since `since` (optionally one side's only)."""
    query = select(ConnectionMetric).where(
        ConnectionMetric.municipality_code == municipality_code, ConnectionMetric.created_at >= since
    )
    if side is not None:
        query = query.where(ConnectionMetric.side == side)
    return (await session.scalars(query)).all()
