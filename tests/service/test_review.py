"""The officer's review: approval needs a complete checklist, a fresh liveness challenge, and unbroken video."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.reading import PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.transport import InProcessTransport
from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.evidence.models import EvidenceBlob
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver

CHECKLIST = {
    "id_combination": "A2",
    "face_match": True,
    "attributes_match": True,
    "eligibility_confirmed": True,
    "documents_authentic": True,
}


async def _reviewing(driver: CaseDriver, procedure: str = "card_application") -> dict[str, Any]:
    """A case in officer_review whose review has not been started."""
    case = await driver.create(procedure)
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    await driver.device(case["id"], "request-verification")
    await driver.officer(case["id"], "accept")
    await driver.device(case["id"], "capture-evidence")
    return await driver.officer(case["id"], "begin-review")


async def _approve(client: httpx.AsyncClient, world: World, case_id: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/cases/{case_id}/approve", json={"attested": True}, headers=world.h("a", Role.officer)
    )


async def _liveness(
    client: httpx.AsyncClient, world: World, case_id: str, passed: bool = True
) -> dict[str, Any]:
    h = world.h("a", Role.officer)
    issued = await client.post(f"/api/v1/cases/{case_id}/liveness-challenges", headers=h)
    assert issued.status_code == 201
    result = await client.post(
        f"/api/v1/cases/{case_id}/liveness-challenges/{issued.json()['id']}/result",
        json={"passed": passed},
        headers=h,
    )
    assert result.status_code == 200
    return dict(issued.json())


async def _video(client: httpx.AsyncClient, world: World, case_id: str, state: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/cases/{case_id}/video-status", json={"state": state}, headers=world.h("a", Role.officer)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_approval_refused_until_review_complete(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await _reviewing(driver)
    refused = await _approve(client, world, case["id"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "review_incomplete"
    assert refused.json()["missing"] == ["checklist_missing", "video_not_live", "liveness_missing"]
    await _video(client, world, case["id"], "live")
    h = world.h("a", Role.officer)
    assert (
        await client.put(f"/api/v1/cases/{case['id']}/checklist", json=CHECKLIST, headers=h)
    ).status_code == 200
    await _liveness(client, world, case["id"], passed=False)
    assert (await _approve(client, world, case["id"])).json()["missing"] == ["liveness_missing"]
    await _liveness(client, world, case["id"])
    approved = await _approve(client, world, case["id"])
    assert approved.status_code == 200, approved.text
    # A rejection never needs the review to be complete.


async def test_negative_checklist_blocks_approval_but_not_rejection(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await _reviewing(driver)
    h = world.h("a", Role.officer)
    await _video(client, world, case["id"], "live")
    await client.put(
        f"/api/v1/cases/{case['id']}/checklist", json={**CHECKLIST, "face_match": False}, headers=h
    )
    await _liveness(client, world, case["id"])
    assert (await _approve(client, world, case["id"])).json()["missing"] == ["checklist_negative"]
    rejected = await client.post(
        f"/api/v1/cases/{case['id']}/reject",
        json={"attested": True, "reason_code": "face_mismatch"},
        headers=h,
    )
    assert rejected.status_code == 200


async def test_video_drop_forces_fresh_liveness(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await _reviewing(driver)
    h = world.h("a", Role.officer)
    await _video(client, world, case["id"], "live")
    await client.put(f"/api/v1/cases/{case['id']}/checklist", json=CHECKLIST, headers=h)
    await _liveness(client, world, case["id"])
    lost = await _video(client, world, case["id"], "lost")
    assert lost["video_live"] is False
    assert lost["drops"] == 1
    assert (await _approve(client, world, case["id"])).json()["missing"] == [
        "video_not_live",
        "liveness_missing",
    ]
    back = await _video(client, world, case["id"], "live")
    assert back["redo_required"] is True
    assert back["missing"] == ["liveness_missing"]
    await _liveness(client, world, case["id"])
    assert (await _approve(client, world, case["id"])).status_code == 200


async def test_chip_evidence_must_follow_the_last_drop(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    # The card is read during the live session (reads close once the review begins).
    case = await driver.create("card_renewal")
    for action, body in (
        ("check-in", {}),
        ("precheck", {"answers": ELIGIBLE}),
        ("consents", {"consents": CONSENTS}),
        ("request-verification", {}),
    ):
        await driver.device(case["id"], action, **body)
    assigned = await driver.new_officer("officer-chip")
    await driver.officer(case["id"], "accept", headers=assigned)
    holder = person("yamada_hanako")
    card = build_virtual_card(holder, load_card_material(dev_pki_dir, "yamada_hanako"))

    async def prove() -> None:
        challenge = (await world.device_a.post(f"/api/v1/cases/{case['id']}/card-challenges")).json()
        read = read_at_counter(
            MyNumberCard(InProcessTransport(card)),
            auth_pin=bytearray(holder.auth_pin.encode()),
            challenge=PossessionChallenge(challenge["origin"], challenge["nonce"], case["id"]),
        )
        body = {
            "challenge_id": challenge["challenge_id"],
            "certificate": base64.b64encode(read.auth_certificate).decode(),
            "signature": base64.b64encode(read.signature).decode(),
            "atr": read.atr.hex(),
        }
        outcome = await world.device_a.post(f"/api/v1/cases/{case['id']}/card-proofs", json=body)
        assert outcome.json()["evidence"]["ok"] is True

    base = f"/api/v1/cases/{case['id']}"
    assert (
        await client.post(f"{base}/video-status", json={"state": "live"}, headers=assigned)
    ).status_code == 200
    await prove()
    await client.put(
        f"{base}/checklist", json={**CHECKLIST, "id_combination": "my_number_card_ic"}, headers=assigned
    )
    await client.post(f"{base}/video-status", json={"state": "lost"}, headers=assigned)
    await client.post(f"{base}/video-status", json={"state": "live"}, headers=assigned)
    issued = (await client.post(f"{base}/liveness-challenges", headers=assigned)).json()
    await client.post(
        f"{base}/liveness-challenges/{issued['id']}/result", json={"passed": True}, headers=assigned
    )
    review = (await client.get(f"{base}/review", headers=assigned)).json()
    assert review["missing"] == ["card_proof_missing"]  # the proof before the drop no longer counts
    assert review["redo_required"] is True
    await prove()
    review = (await client.get(f"{base}/review", headers=assigned)).json()
    assert review["ready_to_decide"] is True


async def test_only_the_assigned_officer_records_the_review(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await _reviewing(driver)
    base = f"/api/v1/cases/{case['id']}"
    other = await driver.new_officer("officer-other")
    assert (await client.put(f"{base}/checklist", json=CHECKLIST, headers=other)).status_code == 403
    assert (
        await client.post(f"{base}/liveness-challenges", headers=world.h("a", Role.supervisor))
    ).status_code == 403
    assert (await world.device_a.post(f"{base}/video-status", json={"state": "live"})).status_code == 403
    assert (await client.get(f"{base}/review", headers=world.h("a", Role.supervisor))).status_code == 200
    assert (await client.get(f"{base}/review", headers=world.h("b", Role.officer))).status_code == 404


async def test_liveness_result_once_and_phrases_bilingual(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await _reviewing(driver)
    h = world.h("a", Role.officer)
    issued = (await client.post(f"/api/v1/cases/{case['id']}/liveness-challenges", headers=h)).json()
    assert issued["code"].isdigit()
    assert len(issued["code"]) == 4
    assert " ".join(issued["code"]) in issued["phrase_ja"]
    assert issued["gesture_en"]
    url = f"/api/v1/cases/{case['id']}/liveness-challenges/{issued['id']}/result"
    assert (await client.post(url, json={"passed": True}, headers=h)).status_code == 200
    assert (await client.post(url, json={"passed": False}, headers=h)).status_code == 409


async def test_notes_are_encrypted_and_audited_without_their_text(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await _reviewing(driver)
    officer, supervisor = world.h("a", Role.officer), world.h("a", Role.supervisor)
    text = "申請者は架空太郎と名乗り、旧姓の記載について説明した（合成データ）"
    added = await client.post(f"/api/v1/cases/{case['id']}/notes", json={"text": text}, headers=officer)
    assert added.status_code == 201, added.text
    assert added.json()["text"] == text
    assert added.json()["author_name"] == "試験 officer"
    # Nobody else writes or reads them: the clerk's device, another officer, another municipality.
    other = await driver.new_officer("officer-notes")
    assert (
        await client.post(f"/api/v1/cases/{case['id']}/notes", json={"text": "x"}, headers=other)
    ).status_code == 403
    assert (await client.get(f"/api/v1/cases/{case['id']}/notes", headers=other)).status_code == 403
    assert (await world.device_a.get(f"/api/v1/cases/{case['id']}/notes")).status_code == 403
    assert (
        await client.get(f"/api/v1/cases/{case['id']}/notes", headers=world.h("b", Role.supervisor))
    ).status_code == 404
    listed = (await client.get(f"/api/v1/cases/{case['id']}/notes", headers=supervisor)).json()
    assert [n["text"] for n in listed] == [text]
    # At rest the text is ciphertext; the audit trail knows only that a note was written and read.
    async with sessionmaker() as session:
        blobs = (await session.execute(select(EvidenceBlob))).scalars().all()
        rows = (await session.execute(select(AuditEvent))).scalars().all()
    assert blobs
    assert all(text.encode() not in (b.ciphertext or b"") for b in blobs)
    assert "架空太郎" not in repr([r.__dict__ for r in rows])
    actions = [r.action for r in rows if r.case_id == case["id"]]
    assert "review.note_added" in actions
    assert "review.notes_viewed" in actions


async def test_an_abort_starts_the_review_afresh_in_the_next_call(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """Failed before: after abort → requeue → accept, the first call's video, liveness and checklist still counted."""
    case = await _reviewing(driver)
    h = world.h("a", Role.officer)
    await _video(client, world, case["id"], "live")
    await client.put(f"/api/v1/cases/{case['id']}/checklist", json=CHECKLIST, headers=h)
    await _liveness(client, world, case["id"])
    first = await client.get(f"/api/v1/cases/{case['id']}/review", headers=h)
    assert first.json()["ready_to_decide"] is True
    # The console never reported the video lost: the call was aborted, then the counter connected again.
    await driver.officer(case["id"], "abort", reason_code="network")
    await driver.device(case["id"], "requeue")
    await driver.officer(case["id"], "accept")
    await driver.device(case["id"], "capture-evidence")
    await driver.officer(case["id"], "begin-review")
    again = await client.get(f"/api/v1/cases/{case['id']}/review", headers=h)
    assert again.json()["ready_to_decide"] is False
    assert again.json()["missing"] == ["checklist_missing", "video_not_live", "liveness_missing"]
    assert again.json()["continuity_since"] is None
    refused = await _approve(client, world, case["id"])
    assert refused.status_code == 409
    # The video of the new call, then everything asked again in it.
    back = await _video(client, world, case["id"], "live")
    assert back["missing"] == ["checklist_missing", "liveness_missing"]
    assert back["redo_required"] is True
    await client.put(f"/api/v1/cases/{case['id']}/checklist", json=CHECKLIST, headers=h)
    await _liveness(client, world, case["id"])
    assert (await _approve(client, world, case["id"])).status_code == 200
