"""The back office: the clerk scans the receipt, the hub releases that receipt's document only, the station prints it,
the fee is taken and the certificate handed over; then the hub's copy is destroyed (crypto-shredding).

Every step locks the job's row (FOR UPDATE; SQLite takes the write lock at BEGIN), so two clerks, two stations or two
hub replicas never move one job twice; a repeated step that already happened answers the job as it is
(docs/certificates.md §Back office).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.certificates import repository
from service.certificates import service as issuing
from service.certificates.exceptions import (
    BindingMismatch,
    FeeMismatch,
    InvalidJobTransition,
    JobNotFound,
    ReceiptClosed,
    ReceiptExpired,
    ReceiptNotFound,
)
from service.certificates.models import CertificateDocument, CertificateFeeEntry, CertificateJob
from service.certificates.runtime import CertificateRuntime
from service.errors import PermissionDenied
from service.kit import clock
from service.kit.ids import random_id
from service.wire.certificates import (
    JOB_TERMINAL_STATES,
    Binding,
    CertificateKind,
    JobState,
    PrintedBody,
    PrintFailure,
    PrintJob,
)

# A receipt expires from these states: the paper, if printed, is shredded at the office.
EXPIRING = frozenset(
    {
        JobState.receipt_issued.value,
        JobState.accepted_by_clerk.value,
        JobState.print_queued.value,
        JobState.print_failed.value,
        JobState.printed.value,
    }
)
# The clerk may void a job before the fee is taken (the resident left, a wrong request).
VOIDABLE = EXPIRING


async def _state_change(
    session: AsyncSession,
    principal: Principal,
    job: CertificateJob,
    to: JobState,
    action: str,
    reason: str | None = None,
) -> None:
    before = job.state
    job.state = to.value
    job.updated_at = clock.now()
    await audit.record(
        session,
        actor=principal,
        action=f"certificate.{action}",
        municipality_code=job.municipality_code,
        object_type="certificate_job",
        object_id=job.id,
        from_state=before,
        to_state=job.state,
        reason_code=reason,
    )


async def current_document(session: AsyncSession, job: CertificateJob) -> CertificateDocument | None:
    """The copy that may be printed now (the newest one still current)."""
    docs = [d for d in await repository.documents(session, job.id) if d.status == "current"]
    return docs[-1] if docs else None


async def answer(session: AsyncSession, job: CertificateJob) -> PrintJob:
    """The job as the print station sees it, with its binding once it has a receipt and a document."""
    document = await current_document(session, job)
    binding = None
    if document is not None and job.receipt_number is not None:
        binding = Binding(
            receipt_number=job.receipt_number,
            nonce_sha256=job.nonce_sha256,
            content_sha256=document.content_sha256,
            issue_number=document.issue_number,
        )
    return PrintJob(
        id=job.id,
        receipt_number=job.receipt_number or "",
        state=JobState(job.state),
        kind=CertificateKind(job.kind),
        count=job.count,
        fee_yen=job.fee_yen,
        fee_paid_yen=job.fee_paid_yen,
        reprints=job.reprints,
        expires_at=job.expires_at or job.challenge_expires_at,
        binding=binding,
    )


async def destroy(session: AsyncSession, principal: Principal, job: CertificateJob, reason: str) -> int:
    """Crypto-shred every sealed copy and the record extract of the job; one audit row per copy, no content."""
    now = clock.now()
    destroyed = 0
    for document in await repository.documents(session, job.id):
        if document.ciphertext is None and document.wrapped_key is None:
            continue
        document.ciphertext = None
        document.wrapped_key = None
        document.kek_id = None
        document.destroyed_at = now
        destroyed += 1
        await audit.record(
            session,
            actor=principal,
            action="certificate.destroyed",
            municipality_code=job.municipality_code,
            object_type="certificate_document",
            object_id=document.id,
            reason_code=reason,
        )
    job.source_ciphertext = None
    job.source_wrapped_key = None
    job.source_kek_id = None
    return destroyed


async def job_of_office(session: AsyncSession, principal: Principal, job_id: str) -> CertificateJob:
    """The job with a receipt at the calling device's office (locked), expired first if its time is up."""
    office = issuing.office_of(principal)
    job = await repository.job_for_update(session, job_id)
    # Another office's job is as good as none: nothing says it exists.
    if job is None or job.post_office_id != office or job.receipt_number is None:
        raise JobNotFound()
    await _expire_if_due(session, principal, job)
    return job


async def _expire_if_due(session: AsyncSession, principal: Principal, job: CertificateJob) -> bool:
    if job.state in EXPIRING and job.expires_at is not None and job.expires_at <= clock.now():
        await _state_change(session, principal, job, JobState.expired, "expired", "uncollected")
        job.closed_at, job.close_reason = clock.now(), "uncollected"
        await destroy(session, principal, job, "expired")
        return True
    return False


def _require(job: CertificateJob, *states: JobState) -> None:
    if job.state == JobState.expired.value:
        raise ReceiptExpired()
    if job.state not in {s.value for s in states}:
        raise InvalidJobTransition(f"not allowed in state {job.state}", state=job.state)


async def scan(session: AsyncSession, *, principal: Principal, receipt_number: str) -> CertificateJob:
    """The clerk scanned or typed a receipt: accept it once; a repeated scan answers the job unchanged."""
    office = issuing.office_of(principal)
    number = issuing.normalise_receipt(receipt_number)
    job = await repository.job_by_receipt_for_update(session, number) if len(number) == 10 else None
    if job is None or job.post_office_id != office:
        raise ReceiptNotFound()
    if await _expire_if_due(session, principal, job):
        return job
    if job.state == JobState.expired.value:
        raise ReceiptExpired()
    if job.state in {s.value for s in JOB_TERMINAL_STATES}:
        raise ReceiptClosed(f"the receipt is {job.state}", state=job.state)
    if job.state == JobState.receipt_issued.value:
        job.clerk_device_id = principal.id
        job.accepted_at = clock.now()
        await _state_change(session, principal, job, JobState.accepted_by_clerk, "scanned")
    else:
        await audit.record(
            session,
            actor=principal,
            action="certificate.scan_repeated",
            municipality_code=job.municipality_code,
            object_type="certificate_job",
            object_id=job.id,
            reason_code=job.state,
        )
    return job


async def release(
    session: AsyncSession,
    *,
    principal: Principal,
    job_id: str,
    receipt_number: str,
    runtime: CertificateRuntime,
) -> tuple[CertificateJob, CertificateDocument, bytes]:
    """The document of this receipt, for this receipt only: the station names the receipt it scanned."""
    job = await job_of_office(session, principal, job_id)
    if job.state == JobState.expired.value:
        raise ReceiptExpired()
    if issuing.normalise_receipt(receipt_number) != job.receipt_number:
        _mismatch(job, "receipt")
    _require(job, JobState.accepted_by_clerk, JobState.print_queued)
    document = await current_document(session, job)
    if document is None:
        raise InvalidJobTransition("the job has no current document")
    pdf = issuing.open_document(runtime, document)
    if job.state != JobState.print_queued.value:
        await _state_change(session, principal, job, JobState.print_queued, "released")
    return job, document, pdf


def _mismatch(job: CertificateJob, leg: str) -> None:
    # Refused here; the audit row must survive the refusal's rollback, so the router writes it in its own unit of
    # work (record_mismatch) from what BindingMismatch carries.
    raise BindingMismatch(f"the {leg} does not match this job's receipt", leg=leg, job_id=job.id)


async def record_mismatch(session: AsyncSession, *, principal: Principal, job_id: str, leg: str) -> None:
    """The audit row of a refused binding (called by the router after the refusal rolled back)."""
    job = await repository.job_for_update(session, job_id)
    if job is None:
        return
    await audit.record(
        session,
        actor=principal,
        action="certificate.binding_mismatch",
        municipality_code=job.municipality_code,
        object_type="certificate_job",
        object_id=job.id,
        reason_code=leg,
    )


async def printed(
    session: AsyncSession, *, principal: Principal, job_id: str, body: PrintedBody
) -> CertificateJob:
    """The station printed the document whose binding it checked; any leg that differs is refused."""
    job = await job_of_office(session, principal, job_id)
    document = await current_document(session, job)
    if issuing.normalise_receipt(body.receipt_number) != job.receipt_number:
        _mismatch(job, "receipt")
    if body.nonce_sha256 != job.nonce_sha256:
        _mismatch(job, "nonce")
    if document is None or body.content_sha256 != document.content_sha256:
        _mismatch(job, "content")
    if job.state == JobState.printed.value:
        return job  # the same report again (a retry after a timeout)
    _require(job, JobState.print_queued)
    job.printed_at = clock.now()
    await _state_change(session, principal, job, JobState.printed, "printed")
    return job


async def print_failed(
    session: AsyncSession, *, principal: Principal, job_id: str, reason: PrintFailure
) -> CertificateJob:
    """The printer failed (offline, paper out, jam) or the station refused the document."""
    job = await job_of_office(session, principal, job_id)
    if job.state == JobState.print_failed.value:
        return job
    _require(job, JobState.accepted_by_clerk, JobState.print_queued, JobState.printed)
    await _state_change(session, principal, job, JobState.print_failed, "print_failed", reason.value)
    return job


async def reprint(
    session: AsyncSession,
    *,
    principal: Principal,
    job_id: str,
    reason: PrintFailure,
    runtime: CertificateRuntime,
) -> CertificateJob:
    """A new copy (new issue number and code) supersedes the spoiled one, which is voided; no second fee."""
    job = await job_of_office(session, principal, job_id)
    _require(job, JobState.print_failed, JobState.printed)
    now = clock.now()
    for document in await repository.documents(session, job.id):
        if document.status != "current":
            continue
        document.status, document.status_reason, document.status_at = "superseded", reason.value, now
        document.ciphertext = document.wrapped_key = document.kek_id = None
        document.destroyed_at = now
        await audit.record(
            session,
            actor=principal,
            action="certificate.copy_voided",
            municipality_code=job.municipality_code,
            object_type="certificate_document",
            object_id=document.id,
            reason_code=reason.value,
        )
    await issuing.issue_copy(session, runtime=runtime, job=job, source=issuing.open_source(runtime, job))
    job.reprints += 1
    await _state_change(session, principal, job, JobState.print_queued, "reprinted", reason.value)
    return job


def _local_day(at: dt.datetime, runtime: CertificateRuntime) -> dt.date:
    return at.astimezone(runtime.tz).date()


async def collect_fee(
    session: AsyncSession, *, principal: Principal, job_id: str, amount_yen: int, runtime: CertificateRuntime
) -> CertificateJob:
    """The clerk took the fee in cash: once per job, whatever the reprints; a ledger line for the office's day."""
    job = await job_of_office(session, principal, job_id)
    if amount_yen != job.fee_yen:
        raise FeeMismatch(f"the fee is {job.fee_yen} yen", fee_yen=job.fee_yen)
    if job.state in (JobState.fee_collected.value, JobState.handed_over.value):
        return job
    _require(job, JobState.printed)
    now = clock.now()
    job.fee_paid_yen = amount_yen
    job.fee_collected_at = now
    session.add(
        CertificateFeeEntry(
            id=random_id("cfee"),
            job_id=job.id,
            municipality_code=job.municipality_code,
            post_office_id=job.post_office_id,
            day=_local_day(now, runtime),
            kind=job.kind,
            count=job.count,
            amount_yen=amount_yen,
            entry="fee",
            recorded_by=principal.id,
            recorded_at=now,
        )
    )
    await _state_change(session, principal, job, JobState.fee_collected, "fee_collected")
    return job


async def hand_over(session: AsyncSession, *, principal: Principal, job_id: str) -> CertificateJob:
    """The resident has the certificate: close the job and destroy the hub's copy and extract."""
    job = await job_of_office(session, principal, job_id)
    if job.state == JobState.handed_over.value:
        return job
    _require(job, JobState.fee_collected)
    job.handed_over_at = job.closed_at = clock.now()
    job.close_reason = "handed_over"
    await _state_change(session, principal, job, JobState.handed_over, "handed_over")
    await destroy(session, principal, job, "handed_over")
    return job


async def void(session: AsyncSession, *, principal: Principal, job_id: str, reason: str) -> CertificateJob:
    """The office voids a job before the fee is taken; its copies become void and are destroyed."""
    job = await job_of_office(session, principal, job_id)
    if job.state == JobState.voided.value:
        return job
    _require(job, *(JobState(s) for s in VOIDABLE))
    now = clock.now()
    for document in await repository.documents(session, job.id):
        if document.status == "current":
            document.status, document.status_reason, document.status_at = "voided", reason, now
    job.closed_at, job.close_reason = now, reason
    await _state_change(session, principal, job, JobState.voided, "voided", reason)
    await destroy(session, principal, job, "voided")
    return job


async def request_refund(session: AsyncSession, *, principal: Principal, job_id: str) -> CertificateJob:
    """The office asks the municipality to refund a collected fee (e.g. a wrong certificate found after hand-over)."""
    job = await job_of_office(session, principal, job_id)
    if job.fee_paid_yen <= 0 or job.refund_state is not None:
        raise InvalidJobTransition("no collected fee to refund, or a refund is already on record")
    job.refund_state = "requested"
    await audit.record(
        session,
        actor=principal,
        action="certificate.refund_requested",
        municipality_code=job.municipality_code,
        object_type="certificate_job",
        object_id=job.id,
    )
    return job


async def refund(
    session: AsyncSession, *, principal: Principal, job_id: str, runtime: CertificateRuntime
) -> CertificateJob:
    """The municipality's officer or supervisor records the refund: a negative line in the office's ledger."""
    job = await repository.job_for_update(session, job_id)
    if (
        principal.kind is not PrincipalKind.account
        or principal.role not in (Role.officer, Role.supervisor)
        or job is None
        or principal.municipality_code != job.municipality_code
    ):
        if job is None or principal.municipality_code != job.municipality_code:
            raise JobNotFound()
        raise PermissionDenied("a refund is the municipality's officer's or supervisor's step")
    if job.refund_state != "requested":
        raise InvalidJobTransition("no refund is requested for this job")
    now = clock.now()
    job.refund_state = "refunded"
    session.add(
        CertificateFeeEntry(
            id=random_id("cfee"),
            job_id=job.id,
            municipality_code=job.municipality_code,
            post_office_id=job.post_office_id,
            day=_local_day(now, runtime),
            kind=job.kind,
            count=job.count,
            amount_yen=-job.fee_paid_yen,
            entry="refund",
            recorded_by=principal.id,
            recorded_at=now,
        )
    )
    await audit.record(
        session,
        actor=principal,
        action="certificate.refunded",
        municipality_code=job.municipality_code,
        object_type="certificate_job",
        object_id=job.id,
    )
    return job


async def expire_due(session: AsyncSession, *, principal: Principal) -> int:
    """Expire every uncollected receipt past its time (the background sweep; also done lazily on access)."""
    expired = 0
    for job in await repository.due_for_expiry(session, EXPIRING, clock.now()):
        expired += int(await _expire_if_due(session, principal, job))
    return expired
