"""The clerk's print station (back office): scan the receipt, print that receipt's certificate, fee, hand-over.

The hub releases a document only for the receipt the clerk scanned; the station then checks the binding end to
end before anything reaches the printer: the headers name this receipt, the bytes hash to the digest the hub
declares for this job, and the PDF's own signed metadata names this receipt and the card step's nonce digest.
A document that does not match is refused and reported, never printed. A printer problem is reported as
`print_failed` with its reason; the clerk reprints (the hub supersedes the spoiled copy; the fee is taken once)
(docs/certificate-printing.md §Station).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from clerk_agent.errors import PrinterError, PrinterOffline, PrinterPaperOut
from clerk_agent.link.client import HubClient, ReleasedDocument
from clerk_agent.link.hub import HubRefused, HubUnavailable
from clerk_agent.printing.ipp import IppPrinter
from service.wire.certificates import (
    JOB_TERMINAL_STATES,
    PDF_BINDING_KEY,
    JobState,
    PrintedBody,
    PrintFailedBody,
    PrintFailure,
    PrintJob,
    ReprintBody,
    pdf_binding,
)

logger = logging.getLogger(__name__)

# Hub problem codes the station turns into its own words (clerk_agent/wording/station.py).
_HUB_NOTICES = {
    "receipt_not_found": "receipt_not_found",
    "receipt_expired": "receipt_expired",
    "receipt_closed": "receipt_closed",
    "binding_mismatch": "binding_mismatch",
    "document_destroyed": "receipt_closed",
    "fee_mismatch": "fee_mismatch",
}


class BindingRefused(Exception):
    """The released document does not belong to the scanned receipt (which leg says where)."""

    def __init__(self, leg: str) -> None:
        super().__init__(f"the document's {leg} does not match the scanned receipt")
        self.leg = leg


def pdf_binding_of(pdf: bytes) -> str | None:
    """The binding text in the PDF's document information (None when there is none or it is unreadable)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        info = PdfFileReader(io.BytesIO(pdf), strict=False).trailer["/Info"]
        value = info.get(PDF_BINDING_KEY)
    except Exception:  # any unreadable PDF is simply not bound, and so refused
        return None
    return str(value) if value is not None else None


def same_receipt(*numbers: str) -> bool:
    """Whether these name one receipt: the hub reads a receipt number by its digits (the slip groups them 5-5)."""
    digits = {"".join(ch for ch in number if ch.isdigit()) for number in numbers}
    return len(digits) == 1 and "" not in digits


def check_binding(scanned: str, job: PrintJob, document: ReleasedDocument) -> None:
    """Refuse a document that is not this receipt's: headers, digest, and the PDF's own signed binding."""
    binding = job.binding
    if binding is None:
        raise BindingRefused("job binding")
    if not same_receipt(scanned, job.receipt_number, document.receipt_number, binding.receipt_number):
        raise BindingRefused("receipt number")
    digest = hashlib.sha256(document.pdf).hexdigest()
    if not (digest == document.content_sha256 == binding.content_sha256):
        raise BindingRefused("content digest")
    if document.nonce_sha256 != binding.nonce_sha256:
        raise BindingRefused("nonce digest")
    if pdf_binding_of(document.pdf) != pdf_binding(binding.receipt_number, binding.nonce_sha256):
        raise BindingRefused("embedded binding")


@dataclass
class StationJob:
    """The job on the clerk's screen: what the hub says, and what the station last printed for it."""

    scanned: str
    job: PrintJob
    printed_job_id: int | None = None


class PrintStation:
    """One clerk's print station: the current receipt, the message to show, the office printer."""

    def __init__(self, client: HubClient, printer: IppPrinter | None) -> None:
        self.client = client
        self.printer = printer
        self.current: StationJob | None = None
        self.notice: str | None = None
        self.problem_code = ""
        self._last_failure: PrintFailure | None = None

    def _hub_problem(self, exc: HubRefused) -> None:
        self.notice = _HUB_NOTICES.get(exc.problem_code, "hub_refused")
        self.problem_code = exc.problem_code

    async def scan(self, receipt_number: str) -> None:
        """The receipt scanned or typed: the hub answers with that receipt's job (accepted once)."""
        number = "".join(receipt_number.split()).upper()
        self.notice, self.problem_code = None, ""
        if not number:
            self.notice = "receipt_not_found"
            return
        if self.current is not None and same_receipt(self.current.scanned, number):
            self.notice = "duplicate_scan"  # the same slip twice: nothing new happens
        try:
            job = await self.client.certificate_scan(number)
        except HubUnavailable:
            self.notice = "hub_unavailable"
            return
        except HubRefused as exc:
            self._hub_problem(exc)
            return
        if job.state is JobState.expired:
            # Found uncollected past its expiry: the hub has just destroyed its document.
            self.notice, self.current = "receipt_expired", None
            return
        if job.state in JOB_TERMINAL_STATES:
            self.notice, self.current = "receipt_closed", None
            return
        if self.current is None or self.current.job.id != job.id:
            if job.state not in {JobState.receipt_issued, JobState.accepted_by_clerk}:
                # Already accepted elsewhere or earlier: say so, and let the clerk carry on from where it is.
                self.notice = "duplicate_scan"
            self.current = StationJob(scanned=number, job=job)
        else:
            self.current.job = job

    def require(self) -> StationJob:
        """The job on screen (LookupError when none is)."""
        if self.current is None:
            raise LookupError("no receipt scanned")
        return self.current

    async def print_certificate(self) -> None:
        """Fetch this receipt's document, check its binding, print it, and tell the hub."""
        current = self.require()
        self.notice, self.problem_code = None, ""
        if self.printer is None:
            self.notice = "printer_unreachable"
            return
        try:
            if current.job.state in {JobState.print_failed, JobState.printed}:
                current.job = await self.client.certificate_reprint(
                    current.job.id, ReprintBody(reason=self._last_failure or PrintFailure.other)
                )
            document = await self.client.certificate_document(current.job.id, current.scanned)
            current.job = await self.client.certificate_job(current.job.id)
        except HubUnavailable:
            self.notice = "hub_unavailable"
            return
        except HubRefused as exc:
            self._hub_problem(exc)
            return
        try:
            check_binding(current.scanned, current.job, document)
        except BindingRefused as exc:
            logger.error("certificate refused before printing: %s", exc)
            await self._report_failure(PrintFailure.binding_mismatch, exc.leg)
            self.notice = "binding_mismatch"
            return
        try:
            printed = await self.printer.print_pdf(
                document.pdf, job_name=f"certificate-{current.scanned}", deadline_s=180
            )
        except PrinterError as exc:
            reason = (
                PrintFailure.paper_out
                if isinstance(exc, PrinterPaperOut)
                else PrintFailure.printer_offline
                if isinstance(exc, PrinterOffline)
                else PrintFailure.other
            )
            await self._report_failure(reason, exc.code)
            self.notice = exc.code
            return
        binding = current.job.binding
        if binding is None:  # checked by check_binding; kept for the type checker
            return
        current.printed_job_id = printed.job_id
        try:
            current.job = await self.client.certificate_printed(
                current.job.id,
                PrintedBody(
                    receipt_number=binding.receipt_number,
                    nonce_sha256=binding.nonce_sha256,
                    content_sha256=binding.content_sha256,
                ),
            )
        except HubUnavailable:
            self.notice = "hub_unavailable"
        except HubRefused as exc:
            self._hub_problem(exc)

    async def _report_failure(self, reason: PrintFailure, detail: str) -> None:
        current = self.require()
        self._last_failure = reason
        try:
            current.job = await self.client.certificate_print_failed(
                current.job.id, PrintFailedBody(reason=reason, detail=detail[:200])
            )
        except (HubUnavailable, HubRefused) as exc:
            logger.warning("print failure not recorded at the hub: %s", exc)

    async def collect_fee(self) -> None:
        """The fee taken in cash (exactly the job's fee; a reprint is not charged again)."""
        await self._step(lambda job: self.client.certificate_fee(job.id, job.fee_yen - job.fee_paid_yen))

    async def hand_over(self) -> None:
        """The certificate is handed over; the hub destroys its copy."""
        await self._step(lambda job: self.client.certificate_hand_over(job.id))

    async def _step(self, call: Callable[[PrintJob], Awaitable[PrintJob]]) -> None:
        current = self.require()
        self.notice, self.problem_code = None, ""
        try:
            current.job = await call(current.job)
        except HubUnavailable:
            self.notice = "hub_unavailable"
        except HubRefused as exc:
            self._hub_problem(exc)

    def clear(self) -> None:
        """Next receipt."""
        self.current, self.notice, self.problem_code = None, None, ""
