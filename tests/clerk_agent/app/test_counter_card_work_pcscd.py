"""The card work after approval through the production PC/SC path (docs/card-procedures.md §Seam): the counter app on
a real pcscd + vpcd reader, the issuer's channel relayed through a real hub process to the card's management applet.

One visit: a renewal (new certificates verified by the hub, the old revoked at the issuer simulator, the new one
read by OpenSC), then a reset of the 利用者証明用 PIN that the applicant types, which then opens the card.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from clerk_agent.card.protocol import JPKI_AID, MyNumberCard
from clerk_agent.card.virtual.admin import factory_install
from clerk_agent.card.virtual.build import build_virtual_card, load_card_material
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from tests._services import missing_service
from tests.clerk_agent.app.conftest import CounterClient, Hub, Officer, agent_running, until_view
from tests.clerk_agent.app.test_counter_card_work import (
    HOLDER,
    _admin,
    _approved,
    _phase,
    assert_not_at_the_hub,
    assert_renewed,
    certificates,
    hub_rows,
)

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.slow]
NEW_AUTH_PIN = "5827"  # invented for the test

try:
    from clerk_agent.card import pcsc
    from clerk_agent.card.virtual.pcscd import PcscdStack, StackUnavailable, VpcdSlot
    from clerk_agent.card.virtual.vicc import ViccClient
except ImportError:  # pyscard missing: the fixture reports it
    pcsc = None  # type: ignore[assignment]


@pytest.fixture
def card(agent_pki: Path) -> VirtualMyNumberCard:
    """花子's card as the factory made it: the hub's test PKI, the issuer's management applet."""
    built = build_virtual_card(HOLDER, load_card_material(agent_pki, HOLDER.key), label="card-work pcscd")
    factory_install(built, agent_pki, HOLDER.key)
    return built


@pytest.fixture
def reader_with_card(card: VirtualMyNumberCard) -> Iterator[str]:
    """The card in a vpcd slot of a real pcscd; removed and released after."""
    if pcsc is None:
        missing_service("pyscard")
    stack = PcscdStack()
    try:
        stack.acquire()
        slot: VpcdSlot = stack.allocate_slot()
    except StackUnavailable as exc:
        missing_service(f"pcscd + vsmartcard-vpcd: {exc}")
    _present, before = pcsc.reader_state(slot.reader)
    client = ViccClient(card, port=slot.port, netns=slot.netns).start()
    try:
        pcsc.wait_for_card_event(slot.reader, present=True, after=before)
        yield slot.reader
    finally:
        client.stop()
        pcsc.wait_for_card_event(slot.reader, present=False)
        stack.release()


def _opensc_certificate(reader: str) -> bytes:
    """The 利用者証明用 certificate as OpenSC's JPKI driver reads it (pkcs15-tool, object 01), DER."""
    tool = shutil.which("pkcs15-tool")
    if tool is None:
        missing_service("OpenSC (apt-get install opensc)")
        raise AssertionError("unreachable")
    read = subprocess.run(
        [tool, "--reader", reader, "--read-certificate", "01"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return x509.load_pem_x509_certificate(read.stdout.encode()).public_bytes(serialization.Encoding.DER)


def _opens(reader: str, pin: str) -> None:
    """VERIFY of the 利用者証明用 PIN through pcscd (raises PinIncorrect when the card refuses it)."""
    transport = pcsc.connect_with_backoff(reader, timeout=10)
    try:
        session = MyNumberCard(transport)
        session.detect()
        session.verify_auth_pin(bytearray(pin.encode()))
    finally:
        transport.close()


async def test_a_renewal_and_a_pin_reset_through_pcscd_and_the_hub(
    hub: Hub,
    tmp_path: Path,
    agent_pki: Path,
    card: VirtualMyNumberCard,
    reader_with_card: str,
    fresh_database_url: str,
) -> None:
    before = certificates(card)
    async with (
        agent_running(
            hub, tmp_path / "agent", agent_pki, card_source=reader_with_card, card_admin=_admin
        ) as agent,
        httpx.AsyncClient(base_url=agent.base) as ui,
        httpx.AsyncClient() as officer_http,
    ):
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        case_id = await _approved(counter, applicant, officer, "ecert_issue_renew")
        answers = {"under_15": False, "adult_ward": False, "basic4_changed": False}
        await counter.post(
            "/api/card-work/ecert", {"certificates": ["sign", "auth"], "requester": "holder", **answers}
        )
        done = await until_view(counter, "/api/state", _phase("done"))  # type: ignore[arg-type]
        assert [d["code"] for d in done["card_work"]["done"]] == ["renew_auth", "renew_sign"]  # type: ignore[index]
        await assert_renewed(officer, case_id, agent_pki, card, before)
        # OpenSC reads the new certificate through pcscd where it read the old one.
        assert (
            await asyncio.to_thread(_opensc_certificate, reader_with_card) == card.file(JPKI_AID, 0x000A).data
        )
        # The same visit: the applicant resets the 利用者証明用 PIN on their own screen.
        await counter.post("/api/card-work/cancel")
        await counter.post("/api/card-work/pin", {"pin": "auth", "mode": "reset", "requester": "holder"})
        await until_view(counter, "/api/state", _phase("pin_entry"))  # type: ignore[arg-type]
        await applicant.post("/api/applicant/card-pin", raw=f"{NEW_AUTH_PIN}\n{NEW_AUTH_PIN}".encode())
        reset = await until_view(counter, "/api/state", _phase("done"))  # type: ignore[arg-type]
        assert [d["code"] for d in reset["card_work"]["done"]] == ["renew_auth", "renew_sign", "reset_auth"]  # type: ignore[index]
        await asyncio.to_thread(_opens, reader_with_card, NEW_AUTH_PIN)
    assert_not_at_the_hub(NEW_AUTH_PIN, await hub_rows(fresh_database_url), hub, agent)
