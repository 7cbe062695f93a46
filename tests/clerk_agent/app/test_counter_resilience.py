"""The hub goes away mid-case and comes back on the same port and database; a card leaves the reader mid-step."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.virtual.build import person
from tests.clerk_agent.app.conftest import Agent, CounterClient, Hub, Officer, agent_running
from tests.factories import ELIGIBLE

pytestmark = pytest.mark.e2e
FORM_ID = "98765432109876543210987"
RESTART_FORM_ID = "24682468246824682468246"
HOLDER = person("yamada_hanako")


async def _wait_pin_open(ui: CounterClient) -> dict[str, object]:
    async with asyncio.timeout(20):
        while True:
            view = await ui.state("/api/applicant/state")
            pin = view["pin"]
            assert isinstance(pin, dict)
            if pin["open"]:
                return view
            await asyncio.sleep(0.2)


async def test_hub_down_mid_case_then_back_completes_without_duplicates(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()

        # The hub goes down before the case is even created: the clerk keeps working.
        await asyncio.to_thread(hub.stop)
        await counter.post("/api/cases", {"procedure": "card_renewal", "shinseisho_id": FORM_ID})
        await counter.post("/api/consents", {"recording": True, "id_copy": True, "pin_entry": True})
        async with asyncio.timeout(20):
            while True:
                state = await counter.state()
                hub_status = state["hub"]
                assert isinstance(hub_status, dict)
                if hub_status["online"] is False:
                    break
                await asyncio.sleep(0.2)
        assert "つながりません" in hub_status["message"]["ja"]
        assert "Cannot reach" in hub_status["message"]["en"]
        applicant = CounterClient(ui)
        await applicant.open("/applicant")
        assert (await applicant.state("/api/applicant/state"))["hub"]["online"] is False  # type: ignore[index]
        await asyncio.sleep(3)  # a few backoff rounds against a closed port

        await asyncio.to_thread(hub.start, demo=False)
        await counter.until("checked_in", within_s=30)
        await counter.post("/api/eligibility", ELIGIBLE)
        await counter.until("eligibility_precheck")
        await counter.post("/api/card/check")
        await counter.post("/api/request-verification")
        queued = await counter.until("queued_for_officer")
        assert queued["hub"]["online"] is True  # type: ignore[index]
        case_id = str(queued["case"]["case_id"])  # type: ignore[index]
        await officer.accept(case_id)
        await counter.until("session_live")
        await counter.post("/api/code-b", {"code_b": HOLDER.code_b})
        await _wait_pin_open(applicant)

        # The applicant lifts the card just as the PIN is sent: nothing spent, the PIN pad stays open.
        await counter.post("/api/virtual-card", {"present": False})
        view = await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
        assert view["notice"]["code"] == "card_absent"  # type: ignore[index]
        assert view["pin"]["open"] is True  # type: ignore[index]
        await counter.post("/api/virtual-card", {"present": True})
        view = await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
        assert view["notice"] is None
        captured = await counter.until("evidence_captured")
        assert captured["case"]["proof_ok"] is True  # type: ignore[index]
        await officer.review_and_approve(case_id)
        await counter.until("approved")

        listed = await officer.client.get("/api/v1/cases", params={"limit": 200})
        assert listed.status_code == 200, listed.text
        mine = [c for c in listed.json()["items"] if c["shinseisho_id"] == FORM_ID]
        assert [c["id"] for c in mine] == [case_id]
        history = await officer.client.get(f"/api/v1/cases/{case_id}/history")
        assert history.status_code == 200, history.text
        actions = [entry["action"] for entry in history.json()]
        assert actions.count("check_in") == 1
        assert actions.count("precheck") == 1


async def test_a_case_started_while_the_hub_is_down_survives_an_agent_restart(
    hub: Hub, tmp_path: Path, agent_pki: Path
) -> None:
    data_dir = tmp_path / "agent-restarted"
    async with agent_running(hub, data_dir, agent_pki) as first, httpx.AsyncClient(base_url=first.base) as ui:
        counter = CounterClient(ui)
        await counter.open()
        await counter.until("step:procedure")
        await asyncio.to_thread(hub.stop)
        await counter.post("/api/cases", {"procedure": "card_renewal", "shinseisho_id": RESTART_FORM_ID})
        state = await counter.state()
        assert state["case"]["case_id"] is None  # type: ignore[index]
    # The agent stopped with the create still pending; the hub comes back; a new agent process takes over.
    await asyncio.to_thread(hub.start, demo=False)
    async with (
        agent_running(hub, data_dir, agent_pki) as second,
        httpx.AsyncClient(base_url=second.base) as ui,
    ):
        counter = CounterClient(ui)
        await counter.open()
        resumed = await counter.until("checked_in", within_s=30)
        case_id = str(resumed["case"]["case_id"])  # type: ignore[index]
        await counter.post("/api/eligibility", ELIGIBLE)
        await counter.until("eligibility_precheck")
    async with httpx.AsyncClient() as officer_http:
        officer = await Officer.login(hub, officer_http)
        listed = await officer.client.get("/api/v1/cases", params={"limit": 200})
        mine = [c for c in listed.json()["items"] if c["shinseisho_id"] == RESTART_FORM_ID]
        assert [c["id"] for c in mine] == [case_id]
