"""Rules of tenancy: creating municipalities, offices and designations; finding the designation in force."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.audit import service as audit
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
