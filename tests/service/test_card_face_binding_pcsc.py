"""The card face bound to its card, through real PC/SC: two virtual people from the run's dev PKI, one at a time
in our vpcd slot, read by the agent's card layer through pcscd, their proofs verified by the hub's API.

Fails on the old code: the hub accepted 山田 花子's proof carrying 佐藤 太郎's card face (docs/card-face-binding.md).
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.reading import CounterRead, PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.pcscd import VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient
from service.accounts.roles import Role
from service.wire.card_profiles import CardGeneration
from tests.factories import World
from tests.plugins.cardkit import GENERATIONS, card_face_code
from tests.plugins.pcsc_slot import plug, unplug
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver

try:
    from clerk_agent.card import pcsc
except ImportError:  # pyscard missing: the pcsc_stack fixture reports it (skip locally, fail under CI)
    pcsc = None  # type: ignore[assignment]

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]

HANAKO = person("yamada_hanako")
TARO = person("sato_taro")


def _card(pki: Path, who: str, generation: CardGeneration) -> VirtualMyNumberCard:
    """`who`'s card of `generation` as `hub dev-pki` issued it (its own JPKI keys and card-face key)."""
    return build_virtual_card(person(who), load_card_material(pki, who, generation), label=f"pcsc card {who}")


def _read(reader: str, who: str, challenge: dict[str, Any], generation: CardGeneration) -> CounterRead:
    """The counter read on a fresh connection through pcscd, closed (card reset) afterwards."""
    holder = person(who)
    transport = pcsc.connect_with_backoff(reader, timeout=10)
    try:
        return read_at_counter(
            MyNumberCard(transport),
            auth_pin=bytearray(holder.auth_pin.encode()),
            code_b=bytearray(card_face_code(who, generation).encode()),
            challenge=PossessionChallenge(challenge["origin"], challenge["nonce"], challenge["case_id"]),
        )
    finally:
        transport.close()


def _body(challenge: dict[str, Any], read: CounterRead) -> dict[str, Any]:
    assert read.card_face is not None
    assert read.card_face_signature is not None
    return {
        "challenge_id": challenge["challenge_id"],
        "certificate": base64.b64encode(read.auth_certificate).decode(),
        "signature": base64.b64encode(read.signature).decode(),
        "atr": read.atr.hex(),
        "card_face": base64.b64encode(read.card_face.raw).decode(),
        "card_face_signature": base64.b64encode(read.card_face_signature).decode(),
        "card_generation": read.generation.value,
    }


async def _live_case(driver: CaseDriver) -> str:
    case = await driver.create("card_renewal")
    for action, body in (
        ("check-in", {}),
        ("precheck", {"answers": ELIGIBLE}),
        ("consents", {"consents": CONSENTS}),
        ("request-verification", {}),
    ):
        await driver.device(case["id"], action, **body)
    await driver.officer(case["id"], "accept")
    return str(case["id"])


async def _challenge(world: World, case_id: str) -> dict[str, Any]:
    response = await world.device_a.post(f"/api/v1/cases/{case_id}/card-challenges")
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _prove(world: World, case_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await world.device_a.post(f"/api/v1/cases/{case_id}/card-proofs", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _checks(outcome: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["check"]: (c["status"], c["reason"]) for c in outcome["evidence"]["summary"]["checks"]}


@pytest.mark.parametrize("generation", GENERATIONS)
async def test_the_hub_binds_a_cards_own_face_and_refuses_a_splice_with_another_persons_face(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    vpcd_slot: VpcdSlot,
    insert: list[ViccClient],
    generation: CardGeneration,
) -> None:
    case_id = await _live_case(driver)
    officer = world.h("a", Role.officer)
    hanako_card = _card(dev_pki_dir, "yamada_hanako", generation)
    taro_card = _card(dev_pki_dir, "sato_taro", generation)

    # 花子's card at the counter: the hub verifies both answers and binds her face to the case.
    hanako_in = plug(insert, hanako_card, vpcd_slot)
    first = await _challenge(world, case_id)
    genuine = await asyncio.to_thread(_read, vpcd_slot.reader, "yamada_hanako", first, generation)
    outcome = await _prove(world, case_id, _body(first, genuine))
    assert outcome["evidence"]["ok"] is True, outcome
    assert outcome["evidence"]["summary"]["card_generation"] == generation.value
    assert _checks(outcome)["card_face_key"] == ("passed", None)
    assert any(apdu[:4] == b"\x80\x2a\x00\x00" for apdu in hanako_card.apdu_log), "the face key answered"
    listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=officer)).json()
    faces = [i for i in listed["items"] if i["kind"] == "card_face"]
    assert len(faces) == 1
    assert listed["card_binding"] is not None
    view = await client.get(f"/api/v1/cases/{case_id}/evidence/{faces[0]['id']}/card-face", headers=officer)
    assert view.json()["birth_date"] == HANAKO.birth_date.strftime("%Y%m%d")
    unplug(hanako_in, vpcd_slot)

    # Someone once read 太郎's card (face and its key's answer to that read's challenge) and kept them.
    taro_in = plug(insert, taro_card, vpcd_slot)
    elsewhere = await _challenge(world, case_id)
    taro = await asyncio.to_thread(_read, vpcd_slot.reader, "sato_taro", elsewhere, generation)
    unplug(taro_in, vpcd_slot)

    # 花子's card again, with her PIN, for fresh challenges; 太郎's genuine face is spliced into each proof.
    plug(insert, hanako_card, vpcd_slot)
    assert taro.card_face is not None
    taro_face = base64.b64encode(taro.card_face.raw).decode()
    # ECDSA (the next generation) cannot tell a replayed answer of the right key from another key's answer.
    replayed = "card_face_answer_mismatch" if generation is CardGeneration.GEN2016 else "card_face_other_card"
    for case, reason in (
        ("card_face_other_card", "card_face_other_card"),
        ("card_face_answer_mismatch", replayed),
        ("card_face_unproven", "card_face_unproven"),
    ):
        challenge = await _challenge(world, case_id)
        hanako = await asyncio.to_thread(_read, vpcd_slot.reader, "yamada_hanako", challenge, generation)
        answer = {
            "card_face_other_card": hanako.card_face_signature,  # 花子's face key answering this challenge
            "card_face_answer_mismatch": taro.card_face_signature,  # 太郎's answer, kept from his read
            "card_face_unproven": None,  # the face alone
        }[case]
        spliced = {
            **_body(challenge, hanako),
            "card_face": taro_face,
            "card_face_signature": base64.b64encode(answer).decode() if answer else None,
        }
        refused = await _prove(world, case_id, spliced)
        assert refused["evidence"]["ok"] is False, reason
        assert _checks(refused)["signature"] == ("passed", None)  # 花子's card and PIN did sign
        assert _checks(refused)["card_face_key"] == ("failed", reason)

    # The officer still sees only 花子's face, bound at the first read; 太郎's is nowhere to be viewed.
    listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=officer)).json()
    assert [i["id"] for i in listed["items"] if i["kind"] == "card_face"] == [faces[0]["id"]]
    assert listed["card_binding"]["swap_detected_at"] is None
