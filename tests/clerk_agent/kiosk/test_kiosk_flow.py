"""The lobby terminal's flow with the in-process virtual card, a stand-in hub and a real cupsd for the slip."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clerk_agent.card.virtual.people import PEOPLE
from clerk_agent.flows.cardslot import VirtualSlot
from clerk_agent.kiosk.flow import KioskFlow, KioskStep
from clerk_agent.kiosk.view import kiosk_view
from clerk_agent.link.client import HubClient
from clerk_agent.printing.ipp import IppPrinter
from service.wire.certificates import CertificateKind, CertificateOption, RefusalCode, Scope
from tests._cups import CupsServer
from tests.clerk_agent.app._pdf import pdf_lines
from tests.clerk_agent.kiosk._standin import MUNICIPALITY, StandInHub

PIN = PEOPLE["yamada_hanako"].auth_pin


@dataclass
class Terminal:
    flow: KioskFlow
    hub: StandInHub
    slot: VirtualSlot
    cups: CupsServer
    queue: str


@pytest.fixture
async def terminal(cups: CupsServer, pki: Path, request: pytest.FixtureRequest) -> AsyncIterator[Terminal]:
    queue = request.node.name.replace("test_", "")[:40]
    uri = cups.add_queue(queue)
    hub = StandInHub(pki)
    link, http = hub.link()
    slot = VirtualSlot(pki, "yamada_hanako")
    flow = KioskFlow(
        HubClient(link), slot, IppPrinter(uri, poll_s=0.05), municipality_code=MUNICIPALITY, idle_timeout_s=60
    )
    try:
        yield Terminal(flow, hub, slot, cups, queue)
    finally:
        await http.aclose()


def step_of(flow: KioskFlow) -> KioskStep:
    """The flow's step now (a call, so the type checker does not carry one assert's narrowing to the next)."""
    return flow.step


def pin(digits: str) -> bytearray:
    return bytearray(digits.encode())


async def test_card_to_receipt_slip_and_take_the_card(terminal: Terminal) -> None:
    flow = terminal.flow
    await flow.tick()
    assert step_of(flow) is KioskStep.choose
    view = kiosk_view(flow)
    kinds = {k["kind"]: k for k in view["kinds"]}  # type: ignore[attr-defined]
    assert set(kinds) == {"juminhyo", "inkan"}
    # 個人番号 is not offered, so the terminal does not show it and refuses it if sent anyway.
    assert "kojin_bango" not in {o["option"] for o in kinds["juminhyo"]["options"]}
    with pytest.raises(ValueError, match="option"):
        await flow.choose(
            CertificateKind.juminhyo, scope=Scope.household, options=[CertificateOption.kojin_bango]
        )
    await flow.choose(
        CertificateKind.juminhyo, count=2, scope=Scope.household, options=[CertificateOption.honseki]
    )
    assert kiosk_view(flow)["step"] == "pin"
    assert kiosk_view(flow)["pin_retries"] == 3
    typed = pin(PIN)
    await flow.submit_pin(typed)
    assert typed == bytearray(4)  # wiped
    assert kiosk_view(flow)["step"] == "receipt"
    assert terminal.hub.proofs_ok == [True]
    # The PIN never went to the hub: no request body carried it.
    assert not any(PIN.encode() in body for body in terminal.hub.seen_bodies)
    receipt = terminal.hub.receipts[0]
    assert (receipt.count, receipt.fee_yen) == (2, 400)
    assert flow.session.slip_printed is True
    lines = pdf_lines(terminal.cups.printed(terminal.queue))
    assert receipt.receipt_number in lines
    assert any("住民票の写し" in line for line in lines)
    assert any("400円" in line for line in lines)
    # No name, birth date or number of the cardholder on the slip.
    holder = PEOPLE["yamada_hanako"]
    assert not any(holder.name in line or holder.birth_date.isoformat() in line for line in lines)
    view = kiosk_view(flow)
    assert view["receipt"]["receipt_number"] == receipt.receipt_number  # type: ignore[index]
    terminal.slot.remove()
    await flow.tick()
    assert step_of(flow) is KioskStep.insert
    assert flow.session.answer is None
    assert flow.notice is None


async def test_wrong_pin_shows_tries_and_the_last_try_is_refused(terminal: Terminal) -> None:
    flow = terminal.flow
    await flow.tick()
    await flow.choose(CertificateKind.inkan)
    await flow.submit_pin(pin("0000"))
    assert (step_of(flow), flow.notice) == (KioskStep.pin, "pin_incorrect")
    assert kiosk_view(flow)["pin_retries"] == 2
    await flow.submit_pin(pin("0000"))
    # One try left: the terminal does not ask for it, and sends the resident to the municipal counter.
    assert (step_of(flow), flow.notice) == (KioskStep.take_card, "pin_last_try")
    assert terminal.hub.receipts == []
    terminal.slot.remove()
    await flow.tick()
    terminal.slot.insert()
    await flow.tick()
    asked = len(terminal.hub.requests)
    await flow.choose(CertificateKind.inkan)
    assert (step_of(flow), flow.notice) == (KioskStep.take_card, "pin_last_try")
    assert len(terminal.hub.requests) == asked  # nothing was requested from the hub this time


async def test_refusal_shows_only_the_neutral_words(terminal: Terminal) -> None:
    terminal.hub.refusal = RefusalCode.support_measure
    flow = terminal.flow
    await flow.tick()
    await flow.choose(CertificateKind.juminhyo, scope=Scope.self_only)
    await flow.submit_pin(pin(PIN))
    assert step_of(flow) is KioskStep.refused
    view = kiosk_view(flow)
    assert view["refusal"] == {
        "ja": "市区町村の窓口でお尋ねください。",
        "en": "Please ask at the municipal counter.",
    }
    assert "support" not in str(view)
    assert terminal.cups.printed(terminal.queue) == b""


async def test_card_removed_at_the_pin_pad_starts_over(terminal: Terminal) -> None:
    flow = terminal.flow
    await flow.tick()
    await flow.choose(CertificateKind.inkan)
    terminal.slot.remove()
    await flow.tick()
    assert (step_of(flow), flow.notice) == (KioskStep.insert, "card_removed")
    assert flow.session.kind is None
    assert flow.session.challenge is None


async def test_idle_timeout_wipes_the_session(terminal: Terminal) -> None:
    flow = terminal.flow
    await flow.tick()
    await flow.choose(CertificateKind.juminhyo, scope=Scope.self_only, options=[CertificateOption.setainushi])
    flow.last_touch -= flow.idle_timeout_s + 1  # as if nobody touched the screen for longer than the timeout
    await flow.tick()
    assert (step_of(flow), flow.notice) == (KioskStep.take_card, "idle_timeout")
    assert flow.session.challenge is None


async def test_hub_unreachable_leaves_nothing_half_done(terminal: Terminal) -> None:
    flow = terminal.flow
    await flow.tick()
    await flow.choose(CertificateKind.inkan)
    terminal.hub.down = True
    await flow.submit_pin(pin(PIN))
    assert (step_of(flow), flow.notice) == (KioskStep.take_card, "hub_unavailable")
    assert terminal.hub.receipts == []
    assert terminal.cups.printed(terminal.queue) == b""


async def test_paper_out_shows_the_receipt_number_instead(terminal: Terminal) -> None:
    terminal.cups.set_reasons(terminal.queue, "media-empty-error")
    flow = terminal.flow
    await flow.tick()
    await flow.choose(CertificateKind.inkan)
    await flow.submit_pin(pin(PIN))
    assert kiosk_view(flow)["step"] == "receipt"
    assert flow.session.slip_printed is False
    number = terminal.hub.receipts[0].receipt_number
    view = kiosk_view(flow)
    assert view["receipt"]["slip_problem"]["ja"].startswith("用紙がありません")  # type: ignore[index]
    terminal.slot.remove()
    await flow.tick()
    assert (step_of(flow), flow.notice, flow.unprinted_receipt) == (
        KioskStep.insert,
        "slip_not_printed",
        number,
    )


def test_the_slips_qr_code_reads_back_as_the_receipt_number(tmp_path: Path) -> None:
    """What the print station's camera reads from a slip is the receipt number, and nothing else."""
    import datetime as dt
    import subprocess

    import cv2

    from clerk_agent.kiosk.slip import render_slip
    from clerk_agent.photo.qr import read_receipt_number
    from service.wire.certificates import Receipt

    now = dt.datetime.now(dt.UTC)
    receipt = Receipt(
        receipt_number="12345-67890",
        post_office_id="po_demo",
        municipality_code=MUNICIPALITY,
        kind=CertificateKind.inkan,
        count=1,
        fee_yen=200,
        issued_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )
    (tmp_path / "slip.pdf").write_bytes(render_slip(receipt, "窓口市（デモ）"))
    subprocess.run(
        ["/usr/bin/pdftoppm", "-r", "150", "-png", str(tmp_path / "slip.pdf"), str(tmp_path / "slip")],
        check=True,
        capture_output=True,
    )
    image = cv2.imread(str(next(tmp_path.glob("slip*.png"))))
    assert image is not None
    assert read_receipt_number(image.astype("uint8")) == "12345-67890"
