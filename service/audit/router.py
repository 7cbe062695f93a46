"""Audit endpoints for a municipality's auditor (and integration clients with audit:read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.accounts.deps import AuditReader
from service.accounts.roles import Principal, PrincipalKind, Role, Scope
from service.audit import repository
from service.audit import service as audit_service
from service.audit.schemas import AuditEventRead, AuditPage, ChainStatus
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.kit.bounds import Seq

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


def _auditable_chain(principal: Principal) -> str:
    """The one chain the caller may read: its municipality's."""
    if (
        principal.kind is PrincipalKind.account
        and principal.role is Role.auditor
        and principal.municipality_code
    ):
        return principal.municipality_code
    if (
        principal.kind is PrincipalKind.integration
        and Scope.audit_read in principal.scopes
        and principal.municipality_code
    ):
        return principal.municipality_code
    raise PermissionDenied("only the municipality's auditor may read its audit trail")


@router.get(
    "/events", response_model=AuditPage, responses=problem_responses(Unauthenticated, PermissionDenied)
)
async def list_events(
    session: DBSession,
    principal: AuditReader,
    after_seq: Annotated[Seq, Query()] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    case_id: Annotated[str | None, Query(max_length=40)] = None,
) -> AuditPage:
    """The municipality's audit events in chain order (auditor)."""
    chain = _auditable_chain(principal)
    rows = await repository.page(session, chain=chain, after_seq=after_seq, limit=limit, case_id=case_id)
    items = [AuditEventRead.model_validate(r) for r in rows]
    return AuditPage(items=items, next_after_seq=items[-1].seq if len(items) == limit else None)


@router.get(
    "/verify", response_model=ChainStatus, responses=problem_responses(Unauthenticated, PermissionDenied)
)
async def verify(session: DBSession, principal: AuditReader) -> ChainStatus:
    """Walk the municipality's chain and report the first broken link (auditor)."""
    chain = _auditable_chain(principal)
    heads = {h.chain: h for h in await repository.chains(session)}
    report = await audit_service.verify_chain(session, chain, heads.get(chain))
    return ChainStatus(
        chain=report.chain,
        rows=report.rows,
        ok=report.ok,
        first_broken_seq=report.first_broken_seq,
        problem=report.problem,
    )
