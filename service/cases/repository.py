"""Queries of the cases domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.cases.models import Case, CaseStateEntry
from service.kit.pagination import Cursor


async def get(session: AsyncSession, case_id: str) -> Case | None:
    if len(case_id) > 40:
        return None
    return await session.get(Case, case_id)


async def by_active_shinseisho_id(session: AsyncSession, shinseisho_id: str) -> Case | None:
    return (
        await session.execute(select(Case).where(Case.active_shinseisho_id == shinseisho_id))
    ).scalar_one_or_none()


async def page(
    session: AsyncSession,
    *,
    municipality_code: str | None,
    post_office_id: str | None,
    states: Sequence[str] | None,
    procedure: str | None,
    after: Cursor | None,
    limit: int,
) -> Sequence[Case]:
    """Newest first; the cursor is the last row of the previous page."""
    query = select(Case)
    if municipality_code is not None:
        query = query.where(Case.municipality_code == municipality_code)
    if post_office_id is not None:
        query = query.where(Case.post_office_id == post_office_id)
    if states:
        query = query.where(Case.state.in_(states))
    if procedure is not None:
        query = query.where(Case.procedure == procedure)
    if after is not None:
        query = query.where(
            or_(
                Case.created_at < after.created_at,
                and_(Case.created_at == after.created_at, Case.id < after.id),
            )
        )
    query = query.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def history(session: AsyncSession, case_id: str) -> Sequence[CaseStateEntry]:
    query = select(CaseStateEntry).where(CaseStateEntry.case_id == case_id).order_by(CaseStateEntry.id)
    return (await session.execute(query)).scalars().all()
