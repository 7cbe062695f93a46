"""Chip evidence through the hub's API: the counter uploads what it read from a virtual passport (in process here;
through pcscd in test_passport_pcsc.py), the hub verifies it and records each check; the officer views it.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.idchips.passport import MrzAccess, PassportReader
from clerk_agent.card.virtual.idchips.lds import HOLDERS
from clerk_agent.card.virtual.idchips.passport import (
    DocumentSigner,
    VirtualPassport,
    build_passport,
    load_signer,
    passport_from_dev_pki,
)
from clerk_agent.card.virtual.idchips.slot import InProcessChipSlot
from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.cases.models import Case
from service.evidence.models import EvidenceBlob, EvidenceItem
from service.idchips.devpki import load_issuer, make_issuer, make_signer
from service.wire.idchips import ACCEPTED_CHIP_KINDS, ChipKind
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver

HANAKO = HOLDERS["yamada_hanako"]


async def live_case(driver: CaseDriver, procedure: str = "card_application") -> str:
    """A case of tenant A in session_live, accepted by its officer."""
    case = await driver.create(procedure)
    for action, body in (
        ("check-in", {}),
        ("precheck", {"answers": ELIGIBLE}),
        ("consents", {"consents": CONSENTS}),
        ("request-verification", {}),
    ):
        await driver.device(case["id"], action, **body)
    await driver.officer(case["id"], "accept")
    return str(case["id"])


def readout_of(passport: VirtualPassport) -> dict[str, Any]:
    """What the counter uploads after reading `passport` with its holder's MRZ."""
    holder = passport.holder
    read = PassportReader(
        InProcessChipSlot(passport), MrzAccess(holder.document_number, holder.birth, holder.expiry_yymmdd)
    ).read()
    return read.readout().model_dump(mode="json")


async def upload(client: httpx.AsyncClient, case_id: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/api/v1/cases/{case_id}/chip-readouts", json=body)


async def test_a_genuine_passport_is_verified_and_the_officer_sees_its_data_and_photo(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case_id = await live_case(driver)
    response = await upload(world.device_a, case_id, readout_of(passport_from_dev_pki(dev_pki_dir)))
    assert response.status_code == 201, response.text
    outcome = response.json()
    assert outcome["verdict"] == "verified", outcome
    assert outcome["refusal_reason"] is None
    assert [c["name"] for c in outcome["checks"]][:3] == ["accepted_kind", "structure", "signature"]
    # The counter gets the verdict and the checks back, not the holder's data.
    assert outcome["name"] is None
    assert outcome["document_number_masked"] is None
    assert HANAKO.document_number not in response.text

    officer = world.h("a", Role.officer)
    listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=officer)).json()
    (item,) = [i for i in listed["items"] if i["kind"] == "chip_document"]
    assert item["ok"] is True
    assert item["summary"]["document_number_key"]
    assert HANAKO.document_number not in str(item)
    view = await client.get(f"/api/v1/cases/{case_id}/evidence/{item['id']}/chip-document", headers=officer)
    assert view.status_code == 200, view.text
    shown = view.json()
    assert shown["name"] == "YAMADA HANAKO"
    assert shown["birth_date"] == HANAKO.birth_date.isoformat()
    assert shown["valid_until"] == HANAKO.expiry.isoformat()
    assert shown["document_number_masked"] == "******853"
    assert shown["photo_available"] is True
    assert base64.b64decode(shown["photo_png"])[:8] == b"\x89PNG\r\n\x1a\n"

    async with sessionmaker() as session:
        blobs = (
            await session.execute(select(EvidenceBlob).where(EvidenceBlob.evidence_id == item["id"]))
        ).scalars()
        stored = {b.field: b.ciphertext or b"" for b in blobs}
        actions = [
            (a.action, a.reason_code)
            for a in (
                await session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id))
            ).scalars()
        ]
    assert set(stored) == {"chip_fields", "chip_photo"}
    assert all(
        HANAKO.document_number.encode() not in blob and b"YAMADA" not in blob for blob in stored.values()
    )
    assert ("evidence.chip_document_recorded", "passport") in actions
    assert ("evidence.viewed", "chip_document") in actions


async def test_altered_data_a_foreign_csca_and_an_expired_signer_are_refused_and_recorded(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    case_id = await live_case(driver)
    genuine = load_signer(dev_pki_dir)
    foreign = make_signer(make_issuer("CSCA Japan (test)"), "Document Signer (test)")  # same name, other key
    now = dt.datetime.now(dt.UTC)
    old = make_signer(
        load_issuer(dev_pki_dir, ChipKind.passport),
        "Old Document Signer (test)",
        not_before=now - dt.timedelta(days=900),
        not_after=now - dt.timedelta(days=2),
    )
    expired = DocumentSigner(old.certificate, old.key)
    cases = {
        "hash_mismatch": build_passport(HANAKO, genuine, tamper="DG1"),
        "unknown_issuer": build_passport(HANAKO, DocumentSigner(foreign.certificate, foreign.key)),
        "signer_expired": build_passport(HANAKO, expired),
    }
    for reason, passport in cases.items():
        response = await upload(world.device_a, case_id, readout_of(passport))
        assert response.status_code == 201, response.text
        assert response.json()["verdict"] == "refused"
        assert response.json()["refusal_reason"] == reason
    officer = world.h("a", Role.officer)
    listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=officer)).json()
    refused = [i["summary"]["refusal_reason"] for i in listed["items"] if i["kind"] == "chip_document"]
    assert sorted(refused) == sorted(cases)
    assert all(not i["ok"] for i in listed["items"] if i["kind"] == "chip_document")


async def test_a_foreign_case_is_not_found_and_only_the_cases_counter_uploads(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    case_id = await live_case(driver)
    body = readout_of(passport_from_dev_pki(dev_pki_dir))
    assert (await upload(world.device_b, case_id, body)).status_code == 404
    clerk = world.h("a", Role.clerk)
    assert (
        await client.post(f"/api/v1/cases/{case_id}/chip-readouts", json=body, headers=clerk)
    ).status_code == 403
    item = (await upload(world.device_a, case_id, body)).json()
    other_officer = world.h("b", Role.officer)
    view = await client.get(
        f"/api/v1/cases/{case_id}/evidence/{item['evidence_id']}/chip-document", headers=other_officer
    )
    assert view.status_code == 404
    broken = {**body, "objects": {**body["objects"], "SOD": "not base64!"}}
    assert (await upload(world.device_a, case_id, broken)).status_code == 422


async def test_a_procedure_without_an_identity_document_refuses_the_kind(
    world: World, driver: CaseDriver, dev_pki_dir: Path, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    assert "application_support" not in ACCEPTED_CHIP_KINDS
    case_id = await live_case(driver)
    async with sessionmaker() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.procedure = "application_support"
    response = await upload(world.device_a, case_id, readout_of(passport_from_dev_pki(dev_pki_dir)))
    assert response.json()["refusal_reason"] == "kind_not_accepted"
    async with sessionmaker() as session:
        items = (
            (await session.execute(select(EvidenceItem).where(EvidenceItem.case_id == case_id)))
            .scalars()
            .all()
        )
    assert [i.ok for i in items if i.kind == "chip_document"] == [False]


async def test_chip_verified_as_the_authenticity_ground_needs_a_verified_chip_read_during_the_video(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    case_id = await live_case(driver)
    officer = world.h("a", Role.officer)
    before = await upload(world.device_a, case_id, readout_of(passport_from_dev_pki(dev_pki_dir)))
    assert before.json()["verdict"] == "verified"
    # The video goes live only now: the read before it does not count, as for the card proof.
    live = await client.post(f"/api/v1/cases/{case_id}/video-status", json={"state": "live"}, headers=officer)
    assert live.status_code == 200, live.text
    checklist = {
        "id_combination": "A2",
        "face_match": True,
        "attributes_match": True,
        "eligibility_confirmed": True,
        "documents_authentic": True,
        "documents_authentic_basis": "chip_verified",
    }
    saved = await client.put(f"/api/v1/cases/{case_id}/checklist", json=checklist, headers=officer)
    assert saved.status_code == 200, saved.text
    assert "chip_document_missing" in saved.json()["missing"]
    assert saved.json()["checklist"]["documents_authentic_basis"] == "chip_verified"
    altered = build_passport(HANAKO, load_signer(dev_pki_dir), tamper="DG1")
    await upload(world.device_a, case_id, readout_of(altered))
    review = (await client.get(f"/api/v1/cases/{case_id}/review", headers=officer)).json()
    assert "chip_document_missing" in review["missing"]  # a refused chip is no ground
    await upload(world.device_a, case_id, readout_of(passport_from_dev_pki(dev_pki_dir)))
    review = (await client.get(f"/api/v1/cases/{case_id}/review", headers=officer)).json()
    assert "chip_document_missing" not in review["missing"]
    # Without the chip as its ground the item is the officer's own judgement, as before.
    plain = await client.put(
        f"/api/v1/cases/{case_id}/checklist",
        json={**checklist, "documents_authentic_basis": None},
        headers=officer,
    )
    assert "chip_document_missing" not in plain.json()["missing"]
