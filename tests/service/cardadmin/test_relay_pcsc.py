"""Remote card management through the real PC/SC stack: the hub's API, the agent's relay on a PcscTransport, pcscd
with vpcd, the virtual card with its management applet (docs/card-admin.md). A renewal and a PIN reset end to end,
and an agent process killed for real in the middle of a renewal, then retried."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.protocol import JPKI_AID, MyNumberCard
from clerk_agent.card.virtual.pcscd import VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient
from clerk_agent.flows.cardrelay import renew_certificates, reset_pin
from clerk_agent.link.hub import HubLink
from service.cardadmin.models import CardAdminJob
from service.cardadmin.router import app_runtime
from service.cardadmin.service import serials_of
from service.cardproof.revocation import CrlRevocationChecker, RevocationStatus
from service.cardproof.verify import signed_bytes_for, verify_card_proof
from service.tenancy.codes import Procedure
from service.wire.cardadmin import CardState, PinName
from tests._services import missing_service
from tests._uvicorn import served
from tests.factories import World
from tests.plugins.pcsc_slot import plug
from tests.service.cardadmin.conftest import HANAKO, factory_card, quick_approved_case

try:
    from clerk_agent.card import pcsc
except ImportError:  # pyscard missing: the pcsc_stack fixture reports it (skip locally, fail under CI)
    pcsc = None  # type: ignore[assignment]

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


def _proof(app: Any, reader: str, pin: str) -> tuple[bool, RevocationStatus, int]:
    """Read and sign through pcscd as the counter does; verify with the hub's card-proof code and the issuer's CRLs."""
    transport = pcsc.connect_with_backoff(reader, timeout=10)
    try:
        card = MyNumberCard(transport)
        certificate = card.read_auth_certificate()
        card.verify_auth_pin(bytearray(pin.encode()))
        message = signed_bytes_for("http://hub.test", "p" * 43, "case_pcsc")
        signature = card.sign_auth(message)
    finally:
        transport.close()
    result = verify_card_proof(
        certificate_der=certificate,
        signature=signature,
        signed_bytes=message,
        trust=app.state.evidence.trust,
        at=dt.datetime.now(dt.UTC),
        allow_test_roots=True,
        revocation=CrlRevocationChecker(app.state.card_admin.issuer.crls()),
    )
    return result.ok, result.revocation.status, x509.load_der_x509_certificate(certificate).serial_number


def _opensc_certificate(reader: str) -> bytes:
    """The 利用者証明用 certificate as OpenSC's JPKI driver reads it (pkcs15-tool, object id 01), DER."""
    pkcs15_tool = shutil.which("pkcs15-tool")
    if pkcs15_tool is None:
        missing_service("OpenSC (apt-get install opensc)")
        raise AssertionError("unreachable")
    read = subprocess.run(
        [pkcs15_tool, "--reader", reader, "--read-certificate", "01"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return x509.load_pem_x509_certificate(read.stdout.encode()).public_bytes(serialization.Encoding.DER)


async def _relay(link: HubLink, reader: str, case_id: str) -> Any:
    transport = pcsc.connect_with_backoff(reader, timeout=10)
    try:
        return await renew_certificates(link, transport, case_id)
    finally:
        transport.close()


async def test_renewal_then_pin_reset_through_pcscd(
    app: Any,
    world: World,
    link: HubLink,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    vpcd_slot: VpcdSlot,
    insert: list[ViccClient],
) -> None:
    card, applet = factory_card(dev_pki_dir)
    old_serial = x509.load_der_x509_certificate(card.file(JPKI_AID, 0x000A).data).serial_number
    plug(insert, card, vpcd_slot)
    case_id = await quick_approved_case(sessionmaker, world.a)

    result = await _relay(link, vpcd_slot.reader, case_id)

    assert (result.outcome, result.card_state) == ("renewed", CardState.new)
    ok, revocation, serial = await asyncio.to_thread(_proof, app, vpcd_slot.reader, HANAKO.auth_pin)
    assert ok
    assert revocation is RevocationStatus.GOOD
    assert serial != old_serial
    assert app.state.card_admin.issuer.revoked(old_serial)
    # OpenSC reads the new certificate where it read the old one.
    assert await asyncio.to_thread(_opensc_certificate, vpcd_slot.reader) == card.file(JPKI_AID, 0x000A).data

    # The same visit: the 利用者証明用 PIN reset, typed by the applicant, sent by the agent to the card only.
    pin_case = await quick_approved_case(sessionmaker, world.a, Procedure.pin_reset)
    transport = pcsc.connect_with_backoff(vpcd_slot.reader, timeout=10)
    new_pin = bytearray(b"7351")
    try:
        reset = await reset_pin(link, transport, pin_case, PinName.auth, new_pin)
    finally:
        transport.close()
    assert reset.outcome == "pin_set"
    assert new_pin == bytearray(4)
    ok, _, _ = await asyncio.to_thread(_proof, app, vpcd_slot.reader, "7351")
    assert ok
    assert applet.commits == 1


async def test_an_agent_process_killed_mid_renewal_then_retried(
    app: Any,
    world: World,
    link: HubLink,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    vpcd_slot: VpcdSlot,
    insert: list[ViccClient],
    tmp_path: Path,
) -> None:
    card, applet = factory_card(dev_pki_dir)
    before = card.file(JPKI_AID, 0x000A).data
    plug(insert, card, vpcd_slot)
    case_id = await quick_approved_case(sessionmaker, world.a)
    key_file = tmp_path / "device.pem"
    key_file.write_bytes(
        world.a.device_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning")
    async with served(config, sockets=[listener], name="uvicorn-card-admin-hub"):
        # Killed before the second GENERATE: the first slot's pending pair is on the card, its certificate issued.
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.service.cardadmin.relay_child",
            f"http://127.0.0.1:{port}",
            world.a.device_id,
            str(key_file),
            case_id,
            vpcd_slot.reader,
            "10",
            cwd=ROOT,
        )
        assert await asyncio.wait_for(child.wait(), 60) == -9
    async with sessionmaker() as session:
        job = (
            await session.execute(select(CardAdminJob).where(CardAdminJob.case_id == case_id))
        ).scalar_one()
        assert (job.state, job.card_state) == ("running", "old")
        issued = serials_of(app_runtime(app), job).new
        assert len(issued) == 1  # the first slot's certificate was issued, never activated
        orphan = int(issued[0], 16)
    # pcscd reset the card when its client died: the pending pair is gone, the active one untouched.
    assert card.file(JPKI_AID, 0x000A).data == before
    assert applet.pending_slots == []

    result = await _relay(link, vpcd_slot.reader, case_id)

    assert (result.outcome, result.card_state) == ("renewed", CardState.new)
    assert card.file(JPKI_AID, 0x000A).data != before
    issuer = app.state.card_admin.issuer
    assert issuer.revoked(orphan)
    ok, revocation, _ = await asyncio.to_thread(_proof, app, vpcd_slot.reader, HANAKO.auth_pin)
    assert ok
    assert revocation is RevocationStatus.GOOD
