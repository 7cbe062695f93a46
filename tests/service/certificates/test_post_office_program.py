"""The post-office program against the real hub (in-process): the lobby terminal with the virtual card, and the
clerk's print station printing the municipality's signed certificate to a real cupsd queue.

The printed file is read back from the queue: its PAdES signature verifies with pyHanko against the municipal
test root, and its QR code (rendered by poppler, read by OpenCV) leads to the hub's verification page, which says
it is genuine. Fee and hand-over follow; printer paper-out, duplicate scans and an unreachable hub each give the
clerk their message and leave the job where a reprint picks it up (the fee is taken once).
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from clerk_agent.card.virtual.people import PEOPLE
from clerk_agent.flows.cardslot import VirtualSlot
from clerk_agent.flows.station import PrintStation, pdf_binding_of, same_receipt
from clerk_agent.kiosk.flow import KioskFlow, KioskStep
from clerk_agent.link.client import HubClient
from clerk_agent.link.hub import HubLink
from clerk_agent.printing.ipp import IppPrinter
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


@pytest.mark.browser
async def test_print_station_in_chromium(office: Office, cups: CupsServer, tmp_path: Path) -> None:
    """The clerk's page: type the receipt, print, fee, hand over; a second scan is said to be one."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from clerk_agent.app import bind_local
    from clerk_agent.ui.server import SESSION_COOKIE, STATIC, Csrf, LocalOnly
    from clerk_agent.ui.station import station_routes
    from tests._chromium import chromium
    from tests._seen import assert_clean
    from tests._uvicorn import served
    from tests.clerk_agent.kiosk.conftest import ARTIFACTS

    answer = await office.request(office.holder(), kind="juminhyo", scope="household", count=2)
    number = answer["receipt"]["receipt_number"]
    station = PrintStation(_link(office.station), IppPrinter(cups.add_queue("office"), poll_s=0.05))
    csrf = Csrf()
    routes = station_routes(
        station,
        page_template=STATIC / "station.html",
        csrf_token=csrf.token,
        csrf_ok=csrf.check,
        session_cookie=SESSION_COOKIE,
        camera=lambda: None,
    )
    app = Starlette(routes=[*routes, Mount("/static", StaticFiles(directory=STATIC))])
    app.add_middleware(LocalOnly)
    sock = bind_local(0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none")
    async with served(config, sockets=[sock]), chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(base + "/station")
        await page.fill("#receipt-input", number)
        await page.click("#scan-typed")
        await page.wait_for_selector("body[data-state=accepted_by_clerk]")
        assert same_receipt(await page.text_content("#job-receipt") or "", number)
        await assert_clean(page)
        await page.screenshot(path=ARTIFACTS / "station-1-scanned.png", full_page=True)
        await page.click("#action-print")
        await page.wait_for_selector("body[data-state=printed]", timeout=30_000)
        await assert_clean(page)
        await page.screenshot(path=ARTIFACTS / "station-2-printed.png", full_page=True)
        printed = cups.printed("office")
        assert await _signature_verifies(printed, office.pki)
        # The same slip again: the clerk is told, nothing changes.
        await page.fill("#receipt-input", number)
        await page.click("#scan-typed")
        await page.wait_for_selector("#notice[data-code=duplicate_scan]")
        assert await page.is_visible("#notice")
        await page.click("#action-fee")
        await page.wait_for_selector("body[data-state=fee_collected]")
        await page.click("#action-hand_over")
        await page.wait_for_selector("body[data-state=handed_over]")
        await page.screenshot(path=ARTIFACTS / "station-3-handed-over.png", full_page=True)
    checked = await office.client.post(
        "/api/v1/verify/pdf", content=printed, headers={"content-type": "application/pdf"}
    )
    assert checked.json()["verdict"] == Verdict.genuine.value
