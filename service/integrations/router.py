"""Back-office REST (integration keys), the officer's resident-record check, and case exports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from service.accounts.deps import AppSettings, CasesReader, CasesWriter, CurrentPrincipal
from service.cases.deps import VisibleCase
from service.cases.exceptions import CaseNotFound, NotAssigned, VersionConflict
from service.db import DBSession
from service.errors import BadRequest, InvalidTransition, PermissionDenied, Unauthenticated, problem_responses
from service.idempotency import http as idempotent
from service.idempotency.deps import IdempotencyKey
from service.idempotency.service import IdempotencyMismatch
from service.integrations import exports, residents
from service.integrations import service as integration_service
from service.integrations.exceptions import (
    HoldNotExpired,
    InvalidPeriod,
    MailAlreadyDispatched,
    MailNotDispatched,
    MailTrackingConflict,
    NotFinalized,
    ResidentCheckClosed,
    ResidentCheckUnavailable,
    TrackingNumberInUse,
)
from service.integrations.resident import PresentedAttributes
from service.integrations.runtime import IntegrationsRuntime
from service.integrations.schemas import (
    Acknowledge,
    AddressChange,
    BackOfficeCaseRead,
    JlisStatusReport,
    MailDispatchCreate,
    MailTrackingUpdate,
    ResidentCheckRead,
    ResidentCheckRequest,
)
from service.kit import clock
from service.kit.bounds import ApiDate
from service.kit.pagination import Page
from service.outbox.router import decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["back office"])

_CASE_ERRORS = (Unauthenticated, PermissionDenied, CaseNotFound)
_WRITE_ERRORS = (*_CASE_ERRORS, InvalidTransition, VersionConflict, IdempotencyMismatch)


def _runtime(request: Request) -> IntegrationsRuntime:
    runtime: IntegrationsRuntime = request.app.state.integrations
    return runtime


@router.get(
    "/integration/finalized-cases",
    response_model=Page[BackOfficeCaseRead],
    responses=problem_responses(Unauthenticated, PermissionDenied, BadRequest),
)
async def finalized_cases(
    session: DBSession,
    principal: CasesReader,
    include_acknowledged: bool = False,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[BackOfficeCaseRead]:
    """Finalized cases (application sealed, ready for J-LIS) in the order they were finalized.

    Unacknowledged only unless `include_acknowledged`; `next_cursor` is always the position after the last item,
    so a poller keeps it and asks again later.
    """
    after = decode_cursor(cursor, int) if cursor else None
    rows = await integration_service.finalized_cases(
        session,
        principal=principal,
        include_acknowledged=include_acknowledged,
        after_seq=int(after[0]) if after else None,
        limit=limit,
    )
    items = [BackOfficeCaseRead.of(view) for _, view in rows]
    next_cursor = encode_cursor(rows[-1][0].seq) if rows else cursor
    return Page[BackOfficeCaseRead](items=items, next_cursor=next_cursor)


@router.get(
    "/integration/cases/{case_id}",
    response_model=BackOfficeCaseRead,
    responses=problem_responses(*_CASE_ERRORS),
)
async def back_office_case(case_id: str, session: DBSession, principal: CasesReader) -> BackOfficeCaseRead:
    """One case with its hand-off, J-LIS and mail records."""
    case = await integration_service.case_for_back_office(session, principal=principal, case_id=case_id)
    return BackOfficeCaseRead.of(await integration_service.view(session, case))


@router.post(
    "/integration/cases/{case_id}/acknowledge",
    response_model=BackOfficeCaseRead,
    responses=problem_responses(*_CASE_ERRORS, NotFinalized, IdempotencyMismatch),
)
async def acknowledge(
    case_id: str,
    body: Acknowledge,
    request: Request,
    session: DBSession,
    principal: CasesWriter,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The back office took the finalized case over (repeat-safe: the first acknowledgement stays)."""
    case = await integration_service.case_for_back_office(
        session, principal=principal, case_id=case_id, write=True
    )

    async def run() -> dict[str, object]:
        await integration_service.acknowledge(
            session, principal=principal, case=case, back_office_ref=body.back_office_ref
        )
        return BackOfficeCaseRead.of(await integration_service.view(session, case)).model_dump(mode="json")

    return await idempotent.respond(
        session,
        request=request,
        principal=principal,
        key=idempotency_key,
        body=body,
        status_code=200,
        run=run,
    )


@router.post(
    "/integration/cases/{case_id}/jlis-status",
    response_model=BackOfficeCaseRead,
    responses=problem_responses(*_WRITE_ERRORS),
)
async def jlis_status(
    case_id: str,
    body: JlisStatusReport,
    request: Request,
    session: DBSession,
    principal: CasesWriter,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Report a J-LIS production step: produced, received_by_municipality or pre_issue_setup_done (交付前設定)."""
    case = await integration_service.case_for_back_office(
        session, principal=principal, case_id=case_id, write=True
    )

    async def run() -> dict[str, object]:
        updated = await integration_service.report_jlis(
            session,
            principal=principal,
            case=case,
            report=body.status,
            receipt_id=body.receipt_id,
            settings=settings,
        )
        return BackOfficeCaseRead.of(await integration_service.view(session, updated)).model_dump(mode="json")

    return await idempotent.respond(
        session,
        request=request,
        principal=principal,
        key=idempotency_key,
        body=body,
        status_code=200,
        run=run,
    )


@router.post(
    "/integration/cases/{case_id}/mail-dispatch",
    response_model=BackOfficeCaseRead,
    status_code=201,
    responses=problem_responses(*_WRITE_ERRORS, MailAlreadyDispatched, TrackingNumberInUse),
)
async def mail_dispatch(
    case_id: str,
    body: MailDispatchCreate,
    request: Request,
    session: DBSession,
    principal: CasesWriter,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The card was mailed by 本人限定受取郵便 (特例型) with this tracking number; the case becomes `mailed`."""
    case = await integration_service.case_for_back_office(
        session, principal=principal, case_id=case_id, write=True
    )

    async def run() -> dict[str, object]:
        await integration_service.dispatch_mail(
            session,
            principal=principal,
            case=case,
            tracking_number=body.tracking_number,
            dispatched_at=body.dispatched_at,
            settings=settings,
        )
        return BackOfficeCaseRead.of(await integration_service.view(session, case)).model_dump(mode="json")

    return await idempotent.respond(
        session,
        request=request,
        principal=principal,
        key=idempotency_key,
        body=body,
        status_code=201,
        run=run,
    )


@router.post(
    "/integration/cases/{case_id}/mail-tracking",
    response_model=BackOfficeCaseRead,
    responses=problem_responses(*_WRITE_ERRORS, MailNotDispatched, MailTrackingConflict, HoldNotExpired),
)
async def mail_tracking(
    case_id: str,
    body: MailTrackingUpdate,
    request: Request,
    session: DBSession,
    principal: CasesWriter,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A tracking update: `held` starts the 10-day hold, `delivered` closes the case, `returned` asks for pickup."""
    case = await integration_service.case_for_back_office(
        session, principal=principal, case_id=case_id, write=True
    )

    async def run() -> dict[str, object]:
        await integration_service.track_mail(
            session,
            principal=principal,
            case=case,
            status=body.status,
            occurred_at=body.occurred_at,
            reason_code=body.reason_code,
            settings=settings,
        )
        return BackOfficeCaseRead.of(await integration_service.view(session, case)).model_dump(mode="json")

    return await idempotent.respond(
        session,
        request=request,
        principal=principal,
        key=idempotency_key,
        body=body,
        status_code=200,
        run=run,
    )


@router.post(
    "/integration/cases/{case_id}/address-change",
    response_model=BackOfficeCaseRead,
    responses=problem_responses(*_WRITE_ERRORS, MailTrackingConflict),
)
async def address_change(
    case_id: str,
    body: AddressChange,
    request: Request,
    session: DBSession,
    principal: CasesWriter,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A move or name change before delivery: the mailing is void and the applicant is referred to the counter."""
    case = await integration_service.case_for_back_office(
        session, principal=principal, case_id=case_id, write=True
    )

    async def run() -> dict[str, object]:
        updated = await integration_service.address_change(
            session,
            principal=principal,
            case=case,
            reason_code=body.reason_code,
            settings=settings,
        )
        return BackOfficeCaseRead.of(await integration_service.view(session, updated)).model_dump(mode="json")

    return await idempotent.respond(
        session,
        request=request,
        principal=principal,
        key=idempotency_key,
        body=body,
        status_code=200,
        run=run,
    )


@router.post(
    "/cases/{case_id}/resident-checks",
    response_model=ResidentCheckRead,
    status_code=201,
    tags=["resident check"],
    responses=problem_responses(*_CASE_ERRORS, NotAssigned, ResidentCheckClosed, ResidentCheckUnavailable),
)
async def resident_check(
    case: VisibleCase,
    body: ResidentCheckRequest,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
) -> ResidentCheckRead:
    """Assigned officer: compare the ID's attributes with the 住基 record; only match/mismatch is kept (audited)."""
    row = await residents.check(
        session,
        principal=principal,
        case=case,
        presented=PresentedAttributes(body.name, body.birth_date, body.sex, body.address),
        adapter=_runtime(request).resident,
    )
    return ResidentCheckRead.model_validate(row)


@router.get(
    "/cases/{case_id}/resident-checks",
    response_model=list[ResidentCheckRead],
    tags=["resident check"],
    responses=problem_responses(*_CASE_ERRORS, NotAssigned),
)
async def resident_checks(
    case: VisibleCase, session: DBSession, principal: CurrentPrincipal
) -> list[ResidentCheckRead]:
    """Earlier check results (assigned officer or supervisor; audited)."""
    rows = await residents.results(session, principal=principal, case=case)
    return [ResidentCheckRead.model_validate(r) for r in rows]


@router.get(
    "/exports/cases",
    tags=["exports"],
    responses={
        200: {
            "description": "The period's cases, minimised",
            "content": {
                "text/csv": {"example": "case_id,post_office_id,procedure,state,...\r\n"},
                "application/json": {},
            },
        },
        **problem_responses(Unauthenticated, PermissionDenied, InvalidPeriod),
    },
)
async def export_cases(
    session: DBSession,
    principal: CasesReader,
    settings: AppSettings,
    period_from: Annotated[
        ApiDate | None,
        Query(alias="from", description="First local date (inclusive); default `to` − 30 days"),
    ] = None,
    period_to: Annotated[
        ApiDate | None, Query(alias="to", description="Last local date (inclusive); default today")
    ] = None,
    format: Literal["csv", "json"] = "csv",
) -> Response:
    """Cases opened in the period (integration key with cases:read, or a supervisor); no personal numbers."""
    tz = ZoneInfo(settings.timezone)
    period_to = period_to or clock.now().astimezone(tz).date()
    period_from = period_from or period_to - dt.timedelta(days=30)
    rows = await exports.export_cases(
        session, principal=principal, first_day=period_from, last_day=period_to, tz=tz
    )
    name = f"cases-{period_from.isoformat()}-{period_to.isoformat()}"
    if format == "json":
        return JSONResponse(
            {
                "from": period_from.isoformat(),
                "to": period_to.isoformat(),
                "cases": [r.as_dict() for r in rows],
            },
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )
    return Response(
        exports.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
