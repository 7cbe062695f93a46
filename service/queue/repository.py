"""Queries of the queue domain (row locks with SKIP LOCKED where the backend has them)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.models import Account
from service.cases.lifecycle import CaseState
from service.cases.models import Case, CaseStateEntry
from service.queue.models import CaseOffer, OfficerPresence
from service.tenancy.models import Municipality, PostOffice

PENDING = "pending"
LIVE_STATES = (
    CaseState.session_live.value,
    CaseState.evidence_captured.value,
    CaseState.officer_review.value,
)
# Outcomes after which that officer is not offered that case again.
EXCLUDING_OUTCOMES = ("declined", "conflict_of_interest", "expired")


async def queued_without_offer(session: AsyncSession, municipality_code: str, limit: int) -> Sequence[Case]:
    """Queued cases that wait for an offer, oldest first, locked (other hub processes skip them)."""
    pending = exists().where(CaseOffer.case_id == Case.id, CaseOffer.outcome == PENDING)
    query = (
        select(Case)
        .where(
            Case.municipality_code == municipality_code,
            Case.state == CaseState.queued_for_officer.value,
            ~pending,
        )
        .order_by(Case.state_entered_at, Case.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Case)
    )
    return (await session.execute(query)).scalars().all()


def _eligible(municipality_code: str, *, now: dt.datetime, fresh_after: dt.datetime) -> Select[str]:
    """Officers available now: fresh heartbeat, out of wrap-up and penalty, no pending offer, no live case."""
    pending = exists().where(CaseOffer.officer_id == OfficerPresence.account_id, CaseOffer.outcome == PENDING)
    live = exists().where(Case.officer_id == OfficerPresence.account_id, Case.state.in_(LIVE_STATES))
    return (
        select(OfficerPresence.account_id)
        .join(Account, Account.id == OfficerPresence.account_id)
        .where(
            OfficerPresence.municipality_code == municipality_code,
            OfficerPresence.status == "available",
            OfficerPresence.heartbeat_at >= fresh_after,
            or_(OfficerPresence.wrapup_until.is_(None), OfficerPresence.wrapup_until <= now),
            or_(OfficerPresence.penalty_until.is_(None), OfficerPresence.penalty_until <= now),
            Account.role == "officer",
            Account.disabled.is_(False),
            ~pending,
            ~live,
        )
    )


async def eligible_officers(
    session: AsyncSession, municipality_code: str, *, now: dt.datetime, fresh_after: dt.datetime
) -> Sequence[str]:
    """The officers who may be offered a case now: candidates only, nothing locked (see `claim_officer`).

    Locking them all here (as this once did) let one dispatching transaction — a heartbeat, a decline, the
    dispatcher's tick — hide every officer from a concurrent one, whose case then waited for the next tick (#18).
    """
    query = _eligible(municipality_code, now=now, fresh_after=fresh_after).order_by(
        OfficerPresence.account_id
    )
    return (await session.execute(query)).scalars().all()


class Claim(enum.Enum):
    """What `claim_officer` found."""

    claimed = "claimed"  # locked and still eligible: offer away
    busy = "busy"  # another transaction holds the officer's row (it may be offering them a case right now)
    gone = "gone"  # no longer eligible (an offer committed meanwhile, a status change)


async def claim_officer(
    session: AsyncSession,
    officer_id: str,
    municipality_code: str,
    *,
    now: dt.datetime,
    fresh_after: dt.datetime,
) -> Claim:
    """Lock one officer's presence row (SKIP LOCKED) and confirm they are still eligible.

    The check runs after the lock, in its own statement: under READ COMMITTED its snapshot then shows the offer
    of any transaction that held the row before us, so two hub processes never offer one officer two cases.
    (SQLite has no row locks; its single writer serializes the dispatchers instead.)
    """
    locked = await session.execute(
        select(OfficerPresence.account_id)
        .where(OfficerPresence.account_id == officer_id)
        .with_for_update(skip_locked=True)
    )
    if locked.scalar_one_or_none() is None:
        return Claim.busy
    still = _eligible(municipality_code, now=now, fresh_after=fresh_after).where(
        OfficerPresence.account_id == officer_id
    )
    return Claim.claimed if (await session.execute(still)).scalar_one_or_none() is not None else Claim.gone


async def excluded_officers(session: AsyncSession, case_id: str) -> set[str]:
    """Officers who declined, let lapse, or have a conflict with this case."""
    return (await excluded_officers_of(session, [case_id])).get(case_id, set())


async def excluded_officers_of(session: AsyncSession, case_ids: Sequence[str]) -> dict[str, set[str]]:
    """Per case, the officers who declined it, let it lapse, or have a conflict with it (one query for all)."""
    if not case_ids:
        return {}
    query = select(CaseOffer.case_id, CaseOffer.officer_id).where(
        CaseOffer.case_id.in_(case_ids), CaseOffer.outcome.in_(EXCLUDING_OUTCOMES)
    )
    excluded: dict[str, set[str]] = {}
    for case_id, officer_id in (await session.execute(query)).all():
        excluded.setdefault(case_id, set()).add(officer_id)
    return excluded


async def overdue_offers(
    session: AsyncSession, now: dt.datetime, municipality_code: str | None = None
) -> Sequence[CaseOffer]:
    query = select(CaseOffer).where(CaseOffer.outcome == PENDING, CaseOffer.expires_at <= now)
    if municipality_code is not None:
        query = query.where(CaseOffer.municipality_code == municipality_code)
    return (await session.execute(query.with_for_update(skip_locked=True))).scalars().all()


async def pending_offers_of_case(session: AsyncSession, case_id: str) -> Sequence[CaseOffer]:
    query = (
        select(CaseOffer).where(CaseOffer.case_id == case_id, CaseOffer.outcome == PENDING).with_for_update()
    )
    return (await session.execute(query)).scalars().all()


async def pending_offer_of_officer(
    session: AsyncSession, officer_id: str
) -> tuple[CaseOffer, Case, str | None, str | None] | None:
    """The officer's oldest pending offer with its case and the names of the case's post office and municipality.

    One statement: the long-poll reads it between an offer's commit and the console (#18); it was four.
    """
    query = (
        select(CaseOffer, Case, PostOffice.name, Municipality.name)
        .join(Case, Case.id == CaseOffer.case_id)
        .outerjoin(PostOffice, PostOffice.id == Case.post_office_id)
        .outerjoin(Municipality, Municipality.code == Case.municipality_code)
        .where(CaseOffer.officer_id == officer_id, CaseOffer.outcome == PENDING)
        .order_by(CaseOffer.offered_at)
        .limit(1)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def offer_for_update(session: AsyncSession, offer_id: str) -> CaseOffer | None:
    if len(offer_id) > 40:
        return None
    return (
        await session.execute(select(CaseOffer).where(CaseOffer.id == offer_id).with_for_update())
    ).scalar_one_or_none()


async def presence(session: AsyncSession, account_id: str) -> OfficerPresence | None:
    return await session.get(OfficerPresence, account_id)


async def presences(session: AsyncSession, municipality_code: str) -> Sequence[OfficerPresence]:
    query = (
        select(OfficerPresence)
        .where(OfficerPresence.municipality_code == municipality_code)
        .order_by(OfficerPresence.account_id)
    )
    return (await session.execute(query)).scalars().all()


async def officers_of(session: AsyncSession, municipality_code: str) -> Sequence[Account]:
    """The municipality's enabled officer accounts (the supervisor sees each, present or not)."""
    query = (
        select(Account)
        .where(
            Account.municipality_code == municipality_code,
            Account.role == "officer",
            Account.disabled.is_(False),
        )
        .order_by(Account.display_name, Account.id)
    )
    return (await session.execute(query)).scalars().all()


async def live_cases(session: AsyncSession, municipality_code: str) -> Sequence[Case]:
    """The municipality's cases in a live session (at most one per officer)."""
    query = select(Case).where(Case.municipality_code == municipality_code, Case.state.in_(LIVE_STATES))
    return (await session.execute(query)).scalars().all()


async def office_names(session: AsyncSession, office_ids: set[str]) -> dict[str, str]:
    """Post offices' names by id."""
    if not office_ids:
        return {}
    rows = await session.execute(select(PostOffice.id, PostOffice.name).where(PostOffice.id.in_(office_ids)))
    return {str(office_id): str(name) for office_id, name in rows.all()}


async def live_case_of(session: AsyncSession, officer_id: str) -> Case | None:
    query = select(Case).where(Case.officer_id == officer_id, Case.state.in_(LIVE_STATES)).limit(1)
    return (await session.execute(query)).scalars().first()


async def queued_cases(session: AsyncSession, municipality_code: str) -> Sequence[Case]:
    query = (
        select(Case)
        .where(Case.municipality_code == municipality_code, Case.state == CaseState.queued_for_officer.value)
        .order_by(Case.state_entered_at, Case.id)
    )
    return (await session.execute(query)).scalars().all()


async def municipalities_with_work(session: AsyncSession, now: dt.datetime) -> Sequence[str]:
    """Municipalities with queued cases or lapsed offers (what the dispatcher tick looks at)."""
    queued = select(Case.municipality_code).where(Case.state == CaseState.queued_for_officer.value)
    lapsed = select(CaseOffer.municipality_code).where(
        CaseOffer.outcome == PENDING, CaseOffer.expires_at <= now
    )
    return (await session.execute(queued.union(lapsed))).scalars().all()


async def recent_handling_seconds(
    session: AsyncSession, municipality_code: str, limit: int = 50
) -> list[float]:
    """Seconds from `accept` to the decision for the municipality's most recent decided cases."""
    accepted = (
        select(CaseStateEntry.case_id, func.max(CaseStateEntry.entered_at).label("at"))
        .where(CaseStateEntry.action == "accept")
        .group_by(CaseStateEntry.case_id)
        .subquery()
    )
    decided = (
        select(CaseStateEntry.entered_at, accepted.c.at)
        .join(accepted, accepted.c.case_id == CaseStateEntry.case_id)
        .join(Case, Case.id == CaseStateEntry.case_id)
        .where(
            Case.municipality_code == municipality_code,
            CaseStateEntry.action.in_(("approve", "reject", "refer_to_counter")),
            and_(CaseStateEntry.entered_at >= accepted.c.at),
        )
        .order_by(CaseStateEntry.entered_at.desc())
        .limit(limit)
    )
    rows = (await session.execute(decided)).all()
    return [(end - start).total_seconds() for end, start in rows]
