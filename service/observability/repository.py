"""The scrape-time queries of the metrics: counts and ages over the shared database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.outbox.models import OutboxEvent, WebhookDelivery


async def cases_by_municipality(session: AsyncSession, state: CaseState) -> dict[str, int]:
    """How many cases are in `state`, per municipality code."""
    rows = await session.execute(
        select(Case.municipality_code, func.count())
        .where(Case.state == state.value)
        .group_by(Case.municipality_code)
    )
    return {code: int(count) for code, count in rows}


async def undispatched_outbox(session: AsyncSession) -> tuple[int, dt.datetime | None]:
    """How many outbox events wait to be fanned out, and when the oldest occurred."""
    row = (
        await session.execute(
            select(func.count(), func.min(OutboxEvent.occurred_at)).where(OutboxEvent.dispatched_at.is_(None))
        )
    ).one()
    oldest = row[1]
    if isinstance(oldest, str):  # SQLite hands an aggregate's timestamp back as text
        oldest = dt.datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return int(row[0]), oldest


async def deliveries_by_status(session: AsyncSession) -> dict[str, int]:
    """Webhook deliveries per status (pending, succeeded, dead)."""
    rows = await session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    )
    return {status: int(count) for status, count in rows}
