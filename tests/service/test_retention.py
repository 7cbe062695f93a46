"""Retention: evidence is crypto-shredded after its period with a deletion record; a legal hold suspends it; KEK rotation."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.reading import PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.transport import InProcessTransport
from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.config import Settings
from service.db import unit_of_work
from service.evidence import retention
from service.evidence.models import EvidenceBlob
from service.evidence.runtime import load_keyring
from service.kit import clock
from service.kit.envelope import Sealed, aad_for
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver


async def _case_with_card_face(
    driver: CaseDriver, world: World, pki: Path, officer: dict[str, str] | None = None
) -> dict[str, Any]:
    case = await driver.create("card_renewal")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("check-in", {}),
        ("precheck", {"answers": ELIGIBLE}),
        ("consents", {"consents": CONSENTS}),
        ("request-verification", {}),
    ]
    for action, step in steps:
        await driver.device(case["id"], action, **step)
    await driver.officer(case["id"], "accept", headers=officer)
    holder = person("yamada_hanako")
    card = build_virtual_card(holder, load_card_material(pki, "yamada_hanako"))
    challenge = (await world.device_a.post(f"/api/v1/cases/{case['id']}/card-challenges")).json()
    read = read_at_counter(
        MyNumberCard(InProcessTransport(card)),
        auth_pin=bytearray(holder.auth_pin.encode()),
        code_b=bytearray(holder.code_b.encode()),
        challenge=PossessionChallenge(challenge["origin"], challenge["nonce"], case["id"]),
    )
    assert read.card_face is not None
    body = {
        "challenge_id": challenge["challenge_id"],
        "certificate": base64.b64encode(read.auth_certificate).decode(),
        "signature": base64.b64encode(read.signature).decode(),
        "atr": read.atr.hex(),
        "card_face": base64.b64encode(read.card_face.raw).decode(),
        "card_face_signature": base64.b64encode(read.card_face_signature or b"").decode(),
    }
    assert (
        await world.device_a.post(f"/api/v1/cases/{case['id']}/card-proofs", json=body)
    ).status_code == 201
    return case


async def _face_id(client: httpx.AsyncClient, world: World, case_id: str) -> str:
    listed = (
        await client.get(f"/api/v1/cases/{case_id}/evidence", headers=world.h("a", Role.supervisor))
    ).json()
    return str(next(i["id"] for i in listed["items"] if i["kind"] == "card_face"))


async def test_purge_after_retention_with_deletion_record_and_hold(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kept = await _case_with_card_face(driver, world, dev_pki_dir)
    gone = await _case_with_card_face(
        driver, world, dev_pki_dir, officer=await driver.new_officer("officer-two")
    )
    supervisor = world.h("a", Role.supervisor)
    hold = await client.post(
        f"/api/v1/cases/{kept['id']}/legal-hold",
        json={"reason_code": "suspected_impersonation"},
        headers=supervisor,
    )
    assert hold.status_code == 200, hold.text
    assert (
        await client.post(
            f"/api/v1/cases/{kept['id']}/legal-hold",
            json={"reason_code": "x"},
            headers=world.h("a", Role.officer),
        )
    ).status_code in (403, 422)
    async with unit_of_work(sessionmaker) as session:
        assert await retention.purge_due(session) == 0  # nothing is due yet
    async with unit_of_work(sessionmaker) as session:
        purged = await retention.purge_due(session, now=clock.now() + dt.timedelta(days=91))
    assert purged == 1
    async with sessionmaker() as session:
        blobs = {b.case_id: b for b in (await session.execute(select(EvidenceBlob))).scalars()}
        records = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "evidence.purged", AuditEvent.case_id == gone["id"])
        )
    assert blobs[gone["id"]].ciphertext is None
    assert blobs[gone["id"]].wrapped_key is None
    assert blobs[gone["id"]].purged_at is not None
    assert blobs[kept["id"]].ciphertext is not None
    assert records == 1
    view = await client.get(
        f"/api/v1/cases/{gone['id']}/evidence/{await _face_id(client, world, gone['id'])}/card-face",
        headers=supervisor,
    )
    assert view.status_code == 409
    assert view.json()["code"] == "evidence_purged"
    # Lifting the hold lets retention apply again.
    assert (
        await client.delete(f"/api/v1/cases/{kept['id']}/legal-hold", headers=supervisor)
    ).status_code == 204
    async with unit_of_work(sessionmaker) as session:
        assert await retention.purge_due(session, now=clock.now() + dt.timedelta(days=91)) == 1


async def test_key_rotation_rewraps_and_old_key_is_not_needed(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    app: Any,
) -> None:
    case = await _case_with_card_face(driver, world, dev_pki_dir)
    keyring = load_keyring(settings)
    old_id = keyring.active
    new_id = keyring.add_key()
    async with unit_of_work(sessionmaker) as session:
        assert await retention.rewrap_all(session, keyring=keyring) == 1
    async with sessionmaker() as session:
        blob = (await session.execute(select(EvidenceBlob))).scalar_one()
    assert blob.kek_id == new_id
    assert blob.wrapped_key is not None
    assert blob.ciphertext is not None
    # Only the new key is needed now.
    from service.kit.envelope import Keyring

    only_new = Keyring({new_id: keyring._keys[new_id]}, new_id)
    plain = only_new.open(
        Sealed(blob.kek_id, blob.wrapped_key, blob.ciphertext),
        aad_for(case_id=case["id"], field=blob.field, object_id=blob.id),
    )
    assert plain.startswith(b"\xff\x20")
    assert old_id != new_id
    app.state.evidence.keyring = keyring
    view = await client.get(
        f"/api/v1/cases/{case['id']}/evidence/{await _face_id(client, world, case['id'])}/card-face",
        headers=world.h("a", Role.supervisor),
    )
    assert view.status_code == 200


async def test_the_assigned_officer_flags_and_the_supervisor_sees_the_flagged_case(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    case = await _case_with_card_face(driver, world, dev_pki_dir)
    officer, supervisor = world.h("a", Role.officer), world.h("a", Role.supervisor)
    url = f"/api/v1/cases/{case['id']}/legal-hold"
    # An officer flags only what they saw: impersonation or coercion, not an investigation hold.
    refused = await client.post(url, json={"reason_code": "investigation"}, headers=officer)
    assert refused.status_code == 403
    flagged = await client.post(url, json={"reason_code": "suspected_impersonation"}, headers=officer)
    assert flagged.status_code == 200, flagged.text
    overview = (await client.get("/api/v1/queue", headers=supervisor)).json()
    row = next(r for r in overview["flagged"] if r["case_id"] == case["id"])
    assert row["reason_code"] == "suspected_impersonation"
    assert row["set_by_name"] == "試験 officer"
    live = next(r for r in overview["live"] if r["case_id"] == case["id"])
    assert live["on_hold"] is True
    assert live["officer_name"] == "試験 officer"
    me = next(o for o in overview["officers"] if o["live_case_id"] == case["id"])
    assert me["display_name"] == "試験 officer"
    # Officers see the queue but not who verifies what nor the flagged list; only a supervisor lifts the hold.
    seen_by_officer = (await client.get("/api/v1/queue", headers=officer)).json()
    assert seen_by_officer["flagged"] == []
    assert seen_by_officer["live"] == []
    assert all(o["live_case_id"] is None for o in seen_by_officer["officers"])
    assert (await client.delete(url, headers=officer)).status_code == 403
    assert (await client.delete(url, headers=supervisor)).status_code == 204
    assert (await client.get("/api/v1/queue", headers=supervisor)).json()["flagged"] == []


def test_document_stills_follow_the_document_still_period() -> None:
    policy: dict[str, object] = {
        "retention_days": {"document_still": 30, "document_tilt": 7, "card_face": 60}
    }
    assert retention.retention_days(policy, "document_front") == 30
    assert retention.retention_days(policy, "document_back") == 30
    assert retention.retention_days(policy, "document_tilt") == 7  # its own entry wins
    assert retention.retention_days(policy, "card_face") == 60
    assert retention.retention_days({}, "document_front") == 90
    assert retention.retention_days({}, "officer_note") == 90


async def _reject(client: httpx.AsyncClient, world: World, driver: CaseDriver, reason_code: str) -> str:
    """A case in review with its application photo, rejected over REST by its officer (no console, no flag)."""
    case = await driver.to_review()
    rejected = await client.post(
        f"/api/v1/cases/{case['id']}/reject",
        json={"reason_code": reason_code, "attested": True},
        headers=world.h("a", Role.officer),
    )
    assert rejected.status_code == 200, rejected.text
    return str(case["id"])


async def _blobs_left_after_retention(sessionmaker: async_sessionmaker[AsyncSession], case_id: str) -> int:
    async with unit_of_work(sessionmaker) as session:
        await retention.purge_due(session, now=clock.now() + dt.timedelta(days=400))
    async with sessionmaker() as session:
        blobs = (await session.execute(select(EvidenceBlob).where(EvidenceBlob.case_id == case_id))).scalars()
        return sum(1 for b in blobs if b.ciphertext is not None)


async def test_a_rejection_for_suspected_impersonation_holds_the_evidence_with_the_decision(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Old code: only the console flagged before rejecting, so a REST rejection left the evidence to be purged."""
    case_id = await _reject(client, world, driver, "suspected_impersonation")
    flagged = (await client.get("/api/v1/queue", headers=world.h("a", Role.supervisor))).json()["flagged"]
    row = next(r for r in flagged if r["case_id"] == case_id)
    assert row["reason_code"] == "suspected_impersonation"
    async with sessionmaker() as session:
        holds = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "evidence.hold_set", AuditEvent.case_id == case_id)
        )
    assert holds == 1
    assert await _blobs_left_after_retention(sessionmaker, case_id) == 1  # the application photo is kept


async def test_a_rejection_for_another_reason_leaves_retention_alone(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The control: the hold follows the reason, not every rejection."""
    case_id = await _reject(client, world, driver, "face_mismatch")
    flagged = (await client.get("/api/v1/queue", headers=world.h("a", Role.supervisor))).json()["flagged"]
    assert all(r["case_id"] != case_id for r in flagged)
    assert await _blobs_left_after_retention(sessionmaker, case_id) == 0
