"""Queue endpoints: officer presence and offers, the clerk's queue position, the supervisor's view and reassignment."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service.accounts.deps import AppSettings, CurrentPrincipal, authenticate
from service.cases.deps import VisibleCase
from service.cases.exceptions import CaseNotFound
from service.cases.schemas import CaseRead
from service.db import DBSession, unit_of_work
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.queue import bell
from service.queue import overview as read_model
from service.queue import service as queue_service
from service.queue.exceptions import (
    NotAnOfficer,
    OfferClosed,
    OfferExpired,
    OfferNotFound,
    OfficerBusy,
    ReassignRefused,
)
from service.queue.schemas import (
    OfferDecline,
    OfferRead,
    PresenceRead,
    PresenceUpdate,
    QueueOverview,
    QueuePosition,
    Reassign,
)

router = APIRouter(prefix="/api/v1", tags=["queue"])
# How often a waiting long-poll looks at the database itself for offers made by another hub process, when no offer
# watcher runs in this process (`bell.watch`, started with the app; it looks once for every waiting long-poll).
_POLL_INTERVAL = 1.0


@router.put(
    "/officers/me/presence",
    response_model=PresenceRead,
    responses=problem_responses(Unauthenticated, NotAnOfficer),
)
async def set_presence(
    body: PresenceUpdate, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> PresenceRead:
    """The console's heartbeat (every few seconds) with the officer's status: available, on_break, offline."""
    presence = await queue_service.heartbeat(
        session, principal=principal, status=body.status, settings=settings
    )
    return PresenceRead(
        account_id=presence.account_id,
        status=body.status,
        effective_status=body.status,
        heartbeat_at=presence.heartbeat_at,
        wrapup_until=presence.wrapup_until,
        penalty_until=presence.penalty_until,
    )


@router.get(
    "/officers/me/offer",
    response_model=OfferRead,
    responses={204: {"description": "No offer (yet)"}, **problem_responses(Unauthenticated, NotAnOfficer)},
    # It authenticates inside (no session held across the wait); the document says so all the same.
    openapi_extra={"security": [{"HTTPBearer": []}]},
)
async def my_offer(
    request: Request,
    settings: AppSettings,
    wait: Annotated[float, Query(ge=0, le=25)] = 0,
    shown: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The officer's pending offer; with `wait`, hold the request up to that many seconds until one arrives.

    `shown` is the offer the console is showing: the request then waits until the pending offer is another one
    (200) or there is none any more (204: withdrawn, expired, reassigned), so a console never shows an offer the
    hub has closed while the hub counts its officer free and offers them the next case unseen (#18).
    """
    sessionmaker = request.app.state.sessionmaker
    deadline = time.monotonic() + wait
    # No session is held across the wait: each look is its own short unit of work.
    async with unit_of_work(sessionmaker) as session:
        principal = await authenticate(request, session, settings)
    ring = bell.waiter(principal.id)
    try:
        while True:
            ring.clear()
            async with unit_of_work(sessionmaker) as session:
                body = await queue_service.current_offer(session, principal=principal)
            bell.saw(ring, body.id if body is not None else None)
            if body is not None and body.id != shown:
                return Response(body.model_dump_json(), media_type="application/json")
            if body is None and shown is not None:
                return Response(status_code=204)  # the offer on the console is closed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if body is not None:
                    return Response(body.model_dump_json(), media_type="application/json")
                return Response(status_code=204)
            # Woken at once by an offer committed in this process, by the watcher for one of another process.
            look_after = remaining if bell.watched() else min(remaining, _POLL_INTERVAL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ring.wait(), timeout=look_after)
    finally:
        bell.release(principal.id, ring)


@router.post(
    "/offers/{offer_id}/accept",
    response_model=CaseRead,
    responses=problem_responses(
        Unauthenticated, NotAnOfficer, OfferNotFound, OfferExpired, OfferClosed, OfficerBusy
    ),
)
async def accept_offer(
    offer_id: str, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> CaseRead:
    """Accept the offered case: the live session begins."""
    case = await queue_service.accept_offer(
        session, principal=principal, offer_id=offer_id, settings=settings
    )
    return CaseRead.model_validate(case)


@router.post(
    "/offers/{offer_id}/decline",
    response_model=OfferRead,
    responses=problem_responses(Unauthenticated, NotAnOfficer, OfferNotFound, OfferExpired, OfferClosed),
)
async def decline_offer(
    offer_id: str, body: OfferDecline, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> OfferRead:
    """Decline the offer; `conflict_of_interest` keeps this case from you for good."""
    offer = await queue_service.decline_offer(
        session, principal=principal, offer_id=offer_id, reason=body.reason, settings=settings
    )
    return OfferRead.model_validate(offer)


@router.get(
    "/queue", response_model=QueueOverview, responses=problem_responses(Unauthenticated, PermissionDenied)
)
async def queue_overview(
    session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> QueueOverview:
    """The municipality's waiting cases and officers' states (officers and supervisors)."""
    return await read_model.overview(session, principal=principal, settings=settings)


@router.get(
    "/cases/{case_id}/queue-position",
    response_model=QueuePosition,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def queue_position(case: VisibleCase, session: DBSession, settings: AppSettings) -> QueuePosition:
    """Where the case waits, and an estimate from recent handling times (shown at the counter)."""
    return await read_model.position(session, case=case, settings=settings)


@router.post(
    "/cases/{case_id}/reassign",
    response_model=OfferRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound, ReassignRefused),
)
async def reassign(
    case: VisibleCase, body: Reassign, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> OfferRead:
    """Supervisor: offer a waiting case to a named officer, with a reason (recorded as an override)."""
    offer = await queue_service.reassign(
        session,
        principal=principal,
        case=case,
        officer_id=body.officer_id,
        reason_code=body.reason_code,
        settings=settings,
    )
    return OfferRead.model_validate(offer)
