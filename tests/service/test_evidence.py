"""Card-possession proofs verified by the hub from its own state, the card-swap guard, and audited evidence views."""

from __future__ import annotations

import base64
import datetime as dt
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.reading import CounterRead, PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.transport import InProcessTransport
from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.cases.models import Case
from service.db import unit_of_work
from service.evidence.models import CardChallenge, EvidenceBlob, EvidenceItem
from service.integrations.jlis import MAIL_TYPE, JlisSimulator
from service.integrations.jlis_job import application_for
from service.kit import clock
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver

_CARDS: dict[tuple[Path, str], VirtualMyNumberCard] = {}


def _read(
    pki: Path, who: str, challenge: dict[str, Any], *, case_id: str | None = None, nonce: str | None = None
) -> CounterRead:
    """Read `who`'s virtual card (one physical card per person and PKI, as at a real counter)."""
    holder = person(who)
    if (pki, who) not in _CARDS:
        _CARDS[(pki, who)] = build_virtual_card(holder, load_card_material(pki, who))
    card = _CARDS[(pki, who)]
    return read_at_counter(
        MyNumberCard(InProcessTransport(card)),
        auth_pin=bytearray(holder.auth_pin.encode()),
        code_b=bytearray(holder.code_b.encode()),
        challenge=PossessionChallenge(
            challenge["origin"], nonce or challenge["nonce"], case_id or challenge["case_id"]
        ),
    )


def _body(challenge: dict[str, Any], read: CounterRead, **override: Any) -> dict[str, Any]:
    body = {
        "challenge_id": challenge["challenge_id"],
        "certificate": base64.b64encode(read.auth_certificate).decode(),
        "signature": base64.b64encode(read.signature).decode(),
        "atr": read.atr.hex(),
        "card_face": base64.b64encode(read.card_face.raw).decode() if read.card_face else None,
        "card_face_signature": (
            base64.b64encode(read.card_face_signature).decode() if read.card_face_signature else None
        ),
    }
    body.update(override)
    return body


async def _live_case(driver: CaseDriver, officer: dict[str, str] | None = None) -> dict[str, Any]:
    """A renewal in session_live with tenant A's officer (or `officer`: one live case per officer)."""
    case = await driver.create("card_renewal")
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    await driver.device(case["id"], "request-verification")
    return await driver.officer(case["id"], "accept", headers=officer)


async def _challenge(world: World, case_id: str) -> dict[str, Any]:
    response = await world.device_a.post(f"/api/v1/cases/{case_id}/card-challenges")
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _prove(world: World, case_id: str, body: dict[str, Any]) -> httpx.Response:
    return await world.device_a.post(f"/api/v1/cases/{case_id}/card-proofs", json=body)


def _checks(outcome: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["check"]: (c["status"], c["reason"]) for c in outcome["evidence"]["summary"]["checks"]}


async def test_card_proof_verified_and_card_face_shown_to_officer(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    assert len(base64.urlsafe_b64decode(challenge["nonce"] + "=")) >= 32  # ≥ 256 bits
    assert challenge["origin"] == "http://hub.test"
    response = await _prove(
        world, case["id"], _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge))
    )
    assert response.status_code == 201, response.text
    outcome = response.json()
    assert outcome["evidence"]["ok"] is True
    assert outcome["card_swap_detected"] is False
    checks = _checks(outcome)
    for name in ("certificate", "signature", "validity", "key_usage", "chain", "card_face", "card_face_key"):
        assert checks[name] == ("passed", None), name
    # No revocation source is configured: the evidence says so rather than pretending.
    assert checks["revocation"] == ("not_checked", "revocation_not_checked")
    assert outcome["evidence"]["summary"]["revocation_label"].startswith("失効確認未実施")

    listed = await client.get(f"/api/v1/cases/{case['id']}/evidence", headers=world.h("a", Role.officer))
    assert listed.status_code == 200
    by_kind = {i["kind"]: i for i in listed.json()["items"]}
    assert sorted(by_kind) == ["card_face", "card_proof"]
    face_id = by_kind["card_face"]["id"]
    face = await client.get(
        f"/api/v1/cases/{case['id']}/evidence/{face_id}/card-face", headers=world.h("a", Role.officer)
    )
    assert face.status_code == 200, face.text
    view = face.json()
    holder = person("yamada_hanako")
    assert view["sex"] == holder.sex
    # DF29 is outside the J-LIS signature: the view names it so, and never offers it as a verified `expiry`.
    assert view["expiry_unsigned"] == holder.expiry.strftime("%Y%m%d")
    assert "expiry" not in view
    assert by_kind["card_face"]["summary"]["unsigned_fields"] == ["expiry"]
    with Image.open(io.BytesIO(base64.b64decode(view["photo_png"]))) as photo:
        assert photo.format == "PNG"
        assert photo.width > 0
    async with sessionmaker() as session:
        actions = list(
            (
                await session.execute(select(AuditEvent.action).where(AuditEvent.case_id == case["id"]))
            ).scalars()
        )
    assert "evidence.card_proof_recorded" in actions
    assert actions.count("evidence.viewed") == 1
    assert "evidence.listed" in actions


async def test_evidence_is_stored_encrypted(
    world: World, driver: CaseDriver, dev_pki_dir: Path, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    read = _read(dev_pki_dir, "yamada_hanako", challenge)
    assert (await _prove(world, case["id"], _body(challenge, read))).status_code == 201
    assert read.card_face is not None
    async with sessionmaker() as session:
        blob = (await session.execute(select(EvidenceBlob))).scalar_one()
    assert blob.ciphertext is not None
    assert read.card_face.photo_jp2[:64] not in blob.ciphertext
    assert read.card_face.raw[:32] not in blob.ciphertext


async def test_ciphertext_moved_to_another_case_does_not_decrypt(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first, second = (
        await _live_case(driver),
        await _live_case(driver, await driver.new_officer("officer-second")),
    )
    for case in (first, second):
        challenge = await _challenge(world, case["id"])
        assert (
            await _prove(world, case["id"], _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge)))
        ).status_code == 201
    async with unit_of_work(sessionmaker) as session:
        blobs = {b.case_id: b for b in (await session.execute(select(EvidenceBlob))).scalars()}
        source, target = blobs[first["id"]], blobs[second["id"]]
        await session.execute(
            update(EvidenceBlob)
            .where(EvidenceBlob.id == target.id)
            .values(wrapped_key=source.wrapped_key, ciphertext=source.ciphertext)
        )
        face_id = target.evidence_id
    response = await client.get(
        f"/api/v1/cases/{second['id']}/evidence/{face_id}/card-face", headers=world.h("a", Role.supervisor)
    )
    assert response.status_code == 409
    assert response.json()["code"] == "evidence_integrity_failed"


async def test_replayed_challenge(world: World, driver: CaseDriver, dev_pki_dir: Path) -> None:
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    body = _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge))
    assert (await _prove(world, case["id"], body)).status_code == 201
    again = await _prove(world, case["id"], body)
    assert again.status_code == 409
    assert again.json()["code"] == "challenge_used"


async def test_expired_challenge(
    world: World, driver: CaseDriver, dev_pki_dir: Path, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    body = _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge))
    async with unit_of_work(sessionmaker) as session:
        await session.execute(update(CardChallenge).values(expires_at=clock.now().replace(year=2020)))
    response = await _prove(world, case["id"], body)
    assert response.status_code == 409
    assert response.json()["code"] == "challenge_expired"


async def test_other_case_challenge(world: World, driver: CaseDriver, dev_pki_dir: Path) -> None:
    first, second = (
        await _live_case(driver),
        await _live_case(driver, await driver.new_officer("officer-second")),
    )
    challenge = await _challenge(world, first["id"])
    body = _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge, case_id=second["id"]))
    response = await _prove(world, second["id"], body)
    assert response.status_code == 404
    assert response.json()["code"] == "challenge_not_found"


async def test_signature_over_other_bytes(world: World, driver: CaseDriver, dev_pki_dir: Path) -> None:
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    # The agent claims the challenge but its card signed another nonce: the hub rebuilds the bytes itself.
    read = _read(dev_pki_dir, "yamada_hanako", challenge, nonce="an-attacker-chosen-nonce")
    outcome = (await _prove(world, case["id"], _body(challenge, read))).json()
    assert outcome["evidence"]["ok"] is False
    assert _checks(outcome)["signature"] == ("failed", "signed_bytes_mismatch")


async def test_signature_from_another_card(world: World, driver: CaseDriver, dev_pki_dir: Path) -> None:
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    mine = _read(dev_pki_dir, "yamada_hanako", challenge)
    other = _read(dev_pki_dir, "sato_taro", challenge)
    body = _body(challenge, mine, signature=base64.b64encode(other.signature).decode())
    outcome = (await _prove(world, case["id"], body)).json()
    assert outcome["evidence"]["ok"] is False
    assert _checks(outcome)["signature"] == ("failed", "signature_invalid")


async def test_tampered_card_face(world: World, driver: CaseDriver, dev_pki_dir: Path) -> None:
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    read = _read(dev_pki_dir, "yamada_hanako", challenge)
    assert read.card_face is not None
    raw = bytearray(read.card_face.raw)
    at = raw.find(read.card_face.photo_jp2[40:48])
    raw[at] ^= 0xFF
    outcome = (
        await _prove(
            world, case["id"], _body(challenge, read, card_face=base64.b64encode(bytes(raw)).decode())
        )
    ).json()
    assert outcome["evidence"]["ok"] is False
    assert _checks(outcome)["card_face"] == ("failed", "card_face_tampered")


async def test_test_root_refused_in_production_mode(
    app: Any, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    app.state.evidence.allow_test_roots = False
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    outcome = (
        await _prove(world, case["id"], _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge)))
    ).json()
    assert outcome["evidence"]["ok"] is False
    assert _checks(outcome)["chain"] == ("failed", "test_root_in_production")


async def test_card_swap_voids_card_evidence(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    case = await _live_case(driver)
    first = await _challenge(world, case["id"])
    assert (await _prove(world, case["id"], _body(first, _read(dev_pki_dir, "yamada_hanako", first)))).json()[
        "card_swap_detected"
    ] is False
    second = await _challenge(world, case["id"])
    swapped = (await _prove(world, case["id"], _body(second, _read(dev_pki_dir, "sato_taro", second)))).json()
    assert swapped["card_swap_detected"] is True
    assert swapped["evidence"]["ok"] is False
    listed = (
        await client.get(f"/api/v1/cases/{case['id']}/evidence", headers=world.h("a", Role.officer))
    ).json()
    assert listed["card_binding"]["swap_detected_at"] is not None
    assert all(i["voided_at"] is not None and i["void_reason"] == "card_swap" for i in listed["items"])


async def test_same_card_again_is_no_swap(world: World, driver: CaseDriver, dev_pki_dir: Path) -> None:
    case = await _live_case(driver)
    for _ in range(2):
        challenge = await _challenge(world, case["id"])
        outcome = (
            await _prove(world, case["id"], _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge)))
        ).json()
        assert outcome["card_swap_detected"] is False
        assert outcome["evidence"]["ok"] is True


@pytest.mark.parametrize("field", ["certificate", "signature", "card_face", "card_face_signature"])
async def test_malformed_base64(world: World, driver: CaseDriver, dev_pki_dir: Path, field: str) -> None:
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    body = _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge), **{field: "***not base64***"})
    response = await _prove(world, case["id"], body)
    assert response.status_code == 422
    assert response.json()["code"] == "malformed_card_proof"


async def test_who_may_see_evidence(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await _live_case(driver)
    url = f"/api/v1/cases/{case['id']}/evidence"
    assert (
        await world.device_a.get(url)
    ).status_code == 403  # the counter adds evidence, never reads it back
    assert (await client.get(url, headers=world.h("a", Role.clerk))).status_code == 403
    assert (await client.get(url, headers=world.admin_headers)).status_code == 403
    assert (await client.get(url, headers=world.h("a", Role.auditor))).status_code == 403
    assert (await client.get(url, headers=world.h("a", Role.supervisor))).status_code == 200
    assert (await client.get(url, headers=world.h("b", Role.officer))).status_code == 404
    # Refused looks are not audited as views; allowed ones are.
    async with sessionmaker() as session:
        views = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "evidence.listed")
        )
    assert views == 1


async def test_officer_cannot_add_or_challenge(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await _live_case(driver)
    response = await client.post(
        f"/api/v1/cases/{case['id']}/card-challenges", headers=world.h("a", Role.officer)
    )
    assert response.status_code == 403


async def test_no_card_reads_after_the_decision(world: World, driver: CaseDriver) -> None:
    case = await driver.to_review()
    # During the review a read is still possible (a redo after a video drop) ...
    assert (await world.device_a.post(f"/api/v1/cases/{case['id']}/card-challenges")).status_code == 201
    await driver.officer(case["id"], "approve", attested=True)
    # ... but not once the officer has decided.
    response = await world.device_a.post(f"/api/v1/cases/{case['id']}/card-challenges")
    assert response.status_code == 409
    assert response.json()["code"] == "evidence_closed"


async def test_a_renewal_records_what_happens_to_the_old_card(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    told = await driver.to_review("card_renewal")
    await driver.officer(told["id"], "approve", attested=True)
    # The clerk says the holder keeps the card until the new one arrives.
    response = await world.device_a.post(
        f"/api/v1/cases/{told['id']}/pin-request", json={"face_auth": True, "old_card": "kept_until_delivery"}
    )
    assert response.status_code == 200, response.text
    # Not told: the domain's rule (the old card is returned at the counter) is recorded.
    default = await driver.to_review("card_renewal")
    await driver.officer(default["id"], "approve", attested=True)
    response = await world.device_a.post(
        f"/api/v1/cases/{default['id']}/pin-request", json={"face_auth": True}
    )
    assert response.status_code == 200, response.text
    # A new card application has no old card.
    application = await driver.to_review("card_application")
    await driver.officer(application["id"], "approve", attested=True)
    refused = await world.device_a.post(
        f"/api/v1/cases/{application['id']}/pin-request", json={"face_auth": True, "old_card": "returned"}
    )
    assert refused.status_code == 422
    async with sessionmaker() as session:
        kinds = {
            item.case_id: item.summary.get("old_card")
            for item in (
                await session.execute(select(EvidenceItem).where(EvidenceItem.kind == "pin_request"))
            ).scalars()
        }
        audited = (
            await session.execute(
                select(AuditEvent.case_id, AuditEvent.reason_code).where(
                    AuditEvent.action == "evidence.old_card_recorded"
                )
            )
        ).all()
    assert kinds[told["id"]] == "kept_until_delivery"
    assert kinds[default["id"]] == "returned"
    assert application["id"] not in kinds
    assert set(audited) == {(told["id"], "kept_until_delivery"), (default["id"], "returned")}
    # J-LIS is told the same, with the mailing instruction, and the simulator accepts the renewal.
    async with sessionmaker() as session:
        case = await session.get(Case, told["id"])
        assert case is not None
        sent = await application_for(session, case)
    assert (sent.procedure, sent.old_card, sent.mail_type) == (
        "card_renewal",
        "kept_until_delivery",
        MAIL_TYPE,
    )
    assert sent.pin_request_ref.startswith("face_auth:")
    assert (await JlisSimulator(dt.timedelta(minutes=1)).submit(sent)).startswith("jsim-")


# --- the card face is bound to the card that proved possession (docs/card-face-binding.md) -------------


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


async def _listed(client: httpx.AsyncClient, world: World, case_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/cases/{case_id}/evidence", headers=world.h("a", Role.officer))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_genuine_proof_with_another_persons_genuine_face_is_not_bound(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    """花子's card and PIN sign the nonce; 太郎's face (kept from an earlier read) rides along: the old hub bound it."""
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    taro_earlier = _read(dev_pki_dir, "sato_taro", challenge, nonce="a-nonce-from-an-earlier-visit")
    assert taro_earlier.card_face is not None
    for reason in ("card_face_unproven", "card_face_other_card", "card_face_answer_mismatch"):
        fresh = await _challenge(world, case["id"])
        read = _read(dev_pki_dir, "yamada_hanako", fresh)
        answer = {
            "card_face_unproven": None,  # the face alone
            "card_face_other_card": read.card_face_signature,  # 花子's card answering this nonce
            "card_face_answer_mismatch": taro_earlier.card_face_signature,  # 太郎's answer, kept from before
        }[reason]
        body = _body(
            fresh, read, card_face=_b64(taro_earlier.card_face.raw), card_face_signature=_b64(answer)
        )
        outcome = (await _prove(world, case["id"], body)).json()
        assert outcome["evidence"]["ok"] is False, reason
        assert _checks(outcome)["signature"] == ("passed", None)
        assert _checks(outcome)["card_face"] == ("passed", None)  # the face is genuine, just not this card's
        assert _checks(outcome)["card_face_key"] == ("failed", reason)
    listed = await _listed(client, world, case["id"])
    assert [i["kind"] for i in listed["items"]] == ["card_proof"] * 3, "no face is offered for viewing"
    assert listed["card_binding"] is None, "nothing was bound from a spliced proof"


async def test_a_face_without_the_card_face_answer_is_not_card_evidence(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    """Even the holder's own face, sent without its key's answer (as the old agent did), is not shown."""
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    body = _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge), card_face_signature=None)
    outcome = (await _prove(world, case["id"], body)).json()
    assert outcome["evidence"]["ok"] is False
    assert _checks(outcome)["card_face_key"] == ("failed", "card_face_unproven")
    assert outcome["evidence"]["summary"]["reasons"] == ["card_face_unproven"]
    assert all(i["kind"] != "card_face" for i in (await _listed(client, world, case["id"]))["items"])


async def test_a_face_arriving_after_a_read_without_one_is_a_swap(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    """First 花子's proof without a face, then 花子's proof with 太郎's face and 太郎's card answering (two cards
    at the counter): the old hub filled the face into the binding with no alarm."""
    case = await _live_case(driver)
    first = await _challenge(world, case["id"])
    faceless = _body(
        first, _read(dev_pki_dir, "yamada_hanako", first), card_face=None, card_face_signature=None
    )
    outcome = (await _prove(world, case["id"], faceless)).json()
    assert outcome["evidence"]["ok"] is True
    assert _checks(outcome)["card_face_key"] == ("skipped", None)
    second = await _challenge(world, case["id"])
    hanako = _read(dev_pki_dir, "yamada_hanako", second)
    taro = _read(dev_pki_dir, "sato_taro", second)
    assert taro.card_face is not None
    body = _body(
        second, hanako, card_face=_b64(taro.card_face.raw), card_face_signature=_b64(taro.card_face_signature)
    )
    swapped = (await _prove(world, case["id"], body)).json()
    assert swapped["card_swap_detected"] is True
    assert swapped["evidence"]["ok"] is False
    listed = await _listed(client, world, case["id"])
    assert listed["card_binding"]["swap_detected_at"] is not None
    assert all(i["voided_at"] is not None for i in listed["items"])


async def test_the_holders_own_face_after_a_faceless_read_is_a_swap_too(
    world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    """The hub cannot tell it from another card's face, so the binding fixed at the first read stands."""
    case = await _live_case(driver)
    first = await _challenge(world, case["id"])
    faceless = _body(
        first, _read(dev_pki_dir, "yamada_hanako", first), card_face=None, card_face_signature=None
    )
    assert (await _prove(world, case["id"], faceless)).json()["card_swap_detected"] is False
    second = await _challenge(world, case["id"])
    full = _body(second, _read(dev_pki_dir, "yamada_hanako", second))
    assert (await _prove(world, case["id"], full)).json()["card_swap_detected"] is True


async def test_a_face_recorded_before_faces_were_bound_is_not_shown(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A card_face item from the old hub has no card-face key check: it may be anyone's face."""
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    assert (
        await _prove(world, case["id"], _body(challenge, _read(dev_pki_dir, "yamada_hanako", challenge)))
    ).status_code == 201
    async with unit_of_work(sessionmaker) as session:
        face = (
            await session.execute(select(EvidenceItem).where(EvidenceItem.kind == "card_face"))
        ).scalar_one()
        face.summary = {"card_face": "passed", "proof_evidence_id": face.summary["proof_evidence_id"]}
        face_id = face.id
    response = await client.get(
        f"/api/v1/cases/{case['id']}/evidence/{face_id}/card-face", headers=world.h("a", Role.officer)
    )
    assert response.status_code == 409
    assert response.json()["code"] == "card_face_unbound"
