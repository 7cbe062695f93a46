"""Rules of cases: creation at a designated office, tenant-scoped reads, guarded transitions with audit."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from service.accounts.roles import Principal, PrincipalKind, Role, Scope
from service.audit import service as audit
from service.cases import consents, reference, repository
from service.cases.eligibility import EligibilityAnswers, ineligibility_reasons
from service.cases.exceptions import (
    AttestationRequired,
    BoothOnly,
    CaseNotFound,
    InvalidCase,
    NotAllowedForActor,
    NotAssigned,
    NotEligible,
    OfferRequired,
    PinRequestRequired,
    ProcedureMismatch,
    ReasonRequired,
    ShinseishoIdInUse,
    VersionConflict,
    WrongState,
)
from service.cases.lifecycle import TERMINAL_STATES, Action, Actor, CaseState, LifecycleError, plan
from service.cases.models import Case, CaseStateEntry
from service.config import Settings
from service.errors import PermissionDenied
from service.evidence import retention
from service.kit import clock
from service.kit.ids import random_id
from service.kit.pagination import Cursor
from service.outbox import service as outbox_service
from service.queue import dispatch as queue_dispatch
from service.review import service as review_service
from service.tenancy import service as tenancy_service
from service.tenancy.codes import Procedure
from service.tenancy.models import Designation, PostOffice
from service.wire.cases import FORM_ID_PROCEDURES

DECISIONS = {
    Action.approve: "approved",
    Action.reject: "rejected",
    Action.refer_to_counter: "referred_to_counter",
}


def actor_of(principal: Principal) -> Actor:
    """The state-machine actor a principal acts as; people other than officers and supervisors act through devices."""
    if principal.kind is PrincipalKind.device:
        return Actor.device
    if principal.kind is PrincipalKind.integration:
        if Scope.cases_write not in principal.scopes:
            raise PermissionDenied("API key lacks scope cases:write")
        return Actor.integration
    if principal.kind is PrincipalKind.system:
        return Actor.system
    if principal.role is Role.officer:
        return Actor.officer
    if principal.role is Role.supervisor:
        return Actor.supervisor
    raise NotAllowedForActor(f"a {principal.actor_label} may not act on cases")


def visible_scope(principal: Principal) -> tuple[str | None, str | None]:
    """(municipality_code, post_office_id) that bound what `principal` may see; 403 for roles that see no cases."""
    if principal.kind is PrincipalKind.device:
        return None, principal.post_office_id
    if principal.kind is PrincipalKind.integration:
        if Scope.cases_read not in principal.scopes:
            raise PermissionDenied("API key lacks scope cases:read")
        return principal.municipality_code, None
    if principal.kind is PrincipalKind.account and principal.role is Role.clerk:
        return None, principal.post_office_id
    if principal.kind is PrincipalKind.account and principal.role in (Role.officer, Role.supervisor):
        return principal.municipality_code, None
    # Admins configure the system and auditors read the audit trail; neither reads cases (docs/domain.md §B1).
    raise PermissionDenied(f"a {principal.actor_label} may not read cases")


async def get_for(session: AsyncSession, *, principal: Principal, case_id: str) -> Case:
    """The case if `principal` may see it; a foreign case is indistinguishable from a missing one (404)."""
    municipality_code, post_office_id = visible_scope(principal)
    case = await repository.get(session, case_id)
    if (
        case is None
        or (municipality_code is not None and case.municipality_code != municipality_code)
        or (post_office_id is not None and case.post_office_id != post_office_id)
    ):
        raise CaseNotFound()
    return case


async def list_for(
    session: AsyncSession,
    *,
    principal: Principal,
    states: Sequence[CaseState] | None,
    procedure: Procedure | None,
    after: Cursor | None,
    limit: int,
) -> Sequence[Case]:
    """A page of the cases `principal` may see."""
    municipality_code, post_office_id = visible_scope(principal)
    return await repository.page(
        session,
        municipality_code=municipality_code,
        post_office_id=post_office_id,
        states=[s.value for s in states] if states else None,
        procedure=procedure.value if procedure else None,
        after=after,
        limit=limit,
    )


def _enter(
    session: AsyncSession,
    case: Case,
    state: CaseState,
    action: str,
    principal: Principal,
    reason_code: str | None,
) -> None:
    now = clock.now()
    case.state = state.value
    case.state_entered_at = now
    case.updated_at = now
    session.add(
        CaseStateEntry(
            case_id=case.id,
            state=state.value,
            action=action,
            actor_kind=principal.actor_label,
            actor_id=principal.id,
            reason_code=reason_code,
            entered_at=now,
        )
    )


async def create(
    session: AsyncSession,
    *,
    principal: Principal,
    municipality_code: str,
    procedure: Procedure,
    shinseisho_id: str | None,
    tz: ZoneInfo,
) -> Case:
    """Open a case at the device's post office for an applicant of `municipality_code`."""
    if principal.kind is not PrincipalKind.device or principal.post_office_id is None:
        raise NotAllowedForActor("cases are opened by the clerk-agent device at the counter")
    if procedure in FORM_ID_PROCEDURES and shinseisho_id is None:
        raise InvalidCase("this procedure needs the 23-digit 申請書ID")
    designation = await tenancy_service.designation_in_force(
        session,
        municipality_code=municipality_code,
        post_office_id=principal.post_office_id,
        procedure=procedure,
        tz=tz,
    )
    if (
        shinseisho_id is not None
        and await repository.by_active_shinseisho_id(session, shinseisho_id) is not None
    ):
        raise ShinseishoIdInUse()
    office = await session.get(PostOffice, principal.post_office_id)
    if office is None:  # pragma: no cover - a designation in force names an existing office
        raise NotAllowedForActor("the device's post office is unknown")
    return await _open(
        session,
        principal=principal,
        case_id=random_id("case"),
        municipality_code=municipality_code,
        office=office,
        designation=designation,
        procedure=procedure,
        shinseisho_id=shinseisho_id,
        channel="counter",
        tz=tz,
    )


async def _open(
    session: AsyncSession,
    *,
    principal: Principal,
    case_id: str,
    municipality_code: str,
    office: PostOffice,
    designation: Designation,
    procedure: Procedure,
    shinseisho_id: str | None,
    channel: str,
    tz: ZoneInfo,
) -> Case:
    """The new draft case with its 受付番号, first state entry and audit row (a counter's or a booth's)."""
    now = clock.now()
    label, day = await reference.assign(
        session, post_office_id=office.id, office_code=office.office_code, at=now, tz=tz
    )
    case = Case(
        id=case_id,
        reference=label,
        reference_day=day,
        municipality_code=municipality_code,
        post_office_id=office.id,
        designation_id=designation.id,
        procedure=procedure.value,
        state=CaseState.draft.value,
        shinseisho_id=shinseisho_id,
        active_shinseisho_id=shinseisho_id,
        created_by_device_id=principal.id,
        channel=channel,
        created_at=now,
        updated_at=now,
        state_entered_at=now,
    )
    session.add(case)
    _enter(session, case, CaseState.draft, "create", principal, None)
    try:
        await session.flush()
    except IntegrityError as exc:
        # Two devices racing on one 申請書ID (or a booth case id sent twice at once): the unique index decides.
        raise ShinseishoIdInUse() from exc
    await audit.record(
        session,
        actor=principal,
        action="case.created",
        municipality_code=case.municipality_code,
        case_id=case.id,
        to_state=case.state,
        reason_code="booth" if channel == "booth" else None,
    )
    return case


async def create_at_booth(
    session: AsyncSession,
    *,
    principal: Principal,
    case_id: str,
    municipality_code: str,
    designation: Designation,
    procedure: Procedure,
    shinseisho_id: str,
    tz: ZoneInfo,
) -> Case:
    """Open a booth case (channel `booth`) under the id the booth laptop gave it offline (docs/booths.md).

    The booth's schedule stands in for the designation's hours (the booth service checked the dates); the case
    is filed under the host municipality's designation of the office.
    """
    if principal.kind is not PrincipalKind.device or principal.post_office_id != designation.post_office_id:
        raise NotAllowedForActor("booth cases are opened by the booth's own laptop")
    if await repository.get(session, case_id) is not None:
        raise ShinseishoIdInUse("a case with this id exists already")
    if await repository.by_active_shinseisho_id(session, shinseisho_id) is not None:
        raise ShinseishoIdInUse()
    office = await session.get(PostOffice, designation.post_office_id)
    if office is None:  # pragma: no cover - a designation names an existing office
        raise NotAllowedForActor("the booth's post office is unknown")
    return await _open(
        session,
        principal=principal,
        case_id=case_id,
        municipality_code=municipality_code,
        office=office,
        designation=designation,
        procedure=procedure,
        shinseisho_id=shinseisho_id,
        channel="booth",
        tz=tz,
    )


async def act(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    action: Action,
    reason_code: str | None,
    attested: bool,
    expected_version: int | None,
    answers: EligibilityAnswers | None,
    settings: Settings,
    via_offer: bool = False,
    via_pin_request: bool = False,
    via_booth: bool = False,
) -> Case:
    """Take `action` on `case` (already tenant-checked) after every guard; one audit row per committed transition.

    The one place a case changes state after creation: every effect the transition has (the state entry, the
    audit row, a hold the decision's reason requires, the outbox event, the queue's offers and the officer's
    wrap-up) is written here, in the caller's transaction, so no path that moves a case can skip one.
    An officer takes a case only through the queue's offer (`via_offer`), never by picking it. A booth case
    (`via_booth`, service/booths) is reviewed in person: the booth's schedule replaces the designation's hours and
    the officer's face-to-face checklist replaces the live video (docs/booths.md §Decision).
    """
    tz = ZoneInfo(settings.timezone)
    actor = actor_of(principal)
    procedure = Procedure(case.procedure)
    source = CaseState(case.state)
    if expected_version is not None and expected_version != case.version:
        raise VersionConflict(f"case is at version {case.version}, not {expected_version}")
    try:
        transition = plan(
            state=source,
            action=action,
            actor=actor,
            procedure=procedure,
            reason_code=reason_code,
            attested=attested,
        )
    except LifecycleError as exc:
        raise {
            "wrong_actor": NotAllowedForActor,
            "wrong_procedure": ProcedureMismatch,
            "wrong_state": WrongState,
            "bad_reason": ReasonRequired,
            "attestation_required": AttestationRequired,
        }[exc.kind](str(exc)) from exc
    if action is Action.review_in_person and not via_booth:
        raise BoothOnly()
    if actor is Actor.officer and action is Action.review_in_person:
        case.officer_id = principal.id
    elif actor is Actor.officer and action is not Action.accept and case.officer_id != principal.id:
        raise NotAssigned()
    if action is Action.accept and not via_offer:
        raise OfferRequired()
    if action is Action.seal_pin_request and not via_pin_request:
        raise PinRequestRequired()
    if action is Action.approve:
        # Only a complete review, with the applicant continuously in view since the evidence, may be approved.
        await review_service.require_ready(session, case=case, in_person=via_booth)
    if transition.needs_designation and not via_booth:
        await tenancy_service.designation_in_force(
            session,
            municipality_code=case.municipality_code,
            post_office_id=case.post_office_id,
            procedure=procedure,
            tz=tz,
        )
    if action is Action.precheck:
        if answers is None:
            raise InvalidCase("precheck needs the eligibility answers")
        reasons = ineligibility_reasons(answers, procedure)
        # Consents already recorded (consents.py) stay when the answers are given again.
        kept = (
            {"consents": case.precheck["consents"]} if case.precheck and "consents" in case.precheck else {}
        )
        case.precheck = {"answers": answers.model_dump(), "eligible": not reasons, "reasons": reasons, **kept}
    elif answers is not None:
        raise InvalidCase(f"{action.value} takes no eligibility answers")
    if action in (Action.request_verification, Action.complete) and not (case.precheck or {}).get("eligible"):
        raise NotEligible("; ".join((case.precheck or {}).get("reasons", [])) or "pre-check not passed")
    if action is Action.request_verification:
        # Recording, ID copies and PIN entry are agreed to before the officer is called (consents.py).
        consents.require_given(case)
    if action is Action.withdraw:
        # Before the case row and the audit chain head: in the order an officer's decline or accept takes them
        # (offer, then head or case). Taken the other way round, a withdrawal and a decline at one moment
        # deadlocked, and PostgreSQL broke it only after deadlock_timeout (1 s) by failing one of them (#18).
        await queue_dispatch.lock_pending_offers(session, case)
    if action is Action.accept:
        case.officer_id = principal.id
    if action is Action.requeue:
        case.officer_id = None
    if action is Action.abort:
        # The next call is reviewed afresh: video continuity, liveness and checklist of this call no longer count.
        await review_service.restart(session, case=case)
    if action in DECISIONS:
        case.decision = DECISIONS[action]
    if reason_code is not None:
        case.reason_code = reason_code
    target = transition.target
    if target in TERMINAL_STATES:
        case.active_shinseisho_id = None
    _enter(session, case, target, action.value, principal, reason_code)
    try:
        await session.flush()
    except StaleDataError as exc:
        raise VersionConflict("another user changed this case at the same moment") from exc
    await audit.record(
        session,
        actor=principal,
        action=f"case.{action.value}",
        municipality_code=case.municipality_code,
        case_id=case.id,
        from_state=source.value,
        to_state=target.value,
        reason_code=reason_code,
    )
    if action is Action.reject and reason_code is not None:
        await retention.hold_on_decision(session, principal=principal, case=case, reason_code=reason_code)
    await outbox_service.on_case_transition(
        session, case=case, action=action, from_state=source, to_state=target
    )
    await queue_dispatch.on_transition(
        session, case=case, action=action, principal=principal, settings=settings
    )
    return case


async def history(session: AsyncSession, case: Case) -> Sequence[CaseStateEntry]:
    """When the case entered each state."""
    return await repository.history(session, case.id)
