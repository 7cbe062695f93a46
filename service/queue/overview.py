"""The queue as people see it: the supervisor's overview (queue, officers, live and flagged cases) and a case's
place in the queue with a wait estimate (shown at the counter). Reads only; the rules are in service.py.
"""

from __future__ import annotations

import datetime as dt
import statistics

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.models import Account
from service.accounts.roles import Principal, PrincipalKind, Role
from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.config import Settings
from service.errors import PermissionDenied
from service.evidence import repository as evidence_repository
from service.kit import clock
from service.queue import repository
from service.queue.models import OfficerPresence
from service.queue.schemas import (
    FlaggedCaseRow,
    LiveCaseRow,
    OfficerRow,
    PresenceStatus,
    QueuedCaseRow,
    QueueOverview,
    QueuePosition,
)
from service.tenancy.models import Municipality


def effective_status(presence: OfficerPresence, *, now: dt.datetime, settings: Settings) -> PresenceStatus:
    """The status, or offline when the console's heartbeat has gone quiet."""
    if presence.heartbeat_at < now - dt.timedelta(seconds=settings.presence_stale_seconds):
        return PresenceStatus.offline
    return PresenceStatus(presence.status)


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
