"""Rules of the back-office hand-off: finalized cases, acknowledgement, J-LIS status, the mailed card's life."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Scope
from service.audit import service as audit
from service.cases import service as case_service
from service.cases.lifecycle import Action, CaseState
from service.cases.models import Case
from service.config import Settings
from service.errors import PermissionDenied
from service.integrations import repository
from service.integrations.exceptions import (
    HoldNotExpired,
    MailAlreadyDispatched,
    MailNotDispatched,
    MailTrackingConflict,
    NotFinalized,
    TrackingNumberInUse,
)
from service.integrations.jlis import MAIL_TYPE
from service.integrations.models import (
    CaseAcknowledgement,
    JlisSubmission,
    MailDispatch,
    MailTrackingEvent,
)
from service.kit import clock
from service.outbox.models import OutboxEvent

# 本人限定受取郵便 (特例型): the post office holds the item this long after leaving the arrival notice.
HOLD_DAYS = 10


class JlisReport(StrEnum):
    """Production steps the back office reports, each the case action it drives."""

    produced = "produced"
    received_by_municipality = "received_by_municipality"
    pre_issue_setup_done = "pre_issue_setup_done"


_JLIS_ACTIONS = {
    JlisReport.produced: Action.record_card_produced,
    JlisReport.received_by_municipality: Action.record_card_received,
    JlisReport.pre_issue_setup_done: Action.record_pre_issue_setup,
}


class TrackingStatus(StrEnum):
    in_transit = "in_transit"
    held = "held"  # 到着通知: the applicant was out; the 10-day hold starts
    delivered = "delivered"
    returned = "returned"


@dataclass(frozen=True)
class BackOfficeCase:
    """A case as the back office sees it, with its hand-off, J-LIS and mail records."""

    case: Case
    finalized_at: dt.datetime | None
    acknowledgement: CaseAcknowledgement | None
    jlis: JlisSubmission | None
    mail: MailDispatch | None


async def case_for_back_office(
    session: AsyncSession, *, principal: Principal, case_id: str, write: bool = False
) -> Case:
    """The case if the caller is its municipality's integration client (foreign: 404, other callers: 403)."""
    case = await case_service.get_for(session, principal=principal, case_id=case_id)
    if principal.kind is not PrincipalKind.integration:
        raise PermissionDenied("the back-office API is for the municipality's integration client")
    if write and Scope.cases_write not in principal.scopes:
        raise PermissionDenied("API key lacks scope cases:write")
    return case


def _integration_municipality(principal: Principal) -> str:
    if principal.kind is not PrincipalKind.integration or principal.municipality_code is None:
        raise PermissionDenied("the back-office API is for the municipality's integration client")
    if Scope.cases_read not in principal.scopes:
        raise PermissionDenied("API key lacks scope cases:read")
    return principal.municipality_code


async def finalized_cases(
    session: AsyncSession,
    *,
    principal: Principal,
    include_acknowledged: bool,
    after_seq: int | None,
    limit: int,
) -> Sequence[tuple[OutboxEvent, BackOfficeCase]]:
    """Finalized cases of the caller's municipality, in the order they were finalized."""
    municipality_code = _integration_municipality(principal)
    rows = await repository.finalized_page(
        session,
        municipality_code=municipality_code,
        include_acknowledged=include_acknowledged,
        after_seq=after_seq,
        limit=limit,
    )
    out = []
    for event, case, ack in rows:
        out.append(
            (
                event,
                BackOfficeCase(
                    case,
                    event.occurred_at,
                    ack,
                    await repository.jlis_submission(session, case.id),
                    await repository.mail_dispatch(session, case.id),
                ),
            )
        )
    return out


async def view(session: AsyncSession, case: Case) -> BackOfficeCase:
    """The back-office view of one (already authorised) case."""
    finalized = await repository.finalized_event(session, case.id)
    return BackOfficeCase(
        case,
        finalized.occurred_at if finalized else None,
        await repository.acknowledgement(session, case.id),
        await repository.jlis_submission(session, case.id),
        await repository.mail_dispatch(session, case.id),
    )


async def acknowledge(
    session: AsyncSession, *, principal: Principal, case: Case, back_office_ref: str | None
) -> CaseAcknowledgement:
    """The back office took the finalized case over; acknowledging again keeps the first acknowledgement."""
    if await repository.finalized_event(session, case.id) is None:
        raise NotFinalized()
    ack = await repository.acknowledgement(session, case.id)
    if ack is not None:
        return ack
    ack = CaseAcknowledgement(
        case_id=case.id,
        municipality_code=case.municipality_code,
        client_id=principal.id,
        back_office_ref=back_office_ref,
        acknowledged_at=clock.now(),
    )
    session.add(ack)
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="backoffice.case_acknowledged",
        municipality_code=case.municipality_code,
        case_id=case.id,
    )
    return ack


async def _act(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    action: Action,
    settings: Settings,
    reason_code: str | None = None,
) -> Case:
    return await case_service.act(
        session,
        principal=principal,
        case=case,
        action=action,
        reason_code=reason_code,
        attested=False,
        expected_version=None,
        answers=None,
        settings=settings,
    )


async def report_jlis(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    report: JlisReport,
    receipt_id: str | None,
    settings: Settings,
) -> Case:
    """The back office reports a production step; the matching case action runs as the integration client."""
    case = await _act(
        session, principal=principal, case=case, action=_JLIS_ACTIONS[report], settings=settings
    )
    if report is JlisReport.produced:
        now = clock.now()
        submission = await repository.jlis_submission(session, case.id)
        if submission is None:
            submission = JlisSubmission(
                case_id=case.id,
                municipality_code=case.municipality_code,
                source="back_office",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(submission)
        submission.status = "produced"
        submission.produced_at = now
        submission.updated_at = now
        submission.receipt_id = receipt_id or submission.receipt_id
        await session.flush()
    return case


async def dispatch_mail(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    tracking_number: str,
    dispatched_at: dt.datetime | None,
    settings: Settings,
) -> MailDispatch:
    """Record the card's mailing (本人限定受取郵便 特例型) and take the case to `mailed`."""
    if await repository.mail_dispatch(session, case.id) is not None:
        raise MailAlreadyDispatched()
    if await repository.dispatch_by_tracking_number(session, tracking_number) is not None:
        raise TrackingNumberInUse()
    now = clock.now()
    mail = MailDispatch(
        case_id=case.id,
        municipality_code=case.municipality_code,
        mail_type=MAIL_TYPE,
        tracking_number=tracking_number,
        status="dispatched",
        dispatched_at=dispatched_at or now,
        updated_at=now,
    )
    session.add(mail)
    await session.flush()
    await _act(session, principal=principal, case=case, action=Action.record_mailed, settings=settings)
    return mail


async def track_mail(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    status: TrackingStatus,
    occurred_at: dt.datetime,
    reason_code: str | None,
    settings: Settings,
) -> MailDispatch:
    """Apply one tracking update: the hold starts, delivery closes the case, a return asks for counter pickup."""
    mail = await repository.mail_dispatch(session, case.id)
    if mail is None:
        raise MailNotDispatched()
    if mail.status in ("delivered", "returned", "cancelled"):
        raise MailTrackingConflict(f"the mailing is already {mail.status}")
    if (status is TrackingStatus.returned) != (reason_code is not None):
        raise MailTrackingConflict("a return needs reason_code; other updates take none")
    now = clock.now()
    session.add(
        MailTrackingEvent(
            case_id=case.id,
            status=status.value,
            reason_code=reason_code,
            occurred_at=occurred_at,
            recorded_at=now,
        )
    )
    mail.updated_at = now
    if status is TrackingStatus.in_transit:
        mail.status = "in_transit"
    elif status is TrackingStatus.held:
        if mail.hold_started_at is None:
            mail.hold_started_at = occurred_at
            mail.hold_until = occurred_at + dt.timedelta(days=HOLD_DAYS)
        mail.status = "held"
    elif status is TrackingStatus.delivered:
        mail.status = "delivered"
        case = await _act(
            session, principal=principal, case=case, action=Action.record_delivered, settings=settings
        )
        await _act(session, principal=principal, case=case, action=Action.close, settings=settings)
    else:
        if reason_code == "hold_expired" and (mail.hold_until is None or occurred_at < mail.hold_until):
            raise HoldNotExpired(
                f"the hold runs until {mail.hold_until.isoformat()}" if mail.hold_until else "no hold started"
            )
        mail.status = "returned"
        mail.counter_notice = "pickup_at_counter"
        mail.counter_notice_at = now
        case = await _act(
            session,
            principal=principal,
            case=case,
            action=Action.record_returned,
            settings=settings,
            reason_code=reason_code,
        )
        await _act(
            session, principal=principal, case=case, action=Action.record_awaiting_pickup, settings=settings
        )
    await session.flush()
    return mail


async def address_change(
    session: AsyncSession, *, principal: Principal, case: Case, reason_code: str, settings: Settings
) -> Case:
    """A move or name change before delivery voids the mailing; the applicant is referred to the counter."""
    if CaseState(case.state) is CaseState.delivered:
        raise MailTrackingConflict("the card was already delivered")
    case = await _act(
        session,
        principal=principal,
        case=case,
        action=Action.cancel_address_change,
        settings=settings,
        reason_code=reason_code,
    )
    mail = await repository.mail_dispatch(session, case.id)
    if mail is not None:
        now = clock.now()
        mail.status = "cancelled"
        mail.counter_notice = "address_change_referral"
        mail.counter_notice_at = now
        mail.updated_at = now
        await session.flush()
    return case
