"""Evidence endpoints: card challenges and proofs (counter device), summaries and the card face (officer)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from service.accounts.deps import AppSettings, CurrentPrincipal
from service.cases.deps import VisibleCase
from service.cases.exceptions import CaseNotFound
from service.cases.schemas import CaseRead
from service.db import DBSession
from service.errors import PermissionDenied, TooManyRequests, Unauthenticated, problem_responses
from service.evidence import cardface_view, pin_request, retention, stills
from service.evidence import service as evidence_service
from service.evidence.exceptions import (
    CardFaceUnbound,
    ChallengeExpired,
    ChallengeNotFound,
    ChallengeUsed,
    EvidenceClosed,
    EvidenceNotFound,
    EvidenceUnreadable,
    MalformedProof,
)
from service.evidence.runtime import EvidenceRuntime
from service.evidence.schemas import (
    CardBindingRead,
    CardChallengeIssued,
    CardFaceView,
    CardProofOutcome,
    CardProofSubmit,
    EvidenceList,
    EvidenceRead,
)
from service.idempotency import http as idempotent
from service.idempotency.deps import IdempotencyKey
from service.kit.hashing import sha256_hex
from service.kit.ratelimit import limiter
from service.wire.evidence import HOLD_REASON_LABELS, StillKind
from service.wire.pin_seal import SealedPinRequest

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["evidence"])


def _runtime(request: Request) -> EvidenceRuntime:
    runtime: EvidenceRuntime = request.app.state.evidence
    return runtime


@router.post(
    "/card-challenges",
    response_model=CardChallengeIssued,
    status_code=201,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, CaseNotFound, EvidenceClosed, TooManyRequests
    ),
)
async def issue_card_challenge(
    case: VisibleCase,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
) -> CardChallengeIssued:
    """Counter device: a single-use nonce (5 minutes) for the card-possession proof."""
    if wait := limiter(request, "card_challenge").take(principal.id):
        raise TooManyRequests(
            f"too many card challenges; retry in {wait:.0f} s", retry_after=round(wait + 0.5)
        )
    challenge = await evidence_service.issue_challenge(
        session,
        principal=principal,
        case=case,
        origin=settings.origin,
        ttl_seconds=settings.card_challenge_ttl_seconds,
    )
    return CardChallengeIssued(
        challenge_id=challenge.id,
        nonce=challenge.nonce,
        origin=challenge.origin,
        case_id=case.id,
        expires_at=challenge.expires_at,
    )


@router.post(
    "/card-proofs",
    response_model=CardProofOutcome,
    status_code=201,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        CaseNotFound,
        ChallengeNotFound,
        ChallengeUsed,
        ChallengeExpired,
        MalformedProof,
        EvidenceClosed,
    ),
)
async def submit_card_proof(
    case: VisibleCase,
    body: CardProofSubmit,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
) -> CardProofOutcome:
    """Counter device: the card's signature over the challenge, its certificate and card face; verified by the hub."""
    item, swap = await evidence_service.submit_card_proof(
        session, principal=principal, case=case, body=body, runtime=_runtime(request)
    )
    return CardProofOutcome(evidence=EvidenceRead.model_validate(item), card_swap_detected=swap)


@router.get(
    "/evidence",
    response_model=EvidenceList,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def list_evidence(case: VisibleCase, session: DBSession, principal: CurrentPrincipal) -> EvidenceList:
    """Assigned officer or supervisor: every check and its result (the view is audited)."""
    items, binding = await evidence_service.list_evidence(session, principal=principal, case=case)
    return EvidenceList(
        items=[EvidenceRead.model_validate(i) for i in items],
        card_binding=CardBindingRead.model_validate(binding) if binding else None,
    )


@router.get(
    "/evidence/{evidence_id}/card-face",
    response_model=CardFaceView,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        CaseNotFound,
        EvidenceNotFound,
        CardFaceUnbound,
        EvidenceUnreadable,
    ),
)
async def view_card_face(
    case: VisibleCase, evidence_id: str, request: Request, session: DBSession, principal: CurrentPrincipal
) -> CardFaceView:
    """Assigned officer or supervisor: the chip's face photo and attributes (each view is audited)."""
    return await cardface_view.view_card_face(
        session, principal=principal, case=case, evidence_id=evidence_id, runtime=_runtime(request)
    )


# The hold reasons of the contract (service/wire/evidence.py), in their order.
HOLD_REASON_PATTERN = "^(" + "|".join(HOLD_REASON_LABELS) + ")$"


class HoldRequest(BaseModel):
    reason_code: str = Field(pattern=HOLD_REASON_PATTERN)


class HoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    reason_code: str
    set_by: str
    set_at: dt.datetime


@router.post(
    "/legal-hold",
    response_model=HoldRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def set_legal_hold(
    case: VisibleCase, body: HoldRequest, session: DBSession, principal: CurrentPrincipal
) -> HoldRead:
    """Flag the case: its evidence is kept past retention (e.g. suspected impersonation).

    A supervisor, or the officer assigned to the case (`suspected_impersonation` or `coercion` only); only a
    supervisor lifts a hold.
    """
    return HoldRead.model_validate(
        await retention.set_hold(session, principal=principal, case=case, reason_code=body.reason_code)
    )


@router.delete(
    "/legal-hold",
    status_code=204,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def release_legal_hold(case: VisibleCase, session: DBSession, principal: CurrentPrincipal) -> None:
    """Supervisor: lift the hold; retention applies again."""
    await retention.release_hold(session, principal=principal, case=case)


@router.post(
    "/stills",
    response_model=EvidenceRead,
    status_code=201,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, CaseNotFound, EvidenceClosed, stills.NotAnImage
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def add_still(
    case: VisibleCase,
    kind: StillKind,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Counter device: a document still or the application photo at full camera resolution (JPEG/PNG only).

    With an Idempotency-Key a resent still (the counter replaying after a lost answer) is stored once."""
    data = await request.body()
    content_type = request.headers.get("content-type", "")

    async def run() -> dict[str, object]:
        item = await stills.add_still(
            session,
            principal=principal,
            case=case,
            kind=kind,
            data=data,
            content_type=content_type,
            runtime=_runtime(request),
        )
        return EvidenceRead.model_validate(item).model_dump(mode="json")

    return await idempotent.respond(
        session,
        request=request,
        principal=principal,
        key=idempotency_key,
        body=_StillFingerprint(case_id=case.id, kind=kind.value, sha256=sha256_hex(data)),
        status_code=201,
        run=run,
    )


class _StillFingerprint(BaseModel):
    """What makes two still uploads the same request (the image by its digest, not its bytes)."""

    case_id: str
    kind: str
    sha256: str


@router.get(
    "/stills/{evidence_id}",
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}}},
        **problem_responses(Unauthenticated, PermissionDenied, CaseNotFound, EvidenceNotFound),
    },
    response_class=Response,
)
async def view_still(
    case: VisibleCase, evidence_id: str, request: Request, session: DBSession, principal: CurrentPrincipal
) -> Response:
    """Assigned officer or supervisor: the still itself (each view is audited)."""
    data, media_type = await stills.view_still(
        session, principal=principal, case=case, evidence_id=evidence_id, runtime=_runtime(request)
    )
    return Response(data, media_type=media_type, headers={"cache-control": "no-store"})


class PinRequestSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sealed: SealedPinRequest | None = Field(
        default=None, description="The applicant's PINs sealed to the municipality's key"
    )
    face_auth: bool = Field(default=False, description="顔認証マイナンバーカード: no PINs")
    old_card: pin_request.OldCard | None = Field(
        default=None,
        description="Renewals: what happens to the current card (default: the municipality's policy, else returned)",
    )


@router.post(
    "/pin-request",
    response_model=CaseRead,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        CaseNotFound,
        pin_request.NoSealingKey,
        pin_request.WrongSealingKey,
        pin_request.ApplicationPhotoMissing,
    ),
)
async def submit_pin_request(
    case: VisibleCase,
    body: PinRequestSubmit,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
) -> CaseRead:
    """Counter device, after approval: the sealed PIN request (or 顔認証); the case becomes pin_request_sealed."""
    updated = await pin_request.finalize(
        session,
        principal=principal,
        case=case,
        sealed=body.sealed,
        face_auth=body.face_auth,
        old_card=body.old_card,
        runtime=_runtime(request),
        settings=settings,
    )
    return CaseRead.model_validate(updated)
