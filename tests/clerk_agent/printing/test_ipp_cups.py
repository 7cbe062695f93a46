"""The IPP printing adapter against a real cupsd (one per module): printed bytes, offline, paper out, failed jobs."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from clerk_agent.errors import (
    PrinterError,
    PrinterOffline,
    PrinterPaperOut,
    PrinterUnreachable,
    PrintJobFailed,
)
from clerk_agent.printing.ipp import IppPrinter, JobState, PrinterState
from clerk_agent.wording.printing import PRINTER_PROBLEMS, printer_problem
from tests._cups import CupsServer, running_cups
from tests._procs import free_port


@pytest.fixture(scope="module")
def cups() -> Iterator[CupsServer]:
    yield from running_cups()


def _pdf(text: str) -> bytes:
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(100, 700, text)
    page.showPage()
    page.save()
    return out.getvalue()


async def test_prints_the_pdf_unchanged(cups: CupsServer) -> None:
    uri = cups.add_queue("plain")
    printer = IppPrinter(uri, poll_s=0.05)
    status = await printer.status()
    assert status.state is PrinterState.idle
    assert status.accepting
    document = _pdf("Certificate 0001")
    printed = await printer.print_pdf(document, job_name="receipt-0001")
    assert printed.job_id > 0
    assert cups.printed("plain") == document
    job = await printer.job(printed.job_id)
    assert JobState(job["job-state"]) is JobState.completed


async def test_stopped_queue_is_offline_and_nothing_is_queued(cups: CupsServer) -> None:
    uri = cups.add_queue("paused")
    printer = IppPrinter(uri, poll_s=0.05)
    cups.disable("paused")
    with pytest.raises(PrinterOffline) as raised:
        await printer.print_pdf(_pdf("never"), job_name="offline")
    assert "stopped" in str(raised.value)
    assert cups.printed("paused") == b""
    cups.enable("paused")
    document = _pdf("after resume")
    await printer.print_pdf(document, job_name="resumed")
    assert cups.printed("paused") == document


async def test_paper_out_is_reported_before_sending(cups: CupsServer) -> None:
    uri = cups.add_queue("tray")
    printer = IppPrinter(uri, poll_s=0.05)
    cups.set_reasons("tray", "media-empty-error")
    status = await printer.status()
    assert status.paper_out
    with pytest.raises(PrinterPaperOut):
        await printer.print_pdf(_pdf("never"), job_name="paper-out")
    assert cups.printed("tray") == b""
    cups.set_reasons("tray", "none")
    assert not (await printer.status()).paper_out
    document = _pdf("paper loaded")
    await printer.print_pdf(document, job_name="paper-loaded")
    assert cups.printed("tray") == document


async def test_failed_job_is_reported_and_not_left_queued(cups: CupsServer) -> None:
    uri = cups.add_queue("broken", device_file=False)
    printer = IppPrinter(uri, poll_s=0.05)
    with pytest.raises(PrintJobFailed) as raised:
        await printer.print_pdf(_pdf("lost"), job_name="broken", deadline_s=20)
    assert raised.value.job_id is not None
    # Cancelled, so it cannot come out of the printer later, after the clerk was told it failed.
    job = await printer.job(raised.value.job_id)
    assert JobState(job["job-state"]) in {JobState.canceled, JobState.aborted}
    assert not cups.output("broken").exists()


async def test_unreachable_printer() -> None:
    printer = IppPrinter(f"ipp://127.0.0.1:{free_port()}/printers/none", request_timeout_s=2)
    with pytest.raises(PrinterUnreachable):
        await printer.print_pdf(b"%PDF-1.4", job_name="nowhere")


def test_every_printer_error_has_words_in_both_languages() -> None:
    for error in (PrinterError, PrinterUnreachable, PrinterOffline, PrinterPaperOut, PrintJobFailed):
        ja, en = printer_problem(error.code)
        assert error.code in PRINTER_PROBLEMS
        assert ja
        assert en != ja
    assert printer_problem("something_new") == PRINTER_PROBLEMS["printer_error"]
