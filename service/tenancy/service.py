"""Rules of tenancy: creating municipalities, offices and designations; finding the designation in force."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.errors import Unprocessable
from service.kit import clock
from service.kit.ids import random_id
from service.tenancy import repository
from service.tenancy.codes import Procedure
from service.tenancy.exceptions import (
    AlreadyExists,
    DesignationNotInForce,
    MunicipalityNotFound,
    PostOfficeNotFound,
)
from service.tenancy.hours import in_force
from service.tenancy.models import Designation, Municipality, PostOffice
from service.tenancy.schemas import DesignationCreate, MunicipalityCreate, PostOfficeCreate
from service.wire.device_auth import b64url_decode
from service.wire.pin_seal import key_id_of


async def get_municipality(session: AsyncSession, code: str) -> Municipality:
    """A municipality by code, or MunicipalityNotFound."""
    found = await session.get(Municipality, code)
    if found is None:
        raise MunicipalityNotFound()
    return found


async def get_post_office(session: AsyncSession, post_office_id: str) -> PostOffice:
    """A post office by id, or PostOfficeNotFound."""
    found = await session.get(PostOffice, post_office_id)
    if found is None:
        raise PostOfficeNotFound()
    return found


async def create_municipality(
    session: AsyncSession, *, actor: Principal, data: MunicipalityCreate
) -> Municipality:
    """Register a municipality."""
    if await session.get(Municipality, data.code) is not None:
        raise AlreadyExists("a municipality with this code exists")
    municipality = Municipality(code=data.code, name=data.name, policy=data.policy, created_at=clock.now())
    session.add(municipality)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="tenancy.municipality_created",
        municipality_code=data.code,
        object_type="municipality",
        object_id=data.code,
    )
    return municipality


async def create_post_office(
    session: AsyncSession, *, actor: Principal, data: PostOfficeCreate
) -> PostOffice:
    """Register a post office."""
    if await repository.office_by_code(session, data.office_code) is not None:
        raise AlreadyExists("a post office with this office code exists")
    office = PostOffice(
        id=random_id("po"),
        office_code=data.office_code,
        name=data.name,
        address=data.address,
        created_at=clock.now(),
    )
    session.add(office)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="tenancy.post_office_created",
        municipality_code=None,
        object_type="post_office",
        object_id=office.id,
    )
    return office


async def create_designation(
    session: AsyncSession, *, actor: Principal, data: DesignationCreate
) -> Designation:
    """Record a municipality's designation of a post office (after its council resolution and contract)."""
    await get_municipality(session, data.municipality_code)
    await get_post_office(session, data.post_office_id)
    for existing in await repository.designations(
        session, municipality_code=data.municipality_code, post_office_id=data.post_office_id
    ):
        if existing.valid_from <= data.valid_until and data.valid_from <= existing.valid_until:
            raise AlreadyExists("an overlapping designation for this municipality and office exists")
    designation = Designation(
        id=random_id("dsg"),
        municipality_code=data.municipality_code,
        post_office_id=data.post_office_id,
        procedures=[p.value for p in data.procedures],
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        council_resolution_ref=data.council_resolution_ref,
        contract_id=data.contract_id,
        opening_hours=data.opening_hours,
        note="",
        created_at=clock.now(),
    )
    session.add(designation)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="tenancy.designation_created",
        municipality_code=data.municipality_code,
        object_type="designation",
        object_id=designation.id,
    )
    return designation


def is_in_force(
    designation: Designation, *, at: dt.datetime, tz: ZoneInfo, procedure: Procedure | None = None
) -> bool:
    """Whether the designation covers `procedure` (if given) at `at`."""
    if procedure is not None and procedure.value not in designation.procedures:
        return False
    return in_force(
        valid_from=designation.valid_from,
        valid_until=designation.valid_until,
        opening_hours=designation.opening_hours,
        at=at,
        tz=tz,
    )


async def designation_in_force(
    session: AsyncSession, *, municipality_code: str, post_office_id: str, procedure: Procedure, tz: ZoneInfo
) -> Designation:
    """The designation that lets this office handle `procedure` for this municipality now, or DesignationNotInForce."""
    now = clock.now()
    for designation in await repository.designations(
        session, municipality_code=municipality_code, post_office_id=post_office_id
    ):
        if is_in_force(designation, at=now, tz=tz, procedure=procedure):
            return designation
    raise DesignationNotInForce(
        "この郵便局はこの手続の指定期間・取扱時間外です / this office is not designated for this procedure now"
    )


PIN_SEALING_POLICY_KEY = "pin_sealing_public_key"


async def set_pin_sealing_key(session: AsyncSession, *, actor: Principal, code: str, public_key: str) -> str:
    """Store the municipality's X25519 PIN-sealing key; returns its key id."""
    municipality = await get_municipality(session, code)
    try:
        key = X25519PublicKey.from_public_bytes(b64url_decode(public_key))
    except ValueError as exc:
        raise Unprocessable("public_key is not a raw X25519 key in base64url") from exc
    municipality.policy = {**(municipality.policy or {}), PIN_SEALING_POLICY_KEY: public_key}
    key_id = key_id_of(key)
    await audit.record(
        session,
        actor=actor,
        action="tenancy.pin_sealing_key_set",
        municipality_code=code,
        object_type="pin_sealing_key",
        object_id=key_id,
    )
    return key_id


async def pin_sealing_key_for(session: AsyncSession, *, principal: Principal, code: str) -> tuple[str, str]:
    """(public key, key id) if the caller may use it; others get 404 as for anything foreign."""
    municipality = await session.get(Municipality, code) if len(code) == 6 else None
    if municipality is None:
        raise MunicipalityNotFound()
    allowed = principal.kind is PrincipalKind.account and (
        principal.role is Role.admin or principal.municipality_code == code
    )
    if principal.kind is PrincipalKind.device and principal.post_office_id is not None:
        allowed = any(
            d.municipality_code == code
            for d in await repository.designations(session, post_office_id=principal.post_office_id)
        )
    text = (municipality.policy or {}).get(PIN_SEALING_POLICY_KEY)
    if not allowed or not isinstance(text, str):
        raise MunicipalityNotFound("no PIN-sealing key registered for this municipality")
    return text, key_id_of(X25519PublicKey.from_public_bytes(b64url_decode(text)))
