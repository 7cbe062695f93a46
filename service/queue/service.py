"""Rules of the officer queue: random offers with an accept timeout, no-answer penalty, wrap-up, reassignment.

Random assignment (not round-robin, not self-service) keeps an officer from choosing whom to verify — the
anti-collusion rule of video identification (BaFin RS 3/2017, docs/domain.md §A4).
"""

from __future__ import annotations

import datetime as dt
import secrets
import statistics
from zoneinfo import ZoneInfo

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
from service.evidence import repository as evidence_repository
from service.kit import clock
from service.kit.ids import random_id
from service.queue import bell, repository
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
    FlaggedCaseRow,
    LiveCaseRow,
    OfferRead,
    OfficerRow,
    PresenceStatus,
    QueuedCaseRow,
    QueueOverview,
    QueuePosition,
)
from service.tenancy.models import Municipality, PostOffice

_random = secrets.SystemRandom()
DECISION_ACTIONS = frozenset({Action.approve, Action.reject, Action.refer_to_counter, Action.abort})


def _require_officer(principal: Principal) -> str:
    """The officer's municipality; NotAnOfficer for anyone else."""
    if (
        principal.kind is not PrincipalKind.account
        or principal.role is not Role.officer
        or principal.municipality_code is None
    ):
        raise NotAnOfficer()
    return principal.municipality_code


def effective_status(presence: OfficerPresence, *, now: dt.datetime, settings: Settings) -> PresenceStatus:
    """The status, or offline when the console's heartbeat has gone quiet."""
    if presence.heartbeat_at < now - dt.timedelta(seconds=settings.presence_stale_seconds):
        return PresenceStatus.offline
    return PresenceStatus(presence.status)


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
        await dispatch(session, municipality_code=municipality_code, settings=settings)
    return presence


async def expire_offers(
    session: AsyncSession, *, settings: Settings, municipality_code: str | None = None
) -> int:
    """Close lapsed offers and keep their officers out of the rotation for the penalty time."""
    now = clock.now()
    lapsed = await repository.overdue_offers(session, now, municipality_code)
    for offer in lapsed:
        offer.outcome, offer.responded_at = "expired", now
        presence = await repository.presence(session, offer.officer_id)
        if presence is not None:
            presence.penalty_until = now + dt.timedelta(seconds=settings.offer_no_answer_penalty_seconds)
        await audit.record(
            session,
            actor=_system(),
            action="queue.offer_expired",
            municipality_code=offer.municipality_code,
            case_id=offer.case_id,
            object_type="account",
            object_id=offer.officer_id,
        )
    if lapsed:
        await session.flush()
    return len(lapsed)


def _system() -> Principal:
    return Principal(kind=PrincipalKind.system, id="system")


async def dispatch(session: AsyncSession, *, municipality_code: str, settings: Settings) -> list[CaseOffer]:
    """Offer each waiting case (oldest first) to one eligible officer chosen at random."""
    now = clock.now()
    await expire_offers(session, settings=settings, municipality_code=municipality_code)
    fresh_after = now - dt.timedelta(seconds=settings.presence_stale_seconds)
    officers = list(
        await repository.eligible_officers(session, municipality_code, now=now, fresh_after=fresh_after)
    )
    if not officers:
        return []
    offers: list[CaseOffer] = []
    for case in await repository.queued_without_offer(session, municipality_code, limit=len(officers) * 4):
        excluded = await repository.excluded_officers(session, case.id)
        candidates = [o for o in officers if o not in excluded]
        if not candidates:
            continue
        officer_id = _random.choice(candidates)
        officers.remove(officer_id)
        offers.append(
            await _offer(session, case=case, officer_id=officer_id, assigned_by=None, settings=settings)
        )
        if not officers:
            break
    return offers


async def _offer(
    session: AsyncSession, *, case: Case, officer_id: str, assigned_by: str | None, settings: Settings
) -> CaseOffer:
    now = clock.now()
    offer = CaseOffer(
        id=random_id("offer"),
        case_id=case.id,
        officer_id=officer_id,
        municipality_code=case.municipality_code,
        outcome="pending",
        assigned_by=assigned_by,
        offered_at=now,
        expires_at=now + dt.timedelta(seconds=settings.offer_accept_timeout_seconds),
    )
    session.add(offer)
    await session.flush()
    bell.note_offer(session.sync_session, officer_id)
    await audit.record(
        session,
        actor=_system(),
        action="queue.offered",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="account",
        object_id=officer_id,
        reason_code="reassigned" if assigned_by else "random",
    )
    return offer


async def current_offer(session: AsyncSession, *, principal: Principal) -> tuple[CaseOffer, Case] | None:
    """The officer's pending offer, if any, with its case."""
    _require_officer(principal)
    offer = await repository.pending_offer_of_officer(session, principal.id)
    if offer is None:
        return None
    case = await session.get(Case, offer.case_id)
    return (offer, case) if case is not None else None


async def offer_read(session: AsyncSession, offer: CaseOffer, case: Case) -> OfferRead:
    """The offer as the officer reads it: the 受付番号 and the office's and municipality's names."""
    office = await session.get(PostOffice, case.post_office_id)
    municipality = await session.get(Municipality, case.municipality_code)
    return OfferRead.model_validate(offer).model_copy(
        update={
            "procedure": case.procedure,
            "post_office_id": case.post_office_id,
            "case_reference": case.reference,
            "post_office_name": office.name if office else None,
            "municipality_name": municipality.name if municipality else None,
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


async def accept_offer(session: AsyncSession, *, principal: Principal, offer_id: str, tz: ZoneInfo) -> Case:
    """Take the offered case: the live session starts with this officer."""
    offer = await _own_pending_offer(session, principal, offer_id)
    if await repository.live_case_of(session, principal.id) is not None:
        raise OfficerBusy()
    case = await session.get(Case, offer.case_id)
    if case is None:
        raise CaseNotFound()
    offer.outcome, offer.responded_at = "accepted", clock.now()
    return await case_service.act(
        session,
        principal=principal,
        case=case,
        action=Action.accept,
        reason_code=None,
        attested=False,
        expected_version=None,
        answers=None,
        tz=tz,
        via_offer=True,
    )


async def decline_offer(
    session: AsyncSession, *, principal: Principal, offer_id: str, reason: DeclineReason, settings: Settings
) -> CaseOffer:
    """Decline; for a conflict of interest that officer is never offered that case again."""
    offer = await _own_pending_offer(session, principal, offer_id)
    offer.outcome = "conflict_of_interest" if reason is DeclineReason.conflict_of_interest else "declined"
    offer.responded_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="queue.offer_declined",
        municipality_code=offer.municipality_code,
        case_id=offer.case_id,
        reason_code=reason.value,
    )
    await dispatch(session, municipality_code=offer.municipality_code, settings=settings)
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
    return await _offer(
        session, case=case, officer_id=officer_id, assigned_by=principal.id, settings=settings
    )


async def on_transition(
    session: AsyncSession, *, case: Case, action: Action, principal: Principal, settings: Settings
) -> None:
    """Queue bookkeeping after a case action: offer newly queued cases; wrap-up after the officer's decision."""
    if action in (Action.request_verification, Action.requeue):
        await dispatch(session, municipality_code=case.municipality_code, settings=settings)
    elif action in (Action.withdraw,):
        now = clock.now()
        for pending in await repository.pending_offers_of_case(session, case.id):
            pending.outcome, pending.responded_at = "withdrawn", now
    elif (
        action in DECISION_ACTIONS
        and principal.kind is PrincipalKind.account
        and principal.role is Role.officer
    ):
        presence = await repository.presence(session, principal.id)
        if presence is not None:
            presence.wrapup_until = clock.now() + dt.timedelta(seconds=settings.officer_wrapup_seconds)


async def position(session: AsyncSession, *, case: Case, settings: Settings) -> QueuePosition:
    """Where the case stands in its municipality's queue and a wait estimate from recent handling times."""
    now = clock.now()
    waiting = max(0.0, (now - case.state_entered_at).total_seconds())
    fresh_after = now - dt.timedelta(seconds=settings.presence_stale_seconds)
    available = [
        p
        for p in await repository.presences(session, case.municipality_code)
        if p.status == "available" and p.heartbeat_at >= fresh_after
    ]
    if CaseState(case.state) is not CaseState.queued_for_officer:
        return QueuePosition(
            case_id=case.id,
            state=case.state,
            position=None,
            waiting_seconds=0.0,
            estimated_wait_seconds=None,
            available_officers=len(available),
            offered=False,
        )
    queued = list(await repository.queued_cases(session, case.municipality_code))
    place = next(i for i, c in enumerate(queued, start=1) if c.id == case.id)
    offered = bool(await repository.pending_offers_of_case(session, case.id))
    handling = await repository.recent_handling_seconds(session, case.municipality_code)
    estimate: float | None = None
    if offered:
        estimate = 0.0
    elif handling and available:
        # Cases ahead are shared among the available officers, each taking the median handling time.
        estimate = (
            statistics.median(handling) * (place - 1) / len(available) + settings.officer_wrapup_seconds
        )
    return QueuePosition(
        case_id=case.id,
        state=case.state,
        position=place,
        waiting_seconds=waiting,
        estimated_wait_seconds=estimate,
        available_officers=len(available),
        offered=offered,
    )


async def overview(session: AsyncSession, *, principal: Principal, settings: Settings) -> QueueOverview:
    """The municipality's queue and officers (supervisor and officers)."""
    if (
        principal.kind is not PrincipalKind.account
        or principal.role not in (Role.supervisor, Role.officer)
        or principal.municipality_code is None
    ):
        raise PermissionDenied("the queue is shown to the municipality's officers and supervisors")

    municipality_code = principal.municipality_code
    now = clock.now()
    accounts = await repository.officers_of(session, municipality_code)
    names = {account.id: account.display_name for account in accounts}
    queued = await repository.queued_cases(session, municipality_code)
    # Who verifies which case, and which cases are flagged, is the supervisor's to see, not the officers'.
    supervisor = principal.role is Role.supervisor
    live = await repository.live_cases(session, municipality_code) if supervisor else []
    holds = await evidence_repository.holds_of(session, municipality_code) if supervisor else []
    missing = {hold.set_by for hold, _ in holds} - names.keys()
    for extra in missing:
        account = await session.get(Account, extra) if extra else None
        if account is not None:
            names[account.id] = account.display_name
    offices = await repository.office_names(
        session, {c.post_office_id for c in (*queued, *live, *(case for _, case in holds))}
    )
    rows: list[QueuedCaseRow] = []
    for case in queued:
        pending = await repository.pending_offers_of_case(session, case.id)
        offered_to = pending[0].officer_id if pending else None
        rows.append(
            QueuedCaseRow(
                case_id=case.id,
                case_reference=case.reference,
                post_office_id=case.post_office_id,
                post_office_name=offices.get(case.post_office_id),
                procedure=case.procedure,
                waiting_seconds=max(0.0, (now - case.state_entered_at).total_seconds()),
                offered_to=offered_to,
                offered_to_name=names.get(offered_to) if offered_to else None,
            )
        )
    held = {hold.case_id for hold, _ in holds}
    live_by_officer = {case.officer_id: case.id for case in live if case.officer_id}
    presences = {p.account_id: p for p in await repository.presences(session, municipality_code)}
    officers: list[OfficerRow] = []
    for account in accounts:
        presence = presences.get(account.id)
        officers.append(
            OfficerRow(
                account_id=account.id,
                display_name=account.display_name,
                status=PresenceStatus(presence.status) if presence else PresenceStatus.offline,
                effective_status=(
                    effective_status(presence, now=now, settings=settings)
                    if presence
                    else PresenceStatus.offline
                ),
                heartbeat_at=presence.heartbeat_at if presence else None,
                wrapup_until=presence.wrapup_until if presence else None,
                penalty_until=presence.penalty_until if presence else None,
                live_case_id=live_by_officer.get(account.id),
            )
        )
    municipality = await session.get(Municipality, municipality_code)
    return QueueOverview(
        municipality_code=municipality_code,
        municipality_name=municipality.name if municipality else None,
        queued=rows,
        officers=officers,
        live=[
            LiveCaseRow(
                case_id=case.id,
                case_reference=case.reference,
                post_office_id=case.post_office_id,
                post_office_name=offices.get(case.post_office_id),
                procedure=case.procedure,
                state=case.state,
                officer_id=case.officer_id,
                officer_name=names.get(case.officer_id) if case.officer_id else None,
                live_seconds=max(0.0, (now - case.state_entered_at).total_seconds()),
                on_hold=case.id in held,
            )
            for case in live
        ],
        flagged=[
            FlaggedCaseRow(
                case_id=case.id,
                case_reference=case.reference,
                state=case.state,
                post_office_id=case.post_office_id,
                post_office_name=offices.get(case.post_office_id),
                reason_code=hold.reason_code,
                set_by=hold.set_by,
                set_by_name=names.get(hold.set_by),
                set_at=hold.set_at,
            )
            for hold, case in holds
        ],
    )


async def tick(session: AsyncSession, *, settings: Settings) -> int:
    """One dispatcher pass over every municipality with work; returns offers made."""
    made = 0
    for municipality_code in await repository.municipalities_with_work(session, clock.now()):
        made += len(await dispatch(session, municipality_code=municipality_code, settings=settings))
    return made
