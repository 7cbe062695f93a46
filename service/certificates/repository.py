"""Every query of certificate issuance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.certificates.models import (
    CertificateConfig,
    CertificateDocument,
    CertificateFeeEntry,
    CertificateJob,
)


async def latest_config(session: AsyncSession, code: str) -> CertificateConfig | None:
    query = (
        select(CertificateConfig)
        .where(CertificateConfig.municipality_code == code)
        .order_by(CertificateConfig.version.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def job_for_update(session: AsyncSession, job_id: str) -> CertificateJob | None:
    if len(job_id) > 40:
        return None
    query = select(CertificateJob).where(CertificateJob.id == job_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def job_by_receipt_for_update(session: AsyncSession, receipt_number: str) -> CertificateJob | None:
    query = select(CertificateJob).where(CertificateJob.receipt_number == receipt_number).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def receipt_taken(session: AsyncSession, receipt_number: str) -> bool:
    query = select(CertificateJob.id).where(CertificateJob.receipt_number == receipt_number)
    return (await session.execute(query)).first() is not None


async def documents(session: AsyncSession, job_id: str) -> Sequence[CertificateDocument]:
    query = (
        select(CertificateDocument)
        .where(CertificateDocument.job_id == job_id)
        .order_by(CertificateDocument.issued_at, CertificateDocument.id)
    )
    return (await session.execute(query)).scalars().all()


async def document_by_code(session: AsyncSession, code: str) -> CertificateDocument | None:
    query = select(CertificateDocument).where(CertificateDocument.verification_code == code)
    return (await session.execute(query)).scalar_one_or_none()


async def document_by_digest(session: AsyncSession, sha256: str) -> CertificateDocument | None:
    query = select(CertificateDocument).where(CertificateDocument.content_sha256 == sha256)
    return (await session.execute(query)).scalar_one_or_none()


async def due_for_expiry(
    session: AsyncSession, states: frozenset[str], now: dt.datetime
) -> Sequence[CertificateJob]:
    query = (
        select(CertificateJob)
        .where(CertificateJob.state.in_(states), CertificateJob.expires_at <= now)
        .with_for_update(skip_locked=True)
        .limit(200)
    )
    return (await session.execute(query)).scalars().all()


async def fee_entries(
    session: AsyncSession,
    *,
    municipality_code: str | None = None,
    post_office_id: str | None = None,
    first_day: dt.date,
    last_day: dt.date,
) -> Sequence[CertificateFeeEntry]:
    query = select(CertificateFeeEntry).where(
        CertificateFeeEntry.day >= first_day, CertificateFeeEntry.day <= last_day
    )
    if municipality_code is not None:
        query = query.where(CertificateFeeEntry.municipality_code == municipality_code)
    if post_office_id is not None:
        query = query.where(CertificateFeeEntry.post_office_id == post_office_id)
    return (
        (await session.execute(query.order_by(CertificateFeeEntry.day, CertificateFeeEntry.recorded_at)))
        .scalars()
        .all()
    )
