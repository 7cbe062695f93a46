"""The scrape-time queries of the metrics: counts and ages over the shared database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.models import AuditCheckpoint, AuditEvent
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


async def oldest_by_municipality(session: AsyncSession, state: CaseState) -> dict[str, dt.datetime]:
    """When the case longest in `state` entered it, per municipality code."""
    rows = await session.execute(
        select(Case.municipality_code, func.min(Case.state_entered_at))
        .where(Case.state == state.value)
        .group_by(Case.municipality_code)
    )
    return {code: _aware(entered) for code, entered in rows if entered is not None}


async def oldest_unsigned_audit_event(session: AsyncSession) -> dt.datetime | None:
    """When the oldest audit event that no signed checkpoint covers yet occurred (None when all are signed)."""
    signed = (
        select(AuditCheckpoint.chain, func.max(AuditCheckpoint.seq).label("seq"))
        .group_by(AuditCheckpoint.chain)
        .subquery()
    )
    oldest = await session.scalar(
        select(func.min(AuditEvent.occurred_at))
        .select_from(AuditEvent)
        .outerjoin(signed, signed.c.chain == AuditEvent.chain)
        .where(AuditEvent.seq > func.coalesce(signed.c.seq, 0))
    )
    return None if oldest is None else _aware(oldest)


def _aware(value: dt.datetime | str) -> dt.datetime:
    """An aggregate's timestamp as an aware datetime (SQLite hands it back as naive text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def undispatched_outbox(session: AsyncSession) -> tuple[int, dt.datetime | None]:
    """How many outbox events wait to be fanned out, and when the oldest occurred."""
    row = (
        await session.execute(
            select(func.count(), func.min(OutboxEvent.occurred_at)).where(OutboxEvent.dispatched_at.is_(None))
        )
    ).one()
    oldest = row[1]
    return int(row[0]), None if oldest is None else _aware(oldest)


async def deliveries_by_status(session: AsyncSession) -> dict[str, int]:
    """Webhook deliveries per status (pending, succeeded, dead)."""
    rows = await session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    )
    return {status: int(count) for status, count in rows}
