"""Queries of the tenancy domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.tenancy.models import Designation, Municipality, PostOffice


async def list_municipalities(session: AsyncSession) -> Sequence[Municipality]:
    return (await session.execute(select(Municipality).order_by(Municipality.code))).scalars().all()


async def list_post_offices(session: AsyncSession) -> Sequence[PostOffice]:
    return (await session.execute(select(PostOffice).order_by(PostOffice.office_code))).scalars().all()


async def office_by_code(session: AsyncSession, office_code: str) -> PostOffice | None:
    return (
        await session.execute(select(PostOffice).where(PostOffice.office_code == office_code))
    ).scalar_one_or_none()


async def designations(
    session: AsyncSession, *, municipality_code: str | None = None, post_office_id: str | None = None
) -> Sequence[Designation]:
    query = select(Designation)
    if municipality_code is not None:
        query = query.where(Designation.municipality_code == municipality_code)
    if post_office_id is not None:
        query = query.where(Designation.post_office_id == post_office_id)
    return (await session.execute(query.order_by(Designation.valid_from, Designation.id))).scalars().all()
