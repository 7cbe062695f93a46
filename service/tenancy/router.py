"""Tenancy endpoints: municipalities, post offices and designations (admin writes; scoped reads)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from service.accounts.deps import AdminPrincipal, CurrentPrincipal
from service.accounts.roles import PrincipalKind, Role
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.tenancy import repository
from service.tenancy import service as tenancy_service
from service.tenancy.exceptions import (
    AlreadyExists,
    DesignationNotFound,
    MunicipalityNotFound,
    PostOfficeNotFound,
)
from service.tenancy.models import Designation
from service.tenancy.schemas import (
    DesignationCreate,
    DesignationRead,
    MunicipalityCreate,
    MunicipalityRead,
    PostOfficeCreate,
    PostOfficeRead,
)

router = APIRouter(prefix="/api/v1", tags=["tenancy"])


@router.post(
    "/municipalities",
    response_model=MunicipalityRead,
    status_code=201,
    responses=problem_responses(Unauthenticated, PermissionDenied, AlreadyExists),
)
async def create_municipality(
    body: MunicipalityCreate, session: DBSession, admin: AdminPrincipal
) -> MunicipalityRead:
    """Register a municipality (admin)."""
    return MunicipalityRead.model_validate(
        await tenancy_service.create_municipality(session, actor=admin, data=body)
    )


@router.get(
    "/municipalities",
    response_model=list[MunicipalityRead],
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def list_municipalities(session: DBSession, _admin: AdminPrincipal) -> list[MunicipalityRead]:
    """Every municipality (admin)."""
    return [MunicipalityRead.model_validate(m) for m in await repository.list_municipalities(session)]


@router.post(
    "/post-offices",
    response_model=PostOfficeRead,
    status_code=201,
    responses=problem_responses(Unauthenticated, PermissionDenied, AlreadyExists),
)
async def create_post_office(
    body: PostOfficeCreate, session: DBSession, admin: AdminPrincipal
) -> PostOfficeRead:
    """Register a post office (admin)."""
    return PostOfficeRead.model_validate(
        await tenancy_service.create_post_office(session, actor=admin, data=body)
    )


@router.get(
    "/post-offices",
    response_model=list[PostOfficeRead],
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def list_post_offices(session: DBSession, _admin: AdminPrincipal) -> list[PostOfficeRead]:
    """Every post office (admin)."""
    return [PostOfficeRead.model_validate(o) for o in await repository.list_post_offices(session)]


@router.post(
    "/designations",
    response_model=DesignationRead,
    status_code=201,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, AlreadyExists, MunicipalityNotFound, PostOfficeNotFound
    ),
)
async def create_designation(
    body: DesignationCreate, session: DBSession, admin: AdminPrincipal
) -> DesignationRead:
    """Record a designation (admin), after the council resolution and the contract with 日本郵便."""
    return DesignationRead.model_validate(
        await tenancy_service.create_designation(session, actor=admin, data=body)
    )


@router.get(
    "/designations",
    response_model=list[DesignationRead],
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def list_designations(session: DBSession, principal: CurrentPrincipal) -> list[DesignationRead]:
    """Designations the caller may see: all (admin), its municipality's (officer, supervisor, auditor), its office's (device, clerk)."""
    if principal.kind is PrincipalKind.account and principal.role is Role.admin:
        rows = await repository.designations(session)
    elif principal.municipality_code is not None and principal.kind is not PrincipalKind.device:
        rows = await repository.designations(session, municipality_code=principal.municipality_code)
    elif principal.post_office_id is not None:
        rows = await repository.designations(session, post_office_id=principal.post_office_id)
    else:
        raise PermissionDenied()
    return [DesignationRead.model_validate(d) for d in rows]


@router.get(
    "/designations/{designation_id}",
    response_model=DesignationRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, DesignationNotFound),
)
async def read_designation(
    designation_id: str, session: DBSession, principal: CurrentPrincipal
) -> DesignationRead:
    """One designation, if the caller's tenant is party to it (else 404)."""
    found = await session.get(Designation, designation_id) if len(designation_id) <= 40 else None
    visible = found is not None and (
        (principal.kind is PrincipalKind.account and principal.role is Role.admin)
        or (
            principal.kind is not PrincipalKind.device
            and principal.municipality_code == found.municipality_code
        )
        or (principal.post_office_id is not None and principal.post_office_id == found.post_office_id)
    )
    if not visible or found is None:
        raise DesignationNotFound()
    return DesignationRead.model_validate(found)


class SealingKeyIn(BaseModel):
    public_key: str = Field(
        min_length=43, max_length=43, description="The municipality's X25519 public key, raw, base64url"
    )


class SealingKeyOut(BaseModel):
    municipality_code: str
    public_key: str
    key_id: str


@router.put(
    "/municipalities/{code}/pin-sealing-key",
    response_model=SealingKeyOut,
    responses=problem_responses(Unauthenticated, PermissionDenied, MunicipalityNotFound),
)
async def set_pin_sealing_key(
    code: str, body: SealingKeyIn, session: DBSession, admin: AdminPrincipal
) -> SealingKeyOut:
    """Register the municipality's PIN-sealing public key (its 交付前設定 system keeps the private key)."""
    key_id = await tenancy_service.set_pin_sealing_key(
        session, actor=admin, code=code, public_key=body.public_key
    )
    return SealingKeyOut(municipality_code=code, public_key=body.public_key, key_id=key_id)


@router.get(
    "/municipalities/{code}/pin-sealing-key",
    response_model=SealingKeyOut,
    responses=problem_responses(Unauthenticated, MunicipalityNotFound),
)
async def get_pin_sealing_key(code: str, session: DBSession, principal: CurrentPrincipal) -> SealingKeyOut:
    """The key a counter seals PINs to: for devices of offices this municipality designated, its staff, and admins."""
    public_key, key_id = await tenancy_service.pin_sealing_key_for(session, principal=principal, code=code)
    return SealingKeyOut(municipality_code=code, public_key=public_key, key_id=key_id)
