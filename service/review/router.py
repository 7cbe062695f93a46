"""Review endpoints for the assigned officer: liveness challenges, checklist, video status; review state."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.accounts.deps import CurrentPrincipal
from service.cases.deps import VisibleCase
from service.cases.exceptions import CaseNotFound, NotAssigned
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.evidence import service as evidence_service
from service.evidence.runtime import EvidenceRuntime
from service.review import notes
from service.review import service as review_service
from service.review.schemas import (
    Checklist,
    LivenessIssued,
    LivenessRead,
    LivenessResult,
    NoteCreate,
    NoteRead,
    ReviewRead,
    VideoStatus,
)
from service.review.service import LivenessNotFound, ReviewClosed

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["review"])
_ERRORS = problem_responses(Unauthenticated, PermissionDenied, NotAssigned, CaseNotFound, ReviewClosed)


@router.post("/liveness-challenges", response_model=LivenessIssued, status_code=201, responses=_ERRORS)
async def issue_liveness(
    case: VisibleCase, session: DBSession, principal: CurrentPrincipal
) -> LivenessIssued:
    """A random phrase and gesture to ask the applicant for, generated per case."""
    return await review_service.issue_liveness(session, principal=principal, case=case)


@router.post(
    "/liveness-challenges/{challenge_id}/result",
    response_model=LivenessRead,
    responses={**_ERRORS, **problem_responses(LivenessNotFound)},
)
async def liveness_result(
    case: VisibleCase,
    challenge_id: str,
    body: LivenessResult,
    session: DBSession,
    principal: CurrentPrincipal,
) -> LivenessRead:
    """Whether the applicant did what the challenge asked."""
    challenge = await review_service.record_liveness(
        session, principal=principal, case=case, challenge_id=challenge_id, passed=body.passed
    )
    return LivenessRead.model_validate(challenge)


@router.put("/checklist", response_model=ReviewRead, responses=_ERRORS)
async def put_checklist(
    case: VisibleCase, body: Checklist, session: DBSession, principal: CurrentPrincipal
) -> ReviewRead:
    """The municipality's checklist as the officer answered it."""
    await review_service.set_checklist(session, principal=principal, case=case, checklist=body)
    return await review_service.status(session, case=case)


@router.post("/video-status", response_model=ReviewRead, responses=_ERRORS)
async def video_status(
    case: VisibleCase, body: VideoStatus, session: DBSession, principal: CurrentPrincipal
) -> ReviewRead:
    """The console reports the counter's video live or lost (a loss means redoing liveness and chip evidence)."""
    await review_service.video_status(session, principal=principal, case=case, state=body.state)
    return await review_service.status(session, case=case)


@router.get("/review", response_model=ReviewRead, responses=_ERRORS)
async def read_review(case: VisibleCase, session: DBSession, principal: CurrentPrincipal) -> ReviewRead:
    """The review so far and what approval still needs (assigned officer or supervisor)."""
    evidence_service.require_evidence_reader(principal, case)
    return await review_service.status(session, case=case)


def _runtime(request: Request) -> EvidenceRuntime:
    runtime: EvidenceRuntime = request.app.state.evidence
    return runtime


@router.post("/notes", response_model=NoteRead, status_code=201, responses=_ERRORS)
async def add_note(
    case: VisibleCase, body: NoteCreate, request: Request, session: DBSession, principal: CurrentPrincipal
) -> NoteRead:
    """A note on the case (assigned officer or supervisor); stored encrypted, append-only, audited without text."""
    return await notes.add_note(
        session, principal=principal, case=case, text=body.text, runtime=_runtime(request)
    )


@router.get("/notes", response_model=list[NoteRead], responses=_ERRORS)
async def list_notes(
    case: VisibleCase, request: Request, session: DBSession, principal: CurrentPrincipal
) -> list[NoteRead]:
    """The case's notes, oldest first (assigned officer or supervisor; the reading is audited)."""
    return await notes.list_notes(session, principal=principal, case=case, runtime=_runtime(request))
