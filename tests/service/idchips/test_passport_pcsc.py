"""A virtual passport through real PC/SC (pcscd + vpcd), read by the counter's passport reader and verified by the hub.

The run's `hub dev-pki` supplies the test CSCA the hub trusts and the document signer of the genuine passport; the
altered, foreign-issuer and expired-signer passports are each refused with their named reason, and a wrong MRZ
never gets past the chip's BAC at the counter, so nothing reaches the hub.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.idchips.base import ChipAccessDenied, ChipRead
from clerk_agent.card.idchips.passport import MrzAccess, PassportReader
from clerk_agent.card.virtual.idchips.lds import HOLDERS
from clerk_agent.card.virtual.idchips.passport import (
    DocumentSigner,
    VirtualPassport,
    build_passport,
    load_signer,
)
from clerk_agent.card.virtual.pcscd import VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient
from service.accounts.roles import Role
from service.idchips.devpki import load_issuer, make_issuer, make_signer
from service.wire.idchips import ChipKind
from tests.factories import World
from tests.plugins.pcsc_slot import plug, unplug
from tests.service.conftest import CaseDriver
from tests.service.idchips.test_chip_evidence import live_case

try:
    from clerk_agent.card import pcsc
except ImportError:  # pyscard missing: the pcsc_stack fixture reports it (skip locally, fail under CI)
    pcsc = None  # type: ignore[assignment]

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]

HANAKO = HOLDERS["yamada_hanako"]


def _read(reader: str, access: MrzAccess) -> ChipRead:
    """One read on a fresh connection through pcscd, closed (chip reset) afterwards."""
    transport = pcsc.connect_with_backoff(reader, timeout=10)
    try:
        return PassportReader(transport, access).read()
    finally:
        transport.close()


def _access(number: str = HANAKO.document_number) -> MrzAccess:
    return MrzAccess(number, HANAKO.birth, HANAKO.expiry_yymmdd)


async def test_a_virtual_passport_read_through_pcscd_is_verified_and_bad_ones_are_refused_by_name(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    dev_pki_dir: Path,
    vpcd_slot: VpcdSlot,
    insert: list[ViccClient],
) -> None:
    case_id = await live_case(driver)
    genuine = load_signer(dev_pki_dir)
    now = dt.datetime.now(dt.UTC)
    foreign = make_signer(make_issuer("CSCA Japan (test)"), "Document Signer (test)")
    old = make_signer(
        load_issuer(dev_pki_dir, ChipKind.passport),
        "Old Document Signer (test)",
        not_before=now - dt.timedelta(days=900),
        not_after=now - dt.timedelta(days=2),
    )
    passports: dict[str | None, VirtualPassport] = {
        None: build_passport(HANAKO, genuine),
        "hash_mismatch": build_passport(HANAKO, genuine, tamper="DG1"),
        "unknown_issuer": build_passport(HANAKO, DocumentSigner(foreign.certificate, foreign.key)),
        "signer_expired": build_passport(HANAKO, DocumentSigner(old.certificate, old.key)),
    }
    for reason, passport in passports.items():
        inserted = plug(insert, passport, vpcd_slot)
        read = await asyncio.to_thread(_read, vpcd_slot.reader, _access())
        unplug(inserted, vpcd_slot)
        assert set(read.objects) == {"COM", "DG1", "DG2", "SOD"}
        response = await world.device_a.post(
            f"/api/v1/cases/{case_id}/chip-readouts", json=read.readout().model_dump(mode="json")
        )
        assert response.status_code == 201, response.text
        outcome = response.json()
        assert outcome["refusal_reason"] == reason, outcome
        assert outcome["verdict"] == ("verified" if reason is None else "refused")

    # A wrong document number typed by the clerk: the chip refuses BAC, no file is read, nothing is uploaded.
    wrong = build_passport(HANAKO, genuine)
    inserted = plug(insert, wrong, vpcd_slot)
    with pytest.raises(ChipAccessDenied):
        await asyncio.to_thread(_read, vpcd_slot.reader, _access("ZX0412858"))
    unplug(inserted, vpcd_slot)
    assert not any(apdu[0] == 0x0C for apdu in wrong.apdu_log), "a file was read without BAC"

    # A passport that offers PACE is read under PACE (extended APDUs and AES secure messaging through pcscd) and
    # verifies the same way; under PACE too a wrong MRZ opens nothing.
    for curve in (12, 13):
        offering = build_passport(HANAKO, genuine, pace_parameter_id=curve)
        inserted = plug(insert, offering, vpcd_slot)
        with pytest.raises(ChipAccessDenied):
            await asyncio.to_thread(_read, vpcd_slot.reader, _access("ZX0412858"))
        read = await asyncio.to_thread(_read, vpcd_slot.reader, _access())
        unplug(inserted, vpcd_slot)
        assert any(apdu[1] == 0x86 for apdu in offering.apdu_log)
        assert not any(apdu[1] == 0x82 for apdu in offering.apdu_log), "BAC was tried beside PACE"
        response = await world.device_a.post(
            f"/api/v1/cases/{case_id}/chip-readouts", json=read.readout().model_dump(mode="json")
        )
        assert response.status_code == 201, response.text
        assert response.json()["verdict"] == "verified", response.text

    listed = (
        await client.get(f"/api/v1/cases/{case_id}/evidence", headers=world.h("a", Role.officer))
    ).json()
    recorded = [
        (i["ok"], i["summary"]["refusal_reason"]) for i in listed["items"] if i["kind"] == "chip_document"
    ]
    assert sorted(recorded, key=str) == sorted(
        [
            (True, None),
            (False, "hash_mismatch"),
            (False, "unknown_issuer"),
            (False, "signer_expired"),
            (True, None),
            (True, None),
        ],
        key=str,
    )
