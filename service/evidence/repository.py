"""Queries of the evidence domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.cases.models import Case
from service.evidence.models import CardChallenge, CaseCardBinding, EvidenceBlob, EvidenceItem, LegalHold


async def challenge_for_update(session: AsyncSession, challenge_id: str) -> CardChallenge | None:
    if len(challenge_id) > 40:
        return None
    query = select(CardChallenge).where(CardChallenge.id == challenge_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def binding_for_update(session: AsyncSession, case_id: str) -> CaseCardBinding | None:
    query = select(CaseCardBinding).where(CaseCardBinding.case_id == case_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def binding(session: AsyncSession, case_id: str) -> CaseCardBinding | None:
    return await session.get(CaseCardBinding, case_id)


async def items(
    session: AsyncSession, case_id: str, kinds: Sequence[str] | None = None
) -> Sequence[EvidenceItem]:
    query = select(EvidenceItem).where(EvidenceItem.case_id == case_id)
    if kinds:
        query = query.where(EvidenceItem.kind.in_(kinds))
    return (await session.execute(query.order_by(EvidenceItem.created_at, EvidenceItem.id))).scalars().all()


async def item(session: AsyncSession, case_id: str, evidence_id: str) -> EvidenceItem | None:
    found = await session.get(EvidenceItem, evidence_id) if len(evidence_id) <= 40 else None
    return found if found is not None and found.case_id == case_id else None


async def blob_of(session: AsyncSession, evidence_id: str, field: str) -> EvidenceBlob | None:
    query = select(EvidenceBlob).where(EvidenceBlob.evidence_id == evidence_id, EvidenceBlob.field == field)
    return (await session.execute(query)).scalar_one_or_none()


async def holds_of(session: AsyncSession, municipality_code: str) -> Sequence[tuple[LegalHold, Case]]:
    """The municipality's cases on legal hold with their case, newest hold first."""
    query = (
        select(LegalHold, Case)
        .join(Case, Case.id == LegalHold.case_id)
        .where(Case.municipality_code == municipality_code)
        .order_by(LegalHold.set_at.desc())
    )
    return [(hold, case) for hold, case in (await session.execute(query)).all()]
