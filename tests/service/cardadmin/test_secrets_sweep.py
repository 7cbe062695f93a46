"""After a renewal and a PIN reset through the hub, no PIN, no card key and no private key is anywhere at the hub:
not in any row of any table, not in any log record, not in any answer the counter device received
(docs/card-admin.md §Runs). The sealed channel state is the only place the session keys ever were, encrypted."""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.protocol import JPKI_AID
from clerk_agent.card.virtual.admin import CardAdminApplet
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.transport import InProcessTransport
from clerk_agent.flows.cardrelay import renew_certificates, reset_pin
from clerk_agent.link.hub import HubLink
from service.cardadmin.issuer import load_master_key
from service.models import metadata
from service.tenancy.codes import Procedure
from service.wire.cardadmin import PinName
from tests.factories import World
from tests.service.cardadmin.conftest import quick_approved_case

pytestmark = pytest.mark.slow
NEW_PIN = "8264"
NEW_PASSWORD = "SWEEPNEW2026"


def _forms(secret: bytes) -> list[str]:
    """Hex either case and base64 (each of three alignments, the middle of it)."""
    forms = {secret.hex(), secret.hex().upper()}
    for offset in range(3):
        text = base64.b64encode(b"\0" * offset + secret).decode().rstrip("=")
        forms.add(text[4 if offset else 0 : -4])
    return sorted(forms)


def _private_numbers(key: rsa.RSAPrivateKey) -> list[bytes]:
    numbers = key.private_numbers()
    return [
        value.to_bytes((value.bit_length() + 7) // 8, "big") for value in (numbers.d, numbers.p, numbers.q)
    ]


async def _rows(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    out = []
    async with sessionmaker() as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    out.append(value.hex() if isinstance(value, bytes) else repr(value))
    return "\n".join(out)


async def test_no_pin_card_key_or_private_key_at_the_hub(
    app: Any,
    world: World,
    link: HubLink,
    dev_pki_dir: Any,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    card, applet = card_and_applet
    answers: list[str] = []
    original = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = await original(self, request, **kwargs)
        answers.append(request.content.decode("latin-1") + response.content.decode("utf-8", "replace"))
        return response

    monkeypatch.setattr(httpx.AsyncClient, "send", send)
    caplog.set_level(logging.DEBUG)
    transport = InProcessTransport(card)
    await renew_certificates(link, transport, await quick_approved_case(sessionmaker, world.a))
    for pin, value in ((PinName.auth, NEW_PIN), (PinName.sign, NEW_PASSWORD)):
        case_id = await quick_approved_case(sessionmaker, world.a, Procedure.pin_reset)
        await reset_pin(link, transport, case_id, pin, bytearray(value.encode()))
    assert card.key(JPKI_AID, 0x0018).secret == NEW_PIN.encode()

    haystacks = {
        "database": await _rows(sessionmaker),
        "logs": "\n".join(f"{r.name} {r.getMessage()} {r.__dict__!r}" for r in caplog.records),
        "device traffic": "\n".join(answers),
    }
    secrets: dict[str, list[str]] = {
        "new signing password": [NEW_PASSWORD],
        "master key": _forms(load_master_key(dev_pki_dir)),
        "card static keys": [form for key in (applet._keys.enc, applet._keys.mac) for form in _forms(key)],
    }
    for number, keys in enumerate(applet.sessions_seen):
        secrets[f"session {number} keys"] = [
            form for key in (keys.enc, keys.mac, keys.rmac) for form in _forms(key)
        ]
    for slot, fid in (("auth", 0x0017), ("sign", 0x001A)):
        key = card.applications[JPKI_AID].private_keys[fid].key
        assert isinstance(key, rsa.RSAPrivateKey)  # the current card (the next one's keys are P-384)
        secrets[f"new {slot} private key"] = [form for part in _private_numbers(key) for form in _forms(part)]
    assert len(applet.sessions_seen) == 5  # one renewal, two authorisations, two confirmations
    # The search finds what is meant to be there (the new certificate's digest, in the job row), so it can find at all;
    # the certificate's serial, which links to the person (docs/card.md §1.2), is sealed.
    active = card.file(JPKI_AID, 0x000A).data
    assert hashlib.sha256(active).hexdigest() in haystacks["database"]
    serial = x509.load_der_x509_certificate(active).serial_number
    assert not [
        form for form in _forms(serial.to_bytes(20, "big").lstrip(b"\0")) if form in haystacks["database"]
    ]
    assert f"{serial:x}" not in haystacks["database"]
    for where, text in haystacks.items():
        for what, forms in secrets.items():
            assert not [form for form in forms if form in text], f"{what} found in the {where}"
    # A 4-digit PIN occurs by chance in ids and ciphertext; it must not occur as a value of its own.
    for where, text in haystacks.items():
        assert f'"{NEW_PIN}"' not in text, f"the new PIN in the {where}"
        assert f"'{NEW_PIN}'" not in text, f"the new PIN in the {where}"
