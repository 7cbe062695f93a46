"""The card work of an approved case: the hub plans it (rules.py), the counter does it, the hub records what was done.

The plan and the codes of what was done live on the case's precheck JSON (key `card_work`); no PIN, certificate or
date of the holder is stored, and the audit rows carry codes only. A refusal raises before anything is written.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind
from service.audit import service as audit
from service.cardwork import rules
from service.cardwork.exceptions import CardWorkWrongCase, InvalidDoneCode
from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.errors import PermissionDenied
from service.kit import clock
from service.tenancy.codes import Procedure
from service.wire.cardwork import (
    DONE_CODE,
    CardWorkDone,
    EcertPlan,
    EcertPlanRequest,
    PinPlan,
    PinPlanRequest,
)

JST = ZoneInfo("Asia/Tokyo")
# A PIN reset may follow a lock found during a renewal, in the same visit (docs/card-procedures.md §Lock).
PIN_PROCEDURES = frozenset({Procedure.pin_reset, Procedure.ecert_issue_renew})


def _require_counter(principal: Principal, case: Case) -> None:
    if principal.kind is not PrincipalKind.device or principal.post_office_id != case.post_office_id:
        raise PermissionDenied("only the counter device of this case does its card work")


def _require(case: Case, procedures: frozenset[Procedure]) -> None:
    if Procedure(case.procedure) not in procedures or CaseState(case.state) is not CaseState.approved:
        raise CardWorkWrongCase(f"{case.procedure} in state {case.state}")


def _proxy_recorded(case: Case) -> bool:
    answers = (case.precheck or {}).get("answers") or {}
    return bool(answers.get("proxy_applicant"))


def _today() -> dt.date:
    return clock.now().astimezone(JST).date()


def _work(case: Case) -> dict[str, list[str]]:
    return dict((case.precheck or {}).get("card_work") or {})


async def _record(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    action: str,
    work: dict[str, list[str]],
    codes: list[str],
) -> None:
    # A new dict, not an in-place change: the JSON column only notices assignment.
    case.precheck = {**(case.precheck or {}), "card_work": work}
    for code in codes:
        await audit.record(
            session,
            actor=principal,
            action=action,
            municipality_code=case.municipality_code,
            case_id=case.id,
            object_type="case",
            object_id=case.id,
            reason_code=code,
        )
    await session.flush()


async def plan_ecert(
    session: AsyncSession, *, principal: Principal, case: Case, body: EcertPlanRequest
) -> EcertPlan:
    """Plan an e-certificate issue or renewal for an approved case; refusals write nothing."""
    _require_counter(principal, case)
    _require(case, frozenset({Procedure.ecert_issue_renew}))
    plans, opens = rules.plan_ecert(body, today=_today(), proxy_recorded=_proxy_recorded(case))
    codes = rules.done_codes(plans)
    work = _work(case)
    work["planned"] = sorted({*work.get("planned", []), *codes})
    await _record(session, principal, case, "card_work.planned", work, codes)
    return EcertPlan(case_id=case.id, certificates=plans, renewal_opens=opens)


async def plan_pin(
    session: AsyncSession, *, principal: Principal, case: Case, body: PinPlanRequest
) -> PinPlan:
    """Allow a PIN change or reset for an approved case (also a reset after a lock found during a renewal)."""
    _require_counter(principal, case)
    _require(case, PIN_PROCEDURES)
    rules.check_pin(body, proxy_recorded=_proxy_recorded(case))
    code = f"{body.mode.value}_{body.pin.value}"
    work = _work(case)
    work["planned"] = sorted({*work.get("planned", []), code})
    await _record(session, principal, case, "card_work.planned", work, [code])
    return PinPlan(case_id=case.id, pin=body.pin, mode=body.mode)


async def record_done(
    session: AsyncSession, *, principal: Principal, case: Case, body: CardWorkDone
) -> list[str]:
    """Record what the counter did on the card; only planned work can be reported done."""
    _require_counter(principal, case)
    _require(case, PIN_PROCEDURES)
    work = _work(case)
    planned = set(work.get("planned", []))
    wrong = [c for c in body.done if not DONE_CODE.match(c) or c not in planned]
    if wrong:
        raise InvalidDoneCode(f"not planned for this case: {', '.join(wrong)}")
    fresh = [c for c in body.done if c not in work.get("done", [])]
    work["done"] = sorted({*work.get("done", []), *body.done})
    await _record(session, principal, case, "card_work.done", work, fresh)
    return work["done"]
