"""Certificates asked for at the counter by a resident without a card (docs/certificates.md §Counter requests).

The clerk records the request on a `certificate_request` case; the municipality's officer confirms the identity over
the live link like any identity procedure; the officer's approval issues the certificate through the kiosk's
issuance code as a print job of the case's office, which the clerk's station then handles like a kiosk receipt
(scan, print, the counter fee, hand-over). A rejection, a referral or a withdrawal issues nothing. The rules stay
here: the device records the request, only the approving officer's transition issues, and nobody changes the
request once recorded.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.audit import service as audit
from service.cases.exceptions import InvalidCase
from service.cases.models import Case
from service.certificates import service as issuing
from service.certificates.exceptions import CertificateSystemUnavailable, ChoiceRefused
from service.certificates.issuer import IssueInput
from service.certificates.models import CertificateJob
from service.certificates.rules import choice_refusal, record_refusal
from service.certificates.runtime import CertificateRuntime
from service.integrations.resident import CertificateRecord
from service.kit import clock
from service.kit.ids import random_id
from service.tenancy import service as tenancy_service
from service.wire.cases import Action
from service.wire.certificates import KIND_LABELS as LABELS
from service.wire.certificates import (
    CaseCertificate,
    CertificateKind,
    CertificateOption,
    CounterChoice,
    JobState,
    RefusalCode,
    Scope,
)

AWAITING_DECISION = "awaiting_decision"  # internal: recorded at the counter, the officer has not decided
# The case's ends that issue nothing: the request is closed with the case (no receipt was ever made).
CLOSING_ACTIONS = frozenset({Action.reject, Action.refer_to_counter, Action.withdraw})


def _refused(code: RefusalCode, detail: str) -> ChoiceRefused:
    return ChoiceRefused(detail, refusal=code.value, message_ja=detail, message_en=detail)


async def _job_of(session: AsyncSession, case_id: str, *, lock: bool) -> CertificateJob | None:
    query = select(CertificateJob).where(CertificateJob.case_id == case_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def record_request(
    session: AsyncSession, *, principal: Principal, case: Case, choice: CounterChoice
) -> CertificateJob:
    """The clerk's record of what the resident asks for, checked against the municipality's configuration now
    (個人番号 only where it is selectable); the job's binding nonce is a hub-made value bound to the case."""
    version, config = await issuing.settings_for(session, case.municipality_code)
    refusal = choice_refusal(
        config, kind=choice.kind, scope=choice.scope, options=choice.options, count=choice.count
    )
    offered = config.kind(choice.kind)
    if refusal is not None or offered is None:
        raise _refused(
            refusal or RefusalCode.kind_not_offered, "the municipality does not issue this request"
        )
    now = clock.now()
    # Never stored: only its digest, which the PDF and the station's check carry as the nonce leg of the binding.
    bound = f"{case.id}:{secrets.token_urlsafe(32)}"
    job = CertificateJob(
        id=random_id("crq"),
        municipality_code=case.municipality_code,
        post_office_id=case.post_office_id,
        kiosk_device_id=principal.id,
        case_id=case.id,
        kind=choice.kind.value,
        scope=choice.scope.value if choice.scope else None,
        options=sorted(o.value for o in choice.options),
        count=choice.count,
        fee_yen=offered.counter_fee_yen * choice.count,
        config_version=version,
        origin="counter",
        nonce=None,
        nonce_sha256=hashlib.sha256(bound.encode()).hexdigest(),
        challenge_expires_at=now,
        state=AWAITING_DECISION,
        fee_paid_yen=0,
        reprints=0,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="certificate.requested_at_counter",
        municipality_code=job.municipality_code,
        case_id=case.id,
        object_type="certificate_job",
        object_id=job.id,
        to_state=AWAITING_DECISION,
        reason_code=job.kind,
    )
    return job


async def issue_on_approval(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    resident_id: str,
    runtime: CertificateRuntime,
) -> CertificateJob:
    """In the approval's transaction: the record of the resident the officer confirmed decides, the certificate
    system issues the copy bound to the case, and the receipt number goes to the counter. A refusal on the record
    fails the approval and rolls it back (the officer then rejects with `ineligible`): nothing is issued half-way."""
    job = await _job_of(session, case.id, lock=True)
    if job is None or job.state != AWAITING_DECISION:
        raise InvalidCase("this case has no certificate request waiting for a decision")
    if runtime.records is None or runtime.authority is None:
        raise CertificateSystemUnavailable("no certificate system is configured")
    version, config = await issuing.settings_for(session, job.municipality_code)
    kind, scope = CertificateKind(job.kind), Scope(job.scope) if job.scope else None
    options = [CertificateOption(o) for o in job.options]
    # The configuration may have changed since the counter recorded the request: decided under the one in force.
    changed = choice_refusal(config, kind=kind, scope=scope, options=options, count=job.count)
    if changed is not None:
        raise _refused(changed, "the municipality no longer issues this request")
    holder = await runtime.records.resident_of(
        municipality_code=job.municipality_code, resident_id=resident_id
    )
    household: list[CertificateRecord] = []
    if holder is not None and (scope is Scope.household or CertificateOption.setainushi in options):
        household = await runtime.records.household_of(
            municipality_code=job.municipality_code, household_id=holder.household_id
        )
    now = clock.now()
    today = now.astimezone(runtime.tz).date()
    refusal = record_refusal(
        config, holder, kind=kind, scope=scope, household=household, today=today, by_card=False
    )
    if refusal is not None or holder is None:
        code = refusal or RefusalCode.not_resident
        # The officer is the municipality's: the code is theirs to see (the clerk sees the case stay in review).
        raise _refused(code, f"the record refuses this certificate: {code.value}")
    municipality = await tenancy_service.get_municipality(session, job.municipality_code)
    source = IssueInput(
        municipality_code=job.municipality_code,
        municipality_name=municipality.name,
        kind=kind,
        scope=scope,
        options=tuple(options),
        count=job.count,
        holder=holder,
        household=tuple(household) if scope is Scope.household else (holder,),
    )
    job.receipt_number = await issuing.new_receipt_number(session)
    job.config_version = version
    # The same issuance as the kiosk's reprint: rendered and signed with the row locked (one case, one officer).
    await issuing.issue_copy(session, runtime=runtime, job=job, source=source)
    return await issuing.issue_receipt(
        session,
        principal=principal,
        job=job,
        source=source,
        config=config,
        runtime=runtime,
        from_state=AWAITING_DECISION,
        case_id=case.id,
    )


async def close_without_issue(
    session: AsyncSession, *, principal: Principal, case: Case, action: Action
) -> CertificateJob | None:
    """The case ended without an approval: the request is closed and nothing is issued."""
    job = await _job_of(session, case.id, lock=True)
    if job is None or job.state != AWAITING_DECISION:
        return job
    now = clock.now()
    job.state = JobState.voided.value
    job.close_reason = action.value
    job.closed_at = job.updated_at = now
    await audit.record(
        session,
        actor=principal,
        action="certificate.request_closed",
        municipality_code=job.municipality_code,
        case_id=case.id,
        object_type="certificate_job",
        object_id=job.id,
        from_state=AWAITING_DECISION,
        to_state=job.state,
        reason_code=action.value,
    )
    return job


async def view(session: AsyncSession, case: Case) -> CaseCertificate | None:
    """What the case asks for and where its print job stands (codes and labels only)."""
    job = await _job_of(session, case.id, lock=False)
    if job is None:
        return None
    kind = CertificateKind(job.kind)
    number = job.receipt_number
    return CaseCertificate(
        job_id=job.id,
        kind=kind,
        kind_ja=LABELS[kind][0],
        kind_en=LABELS[kind][1],
        scope=Scope(job.scope) if job.scope else None,
        options=[CertificateOption(o) for o in job.options],
        count=job.count,
        fee_yen=job.fee_yen,
        state=job.state,
        receipt_number=f"{number[:5]}-{number[5:]}" if number else None,
    )
