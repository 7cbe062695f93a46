"""The card work after approval at the counter (docs/card-procedures.md), against a real hub and the virtual card.

A PIN change runs end to end on the card's own commands, and the new PIN opens the card in the next visit; a reset
and a renewal go over the issuer's channel relayed through the hub (the counter's default, RelayIssuerChannel) to
the card's management applet, with the hub's issuer simulator: a new certificate on the card that the hub verified,
the old one revoked at the simulator, the applicant's PIN opening the card afterwards — and that PIN nowhere at the
hub (database, logs). A locked PIN found during a renewal is reset in the same visit; refusals leave the card and
the case as they were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from clerk_agent.card.protocol import JPKI_AID, MyNumberCard, PinKind
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.transport import InProcessTransport
from clerk_agent.flows.cardadmin import LocalCardAdmin, RelayIssuerChannel
from clerk_agent.flows.cardslot import CardSlot, VirtualSlot
from clerk_agent.link.hub import HubLink
from service.cardadmin.issuer import JpkiIssuerSimulator
from tests.clerk_agent.app._pdf import pdf_lines
from tests.clerk_agent.app.conftest import Agent, CounterClient, Hub, Officer, agent_running, until_view
from tests.clerk_agent.app.test_counter_steps import _pin_on_the_applicant_screen, _until_live
from tests.service.cardadmin.test_secrets_sweep import _forms, _rows

pytestmark = pytest.mark.e2e
HOLDER = person("yamada_hanako")  # the virtual card's invented holder
NEW_AUTH_PIN = "9406"  # invented for the test
NEW_SIGN_PASSWORD = "MADOGUCHI2026"  # invented for the test


class ExpiringSoon(LocalCardAdmin):
    """The virtual card's certificates are valid for years; this one says they expire in 40 days."""

    async def not_after(self) -> dt.date | None:
        return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=40)


SLOTS: list[CardSlot] = []


def _admin(slot: CardSlot, link: HubLink) -> LocalCardAdmin:
    """The counter's default seam (the issuer's channel through the hub), its card about to expire."""
    SLOTS.append(slot)
    return ExpiringSoon(slot, RelayIssuerChannel(link, slot))


@pytest.fixture
async def renewing_agent(hub: Hub, tmp_path: Path, agent_pki: Path) -> AsyncIterator[Agent]:
    """The agent whose card's certificates are inside the renewal window."""
    SLOTS.clear()
    async with agent_running(hub, tmp_path / "agent", agent_pki, card_admin=_admin) as running:
        yield running


def virtual_card(slot: CardSlot) -> VirtualMyNumberCard:
    """The card inside the agent's in-process virtual slot."""
    assert isinstance(slot, VirtualSlot)
    return slot._card


def certificates(card: VirtualMyNumberCard) -> dict[str, x509.Certificate]:
    """The card's two JPKI certificates (利用者証明用 EF 000A, 署名用 EF 0001)."""
    return {
        "auth": x509.load_der_x509_certificate(card.file(JPKI_AID, 0x000A).data),
        "sign": x509.load_der_x509_certificate(card.file(JPKI_AID, 0x0001).data),
    }


async def assert_renewed(
    officer: Officer, case_id: str, pki: Path, card: VirtualMyNumberCard, before: dict[str, x509.Certificate]
) -> None:
    """New pairs and certificates on the card, verified by the hub; the old ones revoked at the issuer simulator."""
    job = (await officer.client.get(f"/api/v1/cases/{case_id}/card-admin")).json()
    # `renewed` only when the hub's own check of the new proofs passed (else `renewed_unverified:<why>`).
    assert (job["outcome"], job["card_state"], job["state"]) == ("renewed", "new", "done")
    assert (job["certificates_issued"], job["certificates_revoked"]) == (2, 2)
    after = certificates(card)
    issuer = JpkiIssuerSimulator(pki)
    for slot in ("auth", "sign"):
        assert after[slot].serial_number != before[slot].serial_number
        assert after[slot].public_key() != before[slot].public_key()
        assert issuer.revoked(before[slot].serial_number)
        assert not issuer.revoked(after[slot].serial_number)
    # The new 利用者証明用 key signs on the card with the holder's PIN, and its certificate checks it.
    session = MyNumberCard(InProcessTransport(card))
    session.detect()
    session.verify_auth_pin(bytearray(HOLDER.auth_pin.encode()))
    signature = session.sign_auth(b"renewed at the counter")
    public = after["auth"].public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"renewed at the counter", padding.PKCS1v15(), hashes.SHA256())
    card.reset()


async def hub_rows(database_url: str) -> str:
    """Every value of every row of the hub's database, as text (bytes as hex)."""
    engine = create_async_engine(database_url)
    try:
        return await _rows(async_sessionmaker(engine))
    finally:
        await engine.dispose()


def assert_not_at_the_hub(secret: str, rows: str, hub: Hub, agent: Agent) -> None:
    """The applicant's new PIN: in no row of the hub's database, no hub or agent log line (as a value of its own:
    a 4-digit one occurs by chance in ids and ciphertext), and a longer one in no file of the agent's data."""
    logs = "\n".join(log.read_text(errors="replace") for log in hub.log) + "\n".join(agent.log_records)
    for where, text in (("database", rows), ("logs", logs)):
        for form in (f'"{secret}"', f"'{secret}'", f"{secret}\\n", f"={secret}"):
            assert form not in text, f"the new PIN in the hub's {where}"
        if len(secret) > 4:
            # A longer one also in no hex or base64 form (a 4-digit one's would turn up by chance in ciphertext).
            for form in (secret, *_forms(secret.encode())):
                assert form not in text, f"the new PIN in the hub's {where}"
    if len(secret) > 4:
        # Nor in the counter's own store (its SQLite outbox and state): the PIN went to the card only.
        for path in agent.data_dir.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), f"the new PIN in the agent's {path.name}"


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


async def test_a_reset_through_the_issuers_channel_sets_the_applicants_pin_that_opens_the_card(
    hub: Hub, agent: Agent, fresh_database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        case_id = await _approved(counter, applicant, officer, "pin_reset")
        await counter.post("/api/card-work/pin", {"pin": "auth", "mode": "reset", "requester": "holder"})
        await until_view(counter, "/api/state", _phase("pin_entry"))  # type: ignore[arg-type]
        form = (await applicant.state("/api/applicant/state"))["pin_choice"]
        assert [f["key"] for f in form["fields"]] == ["new"]  # type: ignore[index]
        await applicant.post("/api/applicant/card-pin", raw=f"{NEW_AUTH_PIN}\n{NEW_AUTH_PIN}".encode())
        done = await until_view(counter, "/api/state", _phase("done"))  # type: ignore[arg-type]
        assert [d["code"] for d in done["card_work"]["done"]] == ["reset_auth"]  # type: ignore[index]
        job = (await officer.client.get(f"/api/v1/cases/{case_id}/card-admin")).json()
        assert (job["operation"], job["pin"], job["outcome"]) == ("confirm_pin_reset", "auth", "pin_set")
        read = await officer.client.get(f"/api/v1/cases/{case_id}")
        assert read.json()["precheck"]["card_work"]["done"] == ["reset_auth"]
        await counter.post("/api/close")
        await counter.until("closed")
        # The next visit: the card check takes the PIN the applicant set.
        await counter.post("/api/new")
        await _until_live(counter, officer, "pin_reset")
        await counter.post("/api/code-b", {"code_b": HOLDER.code_b})
        await until_view(applicant, "/api/applicant/state", lambda v: bool(v["pin"]["open"]))  # type: ignore[index]
        await applicant.post("/api/applicant/pin", raw=NEW_AUTH_PIN.encode())
        captured = await counter.until("evidence_captured")
        assert captured["case"]["proof_ok"] is True  # type: ignore[index]
        responses = counter.responses + applicant.responses
    assert not [r for r in responses if f'"{NEW_AUTH_PIN}"' in r or f"{NEW_AUTH_PIN}\\n" in r]
    assert_not_at_the_hub(NEW_AUTH_PIN, await hub_rows(fresh_database_url), hub, agent)


async def test_a_renewal_inside_the_window_and_a_locked_pin_reset_in_the_same_visit(
    hub: Hub, renewing_agent: Agent, agent_pki: Path, fresh_database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=renewing_agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter, applicant = CounterClient(ui), CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        case_id = await _approved(counter, applicant, officer, "ecert_issue_renew")
        card = virtual_card(SLOTS[-1])
        before = certificates(card)
        # The signing password was locked before the visit.
        card.key(PinKind.JPKI_SIGN.aid, PinKind.JPKI_SIGN.key_fid).tries_left = 0
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
        await applicant.post(
            "/api/applicant/card-pin", raw=f"{NEW_SIGN_PASSWORD}\n{NEW_SIGN_PASSWORD}".encode()
        )
        done = await until_view(counter, "/api/state", _phase("done"))  # type: ignore[arg-type]
        assert [d["code"] for d in done["card_work"]["done"]] == ["renew_auth", "renew_sign", "reset_sign"]  # type: ignore[index]
        await assert_renewed(officer, case_id, agent_pki, card, before)
        # The password the applicant set opens the signing key (unlocked, all tries back).
        sign = card.key(PinKind.JPKI_SIGN.aid, PinKind.JPKI_SIGN.key_fid)
        assert (sign.secret, sign.tries_left) == (NEW_SIGN_PASSWORD.encode(), sign.max_tries)
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
    assert_not_at_the_hub(NEW_SIGN_PASSWORD, await hub_rows(fresh_database_url), hub, renewing_agent)
