"""The card work after approval at the counter (docs/card-procedures.md), against a real hub and the virtual card.

A PIN change runs end to end on the card's own commands, and the new PIN opens the card in the next visit; a
renewal goes through the CardAdmin seam (a recording issuer here, the issuer's channel in production); a locked PIN
found during a renewal is reset in the same visit; refusals leave the card and the case as they were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.protocol import PinKind
from clerk_agent.card.virtual.build import person
from clerk_agent.flows.cardadmin import LocalCardAdmin
from clerk_agent.flows.cardslot import CardSlot, VirtualSlot
from service.wire.cardwork import EcertPlan, PinWhich
from tests.clerk_agent.app._pdf import pdf_lines
from tests.clerk_agent.app.conftest import Agent, CounterClient, Hub, Officer, agent_running, until_view
from tests.clerk_agent.app.test_counter_steps import _pin_on_the_applicant_screen, _until_live

pytestmark = pytest.mark.e2e
HOLDER = person("yamada_hanako")
NEW_AUTH_PIN = "9406"  # invented for the test


class RecordingIssuer:
    """Stands in for the issuer's channel (issue #16 item 1): records what it was asked, never a PIN's value."""

    def __init__(self, slot: CardSlot) -> None:
        self.slot = slot
        self.renewed: list[list[str]] = []
        self.resets: list[str] = []

    async def renew_certificates(self, case_id: str, plan: EcertPlan) -> list[str]:
        del case_id
        codes = [f"{p.action.value}_{p.certificate.value}" for p in plan.certificates]
        self.renewed.append(codes)
        return codes

    async def reset_pin(self, case_id: str, which: PinWhich, new_pin: bytearray) -> None:
        del case_id
        # The card side of a reset under the issuer's authority: the key's secret and tries set anew.
        card = self.slot._card  # type: ignore[attr-defined]
        key = PinKind.JPKI_AUTH if which is PinWhich.auth else PinKind.JPKI_SIGN
        ref = card.key(key.aid, key.key_fid)
        ref.secret, ref.tries_left = bytes(new_pin), ref.max_tries
        new_pin[:] = bytes(len(new_pin))
        self.resets.append(which.value)


class ExpiringSoon(LocalCardAdmin):
    """The virtual card's certificates are valid for years; this one says they expire in 40 days."""

    async def not_after(self) -> dt.date | None:
        return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=40)


ISSUERS: list[RecordingIssuer] = []


def _admin(slot: CardSlot) -> LocalCardAdmin:
    issuer = RecordingIssuer(slot)
    ISSUERS.append(issuer)
    return ExpiringSoon(slot, issuer)


@pytest.fixture
async def renewing_agent(hub: Hub, tmp_path: Path, agent_pki: Path) -> AsyncIterator[Agent]:
    """The agent with a recording issuer behind the CardAdmin seam."""
    ISSUERS.clear()
    async with agent_running(hub, tmp_path / "agent", agent_pki, card_admin=_admin) as running:
        yield running


async def _approved(
    counter: CounterClient, applicant: CounterClient, officer: Officer, procedure: str
) -> str:
    await counter.open()
    await applicant.open("/applicant")
    case_id = await _until_live(counter, officer, procedure)
    await _pin_on_the_applicant_screen(counter, applicant)
    await officer.review_and_approve(case_id)
    await counter.until("approved")
    return case_id


def _phase(phase: str) -> object:
    return lambda v: v["card_work"]["phase"] == phase


async def test_a_pin_change_runs_on_the_card_and_the_new_pin_opens_it_next_time(
    hub: Hub, agent: Agent
) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        case_id = await _approved(counter, applicant, officer, "pin_reset")
        view = await counter.state()
        assert view["progress"]["current"] == "card_work"  # type: ignore[index]
        await counter.post("/api/card-work/pin", {"pin": "auth", "mode": "change", "requester": "holder"})
        entry = await until_view(counter, "/api/state", _phase("pin_entry"))  # type: ignore[arg-type]
        assert entry["card_work"]["pin_retries"] == 3  # type: ignore[index]
        form = (await applicant.state("/api/applicant/state"))["pin_choice"]
        assert [f["key"] for f in form["fields"]] == ["current", "new"]  # type: ignore[index]
        # Checked at the counter before the card: the two entries differ, nothing reaches the card.
        refused = await applicant.post(
            "/api/applicant/card-pin", raw=f"{HOLDER.auth_pin}\n{NEW_AUTH_PIN}\n0000".encode()
        )
        assert refused["pin_choice"]["error"]["field"] == "new"  # type: ignore[index]
        assert (await counter.state())["card_work"]["pin_retries"] == 3  # type: ignore[index]
        await applicant.post(
            "/api/applicant/card-pin", raw=f"{HOLDER.auth_pin}\n{NEW_AUTH_PIN}\n{NEW_AUTH_PIN}".encode()
        )
        done = await until_view(counter, "/api/state", _phase("done"))  # type: ignore[arg-type]
        assert [d["code"] for d in done["card_work"]["done"]] == ["change_auth"]  # type: ignore[index]
        read = await officer.client.get(f"/api/v1/cases/{case_id}")
        assert read.json()["precheck"]["card_work"]["done"] == ["change_auth"]
        await counter.post("/api/close")
        closed = await counter.until("closed")
        assert "カードへの手続きが完了しました" in closed["case"]["next_steps"]["ja"]  # type: ignore[index]
        lines = pdf_lines((await ui.get("/receipt.pdf")).content)
        assert any("交付通知" in line for line in lines)
        assert any("利用者証明用電子証明書の暗証番号を変更しました" in line for line in lines)
        assert not any(NEW_AUTH_PIN in line or HOLDER.auth_pin in line for line in lines)
        # The next visit: the card check takes the new PIN.
        await counter.post("/api/new")
        next_case = await _until_live(counter, officer, "pin_reset")
        await counter.post("/api/code-b", {"code_b": HOLDER.code_b})
        await until_view(applicant, "/api/applicant/state", lambda v: bool(v["pin"]["open"]))  # type: ignore[index]
        await applicant.post("/api/applicant/pin", raw=NEW_AUTH_PIN.encode())
        captured = await counter.until("evidence_captured")
        assert captured["case"]["proof_ok"] is True  # type: ignore[index]
        assert next_case != case_id
        responses = counter.responses + applicant.responses
    assert not [r for r in responses if f'"{NEW_AUTH_PIN}"' in r or f"{NEW_AUTH_PIN}\\n" in r]
    assert not [line for line in agent.log_records if NEW_AUTH_PIN in line]
    for log in hub.log:
        assert NEW_AUTH_PIN not in log.read_text(errors="replace")


async def test_a_wrong_current_pin_spends_a_try_and_reopens_the_form(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await _approved(counter, applicant, officer, "pin_reset")
        await counter.post("/api/card-work/pin", {"pin": "auth", "mode": "change", "requester": "holder"})
        await until_view(counter, "/api/state", _phase("pin_entry"))  # type: ignore[arg-type]
        await applicant.post("/api/applicant/card-pin", raw=f"0000\n{NEW_AUTH_PIN}\n{NEW_AUTH_PIN}".encode())
        again = await until_view(
            applicant,
            "/api/applicant/state",
            lambda v: bool(v["choose_pins"] and v["pin_choice"]["error"]),  # type: ignore[index]
        )
        assert again["pin_choice"]["error"]["field"] == "current"  # type: ignore[index]
        assert (await counter.state())["card_work"]["pin_retries"] == 2  # type: ignore[index]
        # The way out: stop, nothing changed; the case closes with nothing done.
        await counter.post("/api/card-work/cancel")
        await counter.post("/api/close")
        closed = await counter.until("closed")
        assert "行っていません" in closed["case"]["next_steps"]["ja"]  # type: ignore[index]


async def test_a_proxy_is_refused_with_its_reason_and_nothing_is_done(hub: Hub, agent: Agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await _approved(counter, applicant, officer, "pin_reset")
        await counter.post("/api/card-work/pin", {"pin": "auth", "mode": "reset", "requester": "proxy"})
        refused = await until_view(counter, "/api/state", lambda v: bool(v["notice"]))
        assert refused["notice"]["problem"] == "card_work_proxy_not_allowed"  # type: ignore[index]
        assert "代理人" in refused["notice"]["ja"]  # type: ignore[index]
        assert refused["card_work"]["phase"] == "choose"  # type: ignore[index]


async def test_a_reset_without_the_issuers_channel_says_so_and_changes_nothing(
    hub: Hub, agent: Agent
) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await _approved(counter, applicant, officer, "pin_reset")
        await counter.post("/api/card-work/pin", {"pin": "auth", "mode": "reset", "requester": "holder"})
        await until_view(counter, "/api/state", _phase("pin_entry"))  # type: ignore[arg-type]
        await applicant.post("/api/applicant/card-pin", raw=f"{NEW_AUTH_PIN}\n{NEW_AUTH_PIN}".encode())
        failed = await until_view(counter, "/api/state", _phase("failed"))  # type: ignore[arg-type]
        assert failed["notice"]["code"] == "card_admin_unavailable"  # type: ignore[index]


async def test_a_renewal_inside_the_window_and_a_locked_pin_reset_in_the_same_visit(
    hub: Hub, renewing_agent: Agent
) -> None:
    async with httpx.AsyncClient(base_url=renewing_agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        case_id = await _approved(counter, applicant, officer, "ecert_issue_renew")
        slot = ISSUERS[-1].slot
        assert isinstance(slot, VirtualSlot)
        # The signing password was locked before the visit.
        slot._card.key(PinKind.JPKI_SIGN.aid, PinKind.JPKI_SIGN.key_fid).tries_left = 0
        answers = {"under_15": False, "adult_ward": False, "basic4_changed": False}
        await counter.post(
            "/api/card-work/ecert", {"certificates": ["sign", "auth"], "requester": "holder", **answers}
        )
        locked = await until_view(counter, "/api/state", _phase("locked"))  # type: ignore[arg-type]
        assert locked["card_work"]["locked"]["key"] == "sign"  # type: ignore[index]
        assert locked["card_work"]["resuming"] is True  # type: ignore[index]
        await counter.post("/api/card-work/reset-locked")
        await until_view(counter, "/api/state", _phase("pin_entry"))  # type: ignore[arg-type]
        form = (await applicant.state("/api/applicant/state"))["pin_choice"]
        assert [f["key"] for f in form["fields"]] == ["new"]  # type: ignore[index]
        await applicant.post("/api/applicant/card-pin", raw=b"NEWPASS77\nNEWPASS77")
        done = await until_view(counter, "/api/state", _phase("done"))  # type: ignore[arg-type]
        assert [d["code"] for d in done["card_work"]["done"]] == ["renew_auth", "renew_sign", "reset_sign"]  # type: ignore[index]
        assert ISSUERS[-1].resets == ["sign"]
        assert ISSUERS[-1].renewed == [["renew_sign", "renew_auth"]]
        read = await officer.client.get(f"/api/v1/cases/{case_id}")
        assert read.json()["precheck"]["card_work"]["done"] == ["renew_auth", "renew_sign", "reset_sign"]
        # Under 15: the hub refuses the 署名用, and says why.
        await counter.post("/api/card-work/cancel")
        await counter.post(
            "/api/card-work/ecert",
            {"certificates": ["sign"], "requester": "holder", **answers, "under_15": True},
        )
        refused = await until_view(counter, "/api/state", lambda v: bool(v["notice"]))
        assert refused["notice"]["problem"] == "ecert_sign_under_15"  # type: ignore[index]
