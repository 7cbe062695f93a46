"""Chip evidence endpoints: the counter uploads a readout; the officer views the verified document."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.accounts.deps import AppSettings, CurrentPrincipal
from service.cases.deps import VisibleCase
from service.cases.exceptions import CaseNotFound
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.evidence.exceptions import EvidenceClosed, EvidenceNotFound, EvidenceUnreadable
from service.evidence.runtime import EvidenceRuntime
from service.idchips import service as chip_service
from service.idchips.exceptions import ChipKindUnsupported, MalformedReadout
from service.idchips.schemas import ChipDocumentView
from service.wire.idchips import ChipReadout, ChipVerificationRead

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["evidence"])


def _runtime(request: Request) -> EvidenceRuntime:
    runtime: EvidenceRuntime = request.app.state.evidence
    return runtime


@router.post(
    "/chip-readouts",
    response_model=ChipVerificationRead,
    status_code=201,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, CaseNotFound, EvidenceClosed, MalformedReadout, ChipKindUnsupported
    ),
)
async def submit_chip_readout(
    case: VisibleCase,
    body: ChipReadout,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
) -> ChipVerificationRead:
    """Counter device: an ID document's chip objects; verified and recorded whatever the outcome (each check named)."""
    item, _ = await chip_service.submit_readout(
        session,
        principal=principal,
        case=case,
        readout=body,
        runtime=_runtime(request),
        secret=settings.secret_key.get_secret_value(),
    )
    return chip_service.verification_read(item)


@router.get(
    "/evidence/{evidence_id}/chip-document",
    response_model=ChipDocumentView,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, CaseNotFound, EvidenceNotFound, EvidenceUnreadable
    ),
)
async def view_chip_document(
    case: VisibleCase, evidence_id: str, request: Request, session: DBSession, principal: CurrentPrincipal
) -> ChipDocumentView:
    """Assigned officer or supervisor: the chip's checks, holder fields and photo (each view is audited)."""
    return await chip_service.view_document(
        session, principal=principal, case=case, evidence_id=evidence_id, runtime=_runtime(request)
    )
