"""The Japanese chip documents through the hub's API (docs/id-documents.md §Japanese): the counter uploads what it
read from a virtual licence or residence card signed by `hub dev-pki`'s test issuers; the hub verifies, records each
check and shows the officer the holder's data and photo. No PIN, no card number and no clear licence number is
stored: the evidence blobs are encrypted, and the rows are searched for them.
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.idchips.licence import LicenceReader
from clerk_agent.card.idchips.residence import ResidenceReader
from clerk_agent.card.virtual.idchips.jp_people import LICENCE_HOLDERS, RESIDENCE_HOLDERS
from clerk_agent.card.virtual.idchips.jp_pki import signer_from_dev_pki
from clerk_agent.card.virtual.idchips.licence import build_virtual_licence
from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card
from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.evidence.models import EvidenceBlob, EvidenceItem
from service.logging import JsonFormatter
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.idchips.jp_kit import InProcess
from tests.service.idchips.test_chip_evidence import live_case, upload

SATO = LICENCE_HOLDERS["sato_ichiro"]
LAN = RESIDENCE_HOLDERS["nguyen_lan"]


def licence_readout(
    dev_pki_dir: Path, variant: str = "current", *, alter_after_signing: bool = False
) -> dict[str, Any]:
    signer = signer_from_dev_pki(dev_pki_dir, "driving_licence", variant)  # type: ignore[arg-type]
    card = build_virtual_licence("sato_ichiro", signer=signer, alter_after_signing=alter_after_signing)
    read = LicenceReader(InProcess(card)).read(bytearray(SATO.pin1.encode()), bytearray(SATO.pin2.encode()))
    return read.readout().model_dump(mode="json")


def residence_readout(
    dev_pki_dir: Path, variant: str = "current", *, alter_after_signing: bool = False
) -> dict[str, Any]:
    signer = signer_from_dev_pki(dev_pki_dir, "residence_card", variant)  # type: ignore[arg-type]
    card = build_virtual_residence_card("nguyen_lan", signer=signer, alter_after_signing=alter_after_signing)
    read = ResidenceReader(InProcess(card)).read(bytearray(LAN.card_number.encode()))
    return read.readout().model_dump(mode="json")


async def test_a_licence_is_verified_and_the_officer_sees_it_masked(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every record, as the hub's JSON log lines would carry them
    case_id = await live_case(driver)
    response = await upload(world.device_a, case_id, licence_readout(dev_pki_dir))
    assert response.status_code == 201, response.text
    outcome = response.json()
    assert outcome["verdict"] == "verified", outcome
    assert outcome["name"] is None  # the counter gets the verdict, not the holder's data
    officer = world.h("a", Role.officer)
    listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=officer)).json()
    (item,) = [i for i in listed["items"] if i["kind"] == "chip_document"]
    view = await client.get(f"/api/v1/cases/{case_id}/evidence/{item['id']}/chip-document", headers=officer)
    shown = view.json()
    assert shown["name"] == SATO.name
    assert shown["address"] == SATO.address
    assert shown["birth_date"] == SATO.birth_date.isoformat()
    assert shown["valid_until"] == SATO.valid_until.isoformat()
    assert shown["document_number_masked"] == "*********670"
    assert base64.b64decode(shown["photo_png"])[:8] == b"\x89PNG\r\n\x1a\n"
    async with sessionmaker() as session:
        rows = [
            # Text columns only: a 4-digit PIN turns up by chance inside ciphertext bytes.
            repr({k: v for k, v in vars(row).items() if not isinstance(v, bytes)})
            for model in (EvidenceItem, EvidenceBlob, AuditEvent)
            for row in (await session.execute(select(model).where(model.case_id == case_id))).scalars()
        ]
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert caplog.records, "the upload logged nothing to search"
    stored = "\n".join(rows)
    for secret in (SATO.pin1, SATO.pin2, SATO.number, SATO.name, SATO.address):
        token = re.compile(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])")
        assert not token.search(stored), secret
        assert not token.search(logged), secret


async def test_a_residence_card_is_verified_without_its_number_at_the_hub(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    case_id = await live_case(driver)
    body = residence_readout(dev_pki_dir)
    assert LAN.card_number not in str(body)
    response = await upload(world.device_a, case_id, body)
    assert response.json()["verdict"] == "verified", response.text
    officer = world.h("a", Role.officer)
    listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=officer)).json()
    (item,) = [i for i in listed["items"] if i["kind"] == "chip_document"]
    shown = (
        await client.get(f"/api/v1/cases/{case_id}/evidence/{item['id']}/chip-document", headers=officer)
    ).json()
    assert shown["photo_available"] is True
    assert shown["document_number_masked"] is None
    # The name, birth date and expiry are only on the signed card-face image: the officer gets it as PNG.
    assert base64.b64decode(shown["card_face_png"])[:8] == b"\x89PNG\r\n\x1a\n"


async def test_each_refusal_comes_back_named_through_the_api(
    world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    case_id = await live_case(driver)
    cases = {
        "licence altered": (licence_readout(dev_pki_dir, alter_after_signing=True), "signature_invalid"),
        "licence foreign": (licence_readout(dev_pki_dir, "foreign"), "unknown_issuer"),
        "licence expired signer": (licence_readout(dev_pki_dir, "expired"), "signer_expired"),
        "residence altered": (residence_readout(dev_pki_dir, alter_after_signing=True), "signature_invalid"),
        "residence foreign": (residence_readout(dev_pki_dir, "foreign"), "unknown_issuer"),
        "residence expired signer": (residence_readout(dev_pki_dir, "expired"), "signer_expired"),
    }
    for what, (body, reason) in cases.items():
        outcome = (await upload(world.device_a, case_id, body)).json()
        assert (what, outcome["verdict"], outcome["refusal_reason"]) == (what, "refused", reason)
