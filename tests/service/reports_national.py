"""Four invented municipalities in three prefectures with known September 2026 activity, for the national view.

Codes are real prefecture numbers with municipality numbers no municipality has (xx990–xx991), names invented.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import SYSTEM
from service.cases.lifecycle import Action
from service.config import Settings
from service.db import unit_of_work
from service.tenancy import service as tenancy_service
from service.tenancy.codes import Procedure
from service.tenancy.schemas import DesignationCreate, PostOfficeCreate
from tests.factories import Tenant, make_tenant, synthetic_case
from tests.service.reports_month import at

IN_FORCE = (dt.date(2026, 4, 1), dt.date(2027, 3, 31))


async def build_nation(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> dict[str, Tenant]:
    """Tokyo 13990x (4 received, 2 offices) and 13991x (2), Hokkaido 01990x (planned from October), Osaka 27990x (1)."""
    tenants = {}
    for prefix, name, office, valid in (
        ("13990", "試験区", "81001", IN_FORCE),
        ("13991", "見本市", "81002", IN_FORCE),
        ("01990", "架空町", "81003", (dt.date(2026, 10, 1), dt.date(2027, 3, 31))),
        ("27990", "仮想村", "81004", IN_FORCE),
    ):
        tenants[prefix] = await make_tenant(
            sessionmaker,
            settings,
            prefix=prefix,
            name=name,
            office_code=office,
            valid_from=valid[0],
            valid_until=valid[1],
        )
    async with unit_of_work(sessionmaker) as session:
        second = await tenancy_service.create_post_office(
            session,
            actor=SYSTEM,
            data=PostOfficeCreate(office_code="81005", name="試験第二局", address="架空町3-3"),
        )
        await tenancy_service.create_designation(
            session,
            actor=SYSTEM,
            data=DesignationCreate(
                municipality_code=tenants["13990"].municipality_code,
                post_office_id=second.id,
                procedures=[Procedure.application_support],
                valid_from=IN_FORCE[0],
                valid_until=IN_FORCE[1],
                council_resolution_ref="議決第2号 (test)",
                contract_id="TEST-NATION-2",
            ),
        )
        for prefix, received in (("13990", 4), ("13991", 2), ("27990", 1)):
            for n in range(received):
                await synthetic_case(
                    session,
                    tenant=tenants[prefix],
                    procedure=Procedure.application_support,
                    opened_at=at(1 + n % 28, 9 + n // 28),
                    steps=[(Action.check_in, dt.timedelta(0), None)],
                )
    return tenants
