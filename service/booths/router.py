"""Booth endpoints: the supervisor's schedule and revocation, the booth laptop's session and per-case sync."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.accounts.deps import AppSettings, CurrentPrincipal
from service.booths import service as booth_service
from service.booths.exceptions import (
    BoothNotFound,
    BoothOfficeNotDesignated,
    BoothSessionNotFound,
    BoothSessionRevoked,
    NotScheduled,
    SlotFull,
    SyncInProgress,
    SyncMismatch,
    WrongBoothDevice,
)
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, Unprocessable, problem_responses
from service.evidence.runtime import EvidenceRuntime
from service.wire import booths as wire

router = APIRouter(prefix="/api/v1", tags=["booths"])


def _runtime(request: Request) -> EvidenceRuntime:
    runtime: EvidenceRuntime = request.app.state.evidence
    return runtime


@router.post(
    "/booths",
    response_model=wire.Booth,
    status_code=201,
    responses=problem_responses(Unauthenticated, PermissionDenied, BoothOfficeNotDesignated, Unprocessable),
)
async def schedule_booth(
    body: wire.BoothCreate, session: DBSession, principal: CurrentPrincipal
) -> wire.Booth:
    """Supervisor: schedule a booth (office, days, officers, slots) of their municipality."""
    booth = await booth_service.schedule(session, principal=principal, body=body)
    return await booth_service.view(session, booth)


@router.get(
    "/booths", response_model=list[wire.Booth], responses=problem_responses(Unauthenticated, PermissionDenied)
)
async def list_booths(session: DBSession, principal: CurrentPrincipal) -> list[wire.Booth]:
    """Officer or supervisor: the municipality's booths."""
    return [
        await booth_service.view(session, b)
        for b in await booth_service.list_for(session, principal=principal)
    ]


@router.get(
    "/booths/{booth_id}",
    response_model=wire.Booth,
    responses=problem_responses(Unauthenticated, BoothNotFound),
)
async def read_booth(booth_id: str, session: DBSession, principal: CurrentPrincipal) -> wire.Booth:
    """Officer or supervisor of the booth's municipality: one booth with its slots."""
    booth = await booth_service.get_for(session, principal=principal, booth_id=booth_id)
    return await booth_service.view(session, booth)


@router.post(
    "/booths/{booth_id}/slots/{slot_id}/bookings",
    response_model=wire.Slot,
    responses=problem_responses(Unauthenticated, PermissionDenied, BoothNotFound, SlotFull),
)
async def book_slot(
    booth_id: str, slot_id: str, body: wire.BookingBody, session: DBSession, principal: CurrentPrincipal
) -> wire.Slot:
    """Supervisor: residents' bookings of a slot change by a count (no names)."""
    booth = await booth_service.get_for(session, principal=principal, booth_id=booth_id)
    slot = await booth_service.book(
        session, principal=principal, booth=booth, slot_id=slot_id, change=body.change
    )
    return wire.Slot(
        id=slot.id, day=slot.day, starts_at=slot.starts_at, capacity=slot.capacity, booked=slot.booked
    )


@router.put(
    "/municipalities/{code}/booth-forwarding",
    response_model=wire.ForwardingConfig,
    responses=problem_responses(Unauthenticated, PermissionDenied, BoothNotFound, Unprocessable),
)
async def set_forwarding(
    code: str, body: wire.ForwardingConfig, session: DBSession, principal: CurrentPrincipal
) -> wire.ForwardingConfig:
    """Admin: the host municipalities whose booths may receive this municipality's residents and forward them."""
    hosts = await booth_service.set_forwarding(
        session, principal=principal, code=code, accepts_from=body.accepts_from
    )
    return wire.ForwardingConfig(accepts_from=hosts)


@router.post(
    "/booth-sessions",
    response_model=wire.SessionRead,
    status_code=201,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, BoothNotFound, NotScheduled, WrongBoothDevice
    ),
)
async def open_session(
    body: wire.SessionOpen, request: Request, session: DBSession, principal: CurrentPrincipal
) -> wire.SessionRead:
    """Booth laptop, with the officer's access token: open the booth session (before leaving for the booth)."""
    keyring = _runtime(request).keyring
    row, data_key = await booth_service.open_session(session, principal=principal, body=body, keyring=keyring)
    return await booth_service.session_view(session, row, data_key)


@router.get(
    "/booth-sessions/{session_id}",
    response_model=wire.SessionRead,
    responses=problem_responses(Unauthenticated, BoothSessionNotFound, BoothSessionRevoked),
)
async def read_session(
    session_id: str, request: Request, session: DBSession, principal: CurrentPrincipal
) -> wire.SessionRead:
    """Booth laptop: the session again (each contact); revoked → refused with the wipe instruction."""
    row = await booth_service.session_of_device(session, principal=principal, session_id=session_id)
    data_key = booth_service.data_key_of(row, _runtime(request).keyring)
    return await booth_service.session_view(session, row, data_key)


@router.post(
    "/booth-sessions/{session_id}/pending",
    responses=problem_responses(Unauthenticated, BoothSessionNotFound, BoothSessionRevoked),
)
async def announce_pending(
    session_id: str, body: wire.PendingBody, session: DBSession, principal: CurrentPrincipal
) -> dict[str, int]:
    """Booth laptop: the cases it holds and has not synced yet (listed for the municipality if it is lost)."""
    row = await booth_service.session_of_device(session, principal=principal, session_id=session_id)
    return {"pending": await booth_service.announce(session, row=row, body=body)}


@router.post(
    "/booth-sessions/{session_id}/cases",
    response_model=wire.SyncResult,
    responses=problem_responses(
        Unauthenticated, BoothSessionNotFound, BoothSessionRevoked, SyncMismatch, SyncInProgress
    ),
)
async def sync_case(
    session_id: str,
    body: wire.CaseSync,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
) -> JSONResponse:
    """Booth laptop: sync one case, once. A replay answers the same (`Idempotent-Replayed: true`)."""
    row = await booth_service.session_of_device(session, principal=principal, session_id=session_id)
    result, replayed = await booth_service.sync_case(
        session, principal=principal, row=row, body=body, runtime=_runtime(request), settings=settings
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(result.model_dump(mode="json"), headers=headers)


@router.get(
    "/booth-sessions/{session_id}/cases",
    response_model=wire.BoothCases,
    responses=problem_responses(Unauthenticated, BoothSessionNotFound, BoothSessionRevoked),
)
async def session_cases(session_id: str, session: DBSession, principal: CurrentPrincipal) -> wire.BoothCases:
    """Booth laptop: the synced cases with their holds and conflicts, for the officer."""
    row = await booth_service.session_of_device(session, principal=principal, session_id=session_id)
    return await booth_service.cases_of(session, row=row)


@router.post(
    "/booth-sessions/{session_id}/revoke",
    response_model=wire.PendingList,
    responses=problem_responses(Unauthenticated, PermissionDenied, BoothSessionNotFound),
)
async def revoke_session(
    session_id: str, body: wire.Revocation, session: DBSession, principal: CurrentPrincipal
) -> wire.PendingList:
    """Supervisor: the laptop is lost (or the booth over): revoke it; answers the cases it held unsynced."""
    return await booth_service.revoke(session, principal=principal, session_id=session_id, reason=body.reason)


@router.get(
    "/booth-sessions/{session_id}/pending",
    response_model=wire.PendingList,
    responses=problem_responses(Unauthenticated, PermissionDenied, BoothSessionNotFound),
)
async def pending_cases(session_id: str, session: DBSession, principal: CurrentPrincipal) -> wire.PendingList:
    """Supervisor: cases the laptop announced and never synced."""
    return await booth_service.pending_list(session, principal=principal, session_id=session_id)
