"""Card-management relay endpoints: the counter device relays the issuer's commands to the card and back."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from service.accounts.deps import CurrentPrincipal
from service.cardadmin import service
from service.cardadmin.exceptions import (
    AlreadyDone,
    CardAdminJobNotFound,
    CardAdminNotAllowed,
    NotACounterDevice,
    StaleRun,
)
from service.cardadmin.issuer import JpkiIssuerSimulator
from service.cardadmin.service import CardAdminRuntime
from service.cases.deps import VisibleCase
from service.cases.exceptions import CaseNotFound
from service.config import Environment, Settings
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.wire.cardadmin import CardAdminRead, RelayAnswers, RelayStart, RelayTurn

router = APIRouter(prefix="/api/v1", tags=["card-admin"])

_ERRORS = (Unauthenticated, PermissionDenied, CaseNotFound, NotACounterDevice, CardAdminNotAllowed)


def runtime_of(request: Request) -> CardAdminRuntime:
    """The app's card-management runtime (see `app_runtime`)."""
    return app_runtime(request.app)


def app_runtime(app: FastAPI) -> CardAdminRuntime:
    """The app's card-management runtime, built on first use (the simulator issuer outside production)."""
    runtime: CardAdminRuntime | None = getattr(app.state, "card_admin", None)
    if runtime is None:
        settings: Settings = app.state.settings
        if settings.environment is Environment.production or settings.dev_pki_dir is None:
            raise CardAdminNotAllowed("no JPKI issuer is configured on this hub")
        evidence = app.state.evidence
        runtime = CardAdminRuntime(
            issuer=JpkiIssuerSimulator(settings.dev_pki_dir),
            keyring=evidence.keyring,
            trust=evidence.trust,
            allow_test_roots=evidence.allow_test_roots,
        )
        app.state.card_admin = runtime
    return runtime


@router.post(
    "/cases/{case_id}/card-admin/runs",
    response_model=RelayTurn,
    status_code=201,
    responses=problem_responses(*_ERRORS, AlreadyDone),
)
async def start_run(
    case: VisibleCase, body: RelayStart, request: Request, session: DBSession, principal: CurrentPrincipal
) -> RelayTurn:
    """Counter device: start (or restart after an interruption) the case's card management; the first commands."""
    return await service.start(
        session, principal=principal, case=case, body=body, runtime=runtime_of(request)
    )


@router.post(
    "/cases/{case_id}/card-admin/runs/{run_id}/answers",
    response_model=RelayTurn,
    responses=problem_responses(*_ERRORS, CardAdminJobNotFound, StaleRun),
)
async def relay_answers(
    case: VisibleCase,
    run_id: str,
    body: RelayAnswers,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
) -> RelayTurn:
    """Counter device: the card's answers to the last commands; the next commands, or the end of the run."""
    return await service.answer(
        session,
        principal=principal,
        case=case,
        run_id=run_id,
        responses=body.responses,
        runtime=runtime_of(request),
    )


@router.get(
    "/cases/{case_id}/card-admin",
    response_model=CardAdminRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound, CardAdminJobNotFound),
)
async def read_job(case: VisibleCase, session: DBSession, principal: CurrentPrincipal) -> CardAdminRead:
    """The case's card management: what the card holds and how the runs went (no key, PIN or certificate)."""
    return await service.get(session, principal=principal, case=case)
