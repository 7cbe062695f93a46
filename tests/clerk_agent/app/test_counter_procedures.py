"""Other procedures and the PIN retry rules: wrong PINs, the clerk's last-try confirmation, application, support."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from clerk_agent.card.virtual.build import person
from tests.clerk_agent.app.conftest import (
    Agent,
    CounterClient,
    Hub,
    Officer,
    photograph_documents,
    take_application_photo,
    until_view,
)
from tests.factories import ELIGIBLE

pytestmark = pytest.mark.e2e
HOLDER = person("yamada_hanako")
CONSENTS = {"recording": True, "id_copy": True, "pin_entry": True}


async def _pin_view(ui: CounterClient) -> dict[str, object]:
    async with asyncio.timeout(20):
        while True:
            view = await ui.state("/api/applicant/state")
            pin = view["pin"]
            assert isinstance(pin, dict)
            if pin["open"]:
                return view
            await asyncio.sleep(0.2)


async def test_wrong_pins_then_the_last_try_needs_the_clerk(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await applicant.open("/applicant")
        await counter.post("/api/cases", {"procedure": "pin_reset"})
        await counter.post("/api/eligibility", ELIGIBLE)
        await counter.until("eligibility_precheck")
        await counter.post("/api/consents", CONSENTS)
        await counter.post("/api/card/check")
        await counter.post("/api/request-verification")
        queued = await counter.until("queued_for_officer")
        case_id = str(queued["case"]["case_id"])  # type: ignore[index]
        await officer.accept(case_id)
        await counter.until("session_live")
        await counter.post("/api/code-b", {"code_b": HOLDER.code_b})
        await _pin_view(applicant)

        view = await applicant.post("/api/applicant/pin", raw=b"0000")
        assert view["notice"]["code"] == "pin_incorrect"  # type: ignore[index]
        assert view["pin"] == {"open": True, "retries_left": 2, "needs_clerk_confirm": False}
        view = await applicant.post("/api/applicant/pin", raw=b"1111")
        assert view["pin"] == {"open": True, "retries_left": 1, "needs_clerk_confirm": True}
        # With one try left the applicant's pad waits for the clerk: a PIN sent now does not reach the card.
        view = await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
        assert view["notice"]["code"] == "last_try_confirmation_required"  # type: ignore[index]
        clerk = await counter.state()
        assert clerk["pin"]["needs_clerk_confirm"] is True  # type: ignore[index]
        assert "残り1回です" in clerk["notice"]["ja"]  # type: ignore[index]
        await counter.post("/api/confirm-last-try")
        view = await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
        assert view["notice"] is None
        captured = await counter.until("evidence_captured")
        assert captured["case"]["proof_ok"] is True  # type: ignore[index]
        await officer.review_and_approve(case_id)
        await counter.until("approved")
        await counter.post("/api/close")
        done = await counter.until("closed")
        assert done["progress"]["current"] == "receipt"  # type: ignore[index]


async def test_card_application_over_video_and_application_support(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await applicant.open("/applicant")
        started = await counter.post("/api/cases", {"procedure": "card_application", "shinseisho_id": "123"})
        assert started["notice"]["code"] == "invalid_form_id"  # type: ignore[index]
        assert started["case"] is None
        await counter.post(
            "/api/cases", {"procedure": "card_application", "shinseisho_id": "55556666777788889999000"}
        )
        await counter.post("/api/eligibility", ELIGIBLE)
        await counter.until("eligibility_precheck")
        refused = await counter.post("/api/consents", {"recording": True})
        assert refused["notice"]["code"] == "consents_required"  # type: ignore[index]
        state = await counter.post("/api/consents", CONSENTS)
        assert state["progress"]["current"] == "queue"  # type: ignore[index]
        assert [s["key"] for s in state["progress"]["steps"]] == [  # type: ignore[index]
            "procedure", "form_id", "eligibility", "consents", "queue", "call", "decision", "receipt",
        ]  # fmt: skip
        await counter.post("/api/request-verification")
        queued = await counter.until("queued_for_officer")
        case_id = str(queued["case"]["case_id"])  # type: ignore[index]
        await officer.accept(case_id)
        await counter.until("session_live")
        refused = await counter.post("/api/documents-shown")
        assert refused["notice"]["code"] == "photo_required"  # type: ignore[index]
        await counter.post("/api/photo/preview", {"on": True})
        live = await until_view(counter, "/api/state", lambda v: bool(v["photo"]["advice"]))  # type: ignore[index]
        # The synthetic camera shows a test pattern, not a person: the live advice says so.
        assert [a["code"] for a in live["photo"]["advice"]] == ["no_face"]  # type: ignore[index]
        preview = await ui.get("/api/photo/preview.jpg")
        assert preview.headers["content-type"] == "image/jpeg"
        assert preview.content.startswith(b"\xff\xd8")
        photo = await take_application_photo(counter, applicant)
        assert photo["case"]["photo_sent"] is True  # type: ignore[index]
        refused = await counter.post("/api/documents-shown")
        assert refused["notice"]["code"] == "documents_required"  # type: ignore[index]
        shown = await photograph_documents(counter, documents=2)
        stills = shown["case"]["documents"]  # type: ignore[index]
        assert [(d["document"], d["view"]) for d in stills] == [
            (1, "front"),
            (1, "tilt"),
            (2, "front"),
            (2, "tilt"),
        ]
        assert {(d["width"], d["height"]) for d in stills} == {(1280, 960)}  # the camera's full resolution
        await counter.post("/api/documents-shown")
        await counter.until("evidence_captured")
        assert await officer.evidence_kinds(case_id) == [
            "application_photo", "document_front", "document_tilt", "document_front", "document_tilt",
        ]  # fmt: skip
        await officer.review_and_approve(case_id)
        await counter.until("approved")
        await counter.post("/api/face-auth")
        await counter.until("step:receipt")
        pdf = await ui.get("/receipt.pdf")
        assert pdf.content.startswith(b"%PDF")

        await counter.post("/api/new")
        await counter.post("/api/cases", {"procedure": "application_support"})
        await counter.post("/api/eligibility", ELIGIBLE)
        await counter.until("eligibility_precheck")
        await counter.post("/api/consents", CONSENTS)
        await counter.post("/api/complete")
        done = await counter.until("closed")
        assert done["progress"]["current"] == "receipt"  # type: ignore[index]
        support_id = str(done["case"]["case_id"])  # type: ignore[index]
        assert support_id != case_id
