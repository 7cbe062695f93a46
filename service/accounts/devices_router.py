"""Endpoints of counter PCs: enrolment codes and revocation (admin), enrolment, the device's own view."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.accounts import repository
from service.accounts import service as accounts_service
from service.accounts.deps import AdminPrincipal, AppSettings, DevicePrincipal
from service.accounts.exceptions import DeviceKeyTaken, DeviceNotFound, InvalidEnrolmentCode
from service.accounts.models import Device
from service.accounts.schemas import DeviceEnrol, DeviceRead, EnrolmentCodeCreate, EnrolmentCodeIssued
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, Unprocessable, problem_responses
from service.tenancy import repository as tenancy_repository
from service.tenancy.exceptions import PostOfficeNotFound
from service.tenancy.schemas import DesignationRead

devices_router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


@devices_router.post(
    "/enrolment-codes",
    response_model=EnrolmentCodeIssued,
    status_code=201,
    responses=problem_responses(Unauthenticated, PermissionDenied, PostOfficeNotFound),
)
async def issue_enrolment_code(
    body: EnrolmentCodeCreate, session: DBSession, admin: AdminPrincipal, settings: AppSettings
) -> EnrolmentCodeIssued:
    """Issue a one-time enrolment code for a counter PC (admin); shown once."""
    code, record = await accounts_service.issue_enrolment_code(
        session,
        actor=admin,
        post_office_id=body.post_office_id,
        device_name=body.device_name,
        settings=settings,
    )
    return EnrolmentCodeIssued(
        code=code,
        post_office_id=record.post_office_id,
        device_name=record.device_name,
        expires_at=record.expires_at,
    )


@devices_router.post(
    "/enroll",
    response_model=DeviceRead,
    status_code=201,
    responses=problem_responses(InvalidEnrolmentCode, DeviceKeyTaken, Unprocessable),
)
async def enroll_device(body: DeviceEnrol, session: DBSession) -> DeviceRead:
    """Register the device's Ed25519 public key with a one-time code (no other credential)."""
    return DeviceRead.model_validate(
        await accounts_service.enrol_device(session, code=body.code, public_key=body.public_key)
    )


class DeviceSelf(DeviceRead):
    designations: list[DesignationRead]


@devices_router.get(
    "/me", response_model=DeviceSelf, responses=problem_responses(Unauthenticated, PermissionDenied)
)
async def device_me(session: DBSession, device: DevicePrincipal) -> DeviceSelf:
    """The calling device and its post office's designations."""
    record = await session.get(Device, device.id)
    if record is None:  # authenticated a moment ago in this transaction; kept for the type checker
        raise DeviceNotFound()
    designations = await tenancy_repository.designations(session, post_office_id=record.post_office_id)
    return DeviceSelf(
        **DeviceRead.model_validate(record).model_dump(),
        designations=[DesignationRead.model_validate(d) for d in designations],
    )


@devices_router.get(
    "", response_model=list[DeviceRead], responses=problem_responses(Unauthenticated, PermissionDenied)
)
async def list_devices(session: DBSession, _admin: AdminPrincipal) -> list[DeviceRead]:
    """Every device (admin)."""
    return [DeviceRead.model_validate(d) for d in await repository.list_devices(session)]


@devices_router.post(
    "/{device_id}/revoke",
    response_model=DeviceRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, DeviceNotFound),
)
async def revoke_device(
    device_id: str, request: Request, session: DBSession, admin: AdminPrincipal
) -> DeviceRead:
    """Revoke a device (admin); it is refused from its next request on, and its live-link sockets close now."""
    device = await accounts_service.revoke_device(session, actor=admin, device_id=device_id)
    # Every replica closes the device's signaling sockets (4003 "revoked") and refuses its resume tokens.
    await request.app.state.signaling.revoke(device.id)
    return DeviceRead.model_validate(device)
