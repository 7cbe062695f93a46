"""The case a route acts on, loaded once and tenant-checked: a foreign case is a 404 like a missing one.

Routers take `VisibleCase` (any signed-in principal), `ReadableCase` or `WritableCase` (integration keys
need cases:read or cases:write) instead of each handler calling `get_for` itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from service.accounts.deps import CasesReader, CasesWriter, CurrentPrincipal
from service.cases import service as case_service
from service.cases.models import Case
from service.db import DBSession


async def _visible(case_id: str, session: DBSession, principal: CurrentPrincipal) -> Case:
    return await case_service.get_for(session, principal=principal, case_id=case_id)


async def _readable(case_id: str, session: DBSession, principal: CasesReader) -> Case:
    return await case_service.get_for(session, principal=principal, case_id=case_id)


async def _writable(case_id: str, session: DBSession, principal: CasesWriter) -> Case:
    return await case_service.get_for(session, principal=principal, case_id=case_id)


VisibleCase = Annotated[Case, Depends(_visible)]
ReadableCase = Annotated[Case, Depends(_readable)]
WritableCase = Annotated[Case, Depends(_writable)]
