"""The applicant's consents at the counter (同意), each with its version: recorded on the case and in the audit trail.

Codes and versions only (no text, no personal data), so the audit holds them safely. The catalogue
(service/wire/consents.py) says which version of each consent text is current; a counter sending an older or unknown version is refused, so the
record always names a text the municipality published. Recorded before verification is requested.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind
from service.audit import service as audit
from service.cases.exceptions import ConsentsMissing, InvalidCase, NotAllowedForActor
from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.errors import InvalidTransition
from service.kit import clock
from service.wire.consents import CATALOGUE, CURRENT

# Before the officer is asked: consents are part of checking in, not of the session.
OPEN_STATES: Final = frozenset({CaseState.checked_in, CaseState.eligibility_precheck})


class ConsentsGiven(BaseModel):
    """The consents the applicant gave, by code, with the version of the text they were shown."""

    model_config = ConfigDict(extra="forbid")

    consents: dict[str, str] = Field(
        description="code → version, e.g. {'recording': '2026-04'}", max_length=10
    )


async def record(session: AsyncSession, *, principal: Principal, case: Case, given: ConsentsGiven) -> Case:
    """Record the consents on the case (precheck JSON, key `consents`) and one audit row per consent."""
    if principal.kind is not PrincipalKind.device:
        raise NotAllowedForActor("only the counter device records the applicant's consents")
    if CaseState(case.state) not in OPEN_STATES:
        raise InvalidTransition(f"consents are recorded before verification, not in state {case.state}")
    missing = sorted(set(CURRENT) - set(given.consents))
    stale = sorted(code for code, version in given.consents.items() if CURRENT.get(code) != version)
    if missing or stale:
        raise InvalidCase(f"consents missing: {missing or '-'}; unknown code or version: {stale or '-'}")
    at = clock.now().isoformat()
    recorded = {code: {"version": version, "at": at} for code, version in sorted(given.consents.items())}
    # A new dict, not an in-place change: the JSON column only notices assignment.
    case.precheck = {**(case.precheck or {}), "consents": recorded}
    for code, version in sorted(given.consents.items()):
        await audit.record(
            session,
            actor=principal,
            action="case.consent_recorded",
            municipality_code=case.municipality_code,
            case_id=case.id,
            object_type="case",
            object_id=case.id,
            reason_code=f"{code}:{version}",
        )
    await session.flush()
    return case


def require_given(case: Case) -> None:
    """ConsentsMissing unless every required consent is recorded on the case at its current version."""
    recorded = (case.precheck or {}).get("consents") or {}
    missing = sorted(
        c.code for c in CATALOGUE if c.required and (recorded.get(c.code) or {}).get("version") != c.version
    )
    if missing:
        raise ConsentsMissing(f"not recorded at the current version: {', '.join(missing)}")
