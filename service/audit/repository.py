"""Queries of the audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.models import AuditChainHead, AuditEvent


async def lock_head(session: AsyncSession, chain: str) -> AuditChainHead | None:
    """The chain's head row, locked for update (PostgreSQL; SQLite already holds the write lock)."""
    result = await session.execute(
        select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update()
    )
    return result.scalar_one_or_none()


async def chains(session: AsyncSession) -> Sequence[AuditChainHead]:
    """Every chain head."""
    return (await session.execute(select(AuditChainHead).order_by(AuditChainHead.chain))).scalars().all()


async def chain_names_with_events(session: AsyncSession) -> Sequence[str]:
    """Every chain that has at least one row (a head may have been deleted)."""
    return (await session.execute(select(AuditEvent.chain).distinct())).scalars().all()


async def iter_chain(session: AsyncSession, chain: str, batch: int = 1000) -> AsyncIterator[AuditEvent]:
    """A chain's rows in sequence order, fetched in batches."""
    last = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.chain == chain, AuditEvent.seq > last)
                    .order_by(AuditEvent.seq)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq


async def page(
    session: AsyncSession, *, chain: str, after_seq: int, limit: int, case_id: str | None = None
) -> Sequence[AuditEvent]:
    """A page of one chain's rows after a sequence number."""
    query = select(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq > after_seq)
    if case_id is not None:
        query = query.where(AuditEvent.case_id == case_id)
    return (await session.execute(query.order_by(AuditEvent.seq).limit(limit))).scalars().all()
