"""The counter app against a real hub: a renewal end to end, eligibility refusal, local-UI security, PIN hygiene."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.virtual.build import person
from tests.clerk_agent.app.conftest import Agent, CounterClient, Hub, Officer, until_view
from tests.factories import ELIGIBLE

pytestmark = pytest.mark.e2e
FORM_ID = "12345678901234567890123"
HOLDER = person("yamada_hanako")
# The new card's PINs the applicant chooses (署名用, 利用者証明用, 住基, 券面事項入力補助用): invented for the test.
CHOSEN = ("KAKU2026X", "5813", "6924", "7035")


def _as_token(secret: str) -> re.Pattern[str]:
    # A 4-digit PIN also occurs by chance inside random ids and base64; as a token of its own it would be a leak.
    return re.compile(rf"(?<![0-9A-Za-z+/=_-]){re.escape(secret)}(?![0-9A-Za-z+/=_-])")


def _sqlite_text(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return "\n".join(db.iterdump())


def _assert_no_pin_anywhere(hub: Hub, agent: Agent, responses: list[str], case_id: str) -> None:
    """The PIN and code B appear in no UI response, agent log, agent file, hub database row or hub log."""
    leaks = [_as_token(secret) for secret in (HOLDER.auth_pin, *CHOSEN)]
    code_b = HOLDER.code_b

    def leaked(text: str) -> bool:
        return any(pattern.search(text) for pattern in leaks) or code_b in text

    assert not [r for r in responses if leaked(r)]
    assert not [line for line in agent.log_records if leaked(line)]
    for path in agent.data_dir.rglob("*"):
        if path.is_file():
            text = _sqlite_text(path) if path.suffix == ".sqlite3" else path.read_bytes().decode("latin-1")
            assert not leaked(text), path
    hub_db = hub.env["HUB_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    if Path(hub_db).exists():
        dump = _sqlite_text(Path(hub_db))
        assert case_id in dump  # the dump is the right database
        assert not leaked(dump)
    for log in hub.log:
        assert not leaked(log.read_text(errors="replace"))


async def _until_choose_pins(applicant: CounterClient) -> None:
    async with asyncio.timeout(20):
        while True:
            if (await applicant.state("/api/applicant/state"))["choose_pins"]:
                return
            await asyncio.sleep(0.2)


async def _renewal_until_live(counter: CounterClient, officer: Officer) -> str:
    await counter.open()
    await counter.post("/api/cases", {"procedure": "card_renewal", "shinseisho_id": FORM_ID})
    await counter.until("checked_in")
    await counter.post(
        "/api/eligibility",
        ELIGIBLE,
    )
    await counter.until("step:consents")
    state = await counter.post("/api/consents", {"recording": True, "id_copy": True, "pin_entry": True})
    assert state["progress"]["current"] == "card"  # type: ignore[index]
    state = await counter.post("/api/card/check")
    assert state["case"]["pin_retries"] == 3  # type: ignore[index]
    await counter.post("/api/request-verification")
    queued = await counter.until("queued_for_officer")
    case_id = str(queued["case"]["case_id"])  # type: ignore[index]
    queued = await counter.until("step:queue")
    await officer.accept(case_id)
    await counter.until("session_live")
    return case_id


async def test_renewal_end_to_end_and_the_pin_is_nowhere(hub: Hub, agent: Agent, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        case_id = await _renewal_until_live(counter, officer)
        await counter.post("/api/code-b", {"code_b": HOLDER.code_b})
        applicant = CounterClient(ui)
        await applicant.open("/applicant")
        for _ in range(50):
            view = await applicant.state("/api/applicant/state")
            if view["pin"]["open"]:  # type: ignore[index]
                break
            await asyncio.sleep(0.2)
        assert view["pin"] == {"open": True, "retries_left": 3, "needs_clerk_confirm": False}
        await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
        captured = await counter.until("evidence_captured")
        assert captured["case"]["proof_ok"] is True  # type: ignore[index]
        await officer.review_and_approve(case_id)
        approved = await counter.until("approved")
        assert approved["case"]["decision"]["ja"] == "本人確認が完了しました。"  # type: ignore[index]
        await _until_choose_pins(applicant)
        # A slip in one confirmation: refused at the agent, the field named to the applicant, nothing sealed.
        slip = [p for p in CHOSEN for _ in "12"]
        slip[5] = "6942"
        refused = await applicant.post("/api/applicant/pin-request", raw="\n".join(slip).encode())
        assert refused["pin_choice"]["error"]["field"] == "juki"  # type: ignore[index]
        assert "住民基本台帳用" in refused["pin_choice"]["error"]["ja"]  # type: ignore[index]
        assert refused["notice"] is None  # told next to the field, not in the banner
        assert (await counter.state("/api/state"))["notice"]["code"] == "pin_choice_mismatch_juki"  # type: ignore[index]
        await applicant.post(
            "/api/applicant/pin-request", raw="\n".join(p for p in CHOSEN for _ in "12").encode()
        )
        done = await counter.until("step:receipt")
        assert done["case"]["state"] == "pin_request_sealed"  # type: ignore[index]
        receipt = await ui.get("/receipt.pdf")
        assert receipt.status_code == 200
        assert receipt.content.startswith(b"%PDF")
        # The hub may hand a sealed case to J-LIS straight away.
        assert await officer.state(case_id) in {"pin_request_sealed", "submitted_to_jlis"}
        responses = counter.responses + applicant.responses

    _assert_no_pin_anywhere(hub, agent, responses, case_id)


async def test_proxy_is_refused_and_withdrawn_with_its_reason(hub: Hub, agent: Agent) -> None:
    """Failed before: an ineligible answer withdrew the case at once, with no chance to correct a wrong tick;
    now the clerk sees the reasons, may correct the answers, and withdraws only when asked to."""
    answers = {
        "applicant_present": True,
        "resident_of_municipality": True,
        "proxy_applicant": True,
        "minor_or_adult_ward": False,
    }
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        # A wrong answer corrected: the case goes on to the consents, nothing was withdrawn.
        await counter.post("/api/cases", {"procedure": "pin_reset"})
        await counter.until("checked_in")
        await counter.post("/api/eligibility", answers)
        told = await until_view(counter, "/api/state", lambda v: bool(v["case"]["ineligible"]))  # type: ignore[index]
        assert told["case"]["state"] == "eligibility_precheck"  # type: ignore[index]
        assert told["progress"]["current"] == "eligibility"  # type: ignore[index]
        await counter.post("/api/eligibility", {**answers, "proxy_applicant": False})
        corrected = await until_view(counter, "/api/state", lambda v: v["progress"]["current"] == "consents")  # type: ignore[index]
        assert corrected["case"]["ineligible"] == []  # type: ignore[index]
        await counter.post("/api/withdraw", {"reason_code": "applicant_request"})
        await counter.until("withdrawn")
        await counter.post("/api/new")
        # Not corrected: withdrawn when the clerk confirms, with the ineligibility as its reason.
        await counter.post("/api/cases", {"procedure": "pin_reset"})
        await counter.until("checked_in")
        await counter.post("/api/eligibility", answers)
        await until_view(counter, "/api/state", lambda v: bool(v["case"]["ineligible"]))  # type: ignore[index]
        await counter.post("/api/withdraw", {})
        state = await counter.until("withdrawn")
        reasons = state["case"]["ineligible"]  # type: ignore[index]
        assert [r["code"] for r in reasons] == ["proxy_not_allowed"]
        assert "代理人" in reasons[0]["ja"]
        case_id = str(state["case"]["case_id"])  # type: ignore[index]
        history = await officer.client.get(f"/api/v1/cases/{case_id}/history")
        if history.status_code == 200:
            assert history.json()[-1]["reason_code"] == "proxy_not_allowed"


async def test_local_ui_refuses_foreign_hosts_and_missing_csrf(agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui:
        page = await ui.get("/")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "samesite=strict" in page.headers["set-cookie"].lower()
        assert "httponly" in page.headers["set-cookie"].lower()
        rebound = await ui.get("/", headers={"Host": "evil.example:80"})
        assert rebound.status_code == 421
        no_token = await ui.post("/api/cases", json={"procedure": "pin_reset"})
        assert no_token.status_code == 403
        counter = CounterClient(ui)
        await counter.open()
        foreign = await ui.post(
            "/api/cases",
            json={"procedure": "pin_reset"},
            headers={"X-CSRF-Token": counter.token, "Origin": "http://evil.example"},
        )
        assert foreign.status_code == 403
        other = await ui.post(
            "/api/cases", json={"procedure": "pin_reset"}, headers={"X-CSRF-Token": "0" * 64}
        )
        assert other.status_code == 403
        assert (await ui.get("/api/state")).json()["case"] is None
