"""The counter's certificate request (証明書の交付請求, no card) through the agent: the clerk's form is checked, the
request goes to the hub with the case, the officer reads it in the case and decides; a rejection issues nothing
(the hub's side, approval to print, is tested in tests/service/certificates/test_counter_request.py)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.clerk_agent.app.conftest import Agent, CounterClient, Hub, Officer, photograph_documents
from tests.factories import ELIGIBLE

pytestmark = pytest.mark.e2e
CONSENTS = {"recording": True, "id_copy": True, "pin_entry": True}
CHOICE = {"kind": "juminhyo", "scope": "self", "count": 2, "options": ["setainushi"]}


async def test_certificate_request_from_the_counter_form_to_the_officers_decision(
    hub: Hub, agent: Agent
) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        missing = await counter.post("/api/cases", {"procedure": "certificate_request"})
        assert missing["notice"]["code"] == "certificate_required"  # type: ignore[index]
        assert missing["case"] is None
        started = await counter.post(
            "/api/cases", {"procedure": "certificate_request", "certificate": CHOICE}
        )
        assert started["case"]["certificate"] == CHOICE  # type: ignore[index]
        await counter.post("/api/eligibility", ELIGIBLE)
        await counter.until("eligibility_precheck")
        state = await counter.post("/api/consents", CONSENTS)
        assert [s["key"] for s in state["progress"]["steps"]] == [  # type: ignore[index]
            "procedure", "eligibility", "consents", "queue", "call", "decision", "receipt",
        ]  # fmt: skip
        await counter.post("/api/request-verification")
        queued = await counter.until("queued_for_officer")
        case_id = str(queued["case"]["case_id"])  # type: ignore[index]
        await officer.accept(case_id)
        await counter.until("session_live")
        await photograph_documents(counter, documents=1)
        await counter.post("/api/documents-shown")
        await counter.until("evidence_captured")

        base = f"/api/v1/cases/{case_id}"
        deadline = time.monotonic() + 20
        while (read := (await officer.client.get(base)).json())["state"] != "evidence_captured":
            assert time.monotonic() < deadline, read["state"]
            await asyncio.sleep(0.1)
        asked = read["certificate"]
        assert (asked["kind_ja"], asked["count"], asked["options"]) == ("住民票の写し", 2, ["setainushi"])
        assert asked["state"] == "awaiting_decision"
        assert (await officer.client.post(f"{base}/begin-review", json={})).status_code == 200
        rejected = await officer.client.post(
            f"{base}/reject", json={"attested": True, "reason_code": "document_invalid"}
        )
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["certificate"]["state"] == "voided"
        assert rejected.json()["certificate"]["receipt_number"] is None
        done = await counter.until("rejected")
        assert done["case"]["certificate_receipt"] is None  # type: ignore[index]
