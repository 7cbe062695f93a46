"""Through real PC/SC: pyscard → pcscd → vpcd → the virtual card (vicc over TCP). Marked `pcsc`."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.reading import CounterRead, PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.pcscd import PcscdStack, VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient
from clerk_agent.errors import AgentError, CardAbsent, ReaderUnavailable
from service.cardproof import devpki
from service.cardproof.trust import load_dev_pki_trust
from service.cardproof.verify import CheckName, CheckStatus, TrustAnchors, signed_bytes_for, verify_card_proof
from service.wire.card_profiles import CardGeneration
from tests.plugins.cardkit import GENERATIONS, card_face_code, make_card, shared_pki
from tests.plugins.pcsc_slot import plug

try:
    from clerk_agent.card import pcsc
except ImportError:  # pyscard missing: the pcsc_stack fixture reports it (skip locally, fail under CI)
    pcsc = None  # type: ignore[assignment]

pytestmark = pytest.mark.pcsc


HANAKO = person("yamada_hanako")
TARO = person("sato_taro")
ROOT = Path(__file__).resolve().parents[3]


def atr_with_history(history: bytes) -> bytes:
    """The My Number Card's ATR with historical bytes added and TCK recomputed (a 'different card')."""
    body = bytes((0xE0 | len(history), 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45)) + history
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes((tck,))


def trust() -> TrustAnchors:
    """The suite's test anchors of both generations (RSA roots and issuer, the P-384 root and issuer)."""
    pki = shared_pki()
    assert pki.next_auth_root is not None
    assert pki.next_card_face_issuer is not None
    return TrustAnchors(
        test_auth_roots=(*(root.certificate for root in pki.auth_roots), pki.next_auth_root.certificate),
        test_card_face_issuer_keys=(
            pki.card_face_issuer.public_key(),
            pki.next_card_face_issuer.public_key(),
        ),
    )


@pytest.fixture
async def events(vpcd_slot: VpcdSlot) -> AsyncIterator[asyncio.Queue[pcsc.CardEvent]]:
    """Monitor events for our reader only (a concurrent run owns the other slot)."""
    queue: asyncio.Queue[pcsc.CardEvent] = asyncio.Queue()
    monitor = pcsc.PcscMonitor(
        asyncio.get_running_loop(), queue.put_nowait, reader_filter=lambda n: n == vpcd_slot.reader
    )
    monitor.start()
    yield queue
    monitor.stop()


async def next_event(
    queue: asyncio.Queue[pcsc.CardEvent], kind: pcsc.CardEventKind, within: float = 10.0
) -> pcsc.CardEvent:
    """The next event of `kind` within `within` seconds, skipping others."""
    async with asyncio.timeout(within):
        while True:
            event = await queue.get()
            if event.kind is kind:
                return event


def counter_read(reader: str, code_b: str | None, pin: str, nonce: str = "pcsc-nonce") -> CounterRead:
    """The whole counter read on a fresh exclusive connection, closed (card reset) afterwards."""
    transport = pcsc.connect_with_backoff(reader, timeout=10)
    try:
        result = read_at_counter(
            MyNumberCard(transport),
            auth_pin=bytearray(pin.encode()),
            code_b=bytearray(code_b.encode()) if code_b else None,
            challenge=PossessionChallenge("https://hub.madoguchi.test", nonce, "case_pcsc"),
        )
    finally:
        transport.close()
    return result


@pytest.mark.parametrize("generation", GENERATIONS)
async def test_full_read_through_pcscd_verifies_at_the_hub(
    vpcd_slot: VpcdSlot, insert: list[ViccClient], generation: CardGeneration
) -> None:
    card = make_card("yamada_hanako", generation=generation)
    plug(insert, card, vpcd_slot)
    code = card_face_code("yamada_hanako", generation)
    result = await asyncio.to_thread(counter_read, vpcd_slot.reader, code, HANAKO.auth_pin)
    assert result.atr == card.atr
    assert result.generation is generation
    assert result.card_face is not None
    verdict = verify_card_proof(
        certificate_der=result.auth_certificate,
        signature=result.signature,
        signed_bytes=signed_bytes_for("https://hub.madoguchi.test", "pcsc-nonce", "case_pcsc"),
        trust=trust(),
        at=dt.datetime.now(dt.UTC),
        allow_test_roots=True,
        card_face=result.card_face.raw,
        card_face_signature=result.card_face_signature,
        reported_generation=result.generation,
    )
    assert verdict.ok, verdict.checks
    assert verdict.card_generation == generation.value
    assert verdict.check(CheckName.CARD_FACE).status is CheckStatus.PASSED
    assert verdict.check(CheckName.CARD_FACE_KEY).status is CheckStatus.PASSED
    assert verdict.revocation_label.startswith("失効確認未実施")
    assert verdict.card_face is not None
    assert verdict.card_face.birth_date == "19850412"
    assert len(card.apdu_log) >= result.apdu_count, "the APDUs reached the emulator through pcscd"


async def test_disconnect_resets_the_card_so_a_pin_does_not_linger(
    vpcd_slot: VpcdSlot, insert: list[ViccClient]
) -> None:
    plug(insert, make_card("yamada_hanako"), vpcd_slot)

    def verify_then_reconnect_and_sign() -> int:
        first = pcsc.connect_with_backoff(vpcd_slot.reader)
        MyNumberCard(first).verify_auth_pin(bytearray(HANAKO.auth_pin.encode()))
        first.close()
        second = pcsc.connect_with_backoff(vpcd_slot.reader)
        try:
            protocol = MyNumberCard(second)
            try:
                protocol.sign_auth(b"after reconnect")
            except AgentError as exc:
                return getattr(exc, "sw", -1)
            return 0x9000
        finally:
            second.close()

    assert await asyncio.to_thread(verify_then_reconnect_and_sign) == 0x6982


async def test_hot_plug_insert_and_removal_reach_the_loop(
    vpcd_slot: VpcdSlot, insert: list[ViccClient], events: asyncio.Queue[pcsc.CardEvent]
) -> None:
    added = await next_event(events, pcsc.CardEventKind.READER_ADDED)
    assert added.reader == vpcd_slot.reader
    card = make_card("yamada_hanako")
    client = plug(insert, card, vpcd_slot)
    inserted = await next_event(events, pcsc.CardEventKind.CARD_INSERTED)
    assert inserted.atr == card.atr
    assert inserted.reader == vpcd_slot.reader
    transport = await asyncio.to_thread(pcsc.connect_with_backoff, vpcd_slot.reader)
    client.stop()
    removed = await next_event(events, pcsc.CardEventKind.CARD_REMOVED)
    assert removed.reader == vpcd_slot.reader
    with pytest.raises(AgentError) as raised:
        await asyncio.to_thread(MyNumberCard(transport).detect)
    assert raised.value.retriable
    transport.close()
    with pytest.raises(CardAbsent):
        await asyncio.to_thread(pcsc.PcscTransport(vpcd_slot.reader).connect)


@pytest.mark.parametrize(
    ("first_generation", "second_generation"),
    [
        (CardGeneration.GEN2016, CardGeneration.GEN2016),
        (CardGeneration.GEN2028, CardGeneration.GEN2028),
        (CardGeneration.GEN2016, CardGeneration.GEN2028),  # one holder's current card, another's next one
    ],
)
async def test_card_swap_shows_a_new_atr_and_certificate(
    vpcd_slot: VpcdSlot,
    insert: list[ViccClient],
    events: asyncio.Queue[pcsc.CardEvent],
    first_generation: CardGeneration,
    second_generation: CardGeneration,
) -> None:
    first = plug(insert, make_card("yamada_hanako", generation=first_generation), vpcd_slot)
    await next_event(events, pcsc.CardEventKind.CARD_INSERTED)
    read_1 = await asyncio.to_thread(counter_read, vpcd_slot.reader, None, HANAKO.auth_pin)
    assert read_1.generation is first_generation
    swapped_atr = atr_with_history(b"\x42")
    first.stop()
    plug(insert, make_card("sato_taro", atr=swapped_atr, generation=second_generation), vpcd_slot)
    await next_event(events, pcsc.CardEventKind.CARD_REMOVED)
    inserted = await next_event(events, pcsc.CardEventKind.CARD_INSERTED)
    assert inserted.atr == swapped_atr
    read_2 = await asyncio.to_thread(counter_read, vpcd_slot.reader, None, TARO.auth_pin)
    assert read_2.atr == swapped_atr != read_1.atr
    assert read_2.auth_certificate != read_1.auth_certificate
    assert read_2.generation is second_generation


async def test_recovery_after_a_pcscd_restart(
    pcsc_stack: PcscdStack,
    vpcd_slot: VpcdSlot,
    insert: list[ViccClient],
    events: asyncio.Queue[pcsc.CardEvent],
) -> None:
    if pcsc_stack.started_pid is None or not pcsc_stack.is_sole_user():
        pytest.skip(
            "pcscd is shared with a concurrent run (or was started by one); not restarting it under them"
        )
    plug(insert, make_card("yamada_hanako"), vpcd_slot)
    await next_event(events, pcsc.CardEventKind.CARD_INSERTED)
    transport = await asyncio.to_thread(pcsc.connect_with_backoff, vpcd_slot.reader)
    await asyncio.to_thread(pcsc_stack.restart, down_for=0.3)
    await next_event(events, pcsc.CardEventKind.READER_REMOVED)
    with pytest.raises(AgentError) as raised:
        await asyncio.to_thread(MyNumberCard(transport).detect)
    assert raised.value.retriable, raised.value
    transport.close()
    # The monitor re-establishes its context; the vicc reconnects to the new vpcd; the agent reconnects.
    await next_event(events, pcsc.CardEventKind.READER_ADDED, within=15)
    await next_event(events, pcsc.CardEventKind.CARD_INSERTED, within=15)
    result = await asyncio.to_thread(counter_read, vpcd_slot.reader, HANAKO.code_b, HANAKO.auth_pin)
    assert result.card_face is not None


def test_unknown_reader_is_reader_unavailable(pcsc_stack: PcscdStack) -> None:
    with pytest.raises(ReaderUnavailable):
        pcsc.PcscTransport("No Such Reader 00 00").connect()


@pytest.mark.parametrize("generation", GENERATIONS)
def test_virtual_card_cli_plays_its_person_through_pcscd(
    vpcd_slot: VpcdSlot, tmp_path: Path, generation: CardGeneration
) -> None:
    pki_dir = tmp_path / "dev-pki"
    assert devpki.main(["--out", str(pki_dir), "--person", "sato_taro", "--generations", "1"]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clerk_agent.cli",
            "virtual-card",
            "--vpcd-port",
            str(vpcd_slot.port),
            *(("--vpcd-netns", str(vpcd_slot.netns)) if vpcd_slot.netns else ()),
            "--person",
            "sato_taro",
            "--pki-dir",
            str(pki_dir),
            "--generation",
            generation.value,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        text=True,
    )
    try:
        assert cli.stdout is not None
        banner = [cli.stdout.readline() for _ in range(7)]
        code = card_face_code("sato_taro", generation)
        assert any(code in line for line in banner), banner
        assert any(TARO.auth_pin in line for line in banner)
        assert not any(TARO.my_number in line for line in banner)
        result = counter_read(vpcd_slot.reader, code, TARO.auth_pin)
        assert result.generation is generation
        assert result.card_face is not None
        verdict = verify_card_proof(
            certificate_der=result.auth_certificate,
            signature=result.signature,
            signed_bytes=signed_bytes_for("https://hub.madoguchi.test", "pcsc-nonce", "case_pcsc"),
            trust=load_dev_pki_trust(pki_dir),
            at=dt.datetime.now(dt.UTC),
            allow_test_roots=True,
            card_face=result.card_face.raw,
            card_face_signature=result.card_face_signature,
        )
        assert verdict.ok, verdict.checks
    finally:
        cli.send_signal(signal.SIGTERM)
        try:
            cli.wait(10)
        except subprocess.TimeoutExpired:
            cli.kill()
            cli.wait(5)
    assert cli.returncode == 0, cli.stderr.read() if cli.stderr else ""


def test_vpcd_card_port_is_confined_to_the_stacks_namespace(
    vpcd_slot: VpcdSlot, insert: list[ViccClient]
) -> None:
    """As root the card port lives only in pcscd's namespace: the machine's network cannot play a card into it."""
    import socket

    if os.geteuid() != 0:
        assert vpcd_slot.netns is None  # the documented fallback (docs/card.md §2.1)
        return
    assert vpcd_slot.netns is not None
    plug(
        insert, make_card("yamada_hanako"), vpcd_slot
    )  # the card itself still connects, inside the namespace
    for address in ("127.0.0.1", socket.gethostbyname(socket.gethostname())):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, vpcd_slot.port), timeout=2.0).close()
