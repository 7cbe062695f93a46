"""電子証明書の発行・更新 end to end, the 申請書ID from the form's QR code, abort → requeue, stills while the hub is down."""

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
    take_application_photo,
    until_view,
)
from tests.clerk_agent.app.test_counter_flow import _assert_no_pin_anywhere
from tests.factories import ELIGIBLE

pytestmark = pytest.mark.e2e
HOLDER = person("yamada_hanako")
CONSENTS = {"recording": True, "id_copy": True, "pin_entry": True}
SCANNED_FORM_ID = "27182818284590452353602"


async def _until_live(
    counter: CounterClient, officer: Officer, procedure: str, form_id: str | None = None
) -> str:
    body: dict[str, object] = {"procedure": procedure}
    if form_id:
        body["shinseisho_id"] = form_id
    await counter.post("/api/cases", body)
    await counter.post("/api/eligibility", ELIGIBLE)
    await counter.until("eligibility_precheck")
    await counter.post("/api/consents", CONSENTS)
    if procedure in {"card_renewal", "pin_reset", "ecert_issue_renew"}:
        checked = await counter.post("/api/card/check")
        assert checked["case"]["pin_retries"] == 3  # type: ignore[index]
    await counter.post("/api/request-verification")
    queued = await counter.until("queued_for_officer")
    case_id = str(queued["case"]["case_id"])  # type: ignore[index]
    await officer.accept(case_id)
    await counter.until("session_live")
    return case_id


async def _pin_on_the_applicant_screen(counter: CounterClient, applicant: CounterClient) -> None:
    await counter.post("/api/code-b", {"code_b": HOLDER.code_b})
    view = await until_view(applicant, "/api/applicant/state", lambda v: bool(v["pin"]["open"]))  # type: ignore[index]
    assert view["pin"]["retries_left"] == 3  # type: ignore[index]
    answered = await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
    assert answered["notice"] is None
    captured = await counter.until("evidence_captured")
    assert captured["case"]["proof_ok"] is True  # type: ignore[index]


async def test_ecert_issue_renew_end_to_end_ends_at_the_counter(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await applicant.open("/applicant")
        state = await counter.post("/api/cases", {"procedure": "ecert_issue_renew"})
        assert state["procedure"] == {"ja": "電子証明書の発行・更新", "en": "E-certificate issue / renewal"}
        assert [s["key"] for s in state["progress"]["steps"]] == [  # type: ignore[index]
            "procedure", "eligibility", "consents", "card", "queue", "call", "decision", "card_work", "receipt",
        ]  # fmt: skip
        await counter.post("/api/new")
        case_id = await _until_live(counter, officer, "ecert_issue_renew")
        await _pin_on_the_applicant_screen(counter, applicant)
        await officer.review_and_approve(case_id)
        approved = await counter.until("approved")
        assert approved["case"]["mailed"] is False  # type: ignore[index]
        # Not mailed: the card work follows at the counter (test_counter_card_work.py); closing without it is the
        # way out, and the receipt says that nothing was done on the card.
        assert approved["progress"]["current"] == "card_work"  # type: ignore[index]
        assert "郵送はありません" in approved["case"]["next_steps"]["ja"]  # type: ignore[index]
        assert (await applicant.state("/api/applicant/state"))["choose_pins"] is False
        await counter.post("/api/close")
        done = await counter.until("closed")
        assert done["progress"]["current"] == "receipt"  # type: ignore[index]
        assert "行っていません" in done["case"]["next_steps"]["ja"]  # type: ignore[index]
        receipt = await ui.get("/receipt.pdf")
        assert receipt.content.startswith(b"%PDF")
        assert await officer.state(case_id) == "closed"
        responses = counter.responses + applicant.responses
    _assert_no_pin_anywhere(hub, agent, responses, case_id)


async def test_the_form_id_is_read_from_the_forms_qr_code(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        scanning = await counter.post("/api/form-id/scan")  # the camera shows the test pattern
        assert scanning["scan"]["scanning"] is True  # type: ignore[index]
        missed = await until_view(counter, "/api/state", lambda v: not v["scan"]["scanning"])  # type: ignore[index]
        assert missed["notice"]["code"] == "qr_not_found"  # type: ignore[index]
        assert missed["scan"]["form_id"] is None  # type: ignore[index]
        await counter.post("/api/synthetic-camera", {"scene": "form", "shinseisho_id": SCANNED_FORM_ID})
        await counter.post("/api/form-id/scan")
        found = await until_view(counter, "/api/state", lambda v: not v["scan"]["scanning"])  # type: ignore[index]
        assert found["scan"]["form_id"] == SCANNED_FORM_ID  # type: ignore[index]
        assert found["notice"] is None
        await counter.post("/api/cases", {"procedure": "card_renewal", "shinseisho_id": SCANNED_FORM_ID})
        checked_in = await counter.until("checked_in")
        case_id = str(checked_in["case"]["case_id"])  # type: ignore[index]
        read = await officer.client.get(f"/api/v1/cases/{case_id}")
        assert read.json()["shinseisho_id"] == SCANNED_FORM_ID
        # The same form again: the hub refuses it and the clerk reads why, in plain words.
        await counter.post("/api/new")
        await counter.post("/api/cases", {"procedure": "card_renewal", "shinseisho_id": SCANNED_FORM_ID})
        refused = await until_view(counter, "/api/state", lambda v: bool(v["notice"]))
        assert refused["notice"]["problem"] == "shinseisho_id_in_use"  # type: ignore[index]
        assert "使用済み" in refused["notice"]["ja"]  # type: ignore[index]
        # Failed before: the refused case stayed on 「受付を登録しています…」, and a reload kept it there.
        assert refused["case"] is None
        assert refused["progress"]["current"] == "procedure"  # type: ignore[index]
        assert refused["scan"]["form_id"] == SCANNED_FORM_ID  # type: ignore[index]


async def test_a_form_id_typed_full_width_or_in_groups_is_cleaned(hub: Hub, agent: Agent) -> None:
    """Failed before: full-width digits passed the agent, the hub refused them and the counter hung at
    「受付を登録しています…」; spaces and hyphens as printed on the form were refused."""
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        full_width = "１６１８０３３９８８７４９８９４８４８２０４５"
        await counter.post("/api/cases", {"procedure": "card_application", "shinseisho_id": full_width})
        checked_in = await counter.until("checked_in")
        case_id = str(checked_in["case"]["case_id"])  # type: ignore[index]
        assert checked_in["case"]["shinseisho_id"] == "16180339887498948482045"  # type: ignore[index]
        assert (await officer.client.get(f"/api/v1/cases/{case_id}")).json()["shinseisho_id"] == (
            "16180339887498948482045"
        )
        await counter.post("/api/withdraw", {"reason_code": "applicant_request"})
        await counter.until("withdrawn")
        await counter.post("/api/new")
        grouped = "3141-5926-5358 9793 2384-626"
        await counter.post("/api/cases", {"procedure": "card_renewal", "shinseisho_id": grouped})
        again = await counter.until("checked_in")
        assert again["case"]["shinseisho_id"] == "31415926535897932384626"  # type: ignore[index]
        assert again["notice"] is None


async def test_an_aborted_session_shows_why_and_is_verified_again(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await applicant.open("/applicant")
        case_id = await _until_live(counter, officer, "pin_reset")
        await _pin_on_the_applicant_screen(counter, applicant)
        await officer.abort(case_id, "picture_quality")
        aborted = await counter.until("aborted")
        reason = aborted["case"]["abort_reason"]  # type: ignore[index]
        assert reason["code"] == "picture_quality"
        assert "映像が不鮮明" in reason["ja"]
        assert "picture was unclear" in reason["en"]
        assert aborted["progress"]["current"] == "decision"  # type: ignore[index]
        assert aborted["pin"]["open"] is False  # type: ignore[index]
        told = await applicant.state("/api/applicant/state")
        assert told["decision"]["ja"] == "通話が中断されました。係員の案内をお待ちください。"  # type: ignore[index]

        requeued = await counter.post("/api/requeue")
        assert requeued["case"]["evidence_sent"] is False  # type: ignore[index]
        assert requeued["case"]["proof_ok"] is None  # type: ignore[index]
        await counter.until("queued_for_officer")
        await officer.accept(case_id)
        await counter.until("session_live")
        # Fresh evidence after an abort (docs/domain.md §B7): the card is read again with a new challenge.
        await _pin_on_the_applicant_screen(counter, applicant)
        await officer.review_and_approve(case_id)
        await counter.until("approved")
        await counter.post("/api/close")
        await counter.until("closed")
        history = await officer.client.get(f"/api/v1/cases/{case_id}/history")
        actions = [entry["action"] for entry in history.json()]
        assert actions.count("abort") == 1
        assert actions.count("requeue") == 1
        assert actions.count("capture_evidence") == 2


async def test_document_stills_taken_while_the_hub_is_down_reach_it_once(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await applicant.open("/applicant")
        case_id = await _until_live(counter, officer, "card_application", "16180339887498948482045")
        await take_application_photo(counter, applicant)
        await until_view(counter, "/api/state", lambda _v: True)

        await asyncio.to_thread(hub.stop)
        await counter.post("/api/synthetic-camera", {"scene": "document"})
        await counter.post("/api/documents/capture", {"document": 1, "view": "front"})
        await counter.post("/api/synthetic-camera", {"scene": "document_tilt"})
        offline = await counter.post("/api/documents/capture", {"document": 1, "view": "tilt"})
        assert [d["sent"] for d in offline["case"]["documents"]] == [False, False]  # type: ignore[index]
        await counter.post("/api/documents-shown")  # queued behind the stills
        down = await until_view(counter, "/api/state", lambda v: v["hub"]["online"] is False)  # type: ignore[index]
        assert down["case"]["evidence_sent"] is True  # type: ignore[index]
        rows = agent.data_dir / "agent.sqlite3"
        assert rows.exists()

        await asyncio.to_thread(hub.start, demo=False)
        sent = await until_view(
            counter,
            "/api/state",
            lambda v: all(d["sent"] for d in v["case"]["documents"]),  # type: ignore[index]
            within_s=60,
        )
        assert len(sent["case"]["documents"]) == 2  # type: ignore[index]
        await counter.until("evidence_captured", within_s=30)
        assert await officer.evidence_kinds(case_id) == [
            "application_photo",
            "document_front",
            "document_tilt",
        ]


async def test_a_wrong_code_b_is_told_to_the_clerk_and_spends_no_pin_try(hub: Hub, agent: Agent) -> None:
    """Failed before: code B with the western birth year opened the PIN pad, and the applicant's right PIN was
    answered 「暗証番号が違います」 with 「残り9回」 — code-B tries reported as PIN tries."""
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await applicant.open("/applicant")
        case_id = await _until_live(counter, officer, "pin_reset")
        # 昭和60年 is 1985: typed with the western year, YYMMDD 850412 instead of 600412.
        western = "85" + HOLDER.code_b[2:]
        wrong = await counter.post("/api/code-b", {"code_b": western})
        assert wrong["notice"]["code"] == "code_b_incorrect"  # type: ignore[index]
        assert "和暦" in wrong["notice"]["ja"]  # type: ignore[index]
        assert "暗証番号が違います" not in wrong["notice"]["ja"]  # type: ignore[index]
        assert wrong["case"]["code_b_entered"] is False  # type: ignore[index]
        assert wrong["case"]["code_b_retries"] == 9  # type: ignore[index]
        assert wrong["case"]["pin_retries"] == 3  # type: ignore[index]
        told = await applicant.state("/api/applicant/state")
        assert told["pin"]["open"] is False  # type: ignore[index]
        assert told["notice"] is None  # the clerk types it again; nothing for the applicant to do
        # Typed again right (with spaces between its parts): the PIN pad opens with the PIN's own 3 tries.
        spaced = f"{HOLDER.code_b[:6]} {HOLDER.code_b[6:10]} {HOLDER.code_b[10:]}"
        right = await counter.post("/api/code-b", {"code_b": spaced})
        assert right["notice"] is None
        assert right["case"]["code_b_entered"] is True  # type: ignore[index]
        view = await until_view(applicant, "/api/applicant/state", lambda v: bool(v["pin"]["open"]))  # type: ignore[index]
        assert view["pin"]["retries_left"] == 3  # type: ignore[index]
        answered = await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
        assert answered["notice"] is None
        captured = await counter.until("evidence_captured")
        assert captured["case"]["proof_ok"] is True  # type: ignore[index]
        assert case_id


async def test_a_message_does_not_outlive_its_step_or_case(hub: Hub, agent: Agent) -> None:
    """Failed before: a message from the call step stayed on the decision screen and on the next applicant's."""
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await _until_live(counter, officer, "pin_reset")
        wrong = await counter.post("/api/code-b", {"code_b": "1" * 13})
        assert wrong["notice"]["code"] == "invalid_code_b"  # type: ignore[index]
        # The counter's own way out of a live call (the applicant has to leave): interrupted, reason recorded.
        await counter.post("/api/abort", {})
        decided = await counter.until("aborted")
        assert decided["progress"]["current"] == "decision"  # type: ignore[index]
        assert decided["notice"] is None
        assert decided["case"]["abort_reason"]["code"] == "applicant_left"  # type: ignore[index]
        await counter.post("/api/withdraw", {"reason_code": "applicant_request"})
        await counter.until("withdrawn")
        nothing_yet = await counter.post("/api/cases", {"procedure": "card_renewal", "shinseisho_id": "12"})
        assert nothing_yet["notice"]["code"] == "invalid_form_id"  # type: ignore[index]
        await counter.post("/api/new")
        await counter.post("/api/cases", {"procedure": "pin_reset"})
        following = await counter.until("checked_in")
        assert following["notice"] is None


async def test_the_result_screens_match_the_outcome_and_give_the_clerk_the_reason(
    hub: Hub, agent: Agent
) -> None:
    """Failed before: 「手続きを取り下げました。」 was followed by 「新しいカードは約1か月後に…届きます」, and
    the clerk's screen did not say why (only the applicant's did)."""
    async with httpx.AsyncClient(base_url=agent.base) as ui:
        counter = CounterClient(ui)
        await counter.open()
        await counter.post(
            "/api/cases", {"procedure": "card_renewal", "shinseisho_id": "27182818284590452353602"}
        )
        await counter.post("/api/eligibility", {**ELIGIBLE, "proxy_applicant": True})
        await until_view(counter, "/api/state", lambda v: bool(v["case"]["ineligible"]))  # type: ignore[index]
        await counter.post("/api/withdraw", {})
        withdrawn = await counter.until("withdrawn")
        case = withdrawn["case"]
        assert isinstance(case, dict)
        assert "届きます" not in case["next_steps"]["ja"]
        assert "申請・手続きは行われていません" in case["next_steps"]["ja"]
        assert [r["code"] for r in case["ineligible"]] == ["proxy_not_allowed"]
        await counter.post("/api/new")
        # Withdrawn at the applicant's request: the reason is on the clerk's screen too.
        await counter.post(
            "/api/cases", {"procedure": "card_renewal", "shinseisho_id": "27182818284590452353602"}
        )
        await counter.until("checked_in")
        await counter.post("/api/withdraw", {"reason_code": "applicant_request"})
        again = await counter.until("withdrawn")
        case = again["case"]
        assert isinstance(case, dict)
        assert case["decision_reason"]["code"] == "applicant_request"
        assert "ご希望" in case["decision_reason"]["ja"]
        assert "届きます" not in case["next_steps"]["ja"]
