"""The post-office program against the real hub (in-process): the lobby terminal with the virtual card, and the
clerk's print station printing the municipality's signed certificate to a real cupsd queue.

The printed file is read back from the queue: its PAdES signature verifies with pyHanko against the municipal
test root, and its QR code (rendered by poppler, read by OpenCV) leads to the hub's verification page, which says
it is genuine. Fee and hand-over follow; printer paper-out, duplicate scans and an unreachable hub each give the
clerk their message and leave the job where a reprint picks it up (the fee is taken once).
"""

from __future__ import annotations

import asyncio
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.virtual.pcscd import VpcdSlot
from clerk_agent.card.virtual.people import PEOPLE
from clerk_agent.card.virtual.vicc import ViccClient
from clerk_agent.flows.cardslot import VirtualSlot
from clerk_agent.flows.station import PrintStation, pdf_binding_of
from clerk_agent.kiosk.flow import KioskFlow, KioskStep
from clerk_agent.link.client import HubClient
from clerk_agent.link.hub import HubLink
from clerk_agent.printing.ipp import IppPrinter
from clerk_agent.wording.station import station_notice
from service.audit.models import AuditEvent
from service.db import unit_of_work
from service.wire.certificates import CertificateKind, JobState, Scope, Verdict
from tests._cups import CupsServer, running_cups
from tests.clerk_agent.app._pdf import pdf_lines
from tests.service.certificates.conftest import Office, make_holder

PERSON = "yamada_hanako"


@pytest.fixture(scope="module")
def cups() -> Iterator[CupsServer]:
    yield from running_cups()


def state_of(station: PrintStation) -> JobState:
    """The job's state now (a call, so one assert's narrowing does not carry to the next)."""
    return station.require().job.state


def _link(http: httpx.AsyncClient) -> HubClient:
    return HubClient(HubLink(http, backoff_initial_s=0.01, backoff_max_s=0.02))


def _register_virtual_card(office: Office, slot: VirtualSlot) -> None:
    """The resident register knows the virtual card's holder (by the authentication certificate's serial)."""
    with slot.session() as card:
        card.detect()
        der = card.read_auth_certificate()
    serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
    holder = make_holder(office.pki, office.code, card_serial=serial)
    office.register.add_holder(holder.record)


async def _signature_verifies(pdf: bytes, pki: Path) -> bool:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = x509.load_pem_x509_certificate((pki / "trust/municipal-root.pem").read_bytes())

    trust = asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))
    embedded = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    status = await async_validate_pdf_signature(
        embedded[0], signer_validation_context=ValidationContext(trust_roots=[trust])
    )
    return bool(status.intact and status.valid and status.trusted)


def _qr_of_first_page(pdf: bytes, tmp: Path) -> str:
    import cv2

    path = tmp / "printed.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["/usr/bin/pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", str(path), str(tmp / "page")],
        check=True,
        capture_output=True,
    )
    image = cv2.imread(str(next(tmp.glob("page*.png"))))
    assert image is not None
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


async def test_terminal_to_printed_certificate_and_hand_over(
    office: Office, cups: CupsServer, tmp_path: Path
) -> None:
    slot = VirtualSlot(office.pki, PERSON)
    _register_virtual_card(office, slot)
    slip_uri, cert_uri = cups.add_queue("slips"), cups.add_queue("certificates")
    kiosk = KioskFlow(
        _link(office.kiosk), slot, IppPrinter(slip_uri, poll_s=0.05), municipality_code=office.code
    )
    await kiosk.tick()
    assert kiosk.step is KioskStep.choose, kiosk.notice
    await kiosk.choose(CertificateKind.juminhyo, scope=Scope.self_only)
    await kiosk.submit_pin(bytearray(PEOPLE[PERSON].auth_pin.encode()))
    answer = kiosk.session.answer
    assert answer is not None, kiosk.notice
    assert answer.receipt is not None, answer
    number = answer.receipt.receipt_number
    assert kiosk.session.slip_printed is True
    assert number in pdf_lines(cups.printed("slips"))

    station = PrintStation(_link(office.station), IppPrinter(cert_uri, poll_s=0.05))
    await station.scan(number)
    assert station.notice is None
    current = station.require()
    assert state_of(station) is JobState.accepted_by_clerk
    await station.print_certificate()
    assert station.notice is None, station.problem_code
    assert state_of(station) is JobState.printed
    printed = cups.printed("certificates")
    binding = current.job.binding
    assert binding is not None
    # What came out of the printer is exactly the released copy, bound to this receipt and the card step.
    assert pdf_binding_of(printed) == f"{binding.receipt_number}:{binding.nonce_sha256}"
    assert await _signature_verifies(printed, office.pki)
    url = _qr_of_first_page(printed, tmp_path)
    assert "/verify/" in url
    page = await office.client.get("/verify/" + url.rsplit("/verify/", 1)[1])
    assert page.status_code == 200
    assert "この証明書は真正です" in page.text
    checked = await office.client.post(
        "/api/v1/verify/pdf", content=printed, headers={"content-type": "application/pdf"}
    )
    assert checked.json()["verdict"] == Verdict.genuine.value

    # The same slip scanned again: nothing new happens, the clerk is told.
    await station.scan(number)
    assert station.notice == "duplicate_scan"
    await station.collect_fee()
    assert state_of(station) is JobState.fee_collected
    assert current.job.fee_paid_yen == current.job.fee_yen
    await station.hand_over()
    assert state_of(station) is JobState.handed_over


async def test_paper_out_then_reprint_takes_the_fee_once(office: Office, cups: CupsServer) -> None:
    holder = office.holder()
    answer = await office.request(holder, kind="inkan", scope=None)
    number = answer["receipt"]["receipt_number"]
    uri = cups.add_queue("tray")
    station = PrintStation(_link(office.station), IppPrinter(uri, poll_s=0.05))
    await station.scan(number)
    cups.set_reasons("tray", "media-empty-error")
    await station.print_certificate()
    assert station.notice == "printer_paper_out"
    assert state_of(station) is JobState.print_failed
    assert cups.printed("tray") == b""
    cups.set_reasons("tray", "none")
    await station.print_certificate()  # a reprint: the spoiled copy is superseded
    assert station.notice is None, station.problem_code
    job = station.require().job
    assert (job.state, job.reprints) == (JobState.printed, 1)
    printed = cups.printed("tray")
    binding = job.binding
    assert binding is not None
    assert pdf_binding_of(printed) == f"{binding.receipt_number}:{binding.nonce_sha256}"
    await station.collect_fee()
    assert station.require().job.fee_paid_yen == job.fee_yen


async def test_printer_offline_is_said_and_recorded_then_resumed_queue_prints(
    office: Office, cups: CupsServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A stopped (offline) office printer: the clerk reads the station's words, the hub records the reason,
    nothing reaches the queue; once resumed, printing again reprints without a second fee."""
    answer = await office.request(office.holder(), kind="juminhyo", scope=Scope.self_only)
    uri = cups.add_queue("stopped")
    station = PrintStation(_link(office.station), IppPrinter(uri, poll_s=0.05))
    await station.scan(answer["receipt"]["receipt_number"])
    cups.disable("stopped")
    await station.print_certificate()
    assert station.notice == "printer_offline"
    words = station_notice(station.notice)
    assert words is not None
    assert "オフライン" in words[0]
    assert "offline" in words[1]
    assert state_of(station) is JobState.print_failed
    assert cups.printed("stopped") == b""
    async with unit_of_work(sessionmaker) as session:
        reasons = await session.scalars(
            select(AuditEvent.reason_code).where(
                AuditEvent.object_id == station.require().job.id,
                AuditEvent.action == "certificate.print_failed",
            )
        )
        assert list(reasons) == ["printer_offline"]
    cups.enable("stopped")
    await station.print_certificate()
    assert station.notice is None, station.problem_code
    job = station.require().job
    assert (job.state, job.reprints, job.fee_paid_yen) == (JobState.printed, 1, 0)
    assert cups.printed("stopped") != b""


async def test_unknown_receipt_and_unreachable_hub(office: Office, cups: CupsServer) -> None:
    station = PrintStation(_link(office.station), IppPrinter(cups.add_queue("unused"), poll_s=0.05))
    await station.scan("ZZZZZZZZZZ")
    assert (station.notice, station.current) == ("receipt_not_found", None)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("hub down", request=request)

    async with httpx.AsyncClient(base_url="http://hub.test", transport=httpx.MockTransport(down)) as http:
        offline = PrintStation(_link(http), None)
        await offline.scan("ABCDE12345")
        assert offline.notice == "hub_unavailable"


_REMOVE = "card removed by the test"


@pytest.mark.browser
@pytest.mark.pcsc
@pytest.mark.e2e
async def test_terminal_and_print_station_in_chromium(
    office: Office, cups: CupsServer, vpcd_slot: VpcdSlot, insert: list[ViccClient], tmp_path: Path
) -> None:
    """The Done-when walk: the card in a real pcscd reader, the terminal's touch UI (choice, options, PIN pad,
    receipt, take the card), then the clerk's page (scan, print, duplicate scan, fee, hand over), screenshots of
    each; the printed PDF read back from CUPS verifies, and its QR leads to the page that says it is genuine."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from clerk_agent.app import bind_local
    from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
    from clerk_agent.flows.cardslot import PcscSlot
    from clerk_agent.kiosk.ui import create_kiosk_ui
    from clerk_agent.ui.server import SESSION_COOKIE, STATIC, Csrf, LocalOnly
    from clerk_agent.ui.station import station_routes
    from tests._chromium import chromium
    from tests._seen import assert_clean, assert_in_viewport
    from tests._uvicorn import served
    from tests.clerk_agent.kiosk.conftest import ARTIFACTS
    from tests.plugins.pcsc_slot import plug, unplug

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    material = load_card_material(office.pki, PERSON)
    serial = format(x509.load_der_x509_certificate(material.auth_certificate).serial_number, "x")
    office.register.add_holder(make_holder(office.pki, office.code, card_serial=serial).record)
    slot = PcscSlot(vpcd_slot.reader)
    kiosk = KioskFlow(
        _link(office.kiosk),
        slot,
        IppPrinter(cups.add_queue("lobby"), poll_s=0.05),
        municipality_code=office.code,
    )
    station = PrintStation(_link(office.station), IppPrinter(cups.add_queue("backoffice"), poll_s=0.05))
    csrf = Csrf()
    station_app = Starlette(
        routes=[
            *station_routes(
                station,
                page_template=STATIC / "station.html",
                csrf_token=csrf.token,
                csrf_ok=csrf.check,
                session_cookie=SESSION_COOKIE,
                camera=lambda: None,
            ),
            Mount("/static", StaticFiles(directory=STATIC)),
        ]
    )
    station_app.add_middleware(LocalOnly)
    kiosk_sock, station_sock = bind_local(0), bind_local(0)

    def config(app: Starlette) -> uvicorn.Config:
        return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none")

    watching = asyncio.create_task(slot.watch())
    running = asyncio.create_task(kiosk.run())
    try:
        async with (
            served(config(create_kiosk_ui(kiosk)), sockets=[kiosk_sock]),
            served(config(station_app), sockets=[station_sock]),
            chromium() as browser,
        ):
            terminal = await browser.new_page(viewport={"width": 1280, "height": 800})
            await terminal.goto(f"http://127.0.0.1:{kiosk_sock.getsockname()[1]}/")
            await terminal.wait_for_selector("body[data-step=insert]")
            await terminal.screenshot(path=ARTIFACTS / "e2e-1-insert.png", full_page=True)
            card = await asyncio.to_thread(
                plug, insert, build_virtual_card(person(PERSON), material), vpcd_slot
            )
            await terminal.wait_for_selector("body[data-step=choose]", timeout=20_000)
            await terminal.click("[data-kind=juminhyo]")
            await terminal.click("[data-scope=household]")
            await terminal.click("[data-option=setainushi]")
            await assert_in_viewport(terminal, "#next")
            await terminal.screenshot(path=ARTIFACTS / "e2e-2-choose.png", full_page=True)
            await terminal.click("#next")
            await terminal.wait_for_selector("body[data-step=pin]", timeout=20_000)
            assert "残り3回" in (await terminal.text_content("#pin-tries") or "")
            for digit in PEOPLE[PERSON].auth_pin:
                await terminal.click(f"[data-digit='{digit}']")
            await terminal.screenshot(path=ARTIFACTS / "e2e-3-pin.png", full_page=True)
            await terminal.click("#pin-ok")
            await terminal.wait_for_selector("body[data-step=receipt]", timeout=30_000)
            number = await terminal.text_content("#receipt-number") or ""
            assert number
            assert await terminal.is_visible("#take-card")
            await assert_clean(terminal)
            await terminal.screenshot(path=ARTIFACTS / "e2e-4-receipt.png", full_page=True)
            assert number in pdf_lines(cups.printed("lobby"))
            await asyncio.to_thread(unplug, card, vpcd_slot)
            insert.remove(card)
            await terminal.wait_for_selector("body[data-step=insert]", timeout=20_000)
            assert kiosk.session.answer is None  # the session is gone with the card

            clerk = await browser.new_page(viewport={"width": 1280, "height": 800})
            await clerk.goto(f"http://127.0.0.1:{station_sock.getsockname()[1]}/station")
            await clerk.fill("#receipt-input", number)
            await clerk.click("#scan-typed")
            await clerk.wait_for_selector("body[data-state=accepted_by_clerk]")
            await assert_clean(clerk)
            await clerk.click("#action-print")
            await clerk.wait_for_selector("body[data-state=printed]", timeout=30_000)
            await assert_clean(clerk)
            await clerk.screenshot(path=ARTIFACTS / "e2e-5-printed.png", full_page=True)
            await clerk.fill("#receipt-input", number)
            await clerk.click("#scan-typed")
            await clerk.wait_for_selector("#notice[data-code=duplicate_scan]")
            await clerk.click("#action-fee")
            await clerk.wait_for_selector("body[data-state=fee_collected]")
            await clerk.click("#action-hand_over")
            await clerk.wait_for_selector("body[data-state=handed_over]")
            await clerk.screenshot(path=ARTIFACTS / "e2e-6-handed-over.png", full_page=True)
    finally:
        for task in (running, watching):
            task.cancel()
        await asyncio.gather(running, watching, return_exceptions=True)
    printed = cups.printed("backoffice")
    assert await _signature_verifies(printed, office.pki)
    url = _qr_of_first_page(printed, tmp_path)
    page = await office.client.get("/verify/" + url.rsplit("/verify/", 1)[1])
    assert "この証明書は真正です" in page.text


async def test_expired_receipt_is_said_plainly(office: Office, cups: CupsServer) -> None:
    """An uncollected receipt past its expiry: the clerk reads that it expired and its document was destroyed."""
    import datetime as dt

    from service.kit import clock

    answer = await office.request(office.holder(), kind="inkan", scope=None)
    number = answer["receipt"]["receipt_number"]
    station = PrintStation(_link(office.station), IppPrinter(cups.add_queue("late"), poll_s=0.05))
    later = dt.timedelta(days=2)
    clock.shift_for_tests(later)
    try:
        await station.scan(number)
    finally:
        clock.shift_for_tests(-later)
    assert station.notice == "receipt_expired"
    assert cups.printed("late") == b""
