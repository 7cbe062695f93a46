"""Case endpoints: create (clerk device), list and read (by role and tenant), one endpoint per action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from service.accounts.deps import AppSettings, CasesReader, CasesWriter, CurrentPrincipal
from service.accounts.models import Account
from service.cases import consents
from service.cases import service as case_service
from service.cases.consents import ConsentsGiven
from service.cases.deps import ReadableCase, VisibleCase, WritableCase
from service.cases.exceptions import (
    CaseNotFound,
    InvalidCase,
    NotAllowedForActor,
    ShinseishoIdInUse,
    VersionConflict,
)
from service.cases.lifecycle import TRANSITIONS, Action, CaseState
from service.cases.models import Case
from service.cases.schemas import (
    ACTION_DOCS,
    ActionRequest,
    CaseCreate,
    CaseOfficerRead,
    CaseRead,
    CaseStateEntryRead,
)
from service.certificates import counter as certificate_requests
from service.certificates.exceptions import CertificateSystemUnavailable, ChoiceRefused
from service.certificates.runtime import CertificateRuntime
from service.db import DBSession
from service.errors import (
    BadRequest,
    Conflict,
    InvalidTransition,
    PermissionDenied,
    Unauthenticated,
    problem_responses,
)
from service.idempotency import http as idempotent
from service.idempotency.deps import IdempotencyKey
from service.kit.pagination import Cursor, InvalidCursor, Page
from service.tenancy.codes import Procedure
from service.tenancy.exceptions import DesignationNotInForce
from service.tenancy.models import Municipality
from service.wire.cases import CERTIFICATE_PROCEDURES
from service.wire.certificates import CounterChoice

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


async def _read(session: DBSession, case: Case) -> CaseRead:
    """The case as answered; a certificate request carries what is asked for (docs/certificates.md)."""
    read = CaseRead.model_validate(case)
    if Procedure(case.procedure) in CERTIFICATE_PROCEDURES:
        read.certificate = await certificate_requests.view(session, case)
    return read


def _certificate_choice(procedure: Procedure, choice: CounterChoice | None) -> CounterChoice | None:
    if (procedure in CERTIFICATE_PROCEDURES) != (choice is not None):
        raise InvalidCase("a certificate request, and only a certificate request, names the certificate")
    return choice


@router.post(
    "",
    response_model=CaseRead,
    status_code=201,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        DesignationNotInForce,
        ShinseishoIdInUse,
        InvalidCase,
        ChoiceRefused,
    ),
)
async def create_case(
    body: CaseCreate,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Open a case at the device's post office (clerk-agent device only). Supports Idempotency-Key."""

    async def run() -> dict[str, object]:
        choice = _certificate_choice(body.procedure, body.certificate)
        case = await case_service.create(
            session,
            principal=principal,
            municipality_code=body.municipality_code,
            procedure=body.procedure,
            shinseisho_id=body.shinseisho_id,
            tz=ZoneInfo(settings.timezone),
        )
        if choice is not None:
            await certificate_requests.record_request(session, principal=principal, case=case, choice=choice)
        return (await _read(session, case)).model_dump(mode="json")

    return await idempotent.respond(
        session,
        request=request,
        principal=principal,
        key=idempotency_key,
        body=body,
        status_code=201,
        run=run,
    )


@router.get(
    "",
    response_model=Page[CaseRead],
    responses=problem_responses(Unauthenticated, PermissionDenied, BadRequest),
)
async def list_cases(
    session: DBSession,
    principal: CasesReader,
    state: Annotated[list[CaseState] | None, Query(description="Filter by state (repeatable)")] = None,
    procedure: Procedure | None = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[CaseRead]:
    """Cases the caller may see, newest first, with cursor pagination."""
    try:
        after = Cursor.decode(cursor) if cursor else None
    except InvalidCursor as exc:
        raise BadRequest("invalid cursor") from exc
    rows = await case_service.list_for(
        session, principal=principal, states=state, procedure=procedure, after=after, limit=limit + 1
    )
    items = [CaseRead.model_validate(r) for r in rows[:limit]]
    next_cursor = (
        Cursor(rows[limit - 1].created_at, rows[limit - 1].id).encode() if len(rows) > limit else None
    )
    return Page[CaseRead](items=items, next_cursor=next_cursor)


@router.get(
    "/{case_id}",
    response_model=CaseRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def read_case(case: ReadableCase, session: DBSession) -> CaseRead:
    """One case, if the caller may see it (a foreign case is 404)."""
    return await _read(session, case)


@router.get(
    "/{case_id}/officer",
    response_model=CaseOfficerRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def case_officer(case: ReadableCase, session: DBSession) -> CaseOfficerRead:
    """The officer verifying the case and their municipality, by the names the hub keeps (the counter shows them)."""
    officer = await session.get(Account, case.officer_id) if case.officer_id else None
    municipality = await session.get(Municipality, case.municipality_code)
    return CaseOfficerRead(
        display_name=officer.display_name if officer else None,
        municipality_code=case.municipality_code,
        municipality_name=municipality.name if municipality else None,
    )


@router.get(
    "/{case_id}/history",
    response_model=list[CaseStateEntryRead],
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def case_history(case: ReadableCase, session: DBSession) -> list[CaseStateEntryRead]:
    """When the case entered each state."""
    return [CaseStateEntryRead.model_validate(e) for e in await case_service.history(session, case)]


def _action_endpoint(action: Action) -> Callable[..., Awaitable[JSONResponse]]:
    async def endpoint(
        case: WritableCase,
        body: ActionRequest,
        request: Request,
        session: DBSession,
        principal: CasesWriter,
        settings: AppSettings,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        # With an Idempotency-Key a replayed action (a counter resending after a lost answer) gets the
        # first answer back instead of a wrong-state 409, and is not applied twice.
        async def run() -> dict[str, object]:
            certificate = Procedure(case.procedure) in CERTIFICATE_PROCEDURES
            if body.resident_id is not None and not (certificate and action is Action.approve):
                raise InvalidCase("resident_id is given only with the approval of a certificate request")
            if certificate and action is Action.approve and body.resident_id is None:
                raise InvalidCase("approving a certificate request names the resident record confirmed")
            updated = await case_service.act(
                session,
                principal=principal,
                case=case,
                action=action,
                reason_code=body.reason_code,
                attested=body.attested,
                expected_version=body.expected_version,
                answers=body.answers,
                settings=settings,
            )
            # After every guard of the transition (only the assigned officer approves, after a complete review).
            if certificate and action is Action.approve and body.resident_id is not None:
                runtime: CertificateRuntime = request.app.state.certificates
                await certificate_requests.issue_on_approval(
                    session, principal=principal, case=updated, resident_id=body.resident_id, runtime=runtime
                )
            elif certificate and action in certificate_requests.CLOSING_ACTIONS:
                await certificate_requests.close_without_issue(
                    session, principal=principal, case=updated, action=action
                )
            return (await _read(session, updated)).model_dump(mode="json")

        return await idempotent.respond(
            session,
            request=request,
            principal=principal,
            key=idempotency_key,
            body=body,
            status_code=200,
            run=run,
        )

    endpoint.__name__ = f"case_{action.value}"
    endpoint.__doc__ = ACTION_DOCS[action]
    return endpoint


def action_path(action: Action) -> str:
    """The URL path segment of an action, e.g. `request-verification`."""
    return action.value.replace("_", "-")


for _action in TRANSITIONS:
    router.add_api_route(
        f"/{{case_id}}/{action_path(_action)}",
        _action_endpoint(_action),
        methods=["POST"],
        response_model=CaseRead,
        name=f"case_{_action.value}",
        summary=ACTION_DOCS[_action],
        responses=problem_responses(
            Unauthenticated,
            PermissionDenied,
            NotAllowedForActor,
            CaseNotFound,
            InvalidTransition,
            VersionConflict,
            Conflict,
            InvalidCase,
            CertificateSystemUnavailable,
        ),
    )


@router.post(
    "/{case_id}/consents",
    response_model=CaseRead,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, NotAllowedForActor, CaseNotFound, InvalidTransition, InvalidCase
    ),
)
async def record_consents(
    case: VisibleCase, body: ConsentsGiven, session: DBSession, principal: CurrentPrincipal
) -> CaseRead:
    """Counter device, before verification: the applicant's consents with the versions shown (audited)."""
    return await _read(session, await consents.record(session, principal=principal, case=case, given=body))
