"""The counter app reading the virtual card through a real pcscd + vpcd (the production PC/SC path)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
from service.wire.card_profiles import CardGeneration
from tests._services import missing_service
from tests.clerk_agent.app.conftest import CounterClient, Hub, Officer, agent_running, until_view
from tests.factories import ELIGIBLE
from tests.plugins.cardkit import GENERATIONS, card_face_code

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc]
HOLDER = person("yamada_hanako")

try:
    from clerk_agent.card import pcsc
    from clerk_agent.card.virtual.pcscd import PcscdStack, StackUnavailable, VpcdSlot
    from clerk_agent.card.virtual.vicc import ViccClient
except ImportError:  # pyscard missing: the fixture reports it
    pcsc = None  # type: ignore[assignment]


@pytest.fixture
def card_generation() -> CardGeneration:
    """Which card 花子 holds; a test parametrising `card_generation` overrides it."""
    return CardGeneration.GEN2016


@pytest.fixture
def reader_with_card(agent_pki: Path, card_generation: CardGeneration) -> Iterator[str]:
    """花子's card (built on the hub's test PKI) in a vpcd slot of a real pcscd; removed and released after."""
    if pcsc is None:
        missing_service("pyscard")
    stack = PcscdStack()
    try:
        stack.acquire()
        slot: VpcdSlot = stack.allocate_slot()
    except StackUnavailable as exc:
        missing_service(f"pcscd + vsmartcard-vpcd: {exc}")
    card = build_virtual_card(HOLDER, load_card_material(agent_pki, HOLDER.key, card_generation))
    _present, before = pcsc.reader_state(slot.reader)
    client = ViccClient(card, port=slot.port, netns=slot.netns).start()
    try:
        pcsc.wait_for_card_event(slot.reader, present=True, after=before)
        yield slot.reader
    finally:
        client.stop()
        pcsc.wait_for_card_event(slot.reader, present=False)
        stack.release()


async def _until(client: CounterClient, path: str, part: str, flag: str) -> None:
    async with asyncio.timeout(20):
        while True:
            section = (await client.state(path))[part]
            assert isinstance(section, dict)
            if section[flag]:
                return
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("card_generation", GENERATIONS)
async def test_renewal_reads_the_card_through_pcscd(
    hub: Hub, tmp_path: Path, agent_pki: Path, reader_with_card: str, card_generation: CardGeneration
) -> None:
    async with (
        agent_running(hub, tmp_path / "agent", agent_pki, card_source=reader_with_card) as agent,
        httpx.AsyncClient(base_url=agent.base) as ui,
        httpx.AsyncClient() as officer_http,
    ):
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await applicant.open("/applicant")
        await _until(counter, "/api/state", "card", "present")
        await counter.post(
            "/api/cases", {"procedure": "card_renewal", "shinseisho_id": "13579135791357913579135"}
        )
        await counter.post(
            "/api/eligibility",
            ELIGIBLE,
        )
        await counter.until("eligibility_precheck")
        await counter.post("/api/consents", {"recording": True, "id_copy": True, "pin_entry": True})
        checked = await counter.post("/api/card/check")
        assert checked["case"]["pin_retries"] == 3  # type: ignore[index]
        # The card check found the generation: the clerk is told which code to type (docs/card.md §3.2).
        assert checked["case"]["card_generation"] == card_generation.value  # type: ignore[index]
        await counter.post("/api/request-verification")
        queued = await counter.until("queued_for_officer")
        case_id = str(queued["case"]["case_id"])  # type: ignore[index]
        await officer.accept(case_id)
        await counter.until("session_live")
        # 照合番号B, or the 照合番号 printed on a next-generation card: the same 14-digit entry (docs/card.md §3.2).
        await counter.post("/api/code-b", {"code_b": card_face_code(HOLDER.key, card_generation)})
        await _until(applicant, "/api/applicant/state", "pin", "open")
        view = await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
        assert view["notice"] is None
        captured = await counter.until("evidence_captured")
        assert captured["case"]["proof_ok"] is True  # type: ignore[index]


async def test_card_lifted_mid_pin_step_is_seen_by_the_monitor_and_recovered(
    hub: Hub, tmp_path: Path, agent_pki: Path
) -> None:
    """PcscMonitor reports the card leaving and coming back; the PIN pad keeps its tries and then works."""
    if pcsc is None:
        missing_service("pyscard")
    stack = PcscdStack()
    try:
        stack.acquire()
        slot: VpcdSlot = stack.allocate_slot()
    except StackUnavailable as exc:
        missing_service(f"pcscd + vsmartcard-vpcd: {exc}")
    card = build_virtual_card(HOLDER, load_card_material(agent_pki, HOLDER.key))
    _present, before = pcsc.reader_state(slot.reader)
    client = ViccClient(card, port=slot.port, netns=slot.netns).start()
    try:
        await asyncio.to_thread(pcsc.wait_for_card_event, slot.reader, present=True, after=before)
        async with (
            agent_running(hub, tmp_path / "agent", agent_pki, card_source=slot.reader) as agent,
            httpx.AsyncClient(base_url=agent.base) as ui,
            httpx.AsyncClient() as officer_http,
        ):
            counter, applicant = CounterClient(ui), CounterClient(ui)
            officer = await Officer.login(hub, officer_http)
            await counter.open()
            await applicant.open("/applicant")
            await _until(counter, "/api/state", "card", "present")
            await counter.post("/api/cases", {"procedure": "ecert_issue_renew"})
            await counter.post(
                "/api/eligibility",
                ELIGIBLE,
            )
            await counter.until("eligibility_precheck")
            await counter.post("/api/consents", {"recording": True, "id_copy": True, "pin_entry": True})
            await counter.post("/api/card/check")
            await counter.post("/api/request-verification")
            queued = await counter.until("queued_for_officer")
            case_id = str(queued["case"]["case_id"])  # type: ignore[index]
            await officer.accept(case_id)
            await counter.until("session_live")
            await counter.post("/api/code-b", {"code_b": HOLDER.code_b})
            await _until(applicant, "/api/applicant/state", "pin", "open")

            # The applicant lifts the card: the monitor's event reaches the clerk screen with no request made.
            client.stop()
            await asyncio.to_thread(pcsc.wait_for_card_event, slot.reader, present=False)
            lifted = await until_view(counter, "/api/state", lambda v: v["card"]["present"] is False)  # type: ignore[index]
            assert lifted["notice"]["code"] == "card_absent"  # type: ignore[index]
            assert lifted["pin"] == {"open": True, "retries_left": 3, "needs_clerk_confirm": False}

            client = ViccClient(card, port=slot.port, netns=slot.netns).start()
            back = await until_view(counter, "/api/state", lambda v: v["card"]["present"] is True)  # type: ignore[index]
            assert back["notice"] is None
            answered = await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
            assert answered["notice"] is None
            captured = await counter.until("evidence_captured")
            assert captured["case"]["proof_ok"] is True  # type: ignore[index]
    finally:
        client.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pcsc.wait_for_card_event, slot.reader, present=False)
        stack.release()
