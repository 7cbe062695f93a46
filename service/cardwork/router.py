"""Routes of the card work at the counter: the plans and the record of what was done (docs/card-procedures.md)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from service.accounts.deps import CurrentPrincipal
from service.cardwork import service
from service.cardwork.exceptions import (
    CardWorkWrongCase,
    InvalidDoneCode,
    ProxyNotAllowed,
    RenewalNotOpen,
    SignRefusedAdultWard,
    SignRefusedUnder15,
    UnknownCardProfile,
)
from service.cases.deps import VisibleCase
from service.cases.exceptions import CaseNotFound
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.wire.cardwork import CardWorkDone, EcertPlan, EcertPlanRequest, PinPlan, PinPlanRequest

router = APIRouter(prefix="/api/v1/cases/{case_id}/card-work", tags=["card work"])


class CardWorkRecorded(BaseModel):
    """Every code recorded as done on the case so far."""

    done: list[str]


@router.post(
    "/ecert-plan",
    response_model=EcertPlan,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        CaseNotFound,
        CardWorkWrongCase,
        ProxyNotAllowed,
        SignRefusedUnder15,
        SignRefusedAdultWard,
        RenewalNotOpen,
        UnknownCardProfile,
    ),
)
async def ecert_plan(
    case: VisibleCase, body: EcertPlanRequest, session: DBSession, principal: CurrentPrincipal
) -> EcertPlan:
    """Counter device, after approval: issue or renew which e-certificates (renewal window, age, adult ward, proxy)."""
    return await service.plan_ecert(session, principal=principal, case=case, body=body)


@router.post(
    "/pin-plan",
    response_model=PinPlan,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, CaseNotFound, CardWorkWrongCase, ProxyNotAllowed
    ),
)
async def pin_plan(
    case: VisibleCase, body: PinPlanRequest, session: DBSession, principal: CurrentPrincipal
) -> PinPlan:
    """Counter device, after approval: change or reset which PIN. The PIN itself never comes here."""
    return await service.plan_pin(session, principal=principal, case=case, body=body)


@router.post(
    "/done",
    response_model=CardWorkRecorded,
    responses=problem_responses(
        Unauthenticated, PermissionDenied, CaseNotFound, CardWorkWrongCase, InvalidDoneCode
    ),
)
async def done(
    case: VisibleCase, body: CardWorkDone, session: DBSession, principal: CurrentPrincipal
) -> CardWorkRecorded:
    """Counter device: what was done on the card, as codes (e.g. renew_auth, change_sign)."""
    return CardWorkRecorded(
        done=await service.record_done(session, principal=principal, case=case, body=body)
    )
