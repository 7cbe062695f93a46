"""Fixtures of the certificate tests: an always-open configuration, synthetic card holders, kiosks and clerks.

Card holders get JPKI-shaped authentication certificates from the run's test PKI (the hub trusts its roots), and the
kiosk signs the hub's nonce with the holder's key exactly as the card does (the card itself is tested in
tests/clerk_agent); the resident-record simulator maps each certificate's serial to a synthetic resident.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.auth import DeviceAuth
from service.accounts import service as accounts_service
from service.accounts.roles import Role
from service.cardproof.devpki import Authority, issue_leaf, new_rsa_key
from service.cardproof.verify import signed_bytes_for
from service.config import Settings
from service.db import unit_of_work
from service.integrations.resident import CertificateRecord, ResidentRegistrySimulator, ResidentStatus
from service.kit import clock
from service.wire import device_auth
from tests.factories import Tenant, World

ALWAYS_OPEN: dict[str, Any] = {"opens": "00:00", "closes": "24:00", "closed_days": []}
_KEYS: list[rsa.RSAPrivateKey] = []
_SERIALS = itertools.count(1)


@dataclass(frozen=True)
class Holder:
    """A synthetic resident with a card: the authentication key and certificate, and the record the town holds."""

    key: rsa.RSAPrivateKey
    certificate: bytes
    record: CertificateRecord

    def prove(self, challenge: dict[str, Any], *, nonce: str | None = None) -> dict[str, str]:
        """The kiosk's proof body: the card's signature over SHA-256(origin) ‖ SHA-256(nonce) ‖ request id."""
        signed = signed_bytes_for(challenge["origin"], nonce or challenge["nonce"], challenge["request_id"])
        signature = self.key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        return {
            "certificate": base64.b64encode(self.certificate).decode(),
            "signature": base64.b64encode(signature).decode(),
            "atr": "3b8c800150",
        }


def _auth_root(pki: Path) -> Authority:
    """The newest authentication root of the run's test PKI, with its key (to issue more cards)."""
    cert = x509.load_pem_x509_certificate((pki / "trust/auth-root-g2.pem").read_bytes())
    key = serialization.load_pem_private_key(
        (pki / "private/auth-root-g2.key.pem").read_bytes(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return Authority(cert, key)


def make_holder(pki: Path, municipality_code: str, **overrides: Any) -> Holder:
    """A new card holder of `municipality_code` (a few RSA keys are shared between holders: the certificate differs)."""
    n = next(_SERIALS)
    while len(_KEYS) < 4:
        _KEYS.append(new_rsa_key())
    key = _KEYS[n % 4]
    now = dt.datetime.now(dt.UTC)
    cert = issue_leaf(
        _auth_root(pki),
        key.public_key(),
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=1800),
    )
    today = clock.now().date()
    record = CertificateRecord(
        resident_id=f"SIM{n:06d}",
        municipality_code=municipality_code,
        card_serial=format(cert.serial_number, "x"),
        name=f"試験 花子{n:04d}",
        name_kana=f"シケン ハナコ{n:04d}",
        birth_date=dt.date(1980, 4, 1),
        sex="女",
        address=f"架空県架空市本町{n}番地",
        household_id=f"H{n:06d}",
        head_of_household=f"試験 花子{n:04d}",
        relationship="世帯主",
        honseki="架空県架空市本町1番地",
        hittousha=f"試験 花子{n:04d}",
        status=ResidentStatus.resident,
        support_measure=False,
        card_issued_on=today - dt.timedelta(days=30),
        moved_in_on=dt.date(2010, 4, 1),
    )
    record = replace(record, **overrides)
    return Holder(key, cert.public_bytes(serialization.Encoding.DER), record)


def pdf_text(pdf: bytes, tmp: Path) -> str:
    """The PDF's text as a reader extracts it (poppler's pdftotext)."""
    path = tmp / f"doc-{next(_SERIALS)}.pdf"
    path.write_bytes(pdf)
    try:
        return subprocess.run(
            ["/usr/bin/pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
    finally:
        path.unlink()


async def new_device(
    app: object, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, tenant: Tenant, name: str
) -> httpx.AsyncClient:
    """Another enrolled device of the tenant's post office (a kiosk or a print station)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from service.accounts.roles import SYSTEM

    async with unit_of_work(sessionmaker) as session:
        code, _ = await accounts_service.issue_enrolment_code(
            session, actor=SYSTEM, post_office_id=tenant.post_office_id, device_name=name, settings=settings
        )
        key = Ed25519PrivateKey.generate()
        device = await accounts_service.enrol_device(
            session, code=code, public_key=device_auth.public_key_text(key)
        )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://hub.test",
        auth=DeviceAuth(device.id, key, clock=lambda: clock.now().timestamp()),
        timeout=60,
    )


@dataclass
class Office:
    """Tenant A's office with a kiosk and a print station, the register, and the test PKI."""

    world: World
    client: httpx.AsyncClient
    kiosk: httpx.AsyncClient
    station: httpx.AsyncClient
    register: ResidentRegistrySimulator
    pki: Path
    tmp: Path
    holders: list[Holder] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.world.a.municipality_code

    def holder(self, **overrides: Any) -> Holder:
        """A registered synthetic card holder of tenant A."""
        made = make_holder(self.pki, self.code, **overrides)
        self.register.add_holder(made.record)
        self.holders.append(made)
        return made

    async def configure(self, **changes: Any) -> dict[str, Any]:
        """A new configuration version (always open unless changed), by tenant A's supervisor."""
        current = await self.client.get(
            f"/api/v1/municipalities/{self.code}/certificate-config",
            headers=self.world.h("a", Role.supervisor),
        )
        assert current.status_code == 200, current.text
        body = {**current.json()["config"], **ALWAYS_OPEN, **changes}
        put = await self.client.put(
            f"/api/v1/municipalities/{self.code}/certificate-config",
            json=body,
            headers=self.world.h("a", Role.supervisor),
        )
        assert put.status_code == 200, put.text
        return dict(put.json())

    async def request(
        self, holder: Holder, *, kiosk: httpx.AsyncClient | None = None, **choice: Any
    ) -> dict[str, Any]:
        """The terminal's whole card step: choice → nonce → the card's proof → the hub's answer."""
        kiosk = kiosk or self.kiosk
        body = {"municipality_code": self.code, "kind": "juminhyo", "scope": "self", "count": 1, **choice}
        opened = await kiosk.post("/api/v1/certificates/requests", json=body)
        assert opened.status_code == 201, opened.text
        challenge = opened.json()
        answered = await kiosk.post(
            f"/api/v1/certificates/requests/{challenge['request_id']}/proof", json=holder.prove(challenge)
        )
        assert answered.status_code == 200, answered.text
        return dict(answered.json())

    async def scan(self, receipt_number: str, station: httpx.AsyncClient | None = None) -> dict[str, Any]:
        response = await (station or self.station).post(
            "/api/v1/certificates/scans", json={"receipt_number": receipt_number}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def fetch(self, job: dict[str, Any], station: httpx.AsyncClient | None = None) -> httpx.Response:
        response = await (station or self.station).get(
            f"/api/v1/certificates/jobs/{job['id']}/document",
            params={"receipt_number": job["receipt_number"]},
        )
        assert response.status_code == 200, response.text
        return response

    async def step(
        self,
        job_id: str,
        step: str,
        body: dict[str, Any] | None = None,
        station: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        return await (station or self.station).post(f"/api/v1/certificates/jobs/{job_id}/{step}", json=body)


@pytest.fixture
async def office(
    app: Any,
    client: httpx.AsyncClient,
    world: World,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    dev_pki_dir: Path,
    tmp_path: Path,
) -> AsyncIterator[Office]:
    """Tenant A's office, always open, with its own kiosk and print station devices."""
    register = app.state.integrations.resident
    assert isinstance(register, ResidentRegistrySimulator)
    kiosk = await new_device(app, sessionmaker, settings, world.a, "lobby kiosk")
    station = await new_device(app, sessionmaker, settings, world.a, "print station")
    async with kiosk, station:
        office = Office(world, client, kiosk, station, register, dev_pki_dir, tmp_path)
        await office.configure()
        yield office
