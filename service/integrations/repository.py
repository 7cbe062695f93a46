"""Queries of the integrations domain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.cases.models import Case
from service.integrations.models import (
    CaseAcknowledgement,
    JlisSubmission,
    MailDispatch,
    ResidentCheck,
)
from service.outbox.models import OutboxEvent

FINALIZED = "case.finalized"


async def finalized_page(
    session: AsyncSession,
    *,
    municipality_code: str,
    include_acknowledged: bool,
    after_seq: int | None,
    limit: int,
) -> Sequence[tuple[OutboxEvent, Case, CaseAcknowledgement | None]]:
    """Finalized cases of a municipality in the order they were finalized (a feed over the outbox)."""
    query = (
        select(OutboxEvent, Case, CaseAcknowledgement)
        .join(Case, Case.id == OutboxEvent.case_id)
        .outerjoin(CaseAcknowledgement, CaseAcknowledgement.case_id == Case.id)
        .where(OutboxEvent.municipality_code == municipality_code, OutboxEvent.event_type == FINALIZED)
    )
    if not include_acknowledged:
        query = query.where(CaseAcknowledgement.case_id.is_(None))
    if after_seq is not None:
        query = query.where(OutboxEvent.seq > after_seq)
    query = query.order_by(OutboxEvent.seq).limit(limit)
    return [(e, c, a) for e, c, a in (await session.execute(query)).all()]


async def finalized_event(session: AsyncSession, case_id: str) -> OutboxEvent | None:
    query = (
        select(OutboxEvent)
        .where(OutboxEvent.case_id == case_id, OutboxEvent.event_type == FINALIZED)
        .order_by(OutboxEvent.seq)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def acknowledgement(session: AsyncSession, case_id: str) -> CaseAcknowledgement | None:
    return await session.get(CaseAcknowledgement, case_id)


async def jlis_submission(session: AsyncSession, case_id: str) -> JlisSubmission | None:
    return await session.get(JlisSubmission, case_id)


async def mail_dispatch(session: AsyncSession, case_id: str) -> MailDispatch | None:
    return await session.get(MailDispatch, case_id)


async def dispatch_by_tracking_number(session: AsyncSession, tracking_number: str) -> MailDispatch | None:
    query = select(MailDispatch).where(MailDispatch.tracking_number == tracking_number)
    return (await session.execute(query)).scalar_one_or_none()


async def resident_checks(session: AsyncSession, case_id: str) -> Sequence[ResidentCheck]:
    query = select(ResidentCheck).where(ResidentCheck.case_id == case_id).order_by(ResidentCheck.checked_at)
    return (await session.execute(query)).scalars().all()


async def claim_jlis(
    session: AsyncSession, *, now: dt.datetime, limit: int, owner: str, lease_until: dt.datetime
) -> Sequence[JlisSubmission]:
    """Lease the due submissions (to submit, or to ask about production) to `owner`."""
    ids_query = (
        select(JlisSubmission.case_id)
        .where(
            JlisSubmission.status.in_(("pending", "accepted")),
            JlisSubmission.source == "adapter",
            JlisSubmission.next_attempt_at <= now,
            or_(JlisSubmission.lease_until.is_(None), JlisSubmission.lease_until < now),
        )
        .order_by(JlisSubmission.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.execute(ids_query)).scalars().all())
    if not ids:
        return []
    await session.execute(
        update(JlisSubmission)
        .where(JlisSubmission.case_id.in_(ids))
        .values(lease_owner=owner, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    query = (
        select(JlisSubmission)
        .where(JlisSubmission.case_id.in_(ids))
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalars().all()


async def leased_jlis(session: AsyncSession, *, case_id: str, owner: str) -> JlisSubmission | None:
    query = (
        select(JlisSubmission)
        .where(JlisSubmission.case_id == case_id, JlisSubmission.lease_owner == owner)
        .with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()


async def jlis_next_due_at(session: AsyncSession) -> dt.datetime | None:
    query = select(func.min(JlisSubmission.next_attempt_at)).where(
        JlisSubmission.status.in_(("pending", "accepted")), JlisSubmission.source == "adapter"
    )
    value = (await session.execute(query)).scalar_one_or_none()
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns the aggregate as text
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def cases_in_period(
    session: AsyncSession, *, municipality_code: str, start: dt.datetime, end: dt.datetime, limit: int
) -> Sequence[Case]:
    query = (
        select(Case)
        .where(Case.municipality_code == municipality_code, Case.created_at >= start, Case.created_at < end)
        .order_by(Case.created_at, Case.id)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()
