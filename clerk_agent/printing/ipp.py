"""Print a PDF on the office's printer over IPP (a CUPS queue or an IPP Everywhere printer), and say why it did not.

The printer is asked before a job is sent (stopped, not accepting jobs, out of paper), the job is followed until
the printer says it is done, and a job that cannot finish is cancelled: a certificate must never come out of an
unattended tray later, after the clerk was told it failed (docs/certificate-printing.md §Printing).
IPP itself comes from pyipp (async, pure Python); only the few attributes below are read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from pyipp import IPP
from pyipp.enums import IppOperation
from pyipp.exceptions import IPPConnectionError, IPPError

from clerk_agent.errors import (
    PrinterOffline,
    PrinterPaperOut,
    PrinterUnreachable,
    PrintJobFailed,
)

logger = logging.getLogger(__name__)

USER_NAME: Final = "madoguchi"
_PRINTER_ATTRIBUTES: Final = [
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-is-accepting-jobs",
]
_JOB_ATTRIBUTES: Final = ["job-state", "job-state-reasons", "job-state-message"]
# RFC 8011 §5.4.12: a reason may end in -report, -warning or -error; the keyword before it is what matters here.
_SEVERITIES: Final = ("-report", "-warning", "-error")
_PAPER_OUT: Final = frozenset({"media-empty", "media-needed", "input-tray-missing"})
_OFFLINE: Final = frozenset(
    {"paused", "offline", "shutdown", "connecting-to-device", "door-open", "media-jam", "stopped-partly"}
)


class PrinterState(IntEnum):
    """printer-state (RFC 8011 §5.4.11)."""

    idle = 3
    processing = 4
    stopped = 5


class JobState(IntEnum):
    """job-state (RFC 8011 §5.3.7)."""

    pending = 3
    pending_held = 4
    processing = 5
    processing_stopped = 6
    canceled = 7
    aborted = 8
    completed = 9


def _keywords(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    values = value if isinstance(value, list | tuple) else [value]
    return frozenset(str(v) for v in values if str(v) != "none")


def _bare(reason: str) -> str:
    for suffix in _SEVERITIES:
        if reason.endswith(suffix):
            return reason[: -len(suffix)]
    return reason


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer says about itself."""

    state: PrinterState
    reasons: frozenset[str]
    accepting: bool
    message: str

    @property
    def paper_out(self) -> bool:
        """No paper in the tray the job needs."""
        return any(_bare(r) in _PAPER_OUT for r in self.reasons)

    @property
    def offline(self) -> bool:
        """Stopped, paused, unreachable behind the queue, jammed or not taking jobs."""
        return (
            self.state is PrinterState.stopped
            or not self.accepting
            or any(_bare(r) in _OFFLINE for r in self.reasons)
        )

    def check(self) -> None:
        """Raise the clerk's reason not to send a job now (paper first: it is what the clerk can fix)."""
        if self.paper_out:
            raise PrinterPaperOut(self.describe())
        if self.offline:
            raise PrinterOffline(self.describe())

    def describe(self) -> str:
        """The printer's own words, for the log and the clerk's details line."""
        reasons = ",".join(sorted(self.reasons)) or "none"
        return f"printer {self.state.name} ({reasons}){': ' + self.message if self.message else ''}"


@dataclass(frozen=True)
class PrintedJob:
    """A job the printer reported as completed."""

    job_id: int
    seconds: float


class IppPrinter:
    """One printer by its IPP URI, e.g. `ipp://127.0.0.1:631/printers/certificates`."""

    def __init__(self, uri: str, *, request_timeout_s: int = 8, poll_s: float = 0.2) -> None:
        self.uri = uri
        self.request_timeout_s = request_timeout_s
        self.poll_s = poll_s

    async def _execute(self, operation: IppOperation, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.setdefault("operation-attributes-tag", {})
        # CUPS refuses pyipp's default "en-US": RFC 8011 §5.1.10 language tags are lower case.
        attributes["attributes-natural-language"] = "en"
        attributes["requesting-user-name"] = USER_NAME
        try:
            async with IPP(self.uri, request_timeout=self.request_timeout_s) as ipp:
                return await ipp.execute(operation, message)
        except IPPConnectionError as exc:
            raise PrinterUnreachable(f"printer {self.uri} unreachable") from exc
        except IPPError as exc:
            # The printer answered, but refused: report what it said (status code in exc.args).
            raise PrintJobFailed(f"printer refused {operation.name}: {exc.args}") from exc

    async def status(self) -> PrinterStatus:
        """Get-Printer-Attributes: state, reasons, whether it takes jobs."""
        answer = await self._execute(
            IppOperation.GET_PRINTER_ATTRIBUTES,
            {"operation-attributes-tag": {"requested-attributes": _PRINTER_ATTRIBUTES}},
        )
        printer: dict[str, Any] = next(iter(answer.get("printers") or []), {})
        return PrinterStatus(
            state=PrinterState(int(printer.get("printer-state", PrinterState.stopped))),
            reasons=_keywords(printer.get("printer-state-reasons")),
            accepting=bool(printer.get("printer-is-accepting-jobs", False)),
            message=str(printer.get("printer-state-message") or ""),
        )

    async def print_pdf(self, pdf: bytes, *, job_name: str, deadline_s: float = 120.0) -> PrintedJob:
        """Send `pdf` and wait until the printer has printed it; on any failure the job is cancelled."""
        (await self.status()).check()
        started = time.monotonic()
        try:
            answer = await self._execute(
                IppOperation.PRINT_JOB,
                {
                    "operation-attributes-tag": {
                        "job-name": job_name,
                        "document-format": "application/pdf",
                    },
                    "data": pdf,
                },
            )
        except PrintJobFailed:
            # A refusal at submission is most often the printer going offline in between: say that if so.
            (await self.status()).check()
            raise
        created: dict[str, Any] = next(iter(answer.get("jobs") or []), {})
        job_id = int(created.get("job-id", 0))
        if not job_id:
            raise PrintJobFailed("the printer did not return a job id")
        try:
            await self._follow(job_id, started + deadline_s)
        except BaseException:
            await self._cancel_quietly(job_id)
            raise
        return PrintedJob(job_id, time.monotonic() - started)

    async def _follow(self, job_id: int, deadline: float) -> None:
        while True:
            job = await self.job(job_id)
            state = JobState(int(job.get("job-state", JobState.pending)))
            if state is JobState.completed:
                return
            if state in {JobState.canceled, JobState.aborted}:
                reasons = ",".join(sorted(_keywords(job.get("job-state-reasons"))))
                message = f"job {job_id} {state.name} ({reasons}) {job.get('job-state-message', '')}"
                raise PrintJobFailed(message, job_id=job_id)
            # While the job waits, the printer's reasons tell paper out or offline apart from a slow printer.
            printer = await self.status()
            if state is JobState.processing_stopped or printer.paper_out or printer.offline:
                printer.check()
                raise PrintJobFailed(f"job {job_id} stopped: {printer.describe()}", job_id=job_id)
            if time.monotonic() > deadline:
                raise PrintJobFailed(f"job {job_id} not printed in time ({state.name})", job_id=job_id)
            await asyncio.sleep(self.poll_s)

    async def job(self, job_id: int) -> dict[str, Any]:
        """Get-Job-Attributes of one job."""
        answer = await self._execute(
            IppOperation.GET_JOB_ATTRIBUTES,
            {"operation-attributes-tag": {"job-id": job_id, "requested-attributes": _JOB_ATTRIBUTES}},
        )
        return dict(next(iter(answer.get("jobs") or []), {}))

    async def _cancel_quietly(self, job_id: int) -> None:
        try:
            await self._execute(IppOperation.CANCEL_JOB, {"operation-attributes-tag": {"job-id": job_id}})
        except (PrinterUnreachable, PrintJobFailed) as exc:
            # Already finished or the printer is gone; the clerk is told about the failure either way.
            logger.warning("job %d not cancelled: %s", job_id, exc)
