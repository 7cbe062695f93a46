"""Rules of the officer queue: presence, answering an offer, a supervisor's reassignment.

The offers themselves, their expiry and the wrap-up are in dispatch.py (run by every case transition); what
supervisors and the counter see of the queue is in overview.py.

Random assignment (not round-robin, not self-service) keeps an officer from choosing whom to verify — the
anti-collusion rule of video identification (BaFin RS 3/2017, docs/domain.md §A4).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.models import Account
from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cases import service as case_service
from service.cases.exceptions import CaseNotFound
from service.cases.lifecycle import Action, CaseState
from service.cases.models import Case
from service.config import Settings
from service.errors import PermissionDenied
from service.kit import clock
from service.observability import metrics
from service.queue import bell, dispatch, repository
from service.queue.exceptions import (
    NotAnOfficer,
    OfferClosed,
    OfferExpired,
    OfferNotFound,
    OfficerBusy,
    ReassignRefused,
)
from service.queue.models import CaseOffer, OfficerPresence
from service.queue.schemas import (
    DeclineReason,
    OfferRead,
    PresenceStatus,
)


def _require_officer(principal: Principal) -> str:
    """The officer's municipality; NotAnOfficer for anyone else."""
    if (
        principal.kind is not PrincipalKind.account
        or principal.role is not Role.officer
        or principal.municipality_code is None
    ):
        raise NotAnOfficer()
    return principal.municipality_code


async def heartbeat(
    session: AsyncSession, *, principal: Principal, status: PresenceStatus, settings: Settings
) -> OfficerPresence:
    """Record the console's heartbeat and status; becoming available may bring an offer at once."""
    municipality_code = _require_officer(principal)
    now = clock.now()
    presence = await repository.presence(session, principal.id)
    if presence is None:
        presence = OfficerPresence(
            account_id=principal.id,
            municipality_code=municipality_code,
            status=status.value,
            heartbeat_at=now,
            updated_at=now,
        )
        session.add(presence)
        changed = True
    else:
        changed = presence.status != status.value
        presence.status, presence.heartbeat_at, presence.updated_at = status.value, now, now
    await session.flush()
    if changed:
        await audit.record(
            session,
            actor=principal,
            action="queue.presence",
            municipality_code=municipality_code,
            reason_code=status.value,
        )
    if status is PresenceStatus.available:
        await dispatch.dispatch(session, municipality_code=municipality_code, settings=settings)
    return presence


async def current_offer(session: AsyncSession, *, principal: Principal) -> OfferRead | None:
    """The officer's pending offer, if any, as the officer reads it: the 受付番号 and the office's and
    municipality's names (one query)."""
    _require_officer(principal)
    found = await repository.pending_offer_of_officer(session, principal.id)
    if found is None:
        return None
    offer, case, office_name, municipality_name = found
    return OfferRead.model_validate(offer).model_copy(
        update={
            "procedure": case.procedure,
            "post_office_id": case.post_office_id,
            "case_reference": case.reference,
            "post_office_name": office_name,
            "municipality_name": municipality_name,
        }
    )


async def _own_pending_offer(session: AsyncSession, principal: Principal, offer_id: str) -> CaseOffer:
    _require_officer(principal)
    offer = await repository.offer_for_update(session, offer_id)
    if offer is None or offer.officer_id != principal.id:
        raise OfferNotFound()
    if offer.outcome == "expired" or (offer.outcome == "pending" and offer.expires_at <= clock.now()):
        raise OfferExpired()
    if offer.outcome != "pending":
        raise OfferClosed()
    return offer


async def accept_offer(
    session: AsyncSession, *, principal: Principal, offer_id: str, settings: Settings
) -> Case:
    """Take the offered case: the live session starts with this officer."""
    offer = await _own_pending_offer(session, principal, offer_id)
    if await repository.live_case_of(session, principal.id) is not None:
        raise OfficerBusy()
    case = await session.get(Case, offer.case_id)
    if case is None:
        raise CaseNotFound()
    offer.outcome, offer.responded_at = "accepted", clock.now()
    metrics.count_offer(
        session, offer_id=offer.id, municipality_code=offer.municipality_code, outcome="accepted"
    )
    metrics.observe_queue_wait(
        session,
        offer_id=offer.id,
        municipality_code=case.municipality_code,
        waited=offer.responded_at - case.state_entered_at,
    )
    return await case_service.act(
        session,
        principal=principal,
        case=case,
        action=Action.accept,
        reason_code=None,
        attested=False,
        expected_version=None,
        answers=None,
        settings=settings,
        via_offer=True,
    )


async def decline_offer(
    session: AsyncSession, *, principal: Principal, offer_id: str, reason: DeclineReason, settings: Settings
) -> CaseOffer:
    """Decline; for a conflict of interest that officer is never offered that case again."""
    offer = await _own_pending_offer(session, principal, offer_id)
    offer.outcome = "conflict_of_interest" if reason is DeclineReason.conflict_of_interest else "declined"
    offer.responded_at = clock.now()
    metrics.count_offer(
        session, offer_id=offer.id, municipality_code=offer.municipality_code, outcome=offer.outcome
    )
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="queue.offer_declined",
        municipality_code=offer.municipality_code,
        case_id=offer.case_id,
        reason_code=reason.value,
    )
    await dispatch.dispatch(session, municipality_code=offer.municipality_code, settings=settings)
    return offer


async def reassign(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    officer_id: str,
    reason_code: str,
    settings: Settings,
) -> CaseOffer:
    """A supervisor offers a waiting case to a named officer (a recorded override with a reason)."""
    if (
        principal.kind is not PrincipalKind.account
        or principal.role is not Role.supervisor
        or principal.municipality_code != case.municipality_code
    ):
        raise PermissionDenied("only a supervisor of the case's municipality reassigns")
    if CaseState(case.state) is not CaseState.queued_for_officer:
        raise ReassignRefused("only a case waiting in the queue can be reassigned")
    officer = await session.get(Account, officer_id) if len(officer_id) <= 40 else None
    if (
        officer is None
        or officer.role != Role.officer.value
        or officer.municipality_code != case.municipality_code
        or officer.disabled
    ):
        raise ReassignRefused("no such officer in this municipality")
    if officer_id in await repository.excluded_officers(session, case.id):
        raise ReassignRefused("that officer declined this case or has a conflict of interest")
    now = clock.now()
    for pending in await repository.pending_offers_of_case(session, case.id):
        pending.outcome, pending.responded_at = "withdrawn", now
        metrics.count_offer(
            session, offer_id=pending.id, municipality_code=pending.municipality_code, outcome="withdrawn"
        )
        bell.note_offer(session, pending.officer_id)  # the console showing it learns at once
    await audit.record(
        session,
        actor=principal,
        action="queue.reassigned",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="account",
        object_id=officer_id,
        reason_code=reason_code,
    )
    return await dispatch.offer(
        session, case=case, officer_id=officer_id, assigned_by=principal.id, settings=settings
    )
