"""Finalizing a card application: the sealed PIN request (or 顔認証), bound to the municipality's current key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.evidence.models import EvidenceBlob
from service.wire.device_auth import b64url
from service.wire.pin_seal import PinChoiceError, open_sealed, seal, validate_pins
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver
from tests.service.db_snapshot import snapshot

PINS = {"sign_password": b"ABCD1234", "auth_pin": b"1111", "juki_pin": b"2222", "kenhojo_pin": b"3333"}


async def _register_key(client: httpx.AsyncClient, world: World) -> X25519PrivateKey:
    private = X25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    response = await client.put(
        f"/api/v1/municipalities/{world.a.municipality_code}/pin-sealing-key",
        json={"public_key": b64url(raw)},
        headers=world.admin_headers,
    )
    assert response.status_code == 200
    return private


async def _approved(driver: CaseDriver, procedure: str = "card_application") -> dict[str, Any]:
    case = await driver.to_review(procedure)
    return await driver.officer(case["id"], "approve", attested=True)


async def test_sealed_pins_are_stored_unreadable_by_the_hub(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    private = await _register_key(client, world)
    case = await _approved(driver)
    buffers = {k: bytearray(v) for k, v in PINS.items()}
    sealed = seal(private.public_key(), case_id=case["id"], pins=buffers)
    assert all(set(b) == {0} for b in buffers.values())  # the caller's buffers are wiped
    response = await world.device_a.post(
        f"/api/v1/cases/{case['id']}/pin-request", json={"sealed": sealed.model_dump()}
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "pin_request_sealed"
    async with sessionmaker() as session:
        blobs = list(
            (await session.execute(select(EvidenceBlob).where(EvidenceBlob.field == "sealed_pins"))).scalars()
        )
    assert len(blobs) == 1
    assert blobs[0].ciphertext is not None
    for pin in PINS.values():
        assert pin not in blobs[0].ciphertext
    assert open_sealed(private, sealed, case_id=case["id"]) == {k: v.decode() for k, v in PINS.items()}
    with pytest.raises(Exception):  # noqa: B017, PT011  (sealed to one case, it does not open for another)
        open_sealed(private, sealed, case_id="case_other")


async def test_wrong_key_both_or_neither_refused(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _register_key(client, world)
    case = await _approved(driver)
    stranger = X25519PrivateKey.generate()
    wrong = seal(stranger.public_key(), case_id=case["id"], pins={k: bytearray(v) for k, v in PINS.items()})
    url = f"/api/v1/cases/{case['id']}/pin-request"
    before = await snapshot(sessionmaker)
    for body, code in (
        ({"sealed": wrong.model_dump()}, "pin_sealing_key_mismatch"),
        ({"sealed": wrong.model_dump(), "face_auth": True}, "unprocessable"),
        ({}, "unprocessable"),
        ({"sealed": {**wrong.model_dump(), "v": "other"}}, "validation_error"),
    ):
        response = await world.device_a.post(url, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
    assert await snapshot(sessionmaker) == before
    # Only the counter device finalizes; the generic action is closed.
    assert (
        await client.post(url, json={"face_auth": True}, headers=world.h("a", Role.officer))
    ).status_code == 403
    generic = await world.device_a.post(f"/api/v1/cases/{case['id']}/seal-pin-request", json={})
    assert generic.status_code == 409
    assert generic.json()["code"] == "pin_request_required"


async def test_no_key_registered(world: World, driver: CaseDriver) -> None:
    case = await _approved(driver)
    sealed = seal(
        X25519PrivateKey.generate().public_key(),
        case_id=case["id"],
        pins={k: bytearray(v) for k, v in PINS.items()},
    )
    response = await world.device_a.post(
        f"/api/v1/cases/{case['id']}/pin-request", json={"sealed": sealed.model_dump()}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "pin_sealing_key_missing"


async def test_application_photo_required(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    # A renewal gets no automatic photo from the driver; make it a card application without one.
    case = await driver.create("card_application")
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    await driver.device(case["id"], "request-verification")
    await driver.officer(case["id"], "accept")
    await driver.device(case["id"], "capture-evidence")
    await driver.officer(case["id"], "begin-review")
    await driver.complete_review(case["id"])
    await driver.officer(case["id"], "approve", attested=True)
    response = await world.device_a.post(f"/api/v1/cases/{case['id']}/pin-request", json={"face_auth": True})
    assert response.status_code == 409
    assert response.json()["code"] == "application_photo_missing"


@pytest.mark.parametrize(
    "pins",
    [
        {"sign_password": b"abcd1234", "auth_pin": b"1111", "juki_pin": b"2222", "kenhojo_pin": b"3333"},
        {"sign_password": b"ABCDEFGH", "auth_pin": b"1111", "juki_pin": b"2222", "kenhojo_pin": b"3333"},
        {"sign_password": b"AB12", "auth_pin": b"1111", "juki_pin": b"2222", "kenhojo_pin": b"3333"},
        {"sign_password": b"ABCD1234", "auth_pin": b"111", "juki_pin": b"2222", "kenhojo_pin": b"3333"},
        {"sign_password": b"ABCD1234", "auth_pin": b"1111", "juki_pin": b"22a2", "kenhojo_pin": b"3333"},
    ],
)
def test_pin_rules(pins: dict[str, bytes]) -> None:
    with pytest.raises(PinChoiceError):
        validate_pins(**{k: bytearray(v) for k, v in pins.items()})
