"""Rules of the officer's resident-record check: the assigned officer asks, the hub keeps the match result only."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cases.exceptions import NotAssigned
from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.errors import PermissionDenied
from service.evidence import service as evidence_service
from service.integrations import repository
from service.integrations.exceptions import ResidentCheckClosed, ResidentCheckUnavailable
from service.integrations.models import ResidentCheck
from service.integrations.resident import PresentedAttributes, ResidentCheckError, ResidentRecordAdapter
from service.kit import clock
from service.kit.ids import random_id

# The officer compares attributes while the applicant is live and during the review (docs/domain.md §B3).
CHECK_STATES = frozenset({CaseState.session_live, CaseState.evidence_captured, CaseState.officer_review})


def require_assigned_officer(principal: Principal, case: Case) -> None:
    """Only the officer assigned to the case looks the applicant up (the evidence rule, without supervisors)."""
    evidence_service.require_evidence_reader(principal, case)
    if principal.kind is not PrincipalKind.account or principal.role is not Role.officer:
        raise PermissionDenied("only the officer assigned to the case looks up the resident record")
    if case.officer_id != principal.id:
        raise NotAssigned()


async def check(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    presented: PresentedAttributes,
    adapter: ResidentRecordAdapter | None,
) -> ResidentCheck:
    """Ask the resident-record system; store and audit the per-attribute result, drop everything else."""
    require_assigned_officer(principal, case)
    if CaseState(case.state) not in CHECK_STATES:
        raise ResidentCheckClosed(f"no resident-record check in state {case.state}")
    if adapter is None:
        raise ResidentCheckUnavailable("no resident-record adapter is configured")
    try:
        results = await adapter.check(
            municipality_code=case.municipality_code,
            shinseisho_id=case.shinseisho_id or "",
            presented=presented,
        )
    except ResidentCheckError as exc:
        raise ResidentCheckUnavailable(str(exc)) from exc
    row = ResidentCheck(
        id=random_id("rck"),
        case_id=case.id,
        officer_id=principal.id,
        record_found=results is not None,
        results={k.value: v.value for k, v in (results or {}).items()},
        checked_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    mismatched = sorted(k for k, v in row.results.items() if v != "match")
    await audit.record(
        session,
        actor=principal,
        action="resident_check.lookup",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="resident_check",
        object_id=row.id,
        # Which attributes failed is a code list, not personal data
        # (docs/domain.md §B7: record which attribute failed).
        reason_code=(
            "not_found"
            if results is None
            else ("mismatch:" + ",".join(mismatched))
            if mismatched
            else "match"
        )[:60],
    )
    return row


async def results(session: AsyncSession, *, principal: Principal, case: Case) -> Sequence[ResidentCheck]:
    """Earlier check results of the case, for its assigned officer or a supervisor (audited as a view)."""
    evidence_service.require_evidence_reader(principal, case)
    rows = await repository.resident_checks(session, case.id)
    await audit.record(
        session,
        actor=principal,
        action="resident_check.viewed",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="resident_check",
    )
    return rows
