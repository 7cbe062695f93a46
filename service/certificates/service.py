"""The lobby terminal's side: configuration, the catalogue, the request, the card proof, the receipt and the copy.

A request becomes a receipt in one transaction: the card's signature over the hub's nonce is verified, the record
decides, the certificate system renders and signs the PDF, the PDF is sealed, and the receipt number is assigned —
or none of it happens. The nonce's digest, the PDF's digest and the receipt number bind the copy to the receipt end to
end (docs/certificates.md §Binding).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cardproof.verify import signed_bytes_for, verify_card_proof
from service.certificates import repository
from service.certificates.config import DEFAULT, CertificateSettings
from service.certificates.exceptions import (
    CertificateSystemUnavailable,
    ChallengeExpired,
    ChallengeUsed,
    ChoiceRefused,
    DocumentDestroyed,
    MalformedProof,
    NotAKioskDevice,
    NotDesignated,
    RequestNotFound,
)
from service.certificates.issuer import IssueInput, IssueStamp, render_pdf
from service.certificates.models import CertificateConfig, CertificateDocument, CertificateJob
from service.certificates.rules import choice_refusal, record_refusal
from service.certificates.runtime import CertificateRuntime
from service.errors import PermissionDenied
from service.integrations.resident import CertificateRecord
from service.kit import clock
from service.kit.envelope import EnvelopeError, Sealed, aad_for
from service.kit.ids import random_id
from service.tenancy import service as tenancy_service
from service.tenancy.codes import Procedure
from service.tenancy.exceptions import DesignationNotInForce
from service.wire.certificates import KIND_LABELS as LABELS
from service.wire.certificates import (
    REFUSAL_WORDING,
    Catalogue,
    CertificateKind,
    CertificateOption,
    JobState,
    KindOffer,
    KioskProofBody,
    KioskRequestBody,
    Receipt,
    RefusalCode,
    Scope,
    pdf_binding,
)

AWAITING_CARD = "awaiting_card"  # internal: the request before its card proof (never a JobState on the wire)
ISSUING = "issuing"  # internal: decided, the copy being made; the receipt exists only once it is stored
ISSUE_GRACE_MINUTES = 2
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read off paper and typed


def verification_code() -> str:
    """A short code people type from the paper: 12 characters in three groups (60 bits)."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_receipt(text: str) -> str:
    """A receipt number as typed or scanned: digits only (the slip groups them 5-5)."""
    return "".join(ch for ch in text if ch.isdigit())


def office_of(principal: Principal) -> str:
    """The post office of a clerk-agent device; anyone else is refused."""
    if principal.kind is not PrincipalKind.device or principal.post_office_id is None:
        raise NotAKioskDevice()
    return principal.post_office_id


# --- configuration -----------------------------------------------------------------------------------------


async def settings_for(session: AsyncSession, code: str) -> tuple[int, CertificateSettings]:
    """The configuration in force and its version (0: the built-in default)."""
    row = await repository.latest_config(session, code)
    if row is None:
        return 0, DEFAULT
    return row.version, CertificateSettings.model_validate(row.body)


def require_config_reader(principal: Principal, code: str) -> None:
    if principal.kind is PrincipalKind.account and (
        principal.role is Role.admin or (principal.role is not None and principal.municipality_code == code)
    ):
        return
    raise PermissionDenied("only the municipality's staff or an admin read the certificate configuration")


async def put_settings(
    session: AsyncSession, *, actor: Principal, code: str, body: CertificateSettings
) -> tuple[int, CertificateSettings]:
    """A new version of the configuration (admin, or the municipality's supervisor)."""
    allowed = actor.kind is PrincipalKind.account and (
        actor.role is Role.admin or (actor.role is Role.supervisor and actor.municipality_code == code)
    )
    if not allowed:
        raise PermissionDenied("only an admin or the municipality's supervisor changes the configuration")
    await tenancy_service.get_municipality(session, code)
    current = await repository.latest_config(session, code)
    version = (current.version if current else 0) + 1
    session.add(
        CertificateConfig(
            id=random_id("ccf"),
            municipality_code=code,
            version=version,
            body=body.model_dump(mode="json"),
            created_by=actor.id,
            created_at=clock.now(),
        )
    )
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="certificate.config_changed",
        municipality_code=code,
        object_type="certificate_config",
        object_id=f"{code}:v{version}",
    )
    return version, body


# --- the terminal ------------------------------------------------------------------------------------------


async def _designated(
    session: AsyncSession, *, principal: Principal, code: str, runtime: CertificateRuntime
) -> str:
    office = office_of(principal)
    try:
        await tenancy_service.designation_in_force(
            session,
            municipality_code=code,
            post_office_id=office,
            procedure=Procedure.certificate_kiosk,
            tz=runtime.tz,
        )
    except DesignationNotInForce as exc:
        raise NotDesignated(exc.detail) from exc
    return office


async def catalogue(
    session: AsyncSession, *, principal: Principal, code: str, runtime: CertificateRuntime
) -> Catalogue:
    """What this office's terminal may offer for the municipality now."""
    await _designated(session, principal=principal, code=code, runtime=runtime)
    municipality = await tenancy_service.get_municipality(session, code)
    version, config = await settings_for(session, code)
    closed = config.closed_reason(clock.now(), runtime.tz)
    kinds = [
        KindOffer(
            kind=k.kind,
            ja=LABELS[k.kind][0],
            en=LABELS[k.kind][1],
            kiosk_fee_yen=k.kiosk_fee_yen,
            counter_fee_yen=k.counter_fee_yen,
            scopes=k.scopes,
            options=config.selectable_options(k),
            max_count=k.max_count,
        )
        for k in config.kinds
        if k.enabled
    ]
    return Catalogue(
        municipality_code=code,
        municipality_name=municipality.name,
        config_version=version,
        open_now=closed is None,
        closed_reason=closed,
        hours=f"{config.opens}-{config.closes}",
        kinds=kinds,
    )


def _refused(code: RefusalCode) -> ChoiceRefused:
    ja, en = REFUSAL_WORDING[code]
    return ChoiceRefused(f"{ja} / {en}", refusal=code.value, message_ja=ja, message_en=en)


async def open_request(
    session: AsyncSession,
    *,
    principal: Principal,
    body: KioskRequestBody,
    runtime: CertificateRuntime,
    ttl_seconds: int,
) -> CertificateJob:
    """The resident's choice, checked against the configuration; answered with a single-use nonce for the card."""
    office = await _designated(session, principal=principal, code=body.municipality_code, runtime=runtime)
    version, config = await settings_for(session, body.municipality_code)
    now = clock.now()
    closed = config.closed_reason(now, runtime.tz)
    refusal = closed or choice_refusal(
        config, kind=body.kind, scope=body.scope, options=body.options, count=body.count
    )
    if refusal is not None:
        raise _refused(refusal)
    offered = config.kind(body.kind)
    if offered is None:  # choice_refusal checked it; kept for the type
        raise _refused(RefusalCode.kind_not_offered)
    nonce = secrets.token_urlsafe(32)
    job = CertificateJob(
        id=random_id("crq"),
        municipality_code=body.municipality_code,
        post_office_id=office,
        kiosk_device_id=principal.id,
        kind=body.kind.value,
        scope=body.scope.value if body.scope else None,
        options=sorted(o.value for o in body.options),
        count=body.count,
        fee_yen=offered.kiosk_fee_yen * body.count,
        config_version=version,
        origin=runtime.origin,
        nonce=nonce,
        nonce_sha256=hashlib.sha256(nonce.encode()).hexdigest(),
        challenge_expires_at=now + dt.timedelta(seconds=ttl_seconds),
        state=AWAITING_CARD,
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
        action="certificate.requested",
        municipality_code=job.municipality_code,
        object_type="certificate_job",
        object_id=job.id,
        to_state=AWAITING_CARD,
        reason_code=job.kind,
    )
    return job


def _b64(field: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedProof(f"{field} is not base64") from exc


async def new_receipt_number(session: AsyncSession) -> str:
    # Ten random digits (5-5 on the slip): unguessable enough that a typed number only finds its own receipt.
    while True:
        number = f"{secrets.randbelow(10**10):010d}"
        if not await repository.receipt_taken(session, number):
            return number


async def submit_proof(
    session: AsyncSession,
    *,
    principal: Principal,
    request_id: str,
    body: KioskProofBody,
    runtime: CertificateRuntime,
) -> tuple[CertificateJob, IssueInput | None]:
    """Verify the card's signature over this request's nonce and decide: refused (no extract), or the extract to
    issue from (the job then waits in ISSUING for prepare_copy and complete_issue)."""
    job = await repository.job_for_update(session, request_id)
    if job is None or job.kiosk_device_id != principal.id:
        raise RequestNotFound()
    if job.state != AWAITING_CARD or job.nonce is None:
        raise ChallengeUsed()
    now = clock.now()
    if job.challenge_expires_at <= now:
        raise ChallengeExpired()
    nonce, job.nonce = job.nonce, None  # single use, whatever the outcome
    certificate, signature = _b64("certificate", body.certificate), _b64("signature", body.signature)
    try:
        bytes.fromhex(body.atr)
    except ValueError as exc:
        raise MalformedProof("atr is not hex") from exc
    evidence = runtime.evidence
    result = verify_card_proof(
        certificate_der=certificate,
        signature=signature,
        signed_bytes=signed_bytes_for(job.origin, nonce, job.id),
        trust=evidence.trust,
        at=now,
        allow_test_roots=evidence.allow_test_roots,
        revocation=evidence.revocation,
    )
    version, config = await settings_for(session, job.municipality_code)
    kind, scope = CertificateKind(job.kind), Scope(job.scope) if job.scope else None
    if not result.ok or result.certificate_serial is None:
        return await _refuse(session, principal, job, RefusalCode.card_proof_failed), None
    closed = config.closed_reason(now, runtime.tz)
    if closed is not None:
        return await _refuse(session, principal, job, closed), None
    if runtime.records is None or runtime.authority is None:
        raise CertificateSystemUnavailable("no certificate system is configured")
    serial = format(result.certificate_serial, "x")
    holder = await runtime.records.holder_of(municipality_code=job.municipality_code, card_serial=serial)
    household: list[CertificateRecord] = []
    if holder is not None and (scope is Scope.household or CertificateOption.setainushi.value in job.options):
        household = await runtime.records.household_of(
            municipality_code=job.municipality_code, household_id=holder.household_id
        )
    today = now.astimezone(runtime.tz).date()
    refusal = record_refusal(config, holder, kind=kind, scope=scope, household=household, today=today)
    if refusal is not None or holder is None:
        return await _refuse(session, principal, job, refusal or RefusalCode.not_resident), None
    municipality = await tenancy_service.get_municipality(session, job.municipality_code)
    source = IssueInput(
        municipality_code=job.municipality_code,
        municipality_name=municipality.name,
        kind=kind,
        scope=scope,
        options=tuple(CertificateOption(o) for o in job.options),
        count=job.count,
        holder=holder,
        household=tuple(household) if scope is Scope.household else (holder,),
    )
    job.receipt_number = await new_receipt_number(session)
    job.config_version = version
    job.state = ISSUING
    # Until the copy is stored: a request whose issue never completes (a replica gone) is closed by the sweep.
    job.expires_at = now + dt.timedelta(minutes=ISSUE_GRACE_MINUTES)
    job.updated_at = now
    return job, source


@dataclass(frozen=True)
class PreparedCopy:
    """A rendered, signed copy not yet stored (made outside any transaction)."""

    document_id: str
    stamp: IssueStamp
    pages: int
    signed: bytes


async def prepare_copy(
    runtime: CertificateRuntime, *, job: CertificateJob, source: IssueInput
) -> PreparedCopy:
    """The municipality's certificate system renders and signs one copy bound to the job's receipt (no DB)."""
    authority = runtime.authority
    if authority is None or job.receipt_number is None:
        raise CertificateSystemUnavailable("no certificate system is configured")
    now = clock.now()
    code = verification_code()
    stamp = IssueStamp(
        issue_number=f"{now.astimezone(runtime.tz):%Y%m%d}-{secrets.randbelow(10**8):08d}",
        verification_code=code,
        verify_url=f"{runtime.origin}/verify/{code}",
        issued_at=now.astimezone(runtime.tz),
    )
    pdf, pages = await asyncio.to_thread(render_pdf, source, stamp)
    signer = authority.signer_for(source.municipality_code, source.municipality_name)
    signed = await authority.sign(
        pdf,
        signer,
        reason=f"{LABELS[source.kind][0]} {stamp.issue_number}",
        binding=pdf_binding(job.receipt_number, job.nonce_sha256),
    )
    return PreparedCopy(random_id("cdoc"), stamp, pages, signed)


async def complete_issue(
    session: AsyncSession,
    *,
    principal: Principal,
    job_id: str,
    source: IssueInput,
    prepared: PreparedCopy,
    runtime: CertificateRuntime,
) -> CertificateJob:
    """Store the prepared copy and issue the receipt, if the job still waits for it (fail closed otherwise)."""
    job = await repository.job_for_update(session, job_id)
    if job is None or job.state != ISSUING or job.kiosk_device_id != principal.id:
        raise ChallengeUsed("the request is no longer waiting for its certificate")
    _, config = await settings_for(session, job.municipality_code)
    await store_copy(session, runtime=runtime, job=job, prepared=prepared)
    return await issue_receipt(
        session,
        principal=principal,
        job=job,
        source=source,
        config=config,
        runtime=runtime,
        from_state=AWAITING_CARD,
    )


async def issue_receipt(
    session: AsyncSession,
    *,
    principal: Principal,
    job: CertificateJob,
    source: IssueInput,
    config: CertificateSettings,
    runtime: CertificateRuntime,
    from_state: str,
    case_id: str | None = None,
) -> CertificateJob:
    """Seal the record extract with the job (for a reprint; shredded at hand-over) and issue the receipt: the one
    ending of the terminal's card step and of the counter's approved request (docs/certificates.md §Binding)."""
    now = clock.now()
    sealed = runtime.evidence.keyring.seal(
        json.dumps(source.to_json(), ensure_ascii=False).encode(),
        aad_for(case_id=job.id, field="certificate_source", object_id=job.id),
    )
    job.source_kek_id, job.source_wrapped_key, job.source_ciphertext = (
        sealed.kek_id,
        sealed.wrapped_key,
        sealed.ciphertext,
    )
    job.receipt_issued_at = now
    job.expires_at = now + dt.timedelta(minutes=config.uncollected_minutes)
    job.state = JobState.receipt_issued.value
    job.updated_at = now
    await audit.record(
        session,
        actor=principal,
        action="certificate.receipt_issued",
        municipality_code=job.municipality_code,
        case_id=case_id,
        object_type="certificate_job",
        object_id=job.id,
        from_state=from_state,
        to_state=job.state,
        reason_code=job.kind,
    )
    return job


async def _refuse(
    session: AsyncSession, principal: Principal, job: CertificateJob, code: RefusalCode
) -> CertificateJob:
    job.state = JobState.refused.value
    job.refusal_code = code.value
    job.updated_at = clock.now()
    await audit.record(
        session,
        actor=principal,
        action="certificate.refused",
        municipality_code=job.municipality_code,
        object_type="certificate_job",
        object_id=job.id,
        from_state=AWAITING_CARD,
        to_state=job.state,
        reason_code=code.value,
    )
    return job


async def issue_copy(
    session: AsyncSession, *, runtime: CertificateRuntime, job: CertificateJob, source: IssueInput
) -> CertificateDocument:
    """Render, sign and store one copy in the caller's transaction (a reprint: rare, so the lock is held)."""
    prepared = await prepare_copy(runtime, job=job, source=source)
    return await store_copy(session, runtime=runtime, job=job, prepared=prepared)


async def store_copy(
    session: AsyncSession, *, runtime: CertificateRuntime, job: CertificateJob, prepared: PreparedCopy
) -> CertificateDocument:
    """Seal the copy under the KEK and register it as the job's current document."""
    sealed = runtime.evidence.keyring.seal(
        prepared.signed, aad_for(case_id=job.id, field="certificate_pdf", object_id=prepared.document_id)
    )
    document = CertificateDocument(
        id=prepared.document_id,
        job_id=job.id,
        municipality_code=job.municipality_code,
        kind=job.kind,
        issue_number=prepared.stamp.issue_number,
        verification_code=prepared.stamp.verification_code,
        issued_at=clock.now(),
        pages=prepared.pages,
        content_sha256=hashlib.sha256(prepared.signed).hexdigest(),
        status="current",
        kek_id=sealed.kek_id,
        wrapped_key=sealed.wrapped_key,
        ciphertext=sealed.ciphertext,
    )
    session.add(document)
    await session.flush()
    return document


def open_document(runtime: CertificateRuntime, document: CertificateDocument) -> bytes:
    """The sealed PDF, decrypted against its own job and id; a destroyed one is refused."""
    if document.ciphertext is None or document.wrapped_key is None or document.kek_id is None:
        raise DocumentDestroyed()
    try:
        return runtime.evidence.keyring.open(
            Sealed(document.kek_id, document.wrapped_key, document.ciphertext),
            aad_for(case_id=document.job_id, field="certificate_pdf", object_id=document.id),
        )
    except EnvelopeError as exc:
        raise DocumentDestroyed("the sealed document does not open") from exc


def open_source(runtime: CertificateRuntime, job: CertificateJob) -> IssueInput:
    """What the copy was made from (for a reprint), until it is shredded."""
    if job.source_ciphertext is None or job.source_wrapped_key is None or job.source_kek_id is None:
        raise DocumentDestroyed()
    plain = runtime.evidence.keyring.open(
        Sealed(job.source_kek_id, job.source_wrapped_key, job.source_ciphertext),
        aad_for(case_id=job.id, field="certificate_source", object_id=job.id),
    )
    return IssueInput.from_json(json.loads(plain))


async def receipt_of(session: AsyncSession, job: CertificateJob) -> Receipt:
    """The receipt slip's content: numbers, office, kind, count, fee, expiry — no name, address or number."""
    if job.receipt_number is None or job.receipt_issued_at is None or job.expires_at is None:
        raise RequestNotFound("no receipt was issued for this request")
    office = await tenancy_service.get_post_office(session, job.post_office_id)
    return Receipt(
        receipt_number=f"{job.receipt_number[:5]}-{job.receipt_number[5:]}",
        post_office_id=job.post_office_id,
        post_office_name=office.name,
        municipality_code=job.municipality_code,
        kind=CertificateKind(job.kind),
        count=job.count,
        fee_yen=job.fee_yen,
        issued_at=job.receipt_issued_at,
        expires_at=job.expires_at,
    )
