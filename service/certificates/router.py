"""Certificate endpoints: the lobby terminal, the clerk's print station, the municipality, and public verification."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from service.accounts.deps import AppSettings, CurrentPrincipal
from service.certificates import ledger, printing, verification
from service.certificates import service as issuing
from service.certificates.config import CertificateSettings
from service.certificates.exceptions import (
    BindingMismatch,
    CertificateSystemUnavailable,
    ChallengeExpired,
    ChallengeUsed,
    ChoiceRefused,
    DocumentDestroyed,
    FeeMismatch,
    InvalidJobTransition,
    JobNotFound,
    MalformedProof,
    NotAKioskDevice,
    NotDesignated,
    ReceiptClosed,
    ReceiptExpired,
    ReceiptNotFound,
    RequestNotFound,
)
from service.certificates.runtime import CertificateRuntime
from service.certificates.schemas import ConfigRead
from service.certificates.settlement_pdf import settlement_pdf as render_settlement
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.tenancy.exceptions import MunicipalityNotFound
from service.wire.certificates import (
    HEADER_CONTENT_SHA256,
    HEADER_NONCE_SHA256,
    HEADER_RECEIPT,
    REFUSAL_WORDING,
    Catalogue,
    FeeBody,
    JobState,
    KioskAnswer,
    KioskChallenge,
    KioskProofBody,
    KioskRequestBody,
    PrintedBody,
    PrintFailedBody,
    PrintJob,
    RefusalCode,
    ReprintBody,
    ScanBody,
    VoidBody,
)

router = APIRouter(prefix="/api/v1", tags=["certificates"])
public_router = APIRouter(tags=["certificates"])

_DEVICE = (Unauthenticated, NotAKioskDevice)
_JOB = (*_DEVICE, JobNotFound, ReceiptExpired, InvalidJobTransition)


def _runtime(request: Request) -> CertificateRuntime:
    runtime: CertificateRuntime = request.app.state.certificates
    return runtime


# --- the lobby terminal ------------------------------------------------------------------------------------


@router.get(
    "/certificates/catalogue",
    response_model=Catalogue,
    responses=problem_responses(*_DEVICE, NotDesignated, MunicipalityNotFound),
)
async def read_catalogue(
    municipality_code: Annotated[str, Query(pattern=r"^\d{6}$")],
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
) -> Catalogue:
    """Lobby terminal: the certificates, options and kiosk fees the municipality offers here now."""
    return await issuing.catalogue(
        session, principal=principal, code=municipality_code, runtime=_runtime(request)
    )


@router.post(
    "/certificates/requests",
    response_model=KioskChallenge,
    status_code=201,
    responses=problem_responses(*_DEVICE, NotDesignated, ChoiceRefused),
)
async def open_request(
    body: KioskRequestBody,
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
) -> KioskChallenge:
    """Lobby terminal: the resident's choice; the answer is the nonce the card signs (SHA-256(origin) ‖ SHA-256(nonce) ‖ request_id)."""
    job = await issuing.open_request(
        session,
        principal=principal,
        body=body,
        runtime=_runtime(request),
        ttl_seconds=settings.card_challenge_ttl_seconds,
    )
    return KioskChallenge(
        request_id=job.id, nonce=job.nonce or "", origin=job.origin, expires_at=job.challenge_expires_at
    )


@router.post(
    "/certificates/requests/{request_id}/proof",
    response_model=KioskAnswer,
    responses=problem_responses(
        *_DEVICE,
        RequestNotFound,
        ChallengeUsed,
        ChallengeExpired,
        MalformedProof,
        CertificateSystemUnavailable,
    ),
)
async def submit_proof(
    request_id: str, body: KioskProofBody, request: Request, session: DBSession, principal: CurrentPrincipal
) -> KioskAnswer:
    """Lobby terminal: the card's signature; the answer is the receipt, or a refusal in neutral words only."""
    runtime = _runtime(request)
    # Three short transactions, none held while the PDF is rendered and signed: on SQLite a transaction holds the
    # database's write lock from its first statement, so the authentication's own is ended first.
    await session.commit()
    job, source = await issuing.submit_proof(
        session, principal=principal, request_id=request_id, body=body, runtime=runtime
    )
    await session.commit()
    if source is None:
        code = RefusalCode(job.refusal_code or RefusalCode.card_proof_failed)
        ja, en = REFUSAL_WORDING[code]
        return KioskAnswer(
            request_id=job.id, state=JobState.refused, refusal=code, message_ja=ja, message_en=en
        )
    prepared = await issuing.prepare_copy(runtime, job=job, source=source)
    job = await issuing.complete_issue(
        session, principal=principal, job_id=job.id, source=source, prepared=prepared, runtime=runtime
    )
    receipt = await issuing.receipt_of(session, job)
    return KioskAnswer(
        request_id=job.id,
        state=JobState(job.state),
        receipt=receipt,
        message_ja="受付レシートを窓口にお出しください。",
        message_en="Please hand the receipt to the counter.",
    )


# --- the clerk's print station ------------------------------------------------------------------------------


@router.post(
    "/certificates/scans",
    response_model=PrintJob,
    responses=problem_responses(*_DEVICE, ReceiptNotFound, ReceiptExpired, ReceiptClosed),
)
async def scan_receipt(body: ScanBody, session: DBSession, principal: CurrentPrincipal) -> PrintJob:
    """Print station: the receipt scanned (QR) or typed; a repeated scan answers the same job unchanged."""
    job = await printing.scan(session, principal=principal, receipt_number=body.receipt_number)
    return await printing.answer(session, job)


@router.get("/certificates/jobs/{job_id}", response_model=PrintJob, responses=problem_responses(*_JOB))
async def read_job(job_id: str, session: DBSession, principal: CurrentPrincipal) -> PrintJob:
    """Print station: the job's state and binding."""
    job = await printing.job_of_office(session, principal, job_id)
    return await printing.answer(session, job)


@router.get(
    "/certificates/jobs/{job_id}/document",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}},
            "description": "The signed PDF; its binding in the headers",
        },
        **problem_responses(*_JOB, BindingMismatch, DocumentDestroyed),
    },
)
async def release_document(
    job_id: str,
    receipt_number: Annotated[str, Query(min_length=4, max_length=32)],
    request: Request,
    session: DBSession,
    principal: CurrentPrincipal,
) -> Response:
    """Print station: this receipt's document only (the station names the receipt it scanned)."""
    try:
        job, document, pdf = await printing.release(
            session,
            principal=principal,
            job_id=job_id,
            receipt_number=receipt_number,
            runtime=_runtime(request),
        )
    except BindingMismatch as exc:
        await _record_mismatch(session, principal, job_id, exc)
        raise
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            HEADER_RECEIPT: job.receipt_number or "",
            HEADER_NONCE_SHA256: job.nonce_sha256,
            HEADER_CONTENT_SHA256: document.content_sha256,
            "Cache-Control": "no-store",
        },
    )


async def _record_mismatch(
    session: DBSession, principal: CurrentPrincipal, job_id: str, exc: BindingMismatch
) -> None:
    # The refusal rolls the request's work back; its audit row is committed on its own.
    await session.rollback()
    await printing.record_mismatch(
        session, principal=principal, job_id=job_id, leg=str(exc.extra.get("leg", ""))
    )
    await session.commit()


@router.post(
    "/certificates/jobs/{job_id}/printed",
    response_model=PrintJob,
    responses=problem_responses(*_JOB, BindingMismatch),
)
async def report_printed(
    job_id: str, body: PrintedBody, session: DBSession, principal: CurrentPrincipal
) -> PrintJob:
    """Print station: printed, with the binding it checked echoed back; a mismatch is refused and recorded."""
    try:
        job = await printing.printed(session, principal=principal, job_id=job_id, body=body)
    except BindingMismatch as exc:
        await _record_mismatch(session, principal, job_id, exc)
        raise
    return await printing.answer(session, job)


@router.post(
    "/certificates/jobs/{job_id}/print-failed", response_model=PrintJob, responses=problem_responses(*_JOB)
)
async def report_print_failed(
    job_id: str, body: PrintFailedBody, session: DBSession, principal: CurrentPrincipal
) -> PrintJob:
    """Print station: the printer failed or the station refused the document."""
    job = await printing.print_failed(session, principal=principal, job_id=job_id, reason=body.reason)
    return await printing.answer(session, job)


@router.post(
    "/certificates/jobs/{job_id}/reprint",
    response_model=PrintJob,
    responses=problem_responses(*_JOB, DocumentDestroyed, CertificateSystemUnavailable),
)
async def reprint(
    job_id: str, body: ReprintBody, request: Request, session: DBSession, principal: CurrentPrincipal
) -> PrintJob:
    """Print station: a new copy supersedes the spoiled one (voided); the fee is still taken once."""
    job = await printing.reprint(
        session, principal=principal, job_id=job_id, reason=body.reason, runtime=_runtime(request)
    )
    return await printing.answer(session, job)


@router.post(
    "/certificates/jobs/{job_id}/fee",
    response_model=PrintJob,
    responses=problem_responses(*_JOB, FeeMismatch),
)
async def collect_fee(
    job_id: str, body: FeeBody, request: Request, session: DBSession, principal: CurrentPrincipal
) -> PrintJob:
    """Print station: the fee taken in cash (exactly the job's fee)."""
    job = await printing.collect_fee(
        session, principal=principal, job_id=job_id, amount_yen=body.amount_yen, runtime=_runtime(request)
    )
    return await printing.answer(session, job)


@router.post(
    "/certificates/jobs/{job_id}/hand-over", response_model=PrintJob, responses=problem_responses(*_JOB)
)
async def hand_over(job_id: str, session: DBSession, principal: CurrentPrincipal) -> PrintJob:
    """Print station: handed over; the hub destroys its copy."""
    job = await printing.hand_over(session, principal=principal, job_id=job_id)
    return await printing.answer(session, job)


@router.post("/certificates/jobs/{job_id}/void", response_model=PrintJob, responses=problem_responses(*_JOB))
async def void(job_id: str, body: VoidBody, session: DBSession, principal: CurrentPrincipal) -> PrintJob:
    """Print station: void the job before the fee is taken; its copies are destroyed."""
    job = await printing.void(session, principal=principal, job_id=job_id, reason=body.reason)
    return await printing.answer(session, job)


@router.post(
    "/certificates/jobs/{job_id}/refund-request", response_model=PrintJob, responses=problem_responses(*_JOB)
)
async def request_refund(job_id: str, session: DBSession, principal: CurrentPrincipal) -> PrintJob:
    """Print station: ask the municipality to refund the collected fee."""
    job = await printing.request_refund(session, principal=principal, job_id=job_id)
    return await printing.answer(session, job)


# --- the municipality ---------------------------------------------------------------------------------------


@router.post(
    "/certificates/jobs/{job_id}/refund",
    response_model=PrintJob,
    responses=problem_responses(Unauthenticated, PermissionDenied, JobNotFound, InvalidJobTransition),
)
async def refund(job_id: str, request: Request, session: DBSession, principal: CurrentPrincipal) -> PrintJob:
    """Municipal officer or supervisor: the refund, recorded as a negative line of the office's ledger."""
    job = await printing.refund(session, principal=principal, job_id=job_id, runtime=_runtime(request))
    return await printing.answer(session, job)


@router.get(
    "/certificates/ledger",
    response_model=ledger.DayLedger,
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def day_ledger(
    day: dt.date,
    session: DBSession,
    principal: CurrentPrincipal,
    post_office_id: Annotated[str | None, Query(max_length=40)] = None,
) -> ledger.DayLedger:
    """A device: its office's day; the municipality's staff: their lines at any office (cash register figures)."""
    return await ledger.day_ledger(session, principal=principal, post_office_id=post_office_id, day=day)


@router.get(
    "/municipalities/{code}/certificates/settlement",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The month's settlement (UTF-8 with BOM)"},
        **problem_responses(Unauthenticated, PermissionDenied, MunicipalityNotFound),
    },
)
async def settlement(
    code: str,
    month: Annotated[str, Query(pattern=r"^20\d\d-(0[1-9]|1[0-2])$")],
    session: DBSession,
    principal: CurrentPrincipal,
) -> Response:
    """The municipality's staff or an admin: the monthly settlement per office, day and kind, as CSV."""
    text = await ledger.settlement_csv(session, principal=principal, code=code, month=month)
    return Response(
        text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="certificates-{code}-{month}.csv"'},
    )


@router.get(
    "/municipalities/{code}/certificates/settlement.pdf",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}},
            "description": "The month's settlement, printable (精算書)",
        },
        **problem_responses(Unauthenticated, PermissionDenied, MunicipalityNotFound),
    },
)
async def settlement_pdf(
    code: str,
    month: Annotated[str, Query(pattern=r"^20\d\d-(0[1-9]|1[0-2])$")],
    session: DBSession,
    principal: CurrentPrincipal,
) -> Response:
    """The municipality's staff or an admin: the same settlement as a printable PDF."""
    found = await ledger.settlement(session, principal=principal, code=code, month=month)
    return Response(
        await asyncio.to_thread(render_settlement, found),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificates-{code}-{month}.pdf"'},
    )


@router.get(
    "/municipalities/{code}/certificate-config",
    response_model=ConfigRead,
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def read_config(code: str, session: DBSession, principal: CurrentPrincipal) -> ConfigRead:
    """The municipality's staff or an admin: the configuration in force and its version."""
    issuing.require_config_reader(principal, code)
    version, body = await issuing.settings_for(session, code)
    return ConfigRead(municipality_code=code, version=version, config=body)


@router.put(
    "/municipalities/{code}/certificate-config",
    response_model=ConfigRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, MunicipalityNotFound),
)
async def put_config(
    code: str, body: CertificateSettings, session: DBSession, principal: CurrentPrincipal
) -> ConfigRead:
    """An admin or the municipality's supervisor: a new version of the configuration."""
    version, config = await issuing.put_settings(session, actor=principal, code=code, body=body)
    return ConfigRead(municipality_code=code, version=version, config=config)


# --- public verification ------------------------------------------------------------------------------------


@router.get("/verify/{code}", response_model=verification.VerificationRead)
async def verify_code(
    code: Annotated[str, Path(max_length=40)], session: DBSession
) -> verification.VerificationRead:
    """Anyone: the register's answer for a verification code (no personal data)."""
    return await verification.by_code(session, code)


@router.post(
    "/verify/pdf",
    response_model=verification.VerificationRead,
    # Declared as octet-stream (the PDF's bytes; any content type is read the same), which the fuzzers can send.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def verify_pdf(request: Request, session: DBSession) -> verification.VerificationRead:
    """Anyone: is this PDF exactly a copy the municipality issued (genuine, superseded, void), altered, or unknown?"""
    return await verification.check_pdf(session, _runtime(request), await request.body())


@public_router.get("/verify/{code}", response_class=HTMLResponse, include_in_schema=False)
async def verify_page(code: str, session: DBSession) -> HTMLResponse:
    """The page a certificate's QR code opens: Japanese first, English beside it."""
    read = await verification.by_code(session, code[:40])
    return HTMLResponse(
        verification.page(read, code[:40]),
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            "Cache-Control": "no-store",
        },
    )
