"""Every query of the reports: state entries, connection metrics, designations and the offices' names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.cases.models import Case, CaseStateEntry
from service.certificates.models import CertificateDocument, CertificateFeeEntry, CertificateJob
from service.reports.calendar import Month
from service.reports.figures import READ_STATES, Entry
from service.signaling.models import ConnectionMetric
from service.tenancy.models import Designation, Municipality, PostOffice

# A document superseded by a reprint or voided with its job (an expired one was never handed to anyone).
VOID_STATUSES: Final = ("superseded", "voided")


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
            Case.channel,
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
    # Core execution on the session's connection: tens of thousands of plain rows, no ORM identity bookkeeping
    # (the ORM path took half the report's time in bench/reports.py).
    connection = await session.connection()
    rows = await connection.execute(query)
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


@dataclass(frozen=True)
class CertificateEvent:
    """One recorded certificate event: which figure, when (local day), where, which kind, how much."""

    figure: str
    day: dt.date
    post_office_id: str
    kind: str
    amount: int


async def certificate_events(
    session: AsyncSession, *, month: Month, municipality_code: str
) -> list[CertificateEvent]:
    """Certificate activity recorded in the month: documents issued or made void, hand-overs, ledger lines."""
    start, end, tz = month.start, month.end, month.tz
    connection = await session.connection()
    out: list[CertificateEvent] = []

    def local(at: dt.datetime) -> dt.date:
        return at.astimezone(tz).date()

    first = (
        select(CertificateDocument.job_id, func.min(CertificateDocument.issued_at).label("first_at"))
        .group_by(CertificateDocument.job_id)
        .subquery()
    )
    issued = await connection.execute(
        select(
            CertificateDocument.issued_at,
            first.c.first_at,
            CertificateJob.post_office_id,
            CertificateJob.kind,
            CertificateJob.count,
        )
        .join(CertificateJob, CertificateJob.id == CertificateDocument.job_id)
        .join(first, first.c.job_id == CertificateDocument.job_id)
        .where(
            CertificateJob.municipality_code == municipality_code,
            CertificateDocument.issued_at >= start,
            CertificateDocument.issued_at < end,
        )
    )
    for issued_at, first_at, office, kind, count in issued:
        if issued_at == first_at:
            out.append(CertificateEvent("issued", local(issued_at), office, kind, count))
        else:
            out.append(CertificateEvent("reprints", local(issued_at), office, kind, 1))
    voided = await connection.execute(
        select(CertificateDocument.status_at, CertificateJob.post_office_id, CertificateJob.kind)
        .join(CertificateJob, CertificateJob.id == CertificateDocument.job_id)
        .where(
            CertificateJob.municipality_code == municipality_code,
            CertificateDocument.status.in_(VOID_STATUSES),
            CertificateDocument.status_at >= start,
            CertificateDocument.status_at < end,
        )
    )
    for status_at, office, kind in voided:
        if status_at is not None:
            out.append(CertificateEvent("voided", local(status_at), office, kind, 1))
    handed = await connection.execute(
        select(
            CertificateJob.handed_over_at,
            CertificateJob.post_office_id,
            CertificateJob.kind,
            CertificateJob.count,
        ).where(
            CertificateJob.municipality_code == municipality_code,
            CertificateJob.handed_over_at >= start,
            CertificateJob.handed_over_at < end,
        )
    )
    for handed_at, office, kind, count in handed:
        if handed_at is not None:
            out.append(CertificateEvent("handed_over", local(handed_at), office, kind, count))
    fees = await connection.execute(
        select(
            CertificateFeeEntry.day,
            CertificateFeeEntry.post_office_id,
            CertificateFeeEntry.kind,
            CertificateFeeEntry.entry,
            CertificateFeeEntry.amount_yen,
        ).where(
            CertificateFeeEntry.municipality_code == municipality_code,
            CertificateFeeEntry.day >= month.first_day,
            CertificateFeeEntry.day <= month.last_day,
        )
    )
    for day, office, kind, entry, amount in fees:
        if entry == "fee":
            out.append(CertificateEvent("fees", day, office, kind, 1))
            out.append(CertificateEvent("collected_yen", day, office, kind, amount))
        else:
            out.append(CertificateEvent("refunded_yen", day, office, kind, -amount))
    return out
