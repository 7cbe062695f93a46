"""Remote card management end to end in one process: the hub's API drives the SCP03 channel, the agent's relay
carries the wrapped APDUs to the virtual card and back (docs/card-admin.md).

Renewal: new pairs made on the card, certificates from the issuer simulator written and committed at once, the hub's
card-proof code accepts the new authentication certificate, and the old ones are revoked at the issuer. PIN reset:
the issuer's channel opens the authorisation, the PIN goes from the agent to the card only. Tampering, replays and
an agent killed between any two relayed commands leave the card as it was or fully new, and the case says which.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import httpx
import pytest
from cryptography import x509
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.protocol import JPKI_AID, MyNumberCard
from clerk_agent.card.virtual.admin import CardAdminApplet
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.transport import InProcessTransport
from clerk_agent.flows.cardrelay import CardAdminRefused, PinRefusedByCard, renew_certificates, reset_pin
from clerk_agent.link.hub import HubLink, HubRefused
from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.cardadmin.issuer import IssuerError
from service.cardadmin.models import CardAdminJob
from service.cardadmin.router import app_runtime
from service.cardadmin.service import serials_of
from service.cardproof.revocation import CrlRevocationChecker, RevocationStatus
from service.cardproof.verify import signed_bytes_for, verify_card_proof
from service.db import unit_of_work
from service.evidence.models import CaseCardBinding
from service.wire.cardadmin import CardState, PinName
from tests.factories import World
from tests.service.cardadmin.conftest import HANAKO, approved_case, factory_card, plan, quick_approved_case
from tests.service.conftest import CaseDriver

pytestmark = pytest.mark.slow


def _serial(der: bytes) -> int:
    return x509.load_der_x509_certificate(der).serial_number


def _cert(card: VirtualMyNumberCard, fid: int = 0x000A) -> bytes:
    return card.file(JPKI_AID, fid).data


def _proof_ok(
    app: Any, card: VirtualMyNumberCard, pin: str, *, revocation: bool = True
) -> tuple[bool, RevocationStatus]:
    """The counter's possession proof with the card as it is now, verified by the hub's card-proof code.

    The factory's certificates are shared by every test of the run, and another test's renewal revoked them: a
    test that keeps them checks everything but revocation.
    """
    runtime = app.state.card_admin
    reader = MyNumberCard(InProcessTransport(card))
    certificate = reader.read_auth_certificate()
    reader.verify_auth_pin(bytearray(pin.encode()))
    message = signed_bytes_for("http://hub.test", "n" * 43, "case_x")
    signature = reader.sign_auth(message)
    result = verify_card_proof(
        certificate_der=certificate,
        signature=signature,
        signed_bytes=message,
        trust=app.state.evidence.trust,
        at=dt.datetime.now(dt.UTC),
        allow_test_roots=True,
        revocation=CrlRevocationChecker(runtime.issuer.crls()) if revocation else None,
    )
    return result.ok, result.revocation.status


async def _job(sessionmaker: async_sessionmaker[AsyncSession], case_id: str) -> CardAdminJob:
    async with sessionmaker() as session:
        job = (
            await session.execute(select(CardAdminJob).where(CardAdminJob.case_id == case_id))
        ).scalar_one()
        session.expunge(job)
        return job


async def test_renewal_end_to_end(
    app: Any,
    driver: CaseDriver,
    link: HubLink,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    world: World,
) -> None:
    card, applet = card_and_applet
    case_id = await approved_case(driver)
    old_auth, old_sign = _cert(card), _cert(card, 0x0001)
    old_key = card.applications[JPKI_AID].private_keys[0x0017].key

    result = await renew_certificates(link, InProcessTransport(card), case_id)

    assert (result.outcome, result.card_state) == ("renewed", CardState.new)
    new_auth, new_sign = _cert(card), _cert(card, 0x0001)
    assert new_auth != old_auth
    assert new_sign != old_sign
    assert card.applications[JPKI_AID].private_keys[0x0017].key is not old_key
    assert applet.commits == 1
    assert applet.pending_slots == []
    # The new certificate passes the hub's card-proof checks, revocation included; the old serials are revoked.
    ok, revocation = _proof_ok(app, card, HANAKO.auth_pin)
    assert ok
    assert revocation is RevocationStatus.GOOD
    issuer = app.state.card_admin.issuer
    assert issuer.revoked(_serial(old_auth))
    assert issuer.revoked(_serial(old_sign))
    assert not issuer.revoked(_serial(new_auth))
    job = await _job(sessionmaker, case_id)
    assert (job.state, job.card_state, job.outcome) == ("done", "new", "renewed")
    serials = serials_of(app_runtime(app), job)
    assert sorted(serials.revoked) == sorted([f"{_serial(old_auth):x}", f"{_serial(old_sign):x}"])
    assert (job.issued, job.revoked) == (2, 2)
    assert job.channel_ciphertext is None  # nothing of the finished channel stays
    # The officer's console reads the job; a second renewal of the same case is refused.
    read = await client.get(f"/api/v1/cases/{case_id}/card-admin", headers=world.h("a", Role.officer))
    assert read.status_code == 200
    assert read.json()["card_state"] == "new"
    with pytest.raises(HubRefused) as again:
        await renew_certificates(link, InProcessTransport(card), case_id)
    assert again.value.problem_code == "card_admin_done"


async def test_pin_reset_end_to_end(
    app: Any,
    driver: CaseDriver,
    link: HubLink,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    card, _applet = card_and_applet
    key = card.key(JPKI_AID, 0x0018)
    key.tries_left = 0  # blocked: the applicant forgot it
    case_id = await approved_case(driver, "pin_reset")
    transport = InProcessTransport(card)
    new_pin = bytearray(b"4812")

    result = await reset_pin(link, transport, case_id, PinName.auth, new_pin)

    assert result.outcome == "pin_set"
    assert new_pin == bytearray(4)  # wiped
    assert key.secret == b"4812"
    assert key.tries_left == key.max_tries
    ok, _ = _proof_ok(app, card, "4812", revocation=False)
    assert ok
    job = await _job(sessionmaker, case_id)
    assert (job.state, job.outcome) == ("done", "pin_set")
    # The plain RESET RETRY COUNTER carrying the PIN went to the card; no PIN reached the hub's records.
    async with sessionmaker() as session:
        for table in ("card_admin_job", "audit_event"):
            rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608 - fixed names
            # As a token of its own: four digits also occur by chance inside the audit chain's hex digests.
            assert not re.search(r"(?<![0-9A-Za-z+/=_-])4812(?![0-9A-Za-z+/=_-])", repr(rows))


async def test_a_bad_pin_form_never_reaches_the_card_and_no_authorisation_no_reset(
    driver: CaseDriver, link: HubLink, card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet]
) -> None:
    card, _ = card_and_applet
    case_id = await approved_case(driver, "pin_reset")
    short = bytearray(b"12")
    with pytest.raises(PinRefusedByCard):
        await reset_pin(link, InProcessTransport(card), case_id, PinName.auth, short)
    assert short == bytearray(2)
    # Without the issuer's authorisation the card refuses a plain reset.
    transport = InProcessTransport(card)
    transport.transmit(bytes.fromhex("00A4040C0A") + JPKI_AID)
    assert transport.transmit(bytes.fromhex("002C02980431323334"))[-2:] == b"\x69\x82"
    assert card.key(JPKI_AID, 0x0018).secret == HANAKO.auth_pin.encode()


class Tamper(InProcessTransport):
    """A relay that changes what it carries: flips a byte of the k-th command, or sends it twice."""

    def __init__(self, card: VirtualMyNumberCard, *, at: int, mode: str) -> None:
        super().__init__(card)
        self.at, self.mode, self.count = at, mode, 0

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        self.count += 1
        if self.count != self.at:
            return super().transmit(apdu)
        if self.mode == "flip":
            altered = bytearray(apdu)
            altered[-3] ^= 0x01  # inside the MAC or the encrypted data
            return super().transmit(bytes(altered))
        super().transmit(apdu)
        return super().transmit(apdu)  # the replay's answer is what the hub gets


@pytest.mark.parametrize(("at", "mode"), [(4, "flip"), (7, "flip"), (5, "replay"), (12, "flip")])
async def test_tampering_is_refused_and_the_card_stays_as_it_was(
    app: Any,
    driver: CaseDriver,
    link: HubLink,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
    sessionmaker: async_sessionmaker[AsyncSession],
    at: int,
    mode: str,
) -> None:
    card, applet = card_and_applet
    case_id = await approved_case(driver)
    before = (_cert(card), _cert(card, 0x0001))
    with pytest.raises(CardAdminRefused) as refused:
        await renew_certificates(link, Tamper(card, at=at, mode=mode), case_id)
    assert refused.value.card_state is CardState.old
    assert applet.refusals >= 1
    assert applet.pending_slots == []
    assert applet.commits == 0
    assert (_cert(card), _cert(card, 0x0001)) == before
    job = await _job(sessionmaker, case_id)
    # What the tampered run had issued (from the 12th command on, the first slot's certificate) is revoked at once.
    tampered = serials_of(app_runtime(app), job)
    assert tampered.new == []
    assert len(tampered.revoked) == (1 if at == 12 else 0)
    assert all(app_runtime(app).issuer.revoked(int(serial, 16)) for serial in tampered.revoked)
    assert job.state == "refused"
    assert job.refusals == 1
    assert job.outcome
    assert job.outcome.startswith("refused:")
    async with sessionmaker() as session:
        actions = (
            await session.execute(select(AuditEvent.action).where(AuditEvent.case_id == case_id))
        ).scalars()
        assert "card_admin.refused" in set(actions)
    # An honest relay then completes the renewal, and the certificates the tampered run had issued are revoked.
    result = await renew_certificates(link, InProcessTransport(card), case_id)
    assert result.outcome == "renewed"
    assert _cert(card) != before[0]
    assert not app_runtime(app).issuer.revoked(_serial(_cert(card)))


class Killed(Exception):
    """The agent died here."""


def _count_steps(card: VirtualMyNumberCard) -> int:
    return len(card.apdu_log)


async def test_killed_between_every_pair_of_commands_then_retried(
    app: Any,
    world: World,
    link: HubLink,
    dev_pki_dir: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # How many commands a whole renewal relays, measured on a card of its own.
    probe, _ = factory_card(dev_pki_dir)
    first = await quick_approved_case(sessionmaker, world.a)
    total = (await renew_certificates(link, InProcessTransport(probe), first)).commands
    assert total > 10
    for k in range(1, total):
        card, applet = factory_card(dev_pki_dir)
        before = _cert(card)
        case_id = await quick_approved_case(sessionmaker, world.a)
        transport = InProcessTransport(card)

        def kill_at(step: int, k: int = k) -> None:
            if step == k:
                raise Killed

        with pytest.raises(Killed):
            await renew_certificates(link, transport, case_id, on_step=kill_at)
        # The agent's death drops the card's connection: a power cycle, as a real process kill would.
        card.power_off()
        job = await _job(sessionmaker, case_id)
        now = _cert(card)
        assert now in (before, *([] if job.card_state == "old" else [now]))
        if now == before:
            assert job.card_state in ("old", "unknown"), (k, job.card_state)
        else:
            assert job.card_state in ("unknown", "new"), (k, job.card_state)
        assert applet.pending_slots == []
        result = await renew_certificates(link, InProcessTransport(card), case_id)
        assert (result.outcome, result.card_state) == ("renewed", CardState.new), k
        assert _cert(card) != before
        job = await _job(sessionmaker, case_id)
        issuer = app.state.card_admin.issuer
        active = _serial(_cert(card))
        assert not issuer.revoked(active)
        assert issuer.revoked(_serial(before))
        assert hashlib.sha256(_cert(card)).hexdigest() in job.new_digests


async def test_only_after_approval_only_these_procedures_only_the_own_office(
    driver: CaseDriver,
    world: World,
    link: HubLink,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
    client: httpx.AsyncClient,
) -> None:
    card, _ = card_and_applet
    renewal = await approved_case(driver, "card_renewal")
    with pytest.raises(HubRefused) as wrong:
        await renew_certificates(link, InProcessTransport(card), renewal)
    assert wrong.value.problem_code == "card_admin_not_allowed"
    pin_case = await approved_case(driver, "pin_reset")
    with pytest.raises(HubRefused):
        await renew_certificates(link, InProcessTransport(card), pin_case)
    case_id = await approved_case(driver)
    body = {"operation": "renew_certificates"}
    foreign = await world.device_b.post(f"/api/v1/cases/{case_id}/card-admin/runs", json=body)
    assert foreign.status_code == 404
    officer = await client.post(
        f"/api/v1/cases/{case_id}/card-admin/runs", json=body, headers=world.h("a", Role.officer)
    )
    assert officer.status_code == 403
    other = await client.get(f"/api/v1/cases/{case_id}/card-admin", headers=world.h("b", Role.officer))
    assert other.status_code == 404
    # Before the officer's decision: refused.
    reviewing = await driver.to_review("ecert_issue_renew")
    with pytest.raises(HubRefused) as early:
        await renew_certificates(link, InProcessTransport(card), str(reviewing["id"]))
    assert early.value.problem_code == "card_admin_not_allowed"


class DiesAfter(InProcessTransport):
    """The card executes the n-th command, then the agent dies before the answer leaves the counter."""

    def __init__(self, card: VirtualMyNumberCard, n: int) -> None:
        super().__init__(card)
        self.n, self.count = n, 0

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        answer = super().transmit(apdu)
        self.count += 1
        if self.count == self.n:
            raise Killed
        return answer


async def test_the_commit_done_and_its_answer_lost_the_retry_finds_the_card_new(
    app: Any, world: World, link: HubLink, dev_pki_dir: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    probe, _ = factory_card(dev_pki_dir)
    total = (
        await renew_certificates(
            link, InProcessTransport(probe), await quick_approved_case(sessionmaker, world.a)
        )
    ).commands
    card, applet = factory_card(dev_pki_dir)
    before = _cert(card)
    case_id = await quick_approved_case(sessionmaker, world.a)
    with pytest.raises(Killed):
        await renew_certificates(link, DiesAfter(card, total), case_id)
    card.power_off()
    assert applet.commits == 1
    assert _cert(card) != before
    job = await _job(sessionmaker, case_id)
    assert (
        job.card_state == "unknown"
    )  # ... and the case knows it may be: the COMMIT left, its answer did not
    issuer = app.state.card_admin.issuer
    result = await renew_certificates(link, InProcessTransport(card), case_id)
    assert (result.outcome, result.card_state) == ("renewed", CardState.new)
    assert (
        result.commands == 6
    )  # SELECT, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, STATUS + 2 READ OUTPUT: no new keys
    assert applet.commits == 1
    assert issuer.revoked(_serial(before))
    assert not issuer.revoked(_serial(_cert(card)))
    assert (await _job(sessionmaker, case_id)).state == "done"


async def _bind(sessionmaker: async_sessionmaker[AsyncSession], case_id: str, certificate: bytes) -> None:
    """The case's card binding, as the verified possession proof at the counter leaves it."""
    async with unit_of_work(sessionmaker) as session:
        session.add(
            CaseCardBinding(
                case_id=case_id,
                atr_sha256=hashlib.sha256(b"atr").hexdigest(),
                certificate_sha256=hashlib.sha256(certificate).hexdigest(),
                card_face_sha256=None,
                bound_at=dt.datetime.now(dt.UTC),
            )
        )


async def test_only_the_card_the_officer_verified_is_managed(
    world: World,
    link: HubLink,
    dev_pki_dir: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    hanako, _ = factory_card(dev_pki_dir)
    taro, taro_applet = factory_card(dev_pki_dir, "sato_taro")
    case_id = await quick_approved_case(sessionmaker, world.a)
    await _bind(sessionmaker, case_id, _cert(hanako))
    before = _cert(taro)
    with pytest.raises(CardAdminRefused) as refused:
        await renew_certificates(link, InProcessTransport(taro), case_id)
    assert refused.value.outcome == "refused:not_the_verified_card"
    assert _cert(taro) == before
    assert taro_applet.sessions_seen  # it got as far as reading the card's STATUS, no further
    assert taro_applet.pending_slots == []
    # The verified card is renewed; the same visit's PIN reset then goes to the renewed card, not refused as new.
    assert (await renew_certificates(link, InProcessTransport(hanako), case_id)).outcome == "renewed"
    reset = await reset_pin(link, InProcessTransport(hanako), case_id, PinName.kenhojo, bytearray(b"5093"))
    assert reset.outcome == "pin_set"
    with pytest.raises(CardAdminRefused):
        await reset_pin(link, InProcessTransport(taro), case_id, PinName.kenhojo, bytearray(b"5093"))


async def test_issuer_unreachable_leaves_the_card_as_it_was_then_the_revocation_waits_for_the_next_run(
    app: Any,
    world: World,
    link: HubLink,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    card, applet = card_and_applet
    before = _cert(card)
    case_id = await quick_approved_case(sessionmaker, world.a)
    issuer = app_runtime(app).issuer

    def down(*_args: object) -> None:
        raise IssuerError("J-LIS does not answer", retriable=True)

    monkeypatch.setattr(issuer, "issue", down)
    with pytest.raises(CardAdminRefused) as refused:
        await renew_certificates(link, InProcessTransport(card), case_id)
    assert refused.value.outcome == "refused:issuer_unreachable"
    assert _cert(card) == before
    assert applet.commits == 0
    monkeypatch.undo()
    # The issuer is back for issuing but not for revoking: the card is renewed, the revocation left for later.
    monkeypatch.setattr(issuer, "revoke", down)
    result = await renew_certificates(link, InProcessTransport(card), case_id)
    assert result.outcome == "renewed_revocation_pending"
    assert (await _job(sessionmaker, case_id)).state == "running"
    monkeypatch.undo()
    result = await renew_certificates(link, InProcessTransport(card), case_id)
    assert result.outcome == "renewed"
    assert issuer.revoked(_serial(before))
    assert applet.commits == 1


async def test_only_what_the_card_work_plan_planned(
    sessionmaker: async_sessionmaker[AsyncSession],
    world: World,
    link: HubLink,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
) -> None:
    """The issuer's channel does the case's planned work only (docs/card-admin.md §Plan): no plan, no run; a plan
    for the 利用者証明用 alone renews that one and leaves the 署名用 as it was."""
    card, _ = card_and_applet
    case_id = await quick_approved_case(sessionmaker, world.a)
    async with unit_of_work(sessionmaker) as session:
        await plan(session, case_id, [])
    with pytest.raises(HubRefused) as unplanned:
        await renew_certificates(link, InProcessTransport(card), case_id)
    assert unplanned.value.problem_code == "card_admin_not_allowed"
    with pytest.raises(HubRefused):
        await reset_pin(link, InProcessTransport(card), case_id, PinName.auth, bytearray(b"4821"))
    async with unit_of_work(sessionmaker) as session:
        await plan(session, case_id, ["renew_auth", "reset_sign"])
    with pytest.raises(HubRefused):
        await reset_pin(link, InProcessTransport(card), case_id, PinName.auth, bytearray(b"4821"))
    sign_before, auth_before = _cert(card, 0x0001), _cert(card)
    result = await renew_certificates(link, InProcessTransport(card), case_id)
    assert result.card_state is CardState.new
    assert _cert(card) != auth_before
    assert _cert(card, 0x0001) == sign_before
    async with unit_of_work(sessionmaker) as session:
        job = (await session.execute(select(CardAdminJob))).scalar_one()
        assert (job.issued, job.revoked) == (1, 1)
